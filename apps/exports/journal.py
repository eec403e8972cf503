"""The fleet's double-entry journal: the ledger entries of an export period (invoices and
credit notes per VAT rate, business charging allocated to cost centers with its input VAT
apart, reimbursements, payments received, executed SEPA payouts), read with a fixed number of
queries, and each booking split into its debit and credit lines.

Which entries belong to an export period: those whose posting date (a day in the fleet's zone)
lies in it. The posting date is
- an invoice's or a credit note's issue day;
- a billing run's cost allocations: the last day of its billing period;
- a reimbursement: the day it was approved (the last day of its billing period if it has none);
- a payment: the day it was received; an executed payout batch: the day it was executed.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple

from django.db.models import (
    Case,
    DateTimeField,
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round

from apps.exports.choices import ExportKind
from apps.exports.columns import Column, ValueType
from apps.exports.exceptions import VatRateAccountsMissing
from apps.exports.ledger import Booking, Entry, EntryKind, TaxedSide
from apps.exports.periods import ExportPeriod
from apps.exports.tables import ExportTable
from apps.fleets.models import Fleet, VatRateAccounts
from apps.payments.choices import (
    InvoiceStatus,
    PaymentMethod,
    PaymentStatus,
    PayoutBatchStatus,
    ReimbursementStatus,
)
from apps.payments.models import (
    CostAllocation,
    CreditNoteLine,
    InvoiceLine,
    Payment,
    PayoutItem,
    Reimbursement,
)
from apps.payments.totals import VatSubtotal, credit_note_totals, document_totals

ZERO = Decimal("0.00")
RATE_PLACES = Decimal("0.01")
JUST_BEFORE = dt.timedelta(seconds=1)
KIND_ORDER = {kind: position for position, kind in enumerate(EntryKind.values)}
ALLOCATION_VAT_TOLERANCE = Decimal("0.02")
ACCOUNTS_WHERE = 'add them under "Accounts per VAT rate" in the fleet\'s accounting settings'


class _Posting(NamedTuple):
    """An entry before it is numbered: `source_id` is the row it rests on (the invoice, the
    credit note, the billing run, the reimbursement, the payment, the payout batch)."""

    kind: str
    source_id: int
    posting_date: dt.date
    document_date: dt.date
    document: str
    currency: str
    bookings: tuple[Booking, ...]


def _rate_key(rate: Decimal) -> Decimal:
    return Decimal(rate).quantize(RATE_PLACES)


def _rate_text(rate: Decimal) -> str:
    return f"{_rate_key(rate).normalize():f} %"


def _local_day(instant: dt.datetime, fleet: Fleet) -> dt.date:
    return instant.astimezone(fleet.zone).date()


def _last_day(end: dt.datetime, fleet: Fleet) -> dt.date:
    """The local day before `end` (a local midnight): taken a second before, as a day is not
    always 24 hours long."""
    return _local_day(end - JUST_BEFORE, fleet)


def _in_period(field: str, period: ExportPeriod) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})


def _accounts_by_rate(fleet: Fleet) -> dict[Decimal, VatRateAccounts]:
    return {_rate_key(row.vat_rate): row for row in VatRateAccounts.objects.filter(fleet=fleet)}


def _accounts_of(
    accounts: dict[Decimal, VatRateAccounts], rate: Decimal, where: str
) -> VatRateAccounts:
    found = accounts.get(_rate_key(rate))
    if found is None:
        raise VatRateAccountsMissing(
            f"{where} carries VAT at {_rate_text(rate)}, and the fleet has no ledger accounts "
            f"for {_rate_text(rate)}: {ACCOUNTS_WHERE}.",
            field="vat_rate",
        )
    return found


# Invoices and credit notes -------------------------------------------------------------------


def _revenue_booking(
    fleet: Fleet, accounts: VatRateAccounts, subtotal: VatSubtotal, text: str
) -> Booking:
    """Revenue at one rate as an invoice states it: receivables to revenue, the VAT payable
    inside it on the credit side."""
    has_vat = bool(subtotal.vat)
    return Booking(
        debit_account=fleet.receivables_account,
        credit_account=accounts.revenue_account,
        amount=subtotal.taxable + subtotal.vat,
        text=text,
        vat_rate=_rate_key(subtotal.rate),
        vat=subtotal.vat,
        vat_account=accounts.vat_account if has_vat else "",
        taxed_side=TaxedSide.CREDIT if has_vat else "",
        tax_code=accounts.revenue_tax_code,
    )


def _reversed(booking: Booking) -> Booking:
    """The same booking the other way round (a credit note's revenue taken back)."""
    return Booking(
        debit_account=booking.credit_account,
        credit_account=booking.debit_account,
        amount=booking.amount,
        text=booking.text,
        vat_rate=booking.vat_rate,
        vat=booking.vat,
        vat_account=booking.vat_account,
        taxed_side=(
            ""
            if not booking.taxed_side
            else TaxedSide.DEBIT
            if booking.taxed_side == TaxedSide.CREDIT
            else TaxedSide.CREDIT
        ),
        tax_code=booking.tax_code,
        cost_center=booking.cost_center,
    )


def _invoice_entries(fleet, period, accounts) -> list[_Posting]:
    lines = (
        InvoiceLine.objects.filter(invoice__fleet=fleet)
        .filter(_in_period("invoice__issued_at", period))
        .exclude(invoice__status=InvoiceStatus.DRAFT)
        .order_by("invoice_id", "position")
        .values_list(
            "invoice_id", "invoice__number", "invoice__issued_at", "invoice__currency", "net",
            "vat_rate",
        )
    )  # fmt: skip
    documents: dict[int, tuple] = {}
    nets: dict[int, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for invoice_id, number, issued_at, currency, net, rate in lines:
        documents[invoice_id] = (number, issued_at, currency)
        nets[invoice_id].append((net, rate))
    found = []
    for invoice_id, (number, issued_at, currency) in documents.items():
        bookings = tuple(
            _revenue_booking(
                fleet,
                _accounts_of(accounts, subtotal.rate, f"Invoice {number}"),
                subtotal,
                f"Invoice {number}, VAT {_rate_text(subtotal.rate)}",
            )
            for subtotal in document_totals(nets[invoice_id], currency).by_rate
            if subtotal.taxable or subtotal.vat
        )
        day = _local_day(issued_at, fleet)
        found.append(_Posting(EntryKind.INVOICE, invoice_id, day, day, number, currency, bookings))
    return found


def _credit_note_entries(fleet, period, accounts) -> list[_Posting]:
    """Each credit note issued in the period, with the VAT its issue gave back: computed, as
    when it was issued, after its invoice's earlier credit notes (read as well)."""
    credited = (
        CreditNoteLine.objects.filter(credit_note__fleet=fleet)
        .filter(credit_note__issued_at__lt=period.end)
        .filter(
            credit_note__invoice__credit_notes__issued_at__gte=period.start,
            credit_note__invoice__credit_notes__issued_at__lt=period.end,
        )
        .distinct()
        .order_by("credit_note__invoice_id", "credit_note_id", "pk")
        .values_list(
            "pk", "credit_note__invoice_id", "credit_note_id", "credit_note__number",
            "credit_note__issued_at", "credit_note__currency", "net", "vat_rate",
        )
    )  # fmt: skip
    notes: dict[int, tuple] = {}
    lines_of_note: dict[int, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    notes_of_invoice: dict[int, list[int]] = defaultdict(list)
    for _pk, invoice_id, note_id, number, issued_at, currency, net, rate in credited:
        if note_id not in notes:
            notes[note_id] = (number, issued_at, currency)
            notes_of_invoice[invoice_id].append(note_id)
        lines_of_note[note_id].append((net, rate))
    found = []
    for note_ids in notes_of_invoice.values():
        credited_before: list[tuple[Decimal, Decimal]] = []
        for note_id in note_ids:
            number, issued_at, currency = notes[note_id]
            totals = credit_note_totals(
                credited_before=credited_before, lines=lines_of_note[note_id], currency=currency
            )
            credited_before = credited_before + lines_of_note[note_id]
            if not period.start <= issued_at < period.end:
                continue
            bookings = tuple(
                _reversed(
                    _revenue_booking(
                        fleet,
                        _accounts_of(accounts, subtotal.rate, f"Credit note {number}"),
                        subtotal,
                        f"Credit note {number}, VAT {_rate_text(subtotal.rate)}",
                    )
                )
                for subtotal in totals.by_rate
                if subtotal.taxable or subtotal.vat
            )
            day = _local_day(issued_at, fleet)
            found.append(
                _Posting(EntryKind.CREDIT_NOTE, note_id, day, day, number, currency, bookings)
            )
    return found


# Business charging ---------------------------------------------------------------------------


def _allocation_rate(fleet: Fleet, accounts: dict[Decimal, VatRateAccounts]) -> Case:
    """The VAT rate of an allocation: the configured rate whose VAT on its net comes within
    two cents of its VAT (a session's VAT is rounded per pricing dimension), trying the
    fleet's own rate first, then the others from the highest; NULL when none does."""
    rates = sorted(accounts, reverse=True)
    own = _rate_key(fleet.default_vat_rate)
    if own in accounts:
        rates = [own, *(rate for rate in rates if rate != own)]
    rate_field = DecimalField(max_digits=5, decimal_places=2)
    whens = []
    for rate in rates:
        expected = Round(F("amount") * Value(rate / 100), 2)
        whens.append(
            When(
                vat__gte=expected - Value(ALLOCATION_VAT_TOLERANCE),
                vat__lte=expected + Value(ALLOCATION_VAT_TOLERANCE),
                then=Value(rate, output_field=rate_field),
            )
        )
    return Case(*whens, default=Value(None, output_field=rate_field), output_field=rate_field)


def _allocation_groups(fleet, period, accounts) -> QuerySet:
    return (
        CostAllocation.objects.filter(fleet=fleet)
        .filter(period_end__gt=period.start, period_end__lte=period.end)
        .annotate(matched_rate=_allocation_rate(fleet, accounts))
        .order_by()
        .values(
            "billing_run_id",
            "billing_run__period_label",
            "period_end",
            "currency",
            "cost_center__code",
            "matched_rate",
        )
        .annotate(net=Sum("amount"), vat=Sum("vat"))
    )


def _allocation_unmatched_refusal(group: dict) -> VatRateAccountsMissing:
    net, vat = group["net"], group["vat"]
    effective = (vat * 100 / net).quantize(RATE_PLACES) if net else Decimal(0)
    return VatRateAccountsMissing(
        f"Business charging of {group['billing_run__period_label']} (cost center "
        f"{group['cost_center__code'] or 'none'}) carries VAT of about {_rate_text(effective)}, "
        f"which matches no VAT rate the fleet has ledger accounts for: {ACCOUNTS_WHERE}.",
        field="vat_rate",
    )


def _allocation_entries(fleet, period, accounts) -> list[_Posting]:
    runs: dict[int, dict] = {}
    for group in _allocation_groups(fleet, period, accounts):
        if group["matched_rate"] is None:
            raise _allocation_unmatched_refusal(group)
        run = runs.setdefault(
            group["billing_run_id"],
            {
                "label": group["billing_run__period_label"],
                "day": _last_day(group["period_end"], fleet),
                "currency": group["currency"],
                "groups": [],
            },
        )
        run["groups"].append(group)
    found = []
    for run_id, run in runs.items():
        groups = sorted(
            run["groups"],
            key=lambda group: (group["cost_center__code"] or "", -group["matched_rate"]),
        )
        bookings = []
        for group in groups:
            rate_accounts = accounts[_rate_key(group["matched_rate"])]
            has_vat = bool(group["vat"])
            center = group["cost_center__code"] or ""
            bookings.append(
                Booking(
                    debit_account=fleet.charging_cost_account,
                    credit_account=fleet.charging_payable_account,
                    amount=group["net"] + group["vat"],
                    text=(
                        f"Business charging {run['label']} {center}".rstrip()
                        + f", VAT {_rate_text(group['matched_rate'])}"
                    ),
                    vat_rate=_rate_key(group["matched_rate"]),
                    vat=group["vat"],
                    vat_account=rate_accounts.input_vat_account if has_vat else "",
                    taxed_side=TaxedSide.DEBIT if has_vat else "",
                    tax_code=rate_accounts.input_tax_code,
                    cost_center=center,
                )
            )
        document = f"ALLOC-{run['label']}"
        bookings = [booking for booking in bookings if booking.amount]
        if bookings:
            found.append(
                _Posting(
                    EntryKind.ALLOCATION, run_id, run["day"], run["day"], document,
                    run["currency"], tuple(bookings),
                )
            )  # fmt: skip
    return found


def _allocation_rates_check(fleet, period, accounts) -> None:
    for group in _allocation_groups(fleet, period, accounts):
        if group["matched_rate"] is None and (group["net"] or group["vat"]):
            raise _allocation_unmatched_refusal(group)


# Reimbursements, payments, payouts -----------------------------------------------------------


def _reimbursement_entries(fleet, period) -> list[_Posting]:
    posted = Coalesce(
        "decided_at",
        ExpressionWrapper(F("period_end") - Value(JUST_BEFORE), output_field=DateTimeField()),
    )
    rows = (
        Reimbursement.objects.filter(fleet=fleet)
        .filter(status__in=(ReimbursementStatus.APPROVED, ReimbursementStatus.PAID), amount__gt=0)
        .annotate(posted_at=posted)
        .filter(_in_period("posted_at", period))
        .order_by("pk")
        .values_list("pk", "posted_at", "currency", "amount", "driver__cost_center__code")
    )
    found = []
    for reimbursement_id, posted_at, currency, amount, center in rows:
        day = _local_day(posted_at, fleet)
        booking = Booking(
            debit_account=fleet.charging_cost_account,
            credit_account=fleet.reimbursement_payable_account,
            amount=amount,
            text=f"Home charging reimbursement R{reimbursement_id}",
            cost_center=center or "",
        )
        found.append(
            _Posting(
                EntryKind.REIMBURSEMENT, reimbursement_id, day, day, f"R{reimbursement_id}",
                currency, (booking,),
            )
        )  # fmt: skip
    return found


def _payment_entries(fleet, period) -> list[_Posting]:
    rows = (
        Payment.objects.filter(fleet=fleet, status=PaymentStatus.RECEIVED)
        .exclude(method=PaymentMethod.SET_OFF)
        .filter(_in_period("received_at", period))
        .order_by("pk")
        .values_list("pk", "received_at", "currency", "amount", "method", "invoice__number")
    )
    found = []
    for payment_id, received_at, currency, amount, method, number in rows:
        day = _local_day(received_at, fleet)
        booking = Booking(
            debit_account=(
                fleet.payroll_account if method == PaymentMethod.PAYROLL else fleet.bank_account
            ),
            credit_account=fleet.receivables_account,
            amount=amount,
            text=f"Payment of invoice {number} ({PaymentMethod(method).label})",
        )
        found.append(
            _Posting(EntryKind.PAYMENT, payment_id, day, day, number, currency, (booking,))
        )
    return found


def _payout_entries(fleet, period) -> list[_Posting]:
    items = (
        PayoutItem.objects.filter(
            batch__fleet=fleet, batch__status=PayoutBatchStatus.EXECUTED, released=False
        )
        .filter(_in_period("batch__executed_at", period))
        .order_by("batch_id", "pk")
        .values_list(
            "batch_id", "batch__message_id", "batch__executed_at", "batch__currency",
            "reimbursement_id", "refund_id", "amount", "driver__cost_center__code",
        )
    )  # fmt: skip
    batches: dict[int, tuple] = {}
    bookings: dict[int, list[Booking]] = defaultdict(list)
    for (
        batch_id,
        message_id,
        executed_at,
        currency,
        reimbursement_id,
        refund_id,
        amount,
        center,
    ) in items:
        batches[batch_id] = (message_id, executed_at, currency)
        if reimbursement_id is not None:
            booking = Booking(
                debit_account=fleet.reimbursement_payable_account,
                credit_account=fleet.bank_account,
                amount=amount,
                text=f"Payout of reimbursement R{reimbursement_id}",
                cost_center=center or "",
            )
        else:
            booking = Booking(
                debit_account=fleet.receivables_account,
                credit_account=fleet.bank_account,
                amount=amount,
                text=f"Payout of refund {refund_id}",
            )
        bookings[batch_id].append(booking)
    found = []
    for batch_id, (message_id, executed_at, currency) in batches.items():
        day = _local_day(executed_at, fleet)
        found.append(
            _Posting(
                EntryKind.PAYOUT,
                batch_id,
                day,
                day,
                message_id,
                currency,
                tuple(bookings[batch_id]),
            )
        )
    return found


# The journal ---------------------------------------------------------------------------------


def ledger_entries(*, fleet: Fleet, period: ExportPeriod) -> list[Entry]:
    """The fleet's ledger entries posted in the period, numbered from 1 in file order: by
    posting date, kind (invoices, credit notes, allocations, reimbursements, payments,
    payouts), document and id. Seven queries, whatever the number of documents. Refused
    (VatRateAccountsMissing) when a VAT rate that occurs has no accounts."""
    accounts = _accounts_by_rate(fleet)
    found = [
        *_invoice_entries(fleet, period, accounts),
        *_credit_note_entries(fleet, period, accounts),
        *_allocation_entries(fleet, period, accounts),
        *_reimbursement_entries(fleet, period),
        *_payment_entries(fleet, period),
        *_payout_entries(fleet, period),
    ]
    found = [posting for posting in found if posting.bookings]
    found.sort(
        key=lambda posting: (
            posting.posting_date,
            KIND_ORDER[posting.kind],
            posting.document,
            posting.source_id,
        )
    )
    return [
        Entry(
            kind=posting.kind,
            number=number,
            posting_date=posting.posting_date,
            document_date=posting.document_date,
            document=posting.document,
            currency=posting.currency,
            bookings=posting.bookings,
        )
        for number, posting in enumerate(found, start=1)
    ]


def ledger_accounts_check(*, fleet: Fleet, period: ExportPeriod) -> None:
    """Refuse (VatRateAccountsMissing, field vat_rate) when a VAT rate of the period's
    invoices, credit notes or business charging has no ledger accounts on the fleet: checked
    before an export of the journal or DATEV is accepted, so a refused one leaves nothing."""
    accounts = _accounts_by_rate(fleet)
    invoiced = (
        InvoiceLine.objects.filter(invoice__fleet=fleet)
        .filter(_in_period("invoice__issued_at", period))
        .exclude(invoice__status=InvoiceStatus.DRAFT)
        .order_by()
        .values("vat_rate")
        .annotate(first=Min("invoice__number"))
        .values_list("vat_rate", "first")
    )
    for rate, number in sorted(invoiced):
        _accounts_of(accounts, rate, f"Invoice {number}")
    credited = (
        CreditNoteLine.objects.filter(credit_note__fleet=fleet)
        .filter(_in_period("credit_note__issued_at", period))
        .order_by()
        .values("vat_rate")
        .annotate(first=Min("credit_note__number"))
        .values_list("vat_rate", "first")
    )
    for rate, number in sorted(credited):
        _accounts_of(accounts, rate, f"Credit note {number}")
    _allocation_rates_check(fleet, period, accounts)


# Lines ---------------------------------------------------------------------------------------


def _line(entry: Entry, booking: Booking, account: str, side: str, amount: Decimal, vat: bool):
    return {
        "entry": entry.number,
        "posting_date": entry.posting_date,
        "document_date": entry.document_date,
        "account": account,
        "debit": amount if side == TaxedSide.DEBIT else None,
        "credit": amount if side == TaxedSide.CREDIT else None,
        "tax_code": (booking.tax_code if (vat or side == booking.taxed_side) else "") or None,
        "cost_center": booking.cost_center or None,
        "document": entry.document,
        "text": booking.text,
        "currency": entry.currency,
        "vat_amount": amount if vat else ZERO,
    }


def booking_lines(entry: Entry, booking: Booking) -> Iterator[dict]:
    """One booking as journal lines: without VAT, the debit and the credit line of its
    amount; with VAT, the untaxed side's gross, the taxed side's net and the VAT on the VAT
    account, on the taxed side (the tax code on those two). Lines of amount zero are left
    out; a tax code or cost center that is not there is None. Pure."""
    taxed = booking.taxed_side if booking.vat else ""
    net = booking.amount - booking.vat
    debit = net if taxed == TaxedSide.DEBIT else booking.amount
    credit = net if taxed == TaxedSide.CREDIT else booking.amount
    parts = [
        (booking.debit_account, TaxedSide.DEBIT, debit, False),
        (booking.credit_account, TaxedSide.CREDIT, credit, False),
    ]
    if taxed:
        parts.insert(
            1 if taxed == TaxedSide.DEBIT else 2,
            (booking.vat_account, taxed, booking.vat, True),
        )
    for account, side, amount, is_vat in parts:
        if amount:
            yield _line(entry, booking, account, side, amount, is_vat)


def journal_lines(entries: Iterable[Entry]) -> Iterator[dict]:
    """The entries' lines in file order, numbered from 1 within each entry. Pure."""
    for entry in entries:
        number = 0
        for booking in entry.bookings:
            for line in booking_lines(entry, booking):
                number += 1
                yield {"line": number, **line}


# The export table ----------------------------------------------------------------------------


def _text(header: str, description: str) -> Column:
    return Column(header, ValueType.TEXT, header, description=description)


def _code(header: str, description: str) -> Column:
    return Column(header, ValueType.TEXT, header, description=description, is_code=True)


def _money(header: str, description: str) -> Column:
    return Column(header, ValueType.DECIMAL, header, places=2, description=description)


JOURNAL_COLUMNS: tuple[Column, ...] = (
    Column("entry", ValueType.INTEGER, "entry", description="The entry's number, from 1."),
    Column("line", ValueType.INTEGER, "line", description="The line's number in its entry."),
    Column("posting_date", ValueType.DATE, "posting_date", description="Fleet's zone."),
    Column("document_date", ValueType.DATE, "document_date", description="The document's day."),
    _text("account", "The ledger account."),
    _money("debit", "Amount on the debit side; empty on a credit line."),
    _money("credit", "Amount on the credit side; empty on a debit line."),
    _text("tax_code", "Tax key (BU-Schlüssel) of the taxed line and its VAT line."),
    _text("cost_center", "The cost center's code, where the booking has one."),
    _text("document", "Invoice or credit note number, ALLOC-<period>, R<id>, batch MsgId."),
    _text("text", "What was booked."),
    _code("currency", "ISO 4217 code of the line's amount."),
)


def journal_rows(fleet: Fleet, period: ExportPeriod) -> list[dict]:
    """The journal lines of the fleet's entries posted in the period."""
    return list(journal_lines(ledger_entries(fleet=fleet, period=period)))


def journal_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The double-entry journal of the period. Control totals: (lines, Σ debit, Σ VAT lines,
    Σ credit); Σ debit equals Σ credit, as every entry balances."""
    return ExportTable(
        kind=ExportKind.JOURNAL,
        columns=JOURNAL_COLUMNS,
        rows=journal_rows(fleet, period),
        order=("entry", "line"),
        totals=("debit", "vat_amount", "credit"),
    )
