"""Writes of the payments app: billing runs (planned, advanced unit by unit, finalised), invoice
and credit note issue with gapless numbers, payments, reimbursement decisions and payouts."""

import datetime as dt
import functools
import hashlib
import itertools
import json
import logging
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    IntegerField,
    JSONField,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from apps.charging.choices import LocationKind, PriceBasis
from apps.charging.models import ChargingSession
from apps.fleets.choices import RefundMethod
from apps.fleets.models import Fleet
from apps.payments.choices import (
    BillingRunStatus,
    BillingUnitStatus,
    DocumentSeries,
    InvoiceStatus,
    PaymentMethod,
    RefundReason,
    RefundStatus,
    ReimbursementStatus,
)
from apps.payments.documents import invoice_pdf, invoice_pdf_filename
from apps.payments.driver_bills import DriverBill, driver_bill, home_rate_of_breakdown
from apps.payments.exceptions import (
    CreditNoteInvalid,
    IdempotencyKeyReused,
    InvoiceNotDraft,
    InvoiceNotIssued,
    PaymentInvalid,
    PeriodInvalid,
    PeriodNotEnded,
    ReimbursementAlreadyPaid,
    ReimbursementInPayoutBatch,
    ReimbursementInvalid,
    ReimbursementNotApproved,
    ReimbursementNotPending,
)
from apps.payments.models import (
    BillingLeftOut,
    BillingRun,
    BillingUnit,
    CostAllocation,
    CreditNote,
    CreditNoteLine,
    DocumentCounter,
    Invoice,
    InvoiceLine,
    Payment,
    PayoutBatch,
    PayoutItem,
    Refund,
    Reimbursement,
    ReimbursementLine,
    Statement,
)
from apps.payments.periods import (
    BillingPeriod,
    PeriodLabelInvalid,
    billing_period_last_ended,
    billing_period_of_label,
)
from apps.payments.refunds import OwedRefund, refund_owed_now, set_offs
from apps.payments.selectors import (
    STALLED_AFTER,
    billable_session_list,
    billing_run_left_out_list,
    invoice_balance,
    invoice_refunded,
    left_out_counts,
)
from apps.payments.totals import credit_note_totals
from voltop.core.money import currency_minor_unit, kwh_of_wh, round_money, round_unit_price
from voltop.core.timeutils import local_time_text, require_aware

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)
CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_AMOUNT_DIGITS = 12
NUMBERING_BATCH = 500
NUMBER_PREFIXES = {DocumentSeries.INVOICE: "VT", DocumentSeries.CREDIT_NOTE: "CN"}
SET_OFF_KEY_PREFIX = "set-off-"


# Billing runs -------------------------------------------------------------------------------


def billing_period_for(*, fleet: Fleet, label: str) -> BillingPeriod:
    """The fleet's period a person names, or a refusal that says what is expected."""
    try:
        return billing_period_of_label(fleet.billing_period, label, fleet.zone)
    except PeriodLabelInvalid as error:
        raise PeriodInvalid(str(error), field="period") from error


def _batches(items: list, size: int) -> list[list]:
    return [items[offset : offset + size] for offset in range(0, len(items), size)]


def _enqueue_after_commit(task, *args) -> None:
    transaction.on_commit(lambda: task.delay(*args))


@transaction.atomic
def billing_run_start(
    *,
    fleet: Fleet,
    period: BillingPeriod,
    requested_by=None,
    now: dt.datetime | None = None,
) -> tuple[BillingRun, bool]:
    """Start billing `fleet` for `period` in the background; the work is enqueued on commit.
    Returns the run and whether this call created it.

    A fleet has one run per period: starting it again returns that run, and if it has not
    completed it is resumed (its remaining units enqueued again, which is harmless).
    """
    now = now or timezone.now()
    if period.end > now:
        raise PeriodNotEnded(
            f"The period {period.label} ends on {period.end_day:%Y-%m-%d} at midnight; "
            "it can be billed from then on.",
            field="period",
        )
    try:
        with transaction.atomic():
            run = BillingRun.objects.create(
                fleet=fleet,
                period_kind=period.kind,
                period_label=period.label,
                period_start=period.start,
                period_end=period.end,
                currency=fleet.currency,
                requested_by=requested_by,
            )
    except IntegrityError:
        run = BillingRun.objects.get(fleet=fleet, period_start=period.start)
        if run.status != BillingRunStatus.COMPLETED:
            run = billing_run_resume(run=run)
        return run, False
    logger.info(
        "payments.billing_run_started",
        extra={"run_id": run.pk, "fleet_id": fleet.pk, "period": period.label},
    )
    from apps.payments.tasks import plan_billing_run

    _enqueue_after_commit(plan_billing_run, run.pk)
    return run, True


@transaction.atomic
def billing_run_resume(*, run: BillingRun) -> BillingRun:
    """Take up an unfinished run again: its pending units are enqueued anew. Units already done
    are not touched, and a unit cannot be done twice."""
    run = BillingRun.objects.select_for_update().get(pk=run.pk)
    if run.status == BillingRunStatus.COMPLETED:
        return run
    run.status = BillingRunStatus.PENDING if not run.units_total else BillingRunStatus.RUNNING
    run.error = ""
    run.save(update_fields=["status", "error", "updated_at"])
    from apps.payments.tasks import plan_billing_run

    _enqueue_after_commit(plan_billing_run, run.pk)
    logger.info("payments.billing_run_resumed", extra={"run_id": run.pk})
    return run


def _lanes_enqueue(run: BillingRun, lanes: int) -> None:
    from apps.payments.tasks import advance_billing_run

    for _ in range(lanes):
        _enqueue_after_commit(advance_billing_run, run.pk)


