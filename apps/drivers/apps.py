from django.apps import AppConfig


class DriversConfig(AppConfig):
    name = "apps.drivers"
    verbose_name = "Drivers"
