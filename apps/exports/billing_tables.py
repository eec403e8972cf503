"""The billing export kinds: invoices and their lines, credit notes and their lines, the VAT
summary per rate, the cost-center allocation, reimbursements and their lines, and payments,
each as the rows and columns of an export file. Billing's rows are only read, never changed.

Which documents belong to an export period [start, end) (both local midnights of the fleet):
- an invoice when its supply period starts in it (`period_start` in [start, end));
- a credit note with the invoice it credits: by that invoice's supply period, whenever the
  credit note was issued;
- a cost allocation and a reimbursement by their own `period_start`;
- a payment when it was received in it (`received_at` in [start, end)).
Drafts are never exported. Amounts are in the row's `currency`; what an invoice row says is
credited, paid and open is as of the export.
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import (
    Count,
    DateTimeField,
    DecimalField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Concat, TruncDate

from apps.exports.choices import ExportKind
from apps.exports.columns import Column, ValueType
from apps.exports.periods import ExportPeriod
from apps.exports.shares import shares_by_largest_remainder
from apps.exports.tables import ExportTable
from apps.fleets.models import Fleet
from apps.payments.choices import InvoiceStatus
from apps.payments.models import (
    CostAllocation,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
    Reimbursement,
    ReimbursementLine,
)
from apps.payments.selectors import invoice_list_with_balance
from apps.payments.totals import credit_note_totals, document_totals
from voltop.core.money import kwh_of_wh, round_money

MONEY = 2
KWH = 3
UNIT_PRICE = 5
PERCENT = 2
ZERO = Decimal("0.00")
JUST_BEFORE = dt.timedelta(seconds=1)
NO_COST_CENTER = "No cost center"
LINE_ALONE = (
    "The line alone at its rate, as the driver was shown it; the document's VAT is per rate "
    "over all its lines, so the lines' VAT need not add up to it."
)
NO_VAT_TOTAL = "no_vat"


def _text(header: str, source: str, description: str) -> Column:
    return Column(header, ValueType.TEXT, source, description=description)


def _code(header: str, source: str, description: str) -> Column:
    return Column(header, ValueType.TEXT, source, description=description, is_code=True)


def _integer(header: str, source: str, description: str) -> Column:
    return Column(header, ValueType.INTEGER, source, description=description)


def _decimal(header: str, source: str, places: int, description: str) -> Column:
    return Column(header, ValueType.DECIMAL, source, places=places, description=description)


def _money(header: str, source: str, description: str) -> Column:
    return _decimal(header, source, MONEY, description)


def _datetime(header: str, source: str, description: str) -> Column:
    return Column(header, ValueType.DATETIME, source, description=description)


def _date(header: str, source: str, description: str) -> Column:
    return Column(header, ValueType.DATE, source, description=description)


def _currency(source: str = "currency") -> Column:
    return _code("currency", source, "ISO 4217 code of the row's amounts.")


def _money_field() -> DecimalField:
    return DecimalField(max_digits=14, decimal_places=2)


def _in_period(field: str, period: ExportPeriod) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})


def _full_name(driver: str) -> Concat:
    return Concat(f"{driver}__first_name", Value(" "), f"{driver}__last_name")


def _kwh(energy_wh: str) -> ExpressionWrapper:
    return ExpressionWrapper(
        Cast(energy_wh, DecimalField(max_digits=15, decimal_places=3)) / Value(Decimal(1000)),
        output_field=DecimalField(max_digits=15, decimal_places=3),
    )


def _first_day(start: str, fleet: Fleet) -> TruncDate:
    """The local day a period starting at `start` (a local midnight) begins."""
    return TruncDate(start, tzinfo=fleet.zone)


def _last_day(end: str, fleet: Fleet) -> TruncDate:
    """The local day before `end` (a local midnight): the last day of a period ending there.
    Taken a second before midnight, as a day is not always 24 hours long."""
    just_before = ExpressionWrapper(F(end) - Value(JUST_BEFORE), output_field=DateTimeField())
    return TruncDate(just_before, tzinfo=fleet.zone)


def _no_vat() -> Value:
    return Value(ZERO, output_field=_money_field())


def _issued_invoices(fleet: Fleet, period: ExportPeriod) -> QuerySet:
    """The fleet's invoices of the period, drafts left out."""
    return (
        Invoice.objects.filter(fleet=fleet)
        .filter(_in_period("period_start", period))
        .exclude(status=InvoiceStatus.DRAFT)
    )