def _failing_the_run_on_error(step):
    """A run step that, on an error other than a transient database one, marks the run failed
    with the reason (shown in the admin) before the error goes on to the caller."""

    @functools.wraps(step)
    def step_recording_failure(*, run: BillingRun, **kwargs):
        try:
            return step(run=run, **kwargs)
        except TRANSIENT_DATABASE_ERRORS:
            raise
        except Exception as error:
            billing_run_fail(run_id=run.pk, error=f"{type(error).__name__}: {error}")
            raise

    return step_recording_failure


@_failing_the_run_on_error
@transaction.atomic
def billing_run_plan(*, run: BillingRun, now: dt.datetime | None = None) -> BillingRun:
    """Split the run into units of drivers with something to bill, once, then set lanes of
    work going. Planning again (a resume, a redelivered task) keeps the units it made."""
    now = now or timezone.now()
    run = BillingRun.objects.select_for_update(of=("self",)).select_related("fleet").get(pk=run.pk)
    if run.status == BillingRunStatus.COMPLETED:
        return run
    if not run.units.exists():
        driver_ids = list(
            billable_session_list(fleet=run.fleet, ended_before=run.period_end)
            .order_by("driver_id")
            .values_list("driver_id", flat=True)
            .distinct()
        )
        size = settings.BILLING_UNIT_DRIVERS
        BillingUnit.objects.bulk_create(
            BillingUnit(run=run, number=number, driver_ids=driver_ids[offset : offset + size])
            for number, offset in enumerate(range(0, len(driver_ids), size), start=1)
        )
        run.units_total = -(-len(driver_ids) // size)
        run.started_at = now
    run.status = BillingRunStatus.RUNNING
    run.save(update_fields=["units_total", "started_at", "status", "updated_at"])
    pending = run.units.filter(status=BillingUnitStatus.PENDING).count()
    if pending:
        _lanes_enqueue(run, min(pending, settings.BILLING_PARALLEL_UNITS))
    elif run.units_done == run.units_total:
        from apps.payments.tasks import finalize_billing_run

        _enqueue_after_commit(finalize_billing_run, run.pk)
    logger.info(
        "payments.billing_run_planned",
        extra={"run_id": run.pk, "units_total": run.units_total, "units_pending": pending},
    )
    return run


def billing_run_advance(*, run_id: int, now: dt.datetime | None = None) -> bool:
    """Bill the run's next pending unit, if any: claimed with SKIP LOCKED so parallel lanes
    never share one, billed and marked done in one transaction. When work remains, the lane
    re-queues itself. Returns whether a unit was billed here.

    A lost connection or a deadlock is left to the caller to retry; any other error rolls the
    unit back, marks the run failed with the reason, and stops its lanes until it is resumed.
    """
    try:
        return _billing_unit_next_bill(run_id=run_id, now=now)
    except TRANSIENT_DATABASE_ERRORS:
        raise
    except Exception as error:
        billing_run_fail(run_id=run_id, error=f"{type(error).__name__}: {error}")
        raise


@transaction.atomic
def _billing_unit_next_bill(*, run_id: int, now: dt.datetime | None) -> bool:
    now = now or timezone.now()
    unit = (
        BillingUnit.objects.select_for_update(skip_locked=True)
        .filter(run_id=run_id, status=BillingUnitStatus.PENDING)
        .order_by("number")
        .first()
    )
    if unit is None:
        return False
    run = BillingRun.objects.select_related("fleet").get(pk=run_id)
    if run.status != BillingRunStatus.RUNNING:
        return False
    work = _UnitWork(run=run, now=now)
    try:
        work.bill(unit.driver_ids)
    except Exception as error:
        error.add_note(f"while billing unit {unit.number} of run {run_id}")
        raise
    unit.status = BillingUnitStatus.DONE
    unit.finished_at = now
    unit.save(update_fields=["status", "finished_at"])
    BillingRun.objects.filter(pk=run_id).update(
        units_done=F("units_done") + 1,
        earlier_session_count=F("earlier_session_count") + work.earlier_session_count,
        updated_at=now,
    )
    run.refresh_from_db(fields=["units_done", "units_total"])
    from apps.payments.tasks import advance_billing_run, finalize_billing_run

    if run.units_done == run.units_total:
        _enqueue_after_commit(finalize_billing_run, run_id)
    else:
        _enqueue_after_commit(advance_billing_run, run_id)
    logger.info(
        "payments.billing_unit_done",
        extra={"run_id": run_id, "unit": unit.number, "sessions": work.session_count},
    )
    return True


def billing_run_fail(*, run_id: int, error: str) -> None:
    """Mark a run failed with the reason; its done units stay done and resuming continues it."""
    with transaction.atomic():
        BillingRun.objects.filter(pk=run_id).exclude(status=BillingRunStatus.COMPLETED).update(
            status=BillingRunStatus.FAILED, error=error[:2000], updated_at=timezone.now()
        )
    logger.error("payments.billing_run_failed", extra={"run_id": run_id, "error": error})


class _BillableSession(NamedTuple):
    id: int
    driver_id: int
    location_kind: str
    purpose: str
    started_at: dt.datetime
    ended_before_period: bool
    energy_wh: int
    price_excl_vat: Decimal
    price_vat: Decimal
    price_incl_vat: Decimal
    depot_name: str | None
    energy_source: str
    price_basis: str
    home_rate_breakdown: dict | None


class _UnitWork:
    """Bills one unit's drivers in the caller's transaction.

    Business charging (most sessions) is copied into cost allocations by one INSERT … SELECT;
    the invoices, reimbursements and statements, one or two per driver, are built here and
    written in bulk; one UPDATE marks every session billed. Both statements take the unit's
    session ids as one array (`__in_array`), however many there are. Every session is locked
    first and only the locked ones are billed, so a session priced or imported meanwhile waits
    for the next run.
    """

    def __init__(self, *, run: BillingRun, now: dt.datetime):
        self.run = run
        self.fleet = run.fleet
        self.now = now
        self.currency = run.currency
        self.vat_rate = self.fleet.default_vat_rate
        self.zone = self.fleet.zone
        self.invoices: list[Invoice] = []
        self.invoice_lines: list[InvoiceLine] = []
        self.reimbursements: list[Reimbursement] = []
        self.reimbursement_lines: list[ReimbursementLine] = []
        self.statements: list[Statement] = []
        self.business_ids: list[int] = []
        self.session_ids: list[int] = []
        self.earlier_session_count = 0

    @property
    def session_count(self) -> int:
        return len(self.session_ids)

    def bill(self, driver_ids: list[int]) -> None:
        by_driver: dict[int, list[_BillableSession]] = {driver_id: [] for driver_id in driver_ids}
        for row in self._sessions_locked(driver_ids):
            session = _BillableSession(*row)
            by_driver[session.driver_id].append(session)
        for driver_id, sessions in by_driver.items():
            if sessions:
                self._driver_add(driver_id, sessions)
        self._save()

    def _sessions_locked(self, driver_ids: list[int]):
        return (
            billable_session_list(fleet=self.fleet, ended_before=self.run.period_end)
            .filter(driver_id__in=driver_ids)
            .annotate(
                ended_before_period=ExpressionWrapper(
                    Q(ended_at__lt=self.run.period_start), output_field=BooleanField()
                ),
                home_rate_breakdown=Case(
                    When(price_basis=PriceBasis.HOME_RATE, then=F("price_breakdown")),
                    output_field=JSONField(),
                ),
            )
            .select_for_update(of=("self",))
            .order_by("driver_id", "started_at", "pk")
            .values_list(
                "id",
                "driver_id",
                "location_kind",
                "purpose",
                "started_at",
                "ended_before_period",
                "energy_wh",
                "price_excl_vat",
                "price_vat",
                "price_incl_vat",
                "connector__station__depot__name",
                "energy_source",
                "price_basis",
                "home_rate_breakdown",
            )
        )

    def _period(self) -> dict:
        return {"period_start": self.run.period_start, "period_end": self.run.period_end}

    def _line_description(self, session: _BillableSession) -> str:
        where = LocationKind(session.location_kind).label
        if session.depot_name:
            where = f"{where} {session.depot_name}"
        started = session.started_at.astimezone(self.zone)
        return f"{where} charging, {started:%Y-%m-%d %H:%M}"

    def _driver_add(self, driver_id: int, sessions: list[_BillableSession]) -> None:
        bill = driver_bill(sessions, fleet_vat_rate=self.vat_rate, currency=self.currency)
        invoice = self._invoice(driver_id, bill) if bill.invoice_lines else None
        reimbursement = self._reimbursement(driver_id, bill) if bill.refunds else None
        self.business_ids.extend(allocation.session.id for allocation in bill.allocations)
        self.statements.append(
            Statement(
                fleet=self.fleet,
                driver_id=driver_id,
                billing_run=self.run,
                period_label=self.run.period_label,
                currency=self.currency,
                invoice=invoice,
                reimbursement=reimbursement,
                private_session_count=len(bill.invoice_lines),
                business_session_count=len(bill.allocations),
                home_session_count=len(bill.refunds),
                private_owed=bill.private_owed,
                business_cost=bill.business_cost,
                reimbursement_due=bill.reimbursement_due,
                net_to_driver=bill.net_to_driver,
                **self._period(),
            )
        )
        self.session_ids.extend(session.id for session in sessions)
        self.earlier_session_count += sum(session.ended_before_period for session in sessions)

    def _invoice(self, driver_id: int, bill: DriverBill) -> Invoice:
        totals = bill.invoice_totals
        invoice = Invoice(
            fleet=self.fleet,
            driver_id=driver_id,
            billing_run=self.run,
            currency=self.currency,
            net_total=totals.net,
            vat_total=totals.vat,
            gross_total=totals.gross,
            **self._period(),
        )
        self.invoices.append(invoice)
        for position, line in enumerate(bill.invoice_lines, start=1):
            session = line.session
            kwh = kwh_of_wh(session.energy_wh)
            self.invoice_lines.append(
                InvoiceLine(
                    invoice=invoice,
                    session_id=session.id,
                    position=position,
                    description=self._line_description(session),
                    quantity_kwh=kwh,
                    unit_price=round_unit_price(line.charged.net / kwh) if kwh else ZERO,
                    net=line.charged.net,
                    vat_rate=line.vat_rate,
                    vat=line.charged.vat,
                    gross=line.charged.gross,
                )
            )
        return invoice

    def _reimbursement(self, driver_id: int, bill: DriverBill) -> Reimbursement:
        reimbursement = Reimbursement(
            fleet=self.fleet,
            driver_id=driver_id,
            billing_run=self.run,
            currency=self.currency,
            energy_wh=sum(refund.session.energy_wh for refund in bill.refunds),
            amount=bill.reimbursement_due,
            **self._period(),
        )
        self.reimbursements.append(reimbursement)
        self.reimbursement_lines.extend(
            ReimbursementLine(
                reimbursement=reimbursement,
                session_id=refund.session.id,
                energy_wh=refund.session.energy_wh,
                meter_source=refund.session.energy_source,
                price_basis=refund.session.price_basis,
                rate_per_kwh=home_rate_of_breakdown(
                    price_basis=refund.session.price_basis,
                    breakdown=refund.session.home_rate_breakdown,
                ),
                amount=refund.amount,
            )
            for refund in bill.refunds
        )
        return reimbursement

    def _cost_allocations_insert(self) -> None:
        """Copy the business sessions into cost allocations in the database: the cost center
        the session recorded at its start (sessions from before that was recorded: the
        driver's, else the vehicle's), the session's net as the amount and its VAT beside it
        as input VAT, as apps.charging.vat_rule.fleet_cost has it (both are stored to the
        cent already)."""
        columns = [
            "fleet_id",
            "billing_run_id",
            "cost_center_id",
            "session_id",
            "driver_id",
            "period_start",
            "period_end",
            "currency",
            "amount",
            "vat",
        ]
        table = connection.ops.quote_name(CostAllocation._meta.db_table)
        names = ", ".join(connection.ops.quote_name(column) for column in columns)
        select = (
            ChargingSession.objects.filter(pk__in_array=self.business_ids)
            .order_by()
            .annotate(
                allocation_run=Value(self.run.pk, output_field=IntegerField()),
                allocation_center=Coalesce(
                    "cost_center_id", "driver__cost_center_id", "vehicle__cost_center_id"
                ),
                allocation_start=Value(self.run.period_start, output_field=DateTimeField()),
                allocation_end=Value(self.run.period_end, output_field=DateTimeField()),
                allocation_currency=Value(self.currency, output_field=CharField()),
            )
            .values_list(
                "fleet_id",
                "allocation_run",
                "allocation_center",
                "id",
                "driver_id",
                "allocation_start",
                "allocation_end",
                "allocation_currency",
                "price_excl_vat",
                "price_vat",
            )
        )
        sql, params = select.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} ({names}) {sql}", params)

    def _save(self) -> None:
        Invoice.objects.bulk_create(self.invoices)
        InvoiceLine.objects.bulk_create(self.invoice_lines)
        Reimbursement.objects.bulk_create(self.reimbursements)
        ReimbursementLine.objects.bulk_create(self.reimbursement_lines)
        self._cost_allocations_insert()
        Statement.objects.bulk_create(self.statements)
        ChargingSession.objects.filter(pk__in_array=self.session_ids).update(
            billed_at=self.now, updated_at=self.now
        )


