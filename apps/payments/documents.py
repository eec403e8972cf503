"""Invoices, credit notes and statements as documents: the HTML page and the PDF made from
the same template, the texts they and the admin show, and the check that the PDF renderer's
system libraries (Pango, HarfBuzz subset) are present. Invoices and credit notes carry what
EU VAT Directive Art. 226 asks: the seller's and the customer's names and addresses, the
seller's VAT id, the supply period, the lines with their VAT rate and the VAT per rate."""

import datetime as dt
from decimal import Decimal

from django.template.loader import render_to_string

from apps.drivers.models import Driver
from apps.fleets.models import Fleet
from apps.fleets.seller import iban_grouped
from apps.payments.choices import RefundStatus
from apps.payments.models import CreditNote, Invoice, Refund, Statement
from apps.payments.selectors import invoice_balance, statement_lines, statement_refunds
from apps.payments.totals import document_totals
from voltop.core.display import money_text
from voltop.core.money import kwh_of_wh

PDF_LIBRARIES_HINT = (
    "Invoice and statement PDFs are rendered by WeasyPrint, which needs Pango (1.44 or newer) "
    "and HarfBuzz with its subset library (4.1 or newer). "
    "On Debian or Ubuntu: apt install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; "
    "on macOS: brew install pango harfbuzz."
)


def pdf_renderer_problem() -> str:
    """Why invoice and statement PDFs cannot be rendered here as they should, or "" when they
    can: Pango missing (WeasyPrint does not load), or HarfBuzz's subset library missing or too
    old (WeasyPrint falls back to fontTools and warns for every font of every PDF)."""
    try:
        from weasyprint.text.ffi import harfbuzz, harfbuzz_subset
    except OSError as error:
        return f"{error}"
    if harfbuzz_subset is None:
        return "the HarfBuzz subset library (libharfbuzz-subset.so.0) is not installed"
    if not harfbuzz.hb_version_atleast(4, 1, 0):
        return "HarfBuzz is older than 4.1, the oldest whose subset library WeasyPrint uses"
    return ""


def period_days_text(start: dt.datetime, end: dt.datetime, zone) -> str:
    """A billing period as a person reads it: its first and last day in the fleet's zone."""
    first_day = start.astimezone(zone).date()
    last_day = end.astimezone(zone).date() - dt.timedelta(days=1)
    return f"{first_day:%Y-%m-%d} to {last_day:%Y-%m-%d}"


def seller_context(fleet: Fleet) -> dict:
    """The fleet as the seller on a document: its legal name (its name when it has none), its
    address, VAT id and bank account, each "" when the fleet's settings lack it."""
    return {
        "name": fleet.legal_name or fleet.name,
        "street": fleet.street,
        "postal_code": fleet.postal_code,
        "city": fleet.city,
        "country": fleet.country.name,
        "vat_id": fleet.vat_id,
        "iban": iban_grouped(fleet.iban),
        "bic": fleet.bic,
    }


def customer_context(driver: Driver) -> dict:
    """The driver as the customer on a document: their name and address."""
    return {
        "name": driver.full_name,
        "employee_number": driver.employee_number,
        "email": driver.email,
        "street": driver.street,
        "postal_code": driver.postal_code,
        "city": driver.city,
        "country": driver.country.name if driver.country else "",
    }