# Invoices ------------------------------------------------------------------------------------

INVOICE_COLUMNS: tuple[Column, ...] = (
    _text("number", "number", "The invoice number, gapless per fleet and year."),
    _datetime("issued_at", "issued_at", "When it was issued, in the fleet's zone."),
    _datetime("due_at", "due_at", "When payment is due, in the fleet's zone."),
    _code("status", "status", "issued, paid or void (fully credited)."),
    _text("driver", "driver_name", "The driver's first and last name."),
    _text("employee_number", "driver__employee_number", "The driver's employee number."),
    _text("driver_street", "driver__street", "The driver's street and house number."),
    _text("driver_postal_code", "driver__postal_code", "The driver's postal code."),
    _text("driver_city", "driver__city", "The driver's city."),
    _text("driver_country", "driver__country", "The driver's country, ISO 3166 code."),
    _date("supply_first_day", "supply_first_day", "First day of the supply period."),
    _date("supply_last_day", "supply_last_day", "Last day of the supply period (included)."),
    _currency(),
    _money("net", "net_total", "Total excl. VAT."),
    _money("vat", "vat_total", "VAT, per rate over the lines' nets."),
    _money("gross", "gross_total", "Total incl. VAT: net plus VAT."),
    _money("credited", "credited_total", "Gross of the invoice's credit notes."),
    _money("paid", "paid_total", "Payments received on it (reversed ones left out)."),
    _money("open", "open_total", "Still to pay: gross - credited - paid; below 0 overpaid."),
)


def invoices_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The period's issued invoices by number, each with its balance as of the export."""
    rows = invoice_list_with_balance(_issued_invoices(fleet, period)).annotate(
        driver_name=_full_name("driver"),
        supply_first_day=_first_day("period_start", fleet),
        supply_last_day=_last_day("period_end", fleet),
        open_total=ExpressionWrapper(
            F("gross_total") - F("credited_total") - F("paid_total"),
            output_field=_money_field(),
        ),
    )
    return ExportTable(
        kind=ExportKind.INVOICES,
        columns=INVOICE_COLUMNS,
        rows=rows,
        order=("number",),
        totals=("net_total", "vat_total", "gross_total"),
    )


INVOICE_LINE_COLUMNS: tuple[Column, ...] = (
    _text("invoice_number", "invoice__number", "The invoice the line is on."),
    _integer("position", "position", "The line's place on the invoice, from 1."),
    _integer("session_id", "session_id", "Voltop's number of the session billed."),
    _text("description", "description", "The line's text on the invoice."),
    _decimal("quantity_kwh", "quantity_kwh", KWH, "Energy billed, in kWh."),
    _decimal("unit_price_per_kwh", "unit_price", UNIT_PRICE, "Net price per kWh, for reading."),
    _currency("invoice__currency"),
    _money("net", "net", "The session's cost excl. VAT."),
    _decimal("vat_rate_percent", "vat_rate", PERCENT, "VAT rate in percent."),
    _money("vat", "vat", f"VAT on the line. {LINE_ALONE}"),
    _money("gross", "gross", f"Net plus VAT of the line. {LINE_ALONE}"),
)


def invoice_lines_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The lines of the period's issued invoices, by invoice number and position."""
    rows = InvoiceLine.objects.filter(invoice__in=_issued_invoices(fleet, period).values("pk"))
    return ExportTable(
        kind=ExportKind.INVOICE_LINES,
        columns=INVOICE_LINE_COLUMNS,
        rows=rows,
        order=("invoice__number", "position"),
        totals=("net", "vat", "gross"),
    )


# Credit notes --------------------------------------------------------------------------------