def _left_out_insert(run: BillingRun) -> dict[str, int]:
    """Record each session the run leaves out, with its reason, by one INSERT … SELECT of
    billing_run_left_out_list; returns the counts by reason of exactly the rows written."""
    select = (
        billing_run_left_out_list(run=run)
        .order_by()
        .annotate(left_out_run=Value(run.pk, output_field=IntegerField()))
        .values_list("left_out_run", "id", "reason")
    )
    sql, params = select.query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(BillingLeftOut._meta.db_table)
    names = ", ".join(quote(column) for column in ("run_id", "session_id", "reason"))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {sql} RETURNING {quote('reason')}", params)
        return left_out_counts(row[0] for row in cursor.fetchall())


@_failing_the_run_on_error
@transaction.atomic
def billing_run_finalize(*, run: BillingRun, now: dt.datetime | None = None) -> BillingRun:
    """Once every unit is done: issue the run's invoices in driver order with consecutive
    numbers (setting off against each its driver's owed refunds when the fleet settles
    refunds so), add up the run's figures (what it billed, and what of its period it left out and
    why: a BillingLeftOut row per session and the counts of those rows), and mark it
    completed. Safe to call again: a completed run is returned as it is."""
    now = now or timezone.now()
    run = BillingRun.objects.select_for_update(of=("self",)).select_related("fleet").get(pk=run.pk)
    if run.status == BillingRunStatus.COMPLETED or run.units_done < run.units_total:
        return run
    drafts = list(
        Invoice.objects.select_for_update()
        .filter(billing_run=run, status=InvoiceStatus.DRAFT)
        .order_by("driver_id")
        .values_list("pk", flat=True)
    )
    _invoices_number(run.fleet, drafts, now)
    _refunds_set_off(run.fleet, drafts, now)
    figures = run.statements.aggregate(
        statements=Count("pk"),
        private=Sum("private_session_count"),
        business=Sum("business_session_count"),
        home=Sum("home_session_count"),
        owed=Sum("private_owed"),
        cost=Sum("business_cost"),
        due=Sum("reimbursement_due"),
    )
    run.statement_count = figures["statements"]
    run.invoiced_session_count = figures["private"] or 0
    run.allocated_session_count = figures["business"] or 0
    run.reimbursed_session_count = figures["home"] or 0
    run.session_count = (
        run.invoiced_session_count + run.allocated_session_count + run.reimbursed_session_count
    )
    run.left_out_reasons = _left_out_insert(run)
    run.left_out_count = sum(run.left_out_reasons.values())
    run.invoice_count = run.invoices.count()
    run.invoiced_total = figures["owed"] or ZERO
    run.allocated_total = figures["cost"] or ZERO
    run.reimbursed_total = figures["due"] or ZERO
    run.status = BillingRunStatus.COMPLETED
    run.finished_at = now
    run.error = ""
    run.save(
        update_fields=[
            "statement_count",
            "session_count",
            "invoiced_session_count",
            "allocated_session_count",
            "reimbursed_session_count",
            "left_out_count",
            "left_out_reasons",
            "invoice_count",
            "invoiced_total",
            "allocated_total",
            "reimbursed_total",
            "status",
            "finished_at",
            "error",
            "updated_at",
        ]
    )
    if drafts:
        from apps.payments.tasks import send_billing_run_invoices

        _enqueue_after_commit(send_billing_run_invoices, run.pk)
    logger.info(
        "payments.billing_run_completed",
        extra={"run_id": run.pk, "invoices": run.invoice_count, "sessions": run.session_count},
    )
    return run


