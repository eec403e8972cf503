from django.apps import AppConfig


class VehiclesConfig(AppConfig):
    name = "apps.vehicles"
    verbose_name = "Vehicles"