CREDIT_NOTE_COLUMNS: tuple[Column, ...] = (
    _text("number", "number", "The credit note number, gapless per fleet and year."),
    _text("invoice_number", "invoice__number", "The invoice it credits."),
    _datetime("issued_at", "issued_at", "When it was issued, in the fleet's zone."),
    _text("reason", "reason", "Why the invoice was credited."),
    _currency(),
    _money("net", "net_total", "Net credited, as a positive amount."),
    _money("vat", "vat_total", "VAT given back, per rate, as a positive amount."),
    _money("gross", "gross_total", "Net plus VAT credited, as a positive amount."),
)


def _credit_notes_of_period(fleet: Fleet, period: ExportPeriod) -> QuerySet:
    return CreditNote.objects.filter(
        fleet=fleet, invoice__in=_issued_invoices(fleet, period).values("pk")
    )


def credit_notes_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The credit notes of the period's invoices, by number."""
    return ExportTable(
        kind=ExportKind.CREDIT_NOTES,
        columns=CREDIT_NOTE_COLUMNS,
        rows=_credit_notes_of_period(fleet, period),
        order=("number",),
        totals=("net_total", "vat_total", "gross_total"),
    )


CREDIT_NOTE_LINE_COLUMNS: tuple[Column, ...] = (
    _text("credit_note_number", "credit_note__number", "The credit note the line is on."),
    _text("invoice_number", "credit_note__invoice__number", "The invoice it credits."),
    _integer("session_id", "invoice_line__session_id", "The session of the credited line."),
    _text("description", "description", "The credited line's text."),
    _currency("credit_note__currency"),
    _money("net", "net", "Net credited, as a positive amount."),
    _decimal("vat_rate_percent", "vat_rate", PERCENT, "VAT rate in percent."),
    _money("vat", "vat", f"VAT credited on the line. {LINE_ALONE}"),
    _money("gross", "gross", f"Net plus VAT of the line. {LINE_ALONE}"),
)


def credit_note_lines_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The lines of the credit notes of the period's invoices, by credit note number and the
    credited line's position on its invoice."""
    rows = CreditNoteLine.objects.filter(
        credit_note__in=_credit_notes_of_period(fleet, period).values("pk")
    )
    return ExportTable(
        kind=ExportKind.CREDIT_NOTE_LINES,
        columns=CREDIT_NOTE_LINE_COLUMNS,
        rows=rows,
        order=("credit_note__number", "invoice_line__position"),
        totals=("net", "vat", "gross"),
    )


# VAT summary ---------------------------------------------------------------------------------

VAT_SUMMARY_COLUMNS: tuple[Column, ...] = (
    _currency(),
    _decimal("vat_rate_percent", "vat_rate", PERCENT, "VAT rate in percent."),
    _integer("invoice_count", "invoice_count", "Issued invoices with lines at this rate."),
    _money("invoice_net", "invoice_net", "Their net at this rate."),
    _money("invoice_vat", "invoice_vat", "Their VAT at this rate, as the invoices state it."),
    _money("invoice_gross", "invoice_gross", "Their net plus VAT at this rate."),
    _integer("credit_note_count", "credit_note_count", "Their credit notes with this rate."),
    _money("credit_note_net", "credit_note_net", "Net credited at this rate."),
    _money("credit_note_vat", "credit_note_vat", "VAT given back at this rate."),
    _money("credit_note_gross", "credit_note_gross", "Net plus VAT credited at this rate."),
    _money("net", "net", "Invoiced minus credited, excl. VAT."),
    _money("vat", "vat", "VAT invoiced minus VAT given back."),
    _money("gross", "gross", "Invoiced minus credited, incl. VAT."),
)


class _RateFigures:
    """What documents of one kind add up to at one currency and rate."""

    def __init__(self):
        self.documents: set[int] = set()
        self.net = ZERO
        self.vat = ZERO

    def add(self, document_id: int, net: Decimal, vat: Decimal) -> None:
        self.documents.add(document_id)
        self.net += net
        self.vat += vat