# Numbers, invoices, credit notes -------------------------------------------------------------


def _numbers_take(fleet: Fleet, series: str, year: int, count: int) -> list[str]:
    """The next `count` numbers of a series, from its counter row locked until commit."""
    DocumentCounter.objects.bulk_create(
        [DocumentCounter(fleet=fleet, series=series, year=year)], ignore_conflicts=True
    )
    counter = DocumentCounter.objects.select_for_update().get(fleet=fleet, series=series, year=year)
    first = counter.last_number + 1
    counter.last_number += count
    counter.save(update_fields=["last_number"])
    prefix = NUMBER_PREFIXES[series]
    return [f"{prefix}-{year}-{number:06d}" for number in range(first, first + count)]


def _invoices_number(fleet: Fleet, invoice_ids: list[int], now: dt.datetime) -> None:
    """Issue the draft invoices `invoice_ids`, in that order, with the fleet's next numbers."""
    if not invoice_ids:
        return
    year = now.astimezone(fleet.zone).year
    numbers = _numbers_take(fleet, DocumentSeries.INVOICE, year, len(invoice_ids))
    due_at = now + dt.timedelta(days=fleet.payment_terms_days)
    table = connection.ops.quote_name(Invoice._meta.db_table)
    issued_at, due_at = (connection.ops.adapt_datetimefield_value(t) for t in (now, due_at))
    for batch in _batches(list(zip(invoice_ids, numbers, strict=True)), NUMBERING_BATCH):
        rows = ", ".join(["(%s, %s)"] * len(batch))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET number = numbered.column2, status = %s, issued_at = %s, "  # noqa: S608 - quoted table name and placeholders only
                f"due_at = %s, updated_at = %s FROM (VALUES {rows}) AS numbered "
                f"WHERE {table}.id = numbered.column1",
                [
                    InvoiceStatus.ISSUED,
                    issued_at,
                    due_at,
                    issued_at,
                    *itertools.chain.from_iterable(batch),
                ],
            )


