"""Billing exactly once, proven with real processes on PostgreSQL and Redis: runs started twice at
once, a worker killed in the middle of a unit, tasks delivered again after they committed, and
invoice numbers taken by transactions that commit or roll back at random."""

import base64
import datetime as dt
import json
import random
import re
import time
from collections import Counter
from decimal import Decimal
from io import StringIO

import psycopg
import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from apps.charging.choices import LocationKind, SessionPurpose
from apps.charging.models import ChargingSession
from apps.fleets.models import Fleet
from apps.payments import services
from apps.payments.choices import (
    BillingRunStatus,
    BillingUnitStatus,
    DocumentSeries,
    InvoiceStatus,
)
from apps.payments.models import (
    BillingRun,
    BillingUnit,
    CostAllocation,
    CreditNote,
    CreditNoteLine,
    DocumentCounter,
    Invoice,
    InvoiceLine,
    Payment,
    Reimbursement,
    ReimbursementLine,
    Statement,
)
from apps.payments.selectors import billable_session_list
from apps.payments.tasks import advance_billing_run, finalize_billing_run, plan_billing_run
from tests.celery_workers import (
    celery_workers_fixture,  # noqa: F401 - `celery_workers`
    current_database_url,
    django_processes_run,
)
from tests.factories import DriverFactory, FleetFactory
from tests.payments.builders import billing_fleet_create, priced_session_create

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

PERIOD = "2026-01"
MONTH_START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
WAIT_SECONDS = 60
# Workers bill one driver per unit; they e-mail invoices (PDF and all) to no one.
ONE_DRIVER_PER_UNIT = {"BILLING_UNIT_DRIVERS": "1", "EMAIL_URL": "dummymail://"}


# Waiting, bounded ----------------------------------------------------------------------------