def invoice_context(invoice: Invoice) -> dict:
    lines = list(invoice.lines.select_related("session", "session__vehicle"))
    return {
        "invoice": invoice,
        "fleet": invoice.fleet,
        "driver": invoice.driver,
        "seller": seller_context(invoice.fleet),
        "customer": customer_context(invoice.driver),
        "supply_period": period_days_text(
            invoice.period_start, invoice.period_end, invoice.fleet.zone
        ),
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


def pdf_printed(html: str) -> bytes:
    """A standalone HTML page printed as a PDF document (A4, as its styles say)."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF document."""
    return pdf_printed(invoice_html(invoice))


def invoice_pdf_filename(invoice: Invoice) -> str:
    """The name an invoice's PDF is saved under: its number (a draft's id)."""
    return f"{invoice.number or f'draft-{invoice.pk}'}.pdf"


def credit_note_context(credit_note: CreditNote) -> dict:
    """What a credit note's page and PDF show: the seller and customer of its invoice, the
    invoice it corrects and its supply period, the reason, the credited lines and the VAT per
    rate."""
    invoice = credit_note.invoice
    lines = list(
        credit_note.lines.select_related("invoice_line").order_by("invoice_line__position")
    )
    return {
        "credit_note": credit_note,
        "invoice": invoice,
        "seller": seller_context(credit_note.fleet),
        "customer": customer_context(invoice.driver),
        "supply_period": period_days_text(
            invoice.period_start, invoice.period_end, credit_note.fleet.zone
        ),
        "lines": lines,
        "vat_breakdown": document_totals(
            ((line.net, line.vat_rate) for line in lines), credit_note.currency
        ).by_rate,
        "zone": credit_note.fleet.zone,
    }


def credit_note_html(credit_note: CreditNote) -> str:
    """The credit note as a standalone HTML page (the PDF is printed from the same page)."""
    return render_to_string("payments/credit_note.html", credit_note_context(credit_note))


def credit_note_pdf(credit_note: CreditNote) -> bytes:
    """The credit note as a PDF document."""
    return pdf_printed(credit_note_html(credit_note))


def credit_note_pdf_filename(credit_note: CreditNote) -> str:
    """The name a credit note's PDF is saved under: its number."""
    return f"{credit_note.number}.pdf"


def statement_net_text(statement: Statement) -> str:
    """Who pays whom, once the reimbursement and what the driver owes are set off."""
    amount = money_text(abs(statement.net_to_driver), statement.currency)
    if statement.net_to_driver > 0:
        return f"Net: the fleet pays the driver {amount}."
    if statement.net_to_driver < 0:
        return f"Net: the driver pays the fleet {amount}."
    return "Net: nothing to pay either way."


def refund_outcome_text(refund: Refund, zone) -> str:
    """What became of a refund, as the driver reads it."""
    if refund.status == RefundStatus.SET_OFF:
        return f"Set off against invoice {refund.set_off_payment.invoice.number}"
    if refund.status == RefundStatus.PAID:
        return f"Paid out on {refund.settled_at.astimezone(zone):%Y-%m-%d}"
    return "Owed to you"


def _refund_row(refund: Refund, zone) -> dict:
    return {
        "refund": refund,
        "invoice_number": refund.invoice.number,
        "reason": refund.get_reason_display(),
        "outcome": refund_outcome_text(refund, zone),
        "amount": refund.amount,
    }


def statement_refunds_context(statement: Statement) -> dict:
    """The refunds part of a statement: refunds of earlier invoices set off against its
    invoice (lowering what is left to pay on it), and refunds arising on its invoice (paid
    beyond it, or credited after it was paid) with what became of each."""
    refunds = statement_refunds(statement=statement)
    zone = statement.fleet.zone
    set_off = [_refund_row(refund, zone) for refund in refunds.set_off]
    arising = [_refund_row(refund, zone) for refund in refunds.arising]
    return {
        "set_off": set_off,
        "set_off_total": sum((row["amount"] for row in set_off), Decimal("0.00")),
        "arising": arising,
        "arising_total": sum((row["amount"] for row in arising), Decimal("0.00")),
    }


def _session_row(line, amounts: list[Decimal]) -> dict:
    session = line.session
    return {"session": session, "kwh": kwh_of_wh(session.energy_wh or 0), "amounts": amounts}


def statement_context(statement: Statement) -> dict:
    """What a statement's page and PDF show: its three parts (private charging the driver owes,
    business charging the fleet bears, home charging the fleet reimburses), each with its
    sessions at the amounts billing gave them and its document, and the net. A private
    session shows what the driver was charged for it (its invoice line: the net, the fleet's
    VAT rate, the VAT on it alone and the total); a business session its net, allocated, and
    the VAT it was charged (the fleet's input VAT); home charging what is refunded. Then the
    refunds of its invoice (statement_refunds_context)."""
    lines = statement_lines(statement=statement)
    parts = [
        {
            "key": "private",
            "title": "Private charging: the driver owes",
            "total": statement.private_owed,
            "document": statement.invoice,
            "headings": ["Excl. VAT", "VAT %", "VAT", "Charged to you"],
            "sessions": [
                _session_row(line, [line.net, line.vat_rate, line.vat, line.gross])
                for line in lines["private"]
            ],
        },
        {
            "key": "business",
            "title": "Business charging: borne by the fleet (excl. VAT)",
            "total": statement.business_cost,
            "document": None,
            "headings": ["Excl. VAT", "Input VAT"],
            "sessions": [
                _session_row(allocation, [allocation.amount, allocation.vat])
                for allocation in lines["business"]
            ],
        },
        {
            "key": "home",
            "title": "Home charging: the fleet reimburses the driver",
            "total": statement.reimbursement_due,
            "document": statement.reimbursement,
            "headings": ["Refunded (no VAT)"],
            "sessions": [_session_row(line, [line.amount]) for line in lines["home"]],
        },
    ]
    return {
        "statement": statement,
        "parts": parts,
        "period_days": period_days_text(
            statement.period_start, statement.period_end, statement.fleet.zone
        ),
        "net_text": statement_net_text(statement),
        "refunds": statement_refunds_context(statement),
        "zone": statement.fleet.zone,
    }


def statement_html(statement: Statement) -> str:
    """The statement as a standalone HTML page (the PDF is printed from the same page)."""
    return render_to_string("payments/statement.html", statement_context(statement))


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF document."""
    return pdf_printed(statement_html(statement))


def statement_pdf_filename(statement: Statement) -> str:
    """The name a statement's PDF is saved under: its period and the driver's number."""
    return f"statement-{statement.period_label}-{statement.driver.employee_number}.pdf"