@transaction.atomic
def invoice_issue(*, invoice: Invoice, now: dt.datetime | None = None) -> Invoice:
    """Give a draft the next number of its fleet's year and freeze it, set off the driver's
    owed refunds against it when the fleet settles refunds so; e-mail it on commit."""
    now = now or timezone.now()
    invoice = (
        Invoice.objects.select_for_update(of=("self",)).select_related("fleet").get(pk=invoice.pk)
    )
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceNotDraft(
            f"Invoice {invoice.number} is already issued; correct it with a credit note.",
            field="status",
        )
    _invoices_number(invoice.fleet, [invoice.pk], now)
    _refunds_set_off(invoice.fleet, [invoice.pk], now)
    invoice.refresh_from_db()
    from apps.payments.tasks import send_invoice_email

    _enqueue_after_commit(send_invoice_email, invoice.pk)
    logger.info("payments.invoice_issued", extra={"invoice_id": invoice.pk})
    return invoice


def _invoice_settle(invoice: Invoice, now: dt.datetime) -> None:
    """Move an issued invoice's status with its balance: paid when nothing is left to pay,
    void when every line is credited and nothing was paid."""
    balance = invoice_balance(invoice=invoice)
    fully_credited = not invoice.lines.filter(credit_lines__isnull=True).exists()
    if fully_credited and balance.paid == 0:
        status, paid_at = InvoiceStatus.VOID, None
    elif balance.due <= 0:
        status, paid_at = InvoiceStatus.PAID, invoice.paid_at or now
    else:
        status, paid_at = InvoiceStatus.ISSUED, None
    if (status, paid_at) != (invoice.status, invoice.paid_at):
        invoice.status, invoice.paid_at = status, paid_at
        invoice.save(update_fields=["status", "paid_at", "updated_at"])


@transaction.atomic
def credit_note_issue(
    *,
    invoice: Invoice,
    reason: str,
    line_ids: list[int] | None = None,
    issued_by=None,
    now: dt.datetime | None = None,
) -> CreditNote:
    """Credit some lines of an issued invoice (all when `line_ids` is None) with a credit note
    numbered in the fleet's own gapless series. Each line can be credited once. When the
    invoice was paid beyond what it asks once credited, the difference becomes a refund."""
    now = now or timezone.now()
    invoice = (
        Invoice.objects.select_for_update(of=("self",)).select_related("fleet").get(pk=invoice.pk)
    )
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        raise InvoiceNotIssued(
            f"A {invoice.get_status_display().lower()} invoice cannot be credited.",
            field="invoice",
        )
    if not reason.strip():
        raise CreditNoteInvalid("Say why the invoice is credited.", field="reason")
    lines = invoice.lines.order_by("position")
    if line_ids is not None:
        if not line_ids:
            raise CreditNoteInvalid("Choose at least one line to credit.", field="lines")
        lines = lines.filter(pk__in=line_ids)
        unknown = set(line_ids) - {line.pk for line in lines}
        if unknown:
            raise CreditNoteInvalid(
                f"Lines {sorted(unknown)} are not on invoice {invoice.number}.", field="lines"
            )
    lines = list(lines.filter(credit_lines__isnull=True))
    if not lines or (line_ids is not None and len(lines) != len(line_ids)):
        raise CreditNoteInvalid(
            "These lines are already credited; a line is credited once.", field="lines"
        )
    totals = credit_note_totals(
        credited_before=CreditNoteLine.objects.filter(invoice_line__invoice=invoice).values_list(
            "net", "vat_rate"
        ),
        lines=((line.net, line.vat_rate) for line in lines),
        currency=invoice.currency,
    )
    year = now.astimezone(invoice.fleet.zone).year
    [number] = _numbers_take(invoice.fleet, DocumentSeries.CREDIT_NOTE, year, 1)
    credit_note = CreditNote.objects.create(
        fleet=invoice.fleet,
        invoice=invoice,
        number=number,
        reason=reason.strip(),
        currency=invoice.currency,
        net_total=totals.net,
        vat_total=totals.vat,
        gross_total=totals.gross,
        issued_at=now,
        issued_by=issued_by,
    )
    CreditNoteLine.objects.bulk_create(
        CreditNoteLine(
            credit_note=credit_note,
            invoice_line=line,
            description=line.description,
            net=line.net,
            vat_rate=line.vat_rate,
            vat=line.vat,
            gross=line.gross,
        )
        for line in lines
    )
    _invoice_settle(invoice, now)
    _refund_make(invoice, RefundReason.CREDITED)
    logger.info(
        "payments.credit_note_issued",
        extra={"credit_note_id": credit_note.pk, "invoice_id": invoice.pk},
    )
    return credit_note


