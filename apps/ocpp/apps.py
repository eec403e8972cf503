from django.apps import AppConfig


class OcppConfig(AppConfig):
    name = "apps.ocpp"
    verbose_name = "OCPP gateway"
