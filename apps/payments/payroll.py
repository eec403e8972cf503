"""Payroll deductions: what drivers owe on their open invoices, collected through the employer's
payroll. A deduction is prepared for a billing period (its invoices are then held, "to be
settled by payroll"), recorded once the payroll has run (each invoice settled by a payment of
method payroll, once, whatever is retried), or cancelled before that (its invoices freed).
The writes and the reads the exports, the admin and the API show them with."""

import datetime as dt
import hashlib
import json
import logging
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction
from django.db.models import DecimalField, Exists, ExpressionWrapper, F, OuterRef, QuerySet
from django.utils import timezone

from apps.drivers.choices import DriverStatus
from apps.fleets.models import Fleet
from apps.payments.choices import (
    BillingRunStatus,
    InvoiceStatus,
    PaymentMethod,
    PayrollDeductionStatus,
)
from apps.payments.exceptions import (
    IdempotencyKeyReused,
    PayrollDeductionInvalid,
    PayrollDeductionNothingOpen,
    PayrollDeductionNotPrepared,
    PayrollDeductionRecordedAlready,
)
from apps.payments.models import (
    BillingRun,
    Invoice,
    Payment,
    PayrollDeduction,
    PayrollDeductionItem,
)
from apps.payments.selectors import invoice_balance_of_row, invoice_list_with_balance
from apps.payments.services import CLOCK_SKEW, billing_period_for, payment_record
from voltop.core.money import round_money
from voltop.core.timeutils import local_time_text, require_aware

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
KEY_MAX_LENGTH = PayrollDeduction._meta.get_field("idempotency_key").max_length
UNRELEASED = (PayrollDeductionStatus.PREPARED, PayrollDeductionStatus.RECORDED)


# Reads --------------------------------------------------------------------------------------


def payroll_deduction_of_period(
    *, fleet: Fleet, period_start: dt.datetime, period_end: dt.datetime
) -> PayrollDeduction | None:
    """The fleet's deduction of exactly this period that is not cancelled, if any."""
    return PayrollDeduction.objects.filter(
        fleet=fleet,
        period_start=period_start,
        period_end=period_end,
        status__in=UNRELEASED,
    ).first()


class PayrollDeductionRow(NamedTuple):
    """What the payroll deducts from one driver's pay: the invoices and their total."""

    employee_number: str
    last_name: str
    first_name: str
    invoice_numbers: tuple[str, ...]
    amount: Decimal
    currency: str


def payroll_deduction_rows(*, deduction: PayrollDeduction) -> list[PayrollDeductionRow]:
    """One row per driver of the deduction, by employee number, with their invoices' numbers
    in number order and the sum of what is deducted for them."""
    items = (
        deduction.items.filter(released=False)
        .order_by("driver__employee_number", "invoice__number")
        .values_list(
            "driver__employee_number",
            "driver__last_name",
            "driver__first_name",
            "invoice__number",
            "amount",
        )
    )
    rows: dict[str, PayrollDeductionRow] = {}
    for employee_number, last_name, first_name, number, amount in items:
        row = rows.get(employee_number)
        if row is None:
            rows[employee_number] = PayrollDeductionRow(
                employee_number, last_name, first_name, (number,), amount, deduction.currency
            )
        else:
            rows[employee_number] = row._replace(
                invoice_numbers=(*row.invoice_numbers, number), amount=row.amount + amount
            )
    return [row._replace(amount=round_money(row.amount, row.currency)) for row in rows.values()]


def invoice_list_with_payroll_hold(queryset: QuerySet) -> QuerySet:
    """Invoices annotated with `held_by_payroll`: whether a prepared payroll deduction holds
    them, so they are to be settled by payroll rather than asked for otherwise."""
    held = PayrollDeductionItem.objects.filter(
        invoice=OuterRef("pk"),
        released=False,
        deduction__status=PayrollDeductionStatus.PREPARED,
    )
    return queryset.annotate(held_by_payroll=Exists(held))


def _open_invoices(fleet: Fleet, period_end: dt.datetime) -> QuerySet:
    """The fleet's issued invoices with something still to pay whose supply period starts
    before `period_end`, of drivers still employed, not held by another deduction."""
    money = DecimalField(max_digits=14, decimal_places=2)
    held = PayrollDeductionItem.objects.filter(invoice=OuterRef("pk"), released=False)
    return (
        invoice_list_with_balance(
            Invoice.objects.filter(
                fleet=fleet,
                currency=fleet.currency,
                status=InvoiceStatus.ISSUED,
                period_start__lt=period_end,
            ).exclude(driver__status=DriverStatus.LEFT)
        )
        .annotate(
            open_total=ExpressionWrapper(
                F("gross_total") - F("credited_total") - F("paid_total"), output_field=money
            )
        )
        .filter(open_total__gt=0)
        .exclude(Exists(held))
    )


# Writes -------------------------------------------------------------------------------------