# Payments -----------------------------------------------------------------------------------


def _payment_fingerprint(**fields) -> str:
    canonical = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _payment_amount(amount, currency: str) -> Decimal:
    try:
        value = Decimal(str(amount))
    except InvalidOperation as error:
        raise PaymentInvalid(f"{amount!r} is not an amount.", field="amount") from error
    if not value.is_finite() or value <= 0:
        raise PaymentInvalid("The amount must be more than zero.", field="amount")
    if value.adjusted() >= MAX_AMOUNT_DIGITS:
        raise PaymentInvalid(
            f"The amount is too large: at most {MAX_AMOUNT_DIGITS} digits before the point.",
            field="amount",
        )
    if value != round_money(value, currency):
        raise PaymentInvalid(
            f"The amount has more decimals than {currency} allows "
            f"(smallest unit {currency_minor_unit(currency)}).",
            field="amount",
        )
    return round_money(value, currency)


def _payment_replay(payment: Payment, fingerprint: str) -> Payment:
    if payment.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This idempotency key was used for a different payment; use a new key.",
            field="idempotency_key",
        )
    return payment


@transaction.atomic
def payment_record(
    *,
    invoice: Invoice,
    amount,
    currency: str,
    method: str,
    idempotency_key: str,
    received_at: dt.datetime,
    provider_reference: str = "",
    recorded_by=None,
    now: dt.datetime | None = None,
) -> tuple[Payment, bool]:
    """Record money received against an issued invoice; returns (payment, created).

    The same idempotency key with the same details returns the stored payment and changes
    nothing; with other details it is refused. Part payments leave the rest due; paying more
    than is due is kept and shown as overpaid, and what is paid beyond it becomes a refund
    owed to the driver. The invoice is paid once nothing is due. Set-offs are not recorded
    here: they come from refunds as invoices are issued.
    """
    now = now or timezone.now()
    key = (idempotency_key or "").strip()
    if not key:
        raise PaymentInvalid("An idempotency key is needed.", field="idempotency_key")
    if len(key) > Payment._meta.get_field("idempotency_key").max_length:
        raise PaymentInvalid("The idempotency key is longer than 100.", field="idempotency_key")
    if key.startswith(SET_OFF_KEY_PREFIX):
        raise PaymentInvalid(
            f"Idempotency keys starting with {SET_OFF_KEY_PREFIX!r} are kept for the set-offs "
            "Voltop makes from refunds; use another key.",
            field="idempotency_key",
        )
    if len(provider_reference) > Payment._meta.get_field("provider_reference").max_length:
        raise PaymentInvalid(
            "The provider reference is longer than 100 characters.", field="provider_reference"
        )
    require_aware(received_at, field="received_at")
    if received_at > now + CLOCK_SKEW:
        raise PaymentInvalid("A payment cannot be received in the future.", field="received_at")
    if method not in PaymentMethod.values:
        raise PaymentInvalid(
            f"The method must be one of {', '.join(PaymentMethod.values)}.", field="method"
        )
    if method == PaymentMethod.SET_OFF:
        raise PaymentInvalid(
            "A set-off is made by Voltop from a refund owed to the driver when their next "
            "invoice is issued; record the method the money came by.",
            field="method",
        )
    if currency != invoice.currency:
        raise PaymentInvalid(
            f"The invoice is in {invoice.currency}; a payment in {currency} is refused.",
            field="currency",
        )
    value = _payment_amount(amount, currency)
    fingerprint = _payment_fingerprint(
        invoice=invoice.pk,
        amount=str(value),
        currency=currency,
        method=method,
        provider_reference=provider_reference,
        received_at=received_at.astimezone(dt.UTC).isoformat(),
    )
    existing = Payment.objects.filter(fleet_id=invoice.fleet_id, idempotency_key=key).first()
    if existing is not None:
        return _payment_replay(existing, fingerprint), False
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID):
        raise InvoiceNotIssued(
            f"A {invoice.get_status_display().lower()} invoice takes no payments.",
            field="invoice",
        )
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                fleet_id=invoice.fleet_id,
                invoice=invoice,
                amount=value,
                currency=currency,
                method=method,
                provider_reference=provider_reference,
                idempotency_key=key,
                request_fingerprint=fingerprint,
                received_at=received_at,
                recorded_by=recorded_by,
            )
    except IntegrityError:
        existing = Payment.objects.get(fleet_id=invoice.fleet_id, idempotency_key=key)
        return _payment_replay(existing, fingerprint), False
    _invoice_settle(invoice, now)
    _refund_make(invoice, RefundReason.OVERPAID)
    logger.info(
        "payments.payment_recorded",
        extra={"payment_id": payment.pk, "invoice_id": invoice.pk, "amount": str(value)},
    )
    return payment, True


# Refunds ------------------------------------------------------------------------------------


def _refund_make(invoice: Invoice, reason: str) -> Refund | None:
    """Make a refund of what the invoice (locked by the caller) now owes back to its driver:
    what was paid beyond what it asks, less the refunds already made on it. None when those
    account for it all, so making it again, or after a replayed payment, makes nothing."""
    balance = invoice_balance(invoice=invoice)
    amount = refund_owed_now(overpaid=balance.overpaid, refunded=invoice_refunded(invoice=invoice))
    if amount <= 0:
        return None
    refund = Refund.objects.create(
        fleet_id=invoice.fleet_id,
        driver_id=invoice.driver_id,
        invoice=invoice,
        reason=reason,
        currency=invoice.currency,
        amount=amount,
    )
    logger.info(
        "payments.refund_owed",
        extra={"refund_id": refund.pk, "invoice_id": invoice.pk, "amount": str(amount)},
    )
    return refund