def wait_until(condition, *, seconds: float, failure: str, details=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{failure} after {seconds:.0f} s\n{details()}"
        time.sleep(0.05)


def run_wait_completed(run_id: int, workers) -> BillingRun:
    """The run once completed; fails at once if it failed, and after WAIT_SECONDS otherwise."""

    def finished() -> bool:
        run = BillingRun.objects.get(pk=run_id)
        assert run.status != BillingRunStatus.FAILED, (
            f"run {run_id} failed: {run.error}\n{workers.logs()}"
        )
        return run.status == BillingRunStatus.COMPLETED

    wait_until(
        finished,
        seconds=WAIT_SECONDS,
        failure=f"run {run_id} did not complete",
        details=lambda: (
            f"units done: {BillingRun.objects.get(pk=run_id).progress_text}\n" + workers.logs()
        ),
    )
    return BillingRun.objects.get(pk=run_id)


# What a billing leaves behind ----------------------------------------------------------------


def invoice_numbers_expected(fleet: Fleet, count: int) -> list[str]:
    """VT-<year>-000001 … in the year the fleet's invoices were issued (all in one year)."""
    years = {
        issued_at.astimezone(fleet.zone).year
        for issued_at in Invoice.objects.filter(fleet=fleet, issued_at__isnull=False)
        .values_list("issued_at", flat=True)
        .distinct()
    }
    assert len(years) <= 1, f"invoices issued in several years: {years}"
    year = years.pop() if years else None
    return [f"VT-{year}-{number:06d}" for number in range(1, count + 1)]


def invoice_numbers(fleet: Fleet) -> list[str]:
    return sorted(
        Invoice.objects.filter(fleet=fleet)
        .exclude(status=InvoiceStatus.DRAFT)
        .values_list("number", flat=True)
    )


def invoice_counter(fleet: Fleet) -> int:
    return sum(
        DocumentCounter.objects.filter(fleet=fleet, series=DocumentSeries.INVOICE).values_list(
            "last_number", flat=True
        )
    )


def sessions_billed_count(fleet: Fleet) -> Counter:
    """How many times each of the fleet's sessions appears on an invoice line, a cost allocation
    or a reimbursement line, all three together."""
    return Counter(
        [
            *InvoiceLine.objects.filter(invoice__fleet=fleet).values_list("session_id", flat=True),
            *CostAllocation.objects.filter(fleet=fleet).values_list("session_id", flat=True),
            *ReimbursementLine.objects.filter(reimbursement__fleet=fleet).values_list(
                "session_id", flat=True
            ),
        ]
    )


def billing_figures(fleet: Fleet) -> dict:
    """Everything a run billed for a fleet, per driver in the order they were created, without
    ids or times: two identical fleets billed the same way give equal figures."""
    run = BillingRun.objects.get(fleet=fleet)
    drivers = []
    for driver in fleet.drivers.order_by("pk"):
        invoice = Invoice.objects.filter(driver=driver).first()
        reimbursement = Reimbursement.objects.filter(driver=driver).first()
        statement = Statement.objects.get(driver=driver)
        drivers.append(
            {
                "invoice": invoice
                and (
                    invoice.number,
                    invoice.status,
                    invoice.net_total,
                    invoice.vat_total,
                    invoice.gross_total,
                    list(
                        invoice.lines.order_by("position").values_list(
                            "position",
                            "description",
                            "quantity_kwh",
                            "unit_price",
                            "net",
                            "vat_rate",
                            "vat",
                            "gross",
                        )
                    ),
                ),
                "statement": (
                    statement.private_session_count,
                    statement.business_session_count,
                    statement.home_session_count,
                    statement.private_owed,
                    statement.business_cost,
                    statement.reimbursement_due,
                    statement.net_to_driver,
                    statement.invoice_id == (invoice and invoice.pk),
                    statement.reimbursement_id == (reimbursement and reimbursement.pk),
                ),
                "reimbursement": reimbursement
                and (
                    reimbursement.energy_wh,
                    reimbursement.amount,
                    reimbursement.status,
                    sorted(reimbursement.lines.values_list("energy_wh", "amount")),
                ),
                "allocations": sorted(
                    (allocation.amount, allocation.vat, allocation.cost_center_id is not None)
                    for allocation in CostAllocation.objects.filter(driver=driver)
                ),
            }
        )
    return {
        "run": (
            run.status,
            run.units_total,
            run.units_done,
            run.session_count,
            run.statement_count,
            run.invoice_count,
            run.invoiced_total,
            run.allocated_total,
            run.reimbursed_total,
        ),
        "drivers": drivers,
    }


PAYMENTS_TABLES = [
    BillingRun,
    BillingUnit,
    DocumentCounter,
    Invoice,
    InvoiceLine,
    CreditNote,
    CreditNoteLine,
    CostAllocation,
    Reimbursement,
    ReimbursementLine,
    Statement,
    Payment,
]


def payments_snapshot() -> dict:
    """Every row of every payments table, and when each session was billed and last changed."""
    snapshot = {
        model.__name__: list(model.objects.order_by("pk").values()) for model in PAYMENTS_TABLES
    }
    snapshot["ChargingSession"] = list(
        ChargingSession.objects.order_by("pk").values_list("pk", "billed_at", "updated_at")
    )
    return snapshot


# Run in processes of their own (module level: imported by the child after Django is set up) --


def billing_run_command(*, fleet: str, period: str) -> str:
    """`manage.py billing_run --fleet … --period …`, as a person or a cron job would start it."""
    out = StringIO()
    call_command("billing_run", "--fleet", fleet, "--period", period, stdout=out)
    return out.getvalue()


class RolledBack(Exception):
    """Raised after issuing, to roll the issue back."""


def invoices_issue_rolling_some_back(
    *, invoice_ids: list[int], seed: int
) -> list[tuple[int, str, bool]]:
    """Issue each draft in a transaction of its own and roll about a third back after the number
    was taken; returns (invoice id, number seen, committed) for each."""
    rng = random.Random(seed)
    outcomes = []
    for invoice_id in invoice_ids:
        roll_back = rng.random() < 0.35
        try:
            with transaction.atomic():
                invoice = services.invoice_issue(invoice=Invoice.objects.get(pk=invoice_id))
                time.sleep(rng.uniform(0, 0.004))  # others queue on the locked counter
                if roll_back:
                    raise RolledBack
        except RolledBack:
            pass
        outcomes.append((invoice_id, invoice.number, not roll_back))
    return outcomes


# 1. Two runs started at once ------------------------------------------------------------------


def test_two_runs_started_at_once_make_one_run_billing_each_session_exactly_once(
    celery_workers,
):
    # given: a fleet whose drivers bill in units of one, two workers taking units in parallel,
    # one driver with business charging only and a private home session that is never billed
    celery_workers.start_several(2, **ONE_DRIVER_PER_UNIT)
    fleet = billing_fleet_create(drivers=8, sessions_per_driver=3, month_start=MONTH_START)
    business_only = DriverFactory(fleet=fleet)
    priced_session_create(
        driver=business_only,
        started_at=MONTH_START + dt.timedelta(days=3),
        purpose=SessionPurpose.BUSINESS,
    )
    private_home = priced_session_create(
        driver=business_only,
        started_at=MONTH_START + dt.timedelta(days=4),
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.PRIVATE,
    )
    period = services.billing_period_for(fleet=fleet, label=PERIOD)
    billable = billable_session_list(fleet=fleet, ended_before=period.end)
    billable_ids = set(billable.values_list("pk", flat=True))
    drivers_with_private_charging = sorted(
        set(
            billable.filter(purpose=SessionPurpose.PRIVATE)
            .exclude(location_kind=LocationKind.HOME)
            .values_list("driver_id", flat=True)
        )
    )
    assert (len(billable_ids), len(drivers_with_private_charging)) == (25, 8)

    # when: two processes run `manage.py billing_run` for it, released together
    outputs = django_processes_run(
        [(billing_run_command, {"fleet": fleet.slug, "period": PERIOD})] * 2,
        celery_queue=celery_workers.queue,
    )

    # then: one run, which both were given
    [run] = BillingRun.objects.filter(fleet=fleet)
    assert [re.match(r"Billing run (\d+) for ", output).group(1) for output in outputs] == [
        str(run.pk)
    ] * 2
    run = run_wait_completed(run.pk, celery_workers)
    assert (run.units_total, run.units_done, run.statement_count, run.session_count) == (
        9,
        9,
        9,
        25,
    )
    # one invoice per driver with private charging, numbered 1…8 without gap or duplicate
    invoices = Invoice.objects.filter(fleet=fleet)
    assert sorted(invoices.values_list("driver_id", flat=True)) == drivers_with_private_charging
    assert invoice_numbers(fleet) == invoice_numbers_expected(fleet, 8)
    assert invoice_counter(fleet) == 8
    assert run.invoice_count == 8
    # every billable session billed, on exactly one invoice line, allocation or reimbursement
    assert sessions_billed_count(fleet) == Counter(billable_ids)
    assert not ChargingSession.objects.filter(pk__in=billable_ids, billed_at__isnull=True).exists()
    private_home.refresh_from_db()
    assert private_home.billed_at is None


# 2. A worker killed in the middle of a unit ---------------------------------------------------

DRIVERS = 6
KILLED_IN_UNIT = 4  # units 1-3 are done when the worker dies inside unit 4


def test_a_run_whose_worker_is_killed_mid_unit_resumes_to_what_a_clean_run_bills(
    celery_workers,
):
    # given: two identical fleets, one billed cleanly by a worker billing one driver per unit
    clean = billing_fleet_create(drivers=DRIVERS, sessions_per_driver=4, month_start=MONTH_START)
    crashed = billing_fleet_create(drivers=DRIVERS, sessions_per_driver=4, month_start=MONTH_START)
    single_lane = {**ONE_DRIVER_PER_UNIT, "BILLING_PARALLEL_UNITS": "1"}
    first_worker = celery_workers.start(**single_lane)
    clean_run, _ = services.billing_run_start(
        fleet=clean, period=services.billing_period_for(fleet=clean, label=PERIOD)
    )
    run_wait_completed(clean_run.pk, celery_workers)

    # when: the other fleet's run reaches unit 4, whose sessions another transaction holds,
    stuck_driver = crashed.drivers.order_by("pk")[KILLED_IN_UNIT - 1]
    with (
        psycopg.connect(current_database_url()) as blocker,
        psycopg.connect(current_database_url(), autocommit=True) as observer,
    ):
        blocker.execute(
            "SELECT id FROM charging_chargingsession WHERE driver_id = %s FOR UPDATE",
            [stuck_driver.pk],
        )
        run, _ = services.billing_run_start(
            fleet=crashed, period=services.billing_period_for(fleet=crashed, label=PERIOD)
        )
        waiting_on_blocker = []

        def the_worker_waits_on_the_blocker() -> bool:
            waiting_on_blocker[:] = observer.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [blocker.info.backend_pid],
            ).fetchall()
            return bool(waiting_on_blocker)

        wait_until(
            the_worker_waits_on_the_blocker,
            seconds=WAIT_SECONDS,
            failure=f"the worker did not reach unit {KILLED_IN_UNIT}",
            details=celery_workers.logs,
        )
        # … and its worker is killed there, inside the unit's transaction
        units_done_at_kill = BillingRun.objects.get(pk=run.pk).units_done
        first_worker.kill()
        blocker.rollback()
        [(worker_backend,)] = waiting_on_blocker
        wait_until(
            lambda: (
                not observer.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [worker_backend]
                ).fetchone()
            ),
            seconds=WAIT_SECONDS,
            failure="the killed worker's database session did not end",
        )
    run.refresh_from_db()
    assert (units_done_at_kill, run.units_done, run.units_total, run.status) == (
        KILLED_IN_UNIT - 1,
        KILLED_IN_UNIT - 1,
        DRIVERS,
        BillingRunStatus.RUNNING,
    )
    assert list(
        run.units.filter(status=BillingUnitStatus.PENDING).values_list("number", flat=True)
    ) == [4, 5, 6]
    assert Invoice.objects.filter(fleet=crashed, status=InvoiceStatus.DRAFT).count() == 3
    assert not invoice_numbers(crashed)
    assert not ChargingSession.objects.filter(driver=stuck_driver, billed_at__isnull=False).exists()

    # … and the run is started again, with a new worker
    celery_workers.start(**single_lane)
    again, _ = services.billing_run_start(
        fleet=crashed, period=services.billing_period_for(fleet=crashed, label=PERIOD)
    )
    run_wait_completed(again.pk, celery_workers)

    # then: the same invoices, numbers, totals, statements, reimbursements and allocations as
    # the clean run, numbered 1…6 without gap or duplicate, each session billed exactly once
    assert again.pk == run.pk
    assert billing_figures(crashed) == billing_figures(clean)
    assert invoice_numbers(crashed) == invoice_numbers_expected(crashed, DRIVERS)
    assert invoice_counter(crashed) == DRIVERS
    sessions = set(ChargingSession.objects.filter(fleet=crashed).values_list("pk", flat=True))
    assert sessions_billed_count(crashed) == Counter(sessions)
    assert not ChargingSession.objects.filter(pk__in=sessions, billed_at__isnull=True).exists()