def _invoiced_by_rate(invoice_lines) -> dict[tuple[str, Decimal], _RateFigures]:
    """Each invoice's VAT breakdown as `document_totals` states it, added up by rate."""
    by_invoice: dict[tuple[int, str], list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for invoice_id, currency, net, rate in invoice_lines:
        by_invoice[(invoice_id, currency)].append((net, rate))
    figures: dict[tuple[str, Decimal], _RateFigures] = defaultdict(_RateFigures)
    for (invoice_id, currency), lines in by_invoice.items():
        for subtotal in document_totals(lines, currency).by_rate:
            figures[(currency, subtotal.rate)].add(invoice_id, subtotal.taxable, subtotal.vat)
    return figures


def _credited_by_rate(credit_note_lines) -> dict[tuple[str, Decimal], _RateFigures]:
    """Each credit note's VAT breakdown as `credit_note_totals` gave it when it was issued,
    after the earlier credit notes of its invoice, added up by rate."""
    by_invoice: dict[int, dict[tuple[int, str], list]] = defaultdict(dict)
    for invoice_id, note_id, currency, net, rate in credit_note_lines:
        by_invoice[invoice_id].setdefault((note_id, currency), []).append((net, rate))
    figures: dict[tuple[str, Decimal], _RateFigures] = defaultdict(_RateFigures)
    for notes in by_invoice.values():
        credited_before: list[tuple[Decimal, Decimal]] = []
        for (note_id, currency), lines in notes.items():
            totals = credit_note_totals(
                credited_before=credited_before, lines=lines, currency=currency
            )
            for subtotal in totals.by_rate:
                figures[(currency, subtotal.rate)].add(note_id, subtotal.taxable, subtotal.vat)
            credited_before = credited_before + lines
    return figures


def vat_summary_of(invoice_lines, credit_note_lines) -> list[dict]:
    """The VAT summary rows, per currency and rate, of invoices given by their lines
    (invoice id, currency, net, VAT rate) and of their credit notes by theirs (invoice id,
    credit note id, currency, net, VAT rate), each in the order they were issued. Each
    document counts with its own VAT breakdown, so over all rates the VAT is exactly the
    invoices' VAT minus the credit notes'. Pure."""
    invoiced, credited = _invoiced_by_rate(invoice_lines), _credited_by_rate(credit_note_lines)
    rows = []
    for currency, rate in sorted(invoiced.keys() | credited.keys()):
        issued = invoiced.get((currency, rate), _RateFigures())
        credit = credited.get((currency, rate), _RateFigures())
        net = round_money(issued.net - credit.net, currency)
        vat = round_money(issued.vat - credit.vat, currency)
        rows.append(
            {
                "currency": currency,
                "vat_rate": rate,
                "invoice_count": len(issued.documents),
                "invoice_net": issued.net,
                "invoice_vat": issued.vat,
                "invoice_gross": issued.net + issued.vat,
                "credit_note_count": len(credit.documents),
                "credit_note_net": credit.net,
                "credit_note_vat": credit.vat,
                "credit_note_gross": credit.net + credit.vat,
                "net": net,
                "vat": vat,
                "gross": net + vat,
            }
        )
    return rows


def vat_summary_rows(fleet: Fleet, period: ExportPeriod) -> list[dict]:
    """The VAT summary of the period's issued invoices and their credit notes."""
    invoices = _issued_invoices(fleet, period).values("pk")
    invoice_lines = (
        InvoiceLine.objects.filter(invoice__in=invoices)
        .order_by("invoice_id", "position")
        .values_list("invoice_id", "invoice__currency", "net", "vat_rate")
    )
    credit_note_lines = (
        CreditNoteLine.objects.filter(credit_note__invoice__in=invoices)
        .order_by("credit_note__invoice_id", "credit_note_id", "pk")
        .values_list(
            "credit_note__invoice_id", "credit_note_id", "credit_note__currency", "net", "vat_rate"
        )
    )
    return vat_summary_of(invoice_lines, credit_note_lines)


def vat_summary_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """VAT per rate of the period's invoices less their credit notes, by currency and rate."""
    return ExportTable(
        kind=ExportKind.VAT_SUMMARY,
        columns=VAT_SUMMARY_COLUMNS,
        rows=vat_summary_rows(fleet, period),
        order=("currency", "vat_rate"),
        totals=("net", "vat", "gross"),
    )


# Cost allocation -----------------------------------------------------------------------------

COST_ALLOCATION_COLUMNS: tuple[Column, ...] = (
    _text("cost_center_code", "cost_center_code", "Empty for sessions with no cost center."),
    _text("cost_center_name", "cost_center_name", f'"{NO_COST_CENTER}" where there is none.'),
    _integer("session_count", "session_count", "Business sessions allocated."),
    _decimal("energy_kwh", "energy_kwh", KWH, "Their energy, in kWh."),
    _currency(),
    _money("net", "net", "Their cost excl. VAT: what the cost center bears."),
    _money("input_vat", "input_vat", "The VAT the fleet was charged on them."),
    _money("gross", "gross", "Net plus input VAT."),
    _decimal(
        "share_percent",
        "share_percent",
        PERCENT,
        "The cost center's share of the currency's net, in percent; the shares sum to 100.00 "
        "exactly, the rounding remainder going to the largest remainders.",
    ),
)


def cost_allocation_rows(fleet: Fleet, period: ExportPeriod) -> list[dict]:
    """One row per currency and cost center of the period's allocations (cost centers by
    code, the sessions without one last), with each one's share of the currency's net."""
    groups = list(
        CostAllocation.objects.filter(fleet=fleet)
        .filter(_in_period("period_start", period))
        .order_by()
        .values("currency", "cost_center_id", "cost_center__code", "cost_center__name")
        .annotate(
            session_count=Count("pk"),
            energy_wh=Sum("session__energy_wh"),
            net=Sum("amount"),
            input_vat=Sum("vat"),
        )
    )
    groups.sort(
        key=lambda group: (
            group["currency"],
            group["cost_center_id"] is None,
            group["cost_center__code"] or "",
        )
    )
    rows = []
    for currency in sorted({group["currency"] for group in groups}):
        of_currency = [group for group in groups if group["currency"] == currency]
        nets = [round_money(group["net"], currency) for group in of_currency]
        shares = shares_by_largest_remainder(nets, places=PERCENT)
        for group, net, share in zip(of_currency, nets, shares, strict=True):
            input_vat = round_money(group["input_vat"], currency)
            has_center = group["cost_center_id"] is not None
            rows.append(
                {
                    "cost_center_code": group["cost_center__code"] if has_center else "",
                    "cost_center_name": group["cost_center__name"]
                    if has_center
                    else NO_COST_CENTER,
                    "session_count": group["session_count"],
                    "energy_kwh": kwh_of_wh(group["energy_wh"] or 0),
                    "currency": currency,
                    "net": net,
                    "input_vat": input_vat,
                    "gross": net + input_vat,
                    "share_percent": share,
                }
            )
    return rows


def cost_allocation_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The period's business charging per cost center, with shares of the net."""
    return ExportTable(
        kind=ExportKind.COST_ALLOCATION,
        columns=COST_ALLOCATION_COLUMNS,
        rows=cost_allocation_rows(fleet, period),
        order=("currency", "cost_center_code"),
        totals=("net", "input_vat", "gross"),
    )


# Reimbursements ------------------------------------------------------------------------------

REIMBURSEMENT_COLUMNS: tuple[Column, ...] = (
    _integer("reimbursement_id", "id", "Voltop's reimbursement number."),
    _text("driver", "driver_name", "The driver's first and last name."),
    _text("employee_number", "driver__employee_number", "The driver's employee number."),
    _text("driver_iban", "driver__iban", "The driver's IBAN, where the payout goes."),
    _date("period_first_day", "period_first_day", "First day of the billing period."),
    _date("period_last_day", "period_last_day", "Last day of the billing period (included)."),
    _decimal("energy_kwh", "energy_kwh", KWH, "Home charging energy reimbursed, in kWh."),
    _currency(),
    _money("amount", "amount", "Owed to the driver; no VAT on it."),
    _code("status", "status", "pending, approved, paid or rejected."),
    _datetime("decided_at", "decided_at", "When it was approved or rejected, fleet's zone."),
    _datetime("paid_at", "paid_at", "When the payout was recorded, in the fleet's zone."),
)


def reimbursements_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The period's reimbursements, whatever their status. A reimbursement carries no VAT, so
    its control totals are (amount, 0, amount): net and gross are both the amounts listed."""
    rows = (
        Reimbursement.objects.filter(fleet=fleet)
        .filter(_in_period("period_start", period))
        .annotate(
            driver_name=_full_name("driver"),
            period_first_day=_first_day("period_start", fleet),
            period_last_day=_last_day("period_end", fleet),
            energy_kwh=_kwh("energy_wh"),
            **{NO_VAT_TOTAL: _no_vat()},
        )
    )
    return ExportTable(
        kind=ExportKind.REIMBURSEMENTS,
        columns=REIMBURSEMENT_COLUMNS,
        rows=rows,
        order=("period_start", "id"),
        totals=("amount", NO_VAT_TOTAL, "amount"),
    )


REIMBURSEMENT_LINE_COLUMNS: tuple[Column, ...] = (
    _integer("reimbursement_id", "reimbursement_id", "The reimbursement the line is on."),
    _integer("session_id", "session_id", "Voltop's number of the home session."),
    _datetime("session_started_at", "session__started_at", "In the fleet's zone."),
    _decimal("energy_kwh", "energy_kwh", KWH, "Energy reimbursed, in kWh."),
    _code("meter_source", "meter_source", "measured (by a charger) or entered (by a person)."),
    _code("price_basis", "price_basis", "What priced the session: home_rate, tariff, provider."),
    _decimal(
        "rate_per_kwh",
        "rate_per_kwh",
        UNIT_PRICE,
        "The driver's home rate that priced it; empty when not priced at a home rate.",
    ),
    _currency("reimbursement__currency"),
    _money("amount", "amount", "Owed to the driver for the session; no VAT on it."),
)


def reimbursement_lines_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The lines of the period's reimbursements, by reimbursement and session start. Control
    totals (amount, 0, amount), as for the reimbursements."""
    rows = ReimbursementLine.objects.filter(
        reimbursement__in=Reimbursement.objects.filter(fleet=fleet)
        .filter(_in_period("period_start", period))
        .values("pk")
    ).annotate(energy_kwh=_kwh("energy_wh"), **{NO_VAT_TOTAL: _no_vat()})
    return ExportTable(
        kind=ExportKind.REIMBURSEMENT_LINES,
        columns=REIMBURSEMENT_LINE_COLUMNS,
        rows=rows,
        order=("reimbursement_id", "session__started_at", "session_id"),
        totals=("amount", NO_VAT_TOTAL, "amount"),
    )


# Payments ------------------------------------------------------------------------------------

PAYMENT_COLUMNS: tuple[Column, ...] = (
    _datetime("received_at", "received_at", "When the money was received, fleet's zone."),
    _text("invoice_number", "invoice__number", "The invoice it pays."),
    _text("driver", "driver_name", "The invoice's driver, first and last name."),
    _text("employee_number", "invoice__driver__employee_number", "The driver's number."),
    _code("method", "method", "bank_transfer, direct_debit, card or payroll."),
    _text("provider_reference", "provider_reference", "The payment provider's reference."),
    _money("amount", "amount", "Amount received."),
    _currency(),
    _code("status", "status", "received, or reversed (no longer counts as paid)."),
)


def payments_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """Payments received in the period, reversed ones too, in the order received. Control
    totals (amount, 0, amount) of every row listed: a payment carries no VAT of its own."""
    rows = (
        Payment.objects.filter(fleet=fleet)
        .filter(_in_period("received_at", period))
        .annotate(
            driver_name=_full_name("invoice__driver"),
            **{NO_VAT_TOTAL: _no_vat()},
        )
    )
    return ExportTable(
        kind=ExportKind.PAYMENTS,
        columns=PAYMENT_COLUMNS,
        rows=rows,
        order=("received_at", "id"),
        totals=("amount", NO_VAT_TOTAL, "amount"),
    )