def _refunds_set_off(fleet: Fleet, invoice_ids: list[int], now: dt.datetime) -> None:
    """Against each of the just issued (and locked) invoices `invoice_ids`, set off its
    driver's owed refunds in its currency, oldest first, when the fleet settles refunds so.
    Refunds in a payout batch not cancelled are the bank's to pay and are left alone. One
    query when no refund is owed in the fleet."""
    if not invoice_ids or fleet.refund_method != RefundMethod.SET_OFF:
        return
    owing_driver_ids = set(
        Refund.objects.filter(fleet=fleet, status=RefundStatus.OWED).values_list(
            "driver_id", flat=True
        )
    )
    if not owing_driver_ids:
        return
    for batch in _batches(invoice_ids, NUMBERING_BATCH):
        invoices = Invoice.objects.filter(pk__in=batch, driver_id__in=owing_driver_ids)
        for invoice in invoices.order_by("pk"):
            _invoice_refunds_set_off(invoice, now)


def _invoice_refunds_set_off(invoice: Invoice, now: dt.datetime) -> None:
    """Set the driver's owed refunds off against `invoice`: each one set off becomes a payment
    of method set-off on it, keyed by the refund. A refund larger than what is left to pay is
    split: it keeps the part set off, and a new owed refund on the same invoice, the remainder
    of it, holds the rest. The invoice is paid when the set-offs cover it."""
    owed = list(
        Refund.objects.select_for_update(of=("self",))
        .select_related("invoice")
        .filter(
            driver_id=invoice.driver_id,
            currency=invoice.currency,
            status=RefundStatus.OWED,
        )
        .order_by("created_at", "pk")
    )
    in_payout = set(
        PayoutItem.objects.filter(refund__in=owed, released=False).values_list(
            "refund_id", flat=True
        )
    )
    owed = [refund for refund in owed if refund.pk not in in_payout]
    if not owed:
        return
    by_id = {refund.pk: refund for refund in owed}
    planned = set_offs(
        due=invoice_balance(invoice=invoice).due,
        refunds=(OwedRefund(refund.pk, refund.amount) for refund in owed),
    )
    for set_off in planned:
        refund = by_id[set_off.refund_id]
        payment = _set_off_payment_create(invoice, refund, set_off.amount, now)
        if set_off.remainder:
            Refund.objects.create(
                fleet_id=refund.fleet_id,
                driver_id=refund.driver_id,
                invoice_id=refund.invoice_id,
                reason=refund.reason,
                currency=refund.currency,
                amount=set_off.remainder,
                remainder_of=refund,
            )
        refund.amount = set_off.amount
        refund.status = RefundStatus.SET_OFF
        refund.set_off_payment = payment
        refund.settled_at = now
        refund.save(
            update_fields=["amount", "status", "set_off_payment", "settled_at", "updated_at"]
        )
        logger.info(
            "payments.refund_set_off",
            extra={
                "refund_id": refund.pk,
                "invoice_id": invoice.pk,
                "payment_id": payment.pk,
                "amount": str(set_off.amount),
                "remainder": str(set_off.remainder),
            },
        )
    if planned:
        _invoice_settle(invoice, now)


def _set_off_payment_create(
    invoice: Invoice, refund: Refund, amount: Decimal, now: dt.datetime
) -> Payment:
    reference = f"Refund {refund.pk} on {refund.invoice.number}"
    return Payment.objects.create(
        fleet_id=invoice.fleet_id,
        invoice=invoice,
        amount=amount,
        currency=invoice.currency,
        method=PaymentMethod.SET_OFF,
        provider_reference=reference,
        idempotency_key=f"{SET_OFF_KEY_PREFIX}refund-{refund.pk}",
        request_fingerprint=_payment_fingerprint(
            invoice=invoice.pk,
            amount=str(amount),
            currency=invoice.currency,
            method=PaymentMethod.SET_OFF,
            provider_reference=reference,
            received_at=now.astimezone(dt.UTC).isoformat(),
        ),
        received_at=now,
    )


# Reimbursements -----------------------------------------------------------------------------


@transaction.atomic
def reimbursement_decide(
    *,
    reimbursement: Reimbursement,
    approve: bool,
    decided_by,
    note: str = "",
    now: dt.datetime | None = None,
) -> Reimbursement:
    """Approve a pending reimbursement for payout, or reject it with a reason."""
    reimbursement = Reimbursement.objects.select_for_update().get(pk=reimbursement.pk)
    if reimbursement.status != ReimbursementStatus.PENDING:
        raise ReimbursementNotPending(
            f"The reimbursement is {reimbursement.get_status_display().lower()}, not pending.",
            field="status",
        )
    if not approve and not note.strip():
        raise ReimbursementInvalid("Say why the reimbursement is rejected.", field="note")
    reimbursement.status = ReimbursementStatus.APPROVED if approve else ReimbursementStatus.REJECTED
    reimbursement.decided_by = decided_by
    reimbursement.decided_at = now or timezone.now()
    reimbursement.decision_note = note.strip()
    reimbursement.save(
        update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"]
    )
    logger.info(
        "payments.reimbursement_decided",
        extra={"reimbursement_id": reimbursement.pk, "status": reimbursement.status},
    )
    return reimbursement