# 3. Tasks delivered again after they committed --------------------------------------------------


def test_billing_tasks_delivered_again_after_the_run_committed_change_nothing(celery_workers):
    # given: a completed run whose invoices have been e-mailed, its last work
    celery_workers.start(BILLING_UNIT_DRIVERS="2", EMAIL_URL="dummymail://")
    fleet = billing_fleet_create(drivers=4, sessions_per_driver=4, month_start=MONTH_START)
    run, _ = services.billing_run_start(
        fleet=fleet, period=services.billing_period_for(fleet=fleet, label=PERIOD)
    )
    run_wait_completed(run.pk, celery_workers)
    wait_until(
        lambda: not Invoice.objects.filter(billing_run=run, emailed_at__isnull=True).exists(),
        seconds=WAIT_SECONDS,
        failure="the run's invoices were not e-mailed",
        details=celery_workers.logs,
    )
    assert Invoice.objects.filter(billing_run=run).count() == 4
    before = payments_snapshot()

    # when: the worker gets each of the run's tasks again through the broker, and a last one
    # behind anything they might have enqueued
    returned = [
        task.delay(run.pk).get(timeout=WAIT_SECONDS)
        for task in (advance_billing_run, plan_billing_run, finalize_billing_run)
    ]
    returned.append(advance_billing_run.delay(run.pk).get(timeout=WAIT_SECONDS))

    # then: nothing billed, numbered, counted or e-mailed again; not a row touched
    assert returned == [False, None, None, False]
    assert payments_snapshot() == before