def _fleet_lock(fleet: Fleet) -> Fleet:
    """Lock the fleet so its payroll deductions change one at a time. FOR NO KEY UPDATE: a
    payment recorded meanwhile (whose row refers to the fleet, a key share lock) is not held
    up by it, so it cannot deadlock with this transaction over the invoice it waits on."""
    return Fleet.objects.select_for_update(no_key=True).get(pk=fleet.pk)


def _invoices_lock(invoice_ids) -> None:
    """Lock the invoices, in id order, so a payment recorded meanwhile waits for this
    transaction and what is read next is what stays true until it commits."""
    list(
        Invoice.objects.select_for_update()
        .filter(pk__in=list(invoice_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def payroll_deduction_prepare(
    *,
    fleet: Fleet,
    period_label: str,
    by=None,
    now: dt.datetime | None = None,
) -> tuple[PayrollDeduction, bool]:
    """Prepare the payroll deduction of a billed period: every open invoice of the fleet whose
    supply period starts before the period's end, of drivers who have not left, and not held
    by another deduction, each for its open balance. Returns (deduction, created).

    Its invoices are held until it is recorded or cancelled. Preparing a period again returns
    its deduction as it is; a period not billed yet, or with nothing open, is refused.
    """
    now = now or timezone.now()
    fleet = _fleet_lock(fleet)
    period = billing_period_for(fleet=fleet, label=period_label)
    existing = payroll_deduction_of_period(
        fleet=fleet, period_start=period.start, period_end=period.end
    )
    if existing is not None:
        return existing, False
    run = BillingRun.objects.filter(fleet=fleet, period_start=period.start).first()
    if run is None or run.status != BillingRunStatus.COMPLETED:
        state = "has no billing run" if run is None else f"is {run.get_status_display().lower()}"
        raise PayrollDeductionInvalid(
            f"The billing of {period.label} {state}; a payroll deduction is prepared once "
            "the period's billing run has completed.",
            field="period",
        )
    _invoices_lock(_open_invoices(fleet, period.end).values_list("pk", flat=True))
    invoices = list(
        _open_invoices(fleet, period.end)
        .select_related("driver")
        .order_by("driver__employee_number", "number")
    )
    if not invoices:
        raise PayrollDeductionNothingOpen(
            f"No invoice of {fleet.name} up to the end of {period.label} is open and free "
            "to deduct: nothing to prepare.",
            field="period",
        )
    amounts = [invoice_balance_of_row(invoice).due for invoice in invoices]
    deduction = PayrollDeduction.objects.create(
        fleet=fleet,
        period_label=period.label,
        period_start=period.start,
        period_end=period.end,
        currency=fleet.currency,
        driver_count=len({invoice.driver_id for invoice in invoices}),
        item_count=len(invoices),
        total=sum(amounts, ZERO),
        prepared_at=now,
        prepared_by=by,
    )
    PayrollDeductionItem.objects.bulk_create(
        PayrollDeductionItem(
            deduction=deduction, invoice=invoice, driver_id=invoice.driver_id, amount=amount
        )
        for invoice, amount in zip(invoices, amounts, strict=True)
    )
    logger.info(
        "payments.payroll_deduction_prepared",
        extra={
            "deduction_id": deduction.pk,
            "fleet_id": fleet.pk,
            "period": period.label,
            "invoices": deduction.item_count,
            "total": str(deduction.total),
        },
    )
    return deduction, True


def _record_fingerprint(deduction: PayrollDeduction, received_at: dt.datetime | None) -> str:
    fields = {
        "deduction": deduction.pk,
        "received_at": None if received_at is None else received_at.astimezone(dt.UTC).isoformat(),
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def payroll_payment_key(item: PayrollDeductionItem) -> str:
    """The idempotency key of the payment that settles an item's invoice: derived from the
    deduction and the invoice, so however often recording is retried, one payment settles
    it."""
    return f"payroll-deduction-{item.deduction_id}-invoice-{item.invoice_id}"


def _key_checked(idempotency_key: str) -> str:
    key = (idempotency_key or "").strip()
    if not key:
        raise PayrollDeductionInvalid(
            "An idempotency key is needed to record a payroll run.", field="idempotency_key"
        )
    if len(key) > KEY_MAX_LENGTH:
        raise PayrollDeductionInvalid(
            f"The idempotency key is longer than {KEY_MAX_LENGTH} characters.",
            field="idempotency_key",
        )
    return key


def _item_settle(
    item: PayrollDeductionItem, *, received_at: dt.datetime, by, now: dt.datetime
) -> None:
    """Settle the item's invoice by a payroll payment of what is still open of its amount;
    nothing where the invoice was paid or credited in full meanwhile."""
    key = payroll_payment_key(item)
    payment = Payment.objects.filter(fleet_id=item.invoice.fleet_id, idempotency_key=key).first()
    if payment is None:
        invoice = invoice_list_with_balance(Invoice.objects.filter(pk=item.invoice_id)).get()
        due = invoice_balance_of_row(invoice).due
        settled = min(item.amount, max(due, ZERO))
        if settled > 0:
            payment, _ = payment_record(
                invoice=invoice,
                amount=settled,
                currency=invoice.currency,
                method=PaymentMethod.PAYROLL,
                idempotency_key=key,
                received_at=received_at,
                provider_reference=f"Payroll {item.deduction.period_label}",
                recorded_by=by,
                now=now,
            )
    item.payment = payment
    item.settled_amount = payment.amount if payment is not None else ZERO
    item.save(update_fields=["payment", "settled_amount"])


@transaction.atomic
def payroll_deduction_record(
    *,
    deduction: PayrollDeduction,
    idempotency_key: str,
    by=None,
    received_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> PayrollDeduction:
    """Record that the payroll deducted a prepared deduction (at `received_at`, by default
    now): each of its invoices is settled by a payment of method payroll, keyed by the
    deduction and the invoice, for what is still open of the amount deducted. An invoice paid
    or credited in between is settled for less (or not at all) and its `settled_amount`
    says so: the difference was deducted from the driver's pay and is owed back to them.

    The same idempotency key again returns the recorded deduction and changes nothing; the
    key with another request is refused (422), another key on a recorded deduction too (409),
    as is a cancelled deduction.
    """
    now = now or timezone.now()
    key = _key_checked(idempotency_key)
    require_aware(received_at, field="received_at")
    fingerprint = _record_fingerprint(deduction, received_at)
    fleet = _fleet_lock(deduction.fleet)
    used = PayrollDeduction.objects.filter(fleet=fleet, idempotency_key=key).first()
    if used is not None:
        if used.pk != deduction.pk or used.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This idempotency key recorded a payroll run with other details; use a new key.",
                field="idempotency_key",
            )
        return used
    deduction = PayrollDeduction.objects.select_for_update().get(pk=deduction.pk)
    if deduction.status == PayrollDeductionStatus.RECORDED:
        raise PayrollDeductionRecordedAlready(
            f"The payroll deduction of {deduction.period_label} was recorded on "
            f"{local_time_text(deduction.recorded_at, fleet.zone)} with another key; a "
            "payroll run is recorded once.",
            field="idempotency_key",
        )
    if deduction.status != PayrollDeductionStatus.PREPARED:
        raise PayrollDeductionNotPrepared(
            f"The payroll deduction of {deduction.period_label} is cancelled; prepare the "
            "period again.",
            field="status",
        )
    received_at = received_at or now
    if received_at > now + CLOCK_SKEW:
        raise PayrollDeductionInvalid(
            "A payroll run cannot be recorded as paid in the future.", field="received_at"
        )
    if received_at < deduction.prepared_at:
        raise PayrollDeductionInvalid(
            f"The deduction was prepared on {local_time_text(deduction.prepared_at, fleet.zone)}; "
            "the payroll cannot have deducted it before.",
            field="received_at",
        )
    items = list(
        deduction.items.filter(released=False).select_related("invoice", "deduction").order_by("pk")
    )
    _invoices_lock(item.invoice_id for item in items)
    for item in items:
        _item_settle(item, received_at=received_at, by=by, now=now)
    deduction.status = PayrollDeductionStatus.RECORDED
    deduction.recorded_at = now
    deduction.recorded_by = by
    deduction.idempotency_key = key
    deduction.request_fingerprint = fingerprint
    deduction.settled_total = sum((item.settled_amount for item in items), ZERO)
    deduction.save(
        update_fields=[
            "status",
            "recorded_at",
            "recorded_by",
            "idempotency_key",
            "request_fingerprint",
            "settled_total",
            "updated_at",
        ]
    )
    logger.info(
        "payments.payroll_deduction_recorded",
        extra={
            "deduction_id": deduction.pk,
            "total": str(deduction.total),
            "settled_total": str(deduction.settled_total),
        },
    )
    return deduction


@transaction.atomic
def payroll_deduction_cancel(
    *, deduction: PayrollDeduction, by=None, now: dt.datetime | None = None
) -> PayrollDeduction:
    """Cancel a prepared deduction the payroll will not deduct: its invoices are freed, and
    the period can be prepared anew. Cancelling it again changes nothing; a recorded
    deduction is refused, as the payroll has deducted it."""
    now = now or timezone.now()
    _fleet_lock(deduction.fleet)
    deduction = PayrollDeduction.objects.select_for_update().get(pk=deduction.pk)
    if deduction.status == PayrollDeductionStatus.CANCELLED:
        return deduction
    if deduction.status != PayrollDeductionStatus.PREPARED:
        raise PayrollDeductionNotPrepared(
            f"The payroll deduction of {deduction.period_label} is recorded: the payroll "
            "deducted it, so it cannot be cancelled.",
            field="status",
        )
    deduction.items.update(released=True)
    deduction.status = PayrollDeductionStatus.CANCELLED
    deduction.cancelled_at = now
    deduction.cancelled_by = by
    deduction.save(update_fields=["status", "cancelled_at", "cancelled_by", "updated_at"])
    logger.info("payments.payroll_deduction_cancelled", extra={"deduction_id": deduction.pk})
    return deduction
