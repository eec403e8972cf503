"""Reads of the payments app: what a billing run may bill and what it leaves out, balances,
statements, and what billing recorded for the finance exports."""

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from django.db.models import (
    Case,
    CharField,
    DecimalField,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from apps.charging.choices import HomeApproval, LocationKind, SessionPurpose, SessionStatus
from apps.charging.models import ChargingSession
from apps.fleets.models import Fleet
from apps.payments.choices import (
    BillingRunStatus,
    InvoiceStatus,
    LeftOutReason,
    PaymentStatus,
    ReimbursementStatus,
)
from apps.payments.models import (
    BillingLeftOut,
    BillingRun,
    CostAllocation,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
    Reimbursement,
    ReimbursementLine,
    Statement,
)
from voltop.core.money import round_money

ZERO = Decimal("0.00")


def billable_session_list(*, fleet: Fleet, ended_before: dt.datetime) -> QuerySet:
    """Sessions a run up to `ended_before` bills: completed, priced in the fleet's currency,
    not billed yet, ended before the period's end (late arrivals from earlier periods too).

    Home charging is billed only when it is business charging a manager approved; private
    home charging is the driver's own. Invalid sessions are never billed, nor sessions a
    charger started with an unknown tag until they have a driver. A run's report names why
    each other session of its period was left out (billing_run_left_out_list).
    """
    home_billable = Q(
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        home_approval=HomeApproval.APPROVED,
    )
    return ChargingSession.objects.filter(
        ~Q(location_kind=LocationKind.HOME) | home_billable,
        fleet=fleet,
        driver__isnull=False,
        status=SessionStatus.COMPLETED,
        billed_at__isnull=True,
        ended_at__lt=ended_before,
        price_incl_vat__isnull=False,
        price_currency=fleet.currency,
    )


def _left_out_reason(fleet: Fleet) -> Case:
    """Why billable_session_list leaves a session out, as an expression: the first of the
    LeftOutReason that holds. A session none of them holds for is billable now."""
    home = Q(location_kind=LocationKind.HOME)
    unpriced = Q(price_incl_vat__isnull=True)
    return Case(
        When(status=SessionStatus.ACTIVE, then=Value(LeftOutReason.STILL_CHARGING)),
        When(status=SessionStatus.INVALID, then=Value(LeftOutReason.INVALID)),
        When(driver__isnull=True, then=Value(LeftOutReason.NO_DRIVER)),
        When(home & Q(home_approval=HomeApproval.PENDING), then=Value(LeftOutReason.HOME_PENDING)),
        When(
            home & Q(home_approval=HomeApproval.REJECTED), then=Value(LeftOutReason.HOME_REJECTED)
        ),
        When(home & Q(purpose=SessionPurpose.PRIVATE), then=Value(LeftOutReason.HOME_PRIVATE)),
        When(
            home & ~Q(home_approval=HomeApproval.APPROVED),
            then=Value(LeftOutReason.HOME_NOT_CLAIMED),
        ),
        When(unpriced & ~Q(unpriced_reason=""), then=F("unpriced_reason")),
        When(unpriced, then=Value(LeftOutReason.NOT_PRICED_YET)),
        When(~Q(price_currency=fleet.currency), then=Value(LeftOutReason.OTHER_CURRENCY)),
        default=Value(LeftOutReason.NEXT_RUN),
        output_field=CharField(),
    )


def billing_run_left_out_list(*, run: BillingRun) -> QuerySet:
    """The sessions of the run's period the run leaves out as things stand, each annotated
    with its LeftOutReason as `reason`: those that ended in the period and are not billed, and
    those still charging that started before its end. What the run finalises with, its rows
    (BillingLeftOut) and its counts alike."""
    return (
        ChargingSession.objects.filter(fleet_id=run.fleet_id, billed_at__isnull=True)
        .filter(
            Q(ended_at__gte=run.period_start, ended_at__lt=run.period_end)
            | Q(status=SessionStatus.ACTIVE, started_at__lt=run.period_end)
        )
        .annotate(reason=_left_out_reason(run.fleet))
    )


def left_out_counts(reasons: Iterable[str]) -> dict[str, int]:
    """How many of `reasons` there are of each LeftOutReason, in the reasons' order; reasons
    none has are left out."""
    counts = Counter(reasons)
    return {reason: counts[reason] for reason in LeftOutReason.values if counts[reason]}


def billing_run_left_out(run: BillingRun) -> list[tuple[str, int]]:
    """What a completed run left out, as (reason, count) in the order of LeftOutReason."""
    order = {reason: position for position, reason in enumerate(LeftOutReason.values)}
    return sorted(
        run.left_out_reasons.items(), key=lambda item: (order.get(item[0], len(order)), item[0])
    )


class InvoiceBalance(NamedTuple):
    gross: Decimal
    credited: Decimal
    paid: Decimal

    @property
    def due(self) -> Decimal:
        """What is still to pay; below zero the driver paid too much."""
        return self.gross - self.credited - self.paid

    @property
    def overpaid(self) -> Decimal:
        return max(-self.due, ZERO)


def _balance(invoice: Invoice, credited: Decimal | None, paid: Decimal | None) -> InvoiceBalance:
    """The balance with every part to the currency's minor unit: the sums come back from the
    database unrounded (SQLite adds amounts as floats: 30.43 reads as 30.4300000000000)."""
    currency = invoice.currency
    return InvoiceBalance(
        gross=round_money(invoice.gross_total, currency),
        credited=round_money(credited or ZERO, currency),
        paid=round_money(paid or ZERO, currency),
    )


def invoice_balance(*, invoice: Invoice) -> InvoiceBalance:
    credited = invoice.credit_notes.aggregate(total=Sum("gross_total"))["total"]
    paid = invoice.payments.filter(status=PaymentStatus.RECEIVED).aggregate(total=Sum("amount"))[
        "total"
    ]
    return _balance(invoice, credited, paid)


def invoice_list_with_balance(queryset: QuerySet) -> QuerySet:
    """Invoices annotated with what `invoice_balance` adds up (`credited_total`, `paid_total`),
    for many rows in one query."""
    amount = DecimalField(max_digits=14, decimal_places=2)
    credited = (
        CreditNote.objects.filter(invoice=OuterRef("pk"))
        .values("invoice")
        .annotate(total=Sum("gross_total"))
        .values("total")
    )
    paid = (
        Payment.objects.filter(invoice=OuterRef("pk"), status=PaymentStatus.RECEIVED)
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return queryset.annotate(
        credited_total=Coalesce(Subquery(credited, output_field=amount), Value(ZERO)),
        paid_total=Coalesce(Subquery(paid, output_field=amount), Value(ZERO)),
    )


def invoice_balance_of_row(invoice: Invoice) -> InvoiceBalance:
    """The balance of an invoice read through `invoice_list_with_balance`."""
    return _balance(invoice, invoice.credited_total, invoice.paid_total)


def invoice_refunded(*, invoice: Invoice) -> Decimal:
    """What the invoice's refunds add up to, whatever became of them (owed, set off, paid
    out): the part of its overpayment already owed back to the driver."""
    total = invoice.refunds.aggregate(total=Sum("amount"))["total"]
    return round_money(Decimal(str(total or 0)), invoice.currency)


def invoice_list_with_refunded(queryset: QuerySet) -> QuerySet:
    """Invoices annotated with what `invoice_refunded` adds up (`refunded_total`), for many
    rows in one query."""
    refunded = (
        Refund.objects.filter(invoice=OuterRef("pk"))
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return queryset.annotate(
        refunded_total=Coalesce(
            Subquery(refunded, output_field=DecimalField(max_digits=14, decimal_places=2)),
            Value(ZERO),
        )
    )


class StatementRefunds(NamedTuple):
    """The refunds a statement shows: those set off against its invoice (owed on earlier
    invoices), and those arising on its invoice (overpaid or credited), whatever became of
    them. Each is read with the invoice it arose on and its set-off payment's invoice."""

    set_off: list[Refund]
    arising: list[Refund]


def statement_refunds(*, statement: Statement) -> StatementRefunds:
    """The refunds of the statement's invoice, in one query (none without an invoice), oldest
    first."""
    if statement.invoice_id is None:
        return StatementRefunds(set_off=[], arising=[])
    refunds = list(
        Refund.objects.filter(
            Q(invoice_id=statement.invoice_id) | Q(set_off_payment__invoice_id=statement.invoice_id)
        )
        .select_related("invoice", "set_off_payment__invoice")
        .order_by("created_at", "pk")
    )
    return StatementRefunds(
        set_off=[
            refund
            for refund in refunds
            if refund.set_off_payment is not None
            and refund.set_off_payment.invoice_id == statement.invoice_id
        ],
        arising=[refund for refund in refunds if refund.invoice_id == statement.invoice_id],
    )


def statement_list_for_driver(*, driver_id: int) -> QuerySet:
    """A driver's statements of completed runs, newest period first."""
    return Statement.objects.filter(
        driver_id=driver_id, billing_run__status=BillingRunStatus.COMPLETED
    ).order_by("-period_start", "-pk")


def reimbursement_list_for_driver(*, driver_id: int) -> QuerySet:
    """A driver's reimbursements of completed runs, newest period first."""
    return Reimbursement.objects.filter(
        driver_id=driver_id, billing_run__status=BillingRunStatus.COMPLETED
    ).order_by("-period_start", "-pk")


def reimbursements_with_lines(reimbursements: QuerySet) -> QuerySet:
    """`reimbursements` with their lines read alongside, each with its home session, in the
    order the sessions started."""
    lines = ReimbursementLine.objects.select_related("session").order_by(
        "session__started_at", "pk"
    )
    return reimbursements.prefetch_related(Prefetch("lines", queryset=lines))


def payment_list_for_driver(*, driver_id: int) -> QuerySet:
    """Payments received on a driver's issued invoices, newest first."""
    return Payment.objects.filter(
        invoice__in=invoice_list_for_driver(driver_id=driver_id)
    ).order_by("-received_at", "-pk")


def invoice_list_for_driver(*, driver_id: int) -> QuerySet:
    """A driver's issued invoices, newest first; drafts are the fleet's work in progress."""
    return Invoice.objects.filter(driver_id=driver_id).exclude(status=InvoiceStatus.DRAFT)


def statement_get(*, statement_id: int, fleet_ids) -> Statement:
    """A statement with what its page shows, within the given fleets."""
    return Statement.objects.select_related(
        "fleet", "driver", "invoice", "reimbursement", "billing_run"
    ).get(pk=statement_id, fleet_id__in=fleet_ids)


def statement_lines(*, statement: Statement) -> dict[str, QuerySet]:
    """What billing made of each session behind a statement's parts, with the session: the
    invoice lines of its private charging, the cost allocations of its business charging and
    the reimbursement lines of its home charging, in the order the sessions started (by id
    when they start together)."""
    by_start = ("session__started_at", "session_id")
    return {
        "private": InvoiceLine.objects.filter(invoice__statement=statement)
        .select_related("session__vehicle")
        .order_by(*by_start),
        "business": CostAllocation.objects.filter(
            billing_run_id=statement.billing_run_id, driver_id=statement.driver_id
        )
        .select_related("session__vehicle")
        .order_by(*by_start),
        "home": ReimbursementLine.objects.filter(reimbursement__statement=statement)
        .select_related("session__vehicle")
        .order_by(*by_start),
    }


def billing_run_progress(*, run_id: int) -> dict:
    """A run's state for a page that follows it while it works."""
    run = BillingRun.objects.get(pk=run_id)
    return {
        "id": run.pk,
        "status": run.status,
        "units_done": run.units_done,
        "units_total": run.units_total,
        "error": run.error,
    }


def billing_left_out_list(*, run: BillingRun) -> QuerySet:
    """The sessions a completed run left out, each with the reason the run recorded as it
    finalised (`session_id`, `reason`), by session id. Empty for runs completed before these
    rows were kept: their `left_out_reasons` counts are all there is."""
    return BillingLeftOut.objects.filter(run=run).order_by("session_id")


def reimbursement_line_list(
    *, fleet: Fleet, period_start: dt.datetime, period_end: dt.datetime
) -> QuerySet:
    """The reimbursement lines of the fleet's completed runs whose periods lie within
    [`period_start`, `period_end`), each with its reimbursement, by reimbursement id then
    session id: the energy, where it came from, the basis and rate that priced it, and the
    amount."""
    return (
        ReimbursementLine.objects.filter(
            reimbursement__fleet=fleet,
            reimbursement__billing_run__status=BillingRunStatus.COMPLETED,
            reimbursement__period_start__gte=period_start,
            reimbursement__period_end__lte=period_end,
        )
        .select_related("reimbursement")
        .order_by("reimbursement_id", "session_id")
    )


STALLED_AFTER = dt.timedelta(minutes=15)


def billing_run_list_failed_or_stalled(
    runs: QuerySet[BillingRun], *, now: dt.datetime
) -> QuerySet[BillingRun]:
    """Of `runs`, those that failed, and those pending or running that have not moved for
    longer than STALLED_AFTER (billing resumes them at its next hourly start)."""
    return runs.filter(
        Q(status=BillingRunStatus.FAILED)
        | Q(
            status__in=[BillingRunStatus.PENDING, BillingRunStatus.RUNNING],
            updated_at__lt=now - STALLED_AFTER,
        )
    )


def invoice_list_overdue(invoices: QuerySet[Invoice], *, now: dt.datetime) -> QuerySet[Invoice]:
    """Of `invoices`, those issued and still unpaid whose due time has passed."""
    return invoices.filter(status=InvoiceStatus.ISSUED, due_at__lt=now)


def reimbursement_list_without_payout_details(
    reimbursements: QuerySet[Reimbursement],
) -> QuerySet[Reimbursement]:
    """Of `reimbursements`, those approved whose driver has no IBAN or no account holder: a
    bank transfer cannot pay them out."""
    return reimbursements.filter(
        Q(driver__iban="") | Q(driver__account_holder=""), status=ReimbursementStatus.APPROVED
    )


def driver_money_documents(*, driver_id: int, limit: int) -> dict[str, list]:
    """The driver's latest `limit` statements, invoices and reimbursements (newest period
    first), each with what its row shows: three queries, whatever the driver's history."""
    return {
        "statements": list(
            Statement.objects.filter(driver_id=driver_id).order_by("-period_start", "-pk")[:limit]
        ),
        "invoices": list(
            invoice_list_with_balance(Invoice.objects.filter(driver_id=driver_id))
            .select_related("billing_run", "fleet")
            .order_by("-period_start", "-pk")[:limit]
        ),
        "reimbursements": list(
            Reimbursement.objects.filter(driver_id=driver_id)
            .select_related("billing_run")
            .order_by("-period_start", "-pk")[:limit]
        ),
    }