@transaction.atomic
def reimbursement_mark_paid(
    *,
    reimbursement: Reimbursement,
    paid_at: dt.datetime,
    paid_by=None,
    now: dt.datetime | None = None,
    payout_batch: PayoutBatch | None = None,
) -> Reimbursement:
    """Record that an approved reimbursement was paid out to the driver at `paid_at`, by
    `paid_by` (None for a fleet API key). The row is locked, so two payouts recorded at once
    make one.

    Recording the payout again with the same moment returns it unchanged (a client may send
    it twice); another moment is refused, since the driver was paid once. A pending or
    rejected reimbursement is not paid; nor is one paid in the future or before its approval;
    nor, by hand, one that a SEPA payout batch holds: executing `payout_batch` pays it.
    """
    require_aware(paid_at, field="paid_at")
    now = now or timezone.now()
    reimbursement = (
        Reimbursement.objects.select_for_update(of=("self",))
        .select_related("fleet")
        .get(pk=reimbursement.pk)
    )
    zone = reimbursement.fleet.zone
    if reimbursement.status == ReimbursementStatus.PAID:
        if reimbursement.paid_at == paid_at:
            return reimbursement
        raise ReimbursementAlreadyPaid(
            f"The reimbursement was paid on {local_time_text(reimbursement.paid_at, zone)}; "
            "a payout is recorded once.",
            field="paid_at",
        )
    if reimbursement.status != ReimbursementStatus.APPROVED:
        raise ReimbursementNotApproved(
            f"The reimbursement is {reimbursement.get_status_display().lower()}, not approved; "
            "only an approved reimbursement is paid.",
            field="status",
        )
    holding_item = (
        PayoutItem.objects.filter(reimbursement=reimbursement, released=False)
        .exclude(batch=payout_batch)
        .select_related("batch")
        .first()
    )
    if holding_item is not None:
        raise ReimbursementInPayoutBatch(
            f"The reimbursement is in the SEPA payout batch {holding_item.batch.message_id}; "
            "it is paid when that batch is executed, or cancel the batch first.",
            field="status",
        )
    if paid_at > now + CLOCK_SKEW:
        raise ReimbursementInvalid("A payout cannot lie in the future.", field="paid_at")
    if reimbursement.decided_at is not None and paid_at < reimbursement.decided_at:
        raise ReimbursementInvalid(
            f"The reimbursement was approved on "
            f"{local_time_text(reimbursement.decided_at, zone)}; it cannot be paid before.",
            field="paid_at",
        )
    reimbursement.status = ReimbursementStatus.PAID
    reimbursement.paid_at = paid_at
    reimbursement.paid_by = paid_by
    reimbursement.save(update_fields=["status", "paid_at", "paid_by", "updated_at"])
    logger.info(
        "payments.reimbursement_paid",
        extra={"reimbursement_id": reimbursement.pk, "amount": str(reimbursement.amount)},
    )
    return reimbursement


# Schedules and e-mail -----------------------------------------------------------------------


def billing_runs_start_due(*, now: dt.datetime) -> int:
    """Start, for every fleet, the run of the period that last ended in the fleet's zone, if
    it has none yet, and resume runs that stalled (a worker lost mid-run). Called hourly by
    the beat, so a run starts within the first hour of the fleet's first day after the
    period. Returns how many runs were started."""
    started = 0
    for fleet in Fleet.objects.order_by("pk"):
        period = billing_period_last_ended(fleet.billing_period, now, fleet.zone)
        if fleet.created_at >= period.end:
            continue
        if BillingRun.objects.filter(fleet=fleet, period_start=period.start).exists():
            continue
        _, created = billing_run_start(fleet=fleet, period=period, now=now)
        started += created
    stalled = BillingRun.objects.filter(
        status__in=[BillingRunStatus.PENDING, BillingRunStatus.RUNNING],
        updated_at__lt=now - STALLED_AFTER,
    )
    for run in stalled:
        billing_run_resume(run=run)
    return started


def invoice_email_send(*, invoice: Invoice, now: dt.datetime | None = None) -> bool:
    """E-mail an issued invoice to its driver with the PDF attached, once; returns whether it
    was sent now. The mark is set after sending: a crash in between may send it twice, never
    zero times."""
    invoice = Invoice.objects.select_related("fleet", "driver").get(pk=invoice.pk)
    if not invoice.is_issued or invoice.emailed_at is not None or not invoice.driver.email:
        return False
    context = {"invoice": invoice, "driver": invoice.driver, "fleet": invoice.fleet}
    message = EmailMultiAlternatives(
        subject=f"{invoice.fleet.name}: invoice {invoice.number}",
        body=render_to_string("payments/email/invoice_issued.txt", context),
        to=[invoice.driver.email],
    )
    message.attach_alternative(
        render_to_string("payments/email/invoice_issued.html", context), "text/html"
    )
    message.attach(invoice_pdf_filename(invoice), invoice_pdf(invoice), "application/pdf")
    message.send()
    invoice.emailed_at = now or timezone.now()
    invoice.save(update_fields=["emailed_at", "updated_at"])
    logger.info("payments.invoice_emailed", extra={"invoice_id": invoice.pk})
    return True


def billing_run_invoices_email(*, run_id: int) -> int:
    """Enqueue the e-mail of every issued invoice of a run not sent yet, one task each, so one
    failing address or server hiccup does not hold up the others. Returns how many."""
    return _invoice_emails_enqueue(
        Invoice.objects.filter(billing_run_id=run_id, emailed_at__isnull=True)
        .exclude(status=InvoiceStatus.DRAFT)
        .values_list("pk", flat=True)
    )


def invoices_unsent_email(*, now: dt.datetime) -> int:
    """Enqueue the e-mails of invoices issued a while ago and still not sent (a worker lost on
    the way, a mail server down for longer than the retries). Called hourly by the beat."""
    return _invoice_emails_enqueue(
        Invoice.objects.filter(emailed_at__isnull=True, issued_at__lt=now - STALLED_AFTER)
        .exclude(status=InvoiceStatus.DRAFT)
        .values_list("pk", flat=True)
    )


def _invoice_emails_enqueue(invoice_ids) -> int:
    from apps.payments.tasks import send_invoice_email

    invoice_ids = list(invoice_ids)
    for invoice_id in invoice_ids:
        _enqueue_after_commit(send_invoice_email, invoice_id)
    return len(invoice_ids)
