from django.apps import AppConfig


class FleetsConfig(AppConfig):
    name = "apps.fleets"
    verbose_name = "Fleets"
