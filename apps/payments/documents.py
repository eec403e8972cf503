"""Invoices as documents: the HTML page and the PDF made from the same template, and the check
that the PDF renderer's system libraries (Pango) are present."""

from django.template.loader import render_to_string

from apps.payments.models import Invoice
from apps.payments.selectors import invoice_balance
from apps.payments.totals import document_totals

PANGO_HINT = (
    "Invoice PDFs are rendered by WeasyPrint, which needs the Pango library (1.44 or newer). "
    "On Debian or Ubuntu: apt install libpango-1.0-0 libpangoft2-1.0-0; "
    "on macOS: brew install pango."
)


def pdf_renderer_problem() -> str:
    """Why invoice PDFs cannot be rendered here, or "" when they can."""
    try:
        import weasyprint  # noqa: F401
    except OSError as error:
        return f"{error}"
    return ""


def invoice_context(invoice: Invoice) -> dict:
    lines = list(invoice.lines.select_related("session", "session__vehicle"))
    return {
        "invoice": invoice,
        "fleet": invoice.fleet,
        "driver": invoice.driver,
        "lines": lines,
        "vat_breakdown": document_totals(
            ((line.net, line.vat_rate) for line in lines), invoice.currency
        ).by_rate,
        "balance": invoice_balance(invoice=invoice),
        "zone": invoice.fleet.zone,
    }


def invoice_html(invoice: Invoice) -> str:
    """The invoice as a standalone HTML page (the PDF is printed from the same page)."""
    return render_to_string("payments/invoice.html", invoice_context(invoice))


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF document."""
    from weasyprint import HTML

    return HTML(string=invoice_html(invoice)).write_pdf()


def invoice_pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number or f'draft-{invoice.pk}'}.pdf"
