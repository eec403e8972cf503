from django.apps import AppConfig
from django.core import checks


class PaymentsConfig(AppConfig):
    name = "apps.payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        checks.register(pdf_renderer_check)


def pdf_renderer_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Invoice and statement PDFs need Pango and HarfBuzz's subset library; say so at start
    rather than when the first one is printed."""
    from apps.payments.documents import PDF_LIBRARIES_HINT, pdf_renderer_problem

    problem = pdf_renderer_problem()
    if not problem:
        return []
    return [
        checks.Error(
            f"Invoice and statement PDFs cannot be rendered: {problem}",
            hint=PDF_LIBRARIES_HINT,
            id="payments.E001",
        )
    ]
