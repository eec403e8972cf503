from django.apps import AppConfig


class ChargingConfig(AppConfig):
    name = "apps.charging"
    verbose_name = "Charging"
