from django.apps import AppConfig
from django.core import checks


class OcppConfig(AppConfig):
    name = "apps.ocpp"
    verbose_name = "OCPP gateway"

    def ready(self) -> None:
        checks.register(gateway_tls_check, deploy=True)


def gateway_tls_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """In production the OCPP gateway serves wss:// or runs behind a TLS-terminating proxy;
    `check --deploy` says so before it refuses to start."""
    from apps.ocpp.tls import TLS_HINT, gateway_tls_problem

    problem = gateway_tls_problem()
    if not problem:
        return []
    return [
        checks.Error(f"The OCPP gateway will not start: {problem}", hint=TLS_HINT, id="ocpp.E001")
    ]