# 4. Invoice numbers under concurrent issues with rollbacks --------------------------------------

PROCESSES = 4
DRAFTS_PER_PROCESS = 10


def test_invoices_issued_at_once_with_random_rollbacks_are_numbered_without_gaps(
    celery_workers,
):
    # given: drafts, shared out among processes that issue them at once and roll some back
    fleet = FleetFactory()
    driver = DriverFactory(fleet=fleet)
    drafts = [
        Invoice.objects.create(
            fleet=fleet,
            driver=driver,
            currency="EUR",
            period_start=MONTH_START,
            period_end=MONTH_START + dt.timedelta(days=7),
            net_total=Decimal("10.00"),
            vat_total=Decimal("2.10"),
            gross_total=Decimal("12.10"),
        ).pk
        for _ in range(PROCESSES * DRAFTS_PER_PROCESS)
    ]

    # when
    outcomes = django_processes_run(
        [
            (
                invoices_issue_rolling_some_back,
                {"invoice_ids": drafts[index::PROCESSES], "seed": index},
            )
            for index in range(PROCESSES)
        ],
        celery_queue=celery_workers.queue,
    )

    # then: the committed issues hold numbers 1…k, each the number its process was given
    committed = {pk: number for part in outcomes for pk, number, kept in part if kept}
    rolled_back = {pk for part in outcomes for pk, _, kept in part if not kept}
    assert len(committed) + len(rolled_back) == len(drafts)
    assert committed, "the seeds should commit some issues"
    assert rolled_back, "the seeds should roll some issues back"
    assert invoice_numbers(fleet) == invoice_numbers_expected(fleet, len(committed))
    assert (
        dict(
            Invoice.objects.filter(fleet=fleet)
            .exclude(status=InvoiceStatus.DRAFT)
            .values_list("pk", "number")
        )
        == committed
    )
    assert invoice_counter(fleet) == len(committed)
    # the rolled-back ones are drafts without a number, and no e-mail was sent off for them
    assert sorted(
        Invoice.objects.filter(
            fleet=fleet, status=InvoiceStatus.DRAFT, number="", issued_at__isnull=True
        ).values_list("pk", flat=True)
    ) == sorted(rolled_back)
    assert sorted(emails_queued(celery_workers.queue)) == sorted(committed)


def emails_queued(queue: str) -> list[int]:
    """The invoice ids of the send_invoice_email messages waiting in a queue no worker reads."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        messages = [json.loads(message) for message in client.lrange(queue, 0, -1)]
    finally:
        client.close()
    invoice_ids = []
    for message in messages:
        assert message["headers"]["task"] == "apps.payments.tasks.send_invoice_email"
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        invoice_ids.extend(args)
    return invoice_ids
