"""Billing runs through the services, with Celery eager: who owes whom, which period a session
falls in, late arrivals, refusals, failures and resumes, numbering, e-mail and the beat."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from apps.charging.choices import HomeApproval, LocationKind, SessionPurpose, SessionStatus
from apps.charging.models import ChargingSession
from apps.fleets.choices import BillingPeriodKind
from apps.payments import services
from apps.payments.choices import BillingRunStatus, InvoiceStatus, ReimbursementStatus
from apps.payments.exceptions import PeriodInvalid, PeriodNotEnded
from apps.payments.models import (
    BillingRun,
    CostAllocation,
    Invoice,
    InvoiceLine,
    Reimbursement,
    Statement,
)
from tests.factories import CostCenterFactory, DriverFactory, FleetFactory, VehicleFactory
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def fleet():
    return FleetFactory(time_zone="Europe/Amsterdam", default_vat_rate=D("21.00"))


@pytest.fixture
def driver(fleet):
    return DriverFactory(fleet=fleet, cost_center=CostCenterFactory(fleet=fleet, code="DRV"))


def test_a_run_splits_a_drivers_month_into_invoice_cost_allocation_and_reimbursement(
    run_billing, fleet, driver
):
    vehicle_center = CostCenterFactory(fleet=fleet, code="VEH")
    vehicle = VehicleFactory(fleet=fleet, cost_center=vehicle_center)
    depot_private = priced_session_create(
        driver=driver, started_at=utc(2026, 10, 3, 8), price_excl_vat=D("10.05")
    )
    public_private = priced_session_create(
        driver=driver,
        location_kind=LocationKind.PUBLIC,
        started_at=utc(2026, 10, 5, 8),
        price_excl_vat=D("4.95"),
        price_vat=D("1.04"),
    )
    business_with_vehicle = priced_session_create(
        driver=driver,
        vehicle=vehicle,
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 6, 8),
        price_excl_vat=D("7.00"),
        price_vat=D("1.47"),
    )
    business_without_vehicle = priced_session_create(
        driver=driver,
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 7, 8),
        price_excl_vat=D("3.00"),
        price_vat=D("0.63"),
    )
    home_approved = priced_session_create(
        driver=driver,
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 8, 18),
        energy_wh=30_000,
        price_excl_vat=D("7.50"),
    )
    not_billed = [
        priced_session_create(
            driver=driver,
            location_kind=LocationKind.HOME,
            purpose=SessionPurpose.BUSINESS,
            home_approval=approval,
            started_at=utc(2026, 10, 9 + day, 18),
        )
        for day, approval in enumerate([HomeApproval.PENDING, HomeApproval.REJECTED])
    ]
    not_billed.append(
        priced_session_create(
            driver=driver,
            location_kind=LocationKind.HOME,
            purpose=SessionPurpose.PRIVATE,
            started_at=utc(2026, 10, 12, 18),
        )
    )
    not_billed.append(
        priced_session_create(
            driver=driver, started_at=utc(2026, 10, 13, 8), status=SessionStatus.INVALID
        )
    )
    not_billed.append(
        priced_session_create(driver=driver, started_at=utc(2026, 10, 14, 8), price_currency="USD")
    )
    unpriced = priced_session_create(driver=driver, started_at=utc(2026, 10, 15, 8))
    ChargingSession.objects.filter(pk=unpriced.pk).update(
        price_excl_vat=None, price_vat=None, price_incl_vat=None, price_currency=""
    )
    not_billed.append(unpriced)

    run = run_billing(fleet, "2026-10")

    assert run.status == BillingRunStatus.COMPLETED
    invoice = Invoice.objects.get(driver=driver)
    assert invoice.number == "VT-2026-000001"
    assert invoice.status == InvoiceStatus.ISSUED
    assert invoice.due_at == invoice.issued_at + dt.timedelta(days=14)
    assert [line.session for line in invoice.lines.all()] == [depot_private, public_private]
    assert (invoice.net_total, invoice.vat_total, invoice.gross_total) == (
        D("15.00"),
        D("3.15"),
        D("18.15"),
    )
    assert invoice.lines.first().description == "Depot charging, 2026-10-03 10:00"
    allocations = {
        a.session: a for a in CostAllocation.objects.order_by("session__started_at", "pk")
    }
    assert allocations[business_with_vehicle].cost_center == driver.cost_center
    assert allocations[business_without_vehicle].cost_center == driver.cost_center
    assert [(a.amount, a.vat) for a in allocations.values()] == [
        (D("7.00"), D("1.47")),
        (D("3.00"), D("0.63")),
    ]
    reimbursement = Reimbursement.objects.get(driver=driver)
    assert (reimbursement.amount, reimbursement.energy_wh, reimbursement.status) == (
        D("7.50"),
        30_000,
        ReimbursementStatus.PENDING,
    )
    assert [line.session for line in reimbursement.lines.all()] == [home_approved]
    statement = Statement.objects.get(driver=driver)
    assert (statement.invoice, statement.reimbursement) == (invoice, reimbursement)
    assert (
        statement.private_session_count,
        statement.business_session_count,
        statement.home_session_count,
    ) == (2, 2, 1)
    assert (
        statement.private_owed,
        statement.business_cost,
        statement.reimbursement_due,
        statement.net_to_driver,
    ) == (D("18.15"), D("10.00"), D("7.50"), D("-10.65"))
    assert (run.session_count, run.statement_count, run.invoice_count, run.units_total) == (
        5,
        1,
        1,
        1,
    )
    assert (run.invoiced_total, run.allocated_total, run.reimbursed_total) == (
        D("18.15"),
        D("10.00"),
        D("7.50"),
    )
    billed = ChargingSession.objects.filter(billed_at__isnull=False)
    assert set(billed) == {
        depot_private,
        public_private,
        business_with_vehicle,
        business_without_vehicle,
        home_approved,
    }
    assert not ChargingSession.objects.filter(
        pk__in=[session.pk for session in not_billed], billed_at__isnull=False
    ).exists()


def test_an_invoice_lines_unit_price_is_rounded_half_up_to_five_places(run_billing, driver):
    priced_session_create(
        driver=driver, started_at=utc(2026, 10, 3, 8), energy_wh=128, price_excl_vat=D("0.01")
    )

    run_billing(driver.fleet, "2026-10")

    line = InvoiceLine.objects.get()
    # 0.01 / 0.128 kWh = 0.078125: half-up 0.07813, where half-even would give 0.07812.
    assert (line.quantity_kwh, line.unit_price) == (D("0.128"), D("0.07813"))


def test_a_session_crossing_the_period_end_is_billed_in_the_period_it_ends(
    run_billing, fleet, driver
):
    crossing = priced_session_create(
        driver=driver,
        started_at=utc(2026, 9, 30, 21),  # 23:00 on 30 September in Amsterdam
        ended_at=utc(2026, 9, 30, 23),  # 01:00 on 1 October
    )

    september = run_billing(fleet, "2026-09")
    october = run_billing(fleet, "2026-10")

    assert september.session_count == 0
    assert september.status == BillingRunStatus.COMPLETED
    assert InvoiceLine.objects.get(session=crossing).invoice.billing_run == october


def test_the_period_ends_at_local_midnight_in_the_fleets_zone_across_the_dst_change(
    run_billing, fleet, driver
):
    last_minute_of_october = priced_session_create(
        driver=driver, started_at=utc(2026, 10, 31, 21), ended_at=utc(2026, 10, 31, 22, 59)
    )
    first_minute_of_november = priced_session_create(
        driver=driver, started_at=utc(2026, 10, 31, 21), ended_at=utc(2026, 10, 31, 23, 0)
    )

    october = run_billing(fleet, "2026-10")

    assert october.period_end == utc(2026, 10, 31, 23)
    assert InvoiceLine.objects.get().session == last_minute_of_october
    first_minute_of_november.refresh_from_db()
    assert first_minute_of_november.billed_at is None


def test_a_session_that_arrives_after_its_periods_run_goes_to_the_next_run(
    run_billing, fleet, driver
):
    priced_session_create(driver=driver, started_at=utc(2026, 9, 10, 8))
    september = run_billing(fleet, "2026-09")
    late = priced_session_create(driver=driver, started_at=utc(2026, 9, 20, 8))

    october = run_billing(fleet, "2026-10")

    assert september.session_count == 1
    assert InvoiceLine.objects.get(session=late).invoice.billing_run == october
    assert [invoice.number for invoice in Invoice.objects.order_by("number")] == [
        "VT-2026-000001",
        "VT-2026-000002",
    ]


def test_starting_a_billed_period_again_returns_its_run_and_bills_nothing_twice(
    run_billing, fleet, driver
):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8))
    first = run_billing(fleet, "2026-10")
    priced_session_create(driver=driver, started_at=utc(2026, 10, 4, 8))

    again = run_billing(fleet, "2026-10")

    assert again.pk == first.pk
    assert again.finished_at == first.finished_at
    assert (BillingRun.objects.count(), Invoice.objects.count(), InvoiceLine.objects.count()) == (
        1,
        1,
        1,
    )


@time_machine.travel(utc(2026, 11, 22, 12), tick=False)
def test_a_period_that_has_not_ended_is_refused_and_nothing_is_created(run_billing, fleet, driver):
    priced_session_create(driver=driver, started_at=utc(2026, 11, 3, 8))

    with pytest.raises(PeriodNotEnded) as refusal:
        run_billing(fleet, "2026-11")

    assert refusal.value.field == "period"
    assert "ends on 2026-12-01 at midnight" in refusal.value.message
    assert not BillingRun.objects.exists()
    assert not ChargingSession.objects.filter(billed_at__isnull=False).exists()


@pytest.mark.parametrize("label", ["2026-13", "2026/10", "", "2026-W44"])
def test_a_label_that_is_not_a_month_of_a_monthly_fleet_is_refused(fleet, label):
    with pytest.raises(PeriodInvalid) as refusal:
        services.billing_period_for(fleet=fleet, label=label)

    assert refusal.value.field == "period"
    assert not BillingRun.objects.exists()


@time_machine.travel(utc(2028, 3, 2, 12), tick=False)
def test_february_of_a_leap_year_bills_the_29th_and_march_starts_after_it(
    run_billing, fleet, driver
):
    leap_day = priced_session_create(
        driver=driver, started_at=utc(2028, 2, 29, 20), ended_at=utc(2028, 2, 29, 22, 59)
    )
    first_of_march = priced_session_create(
        driver=driver, started_at=utc(2028, 2, 29, 20), ended_at=utc(2028, 2, 29, 23, 1)
    )

    february = run_billing(fleet, "2028-02")

    assert InvoiceLine.objects.get().session == leap_day
    assert february.invoice_count == 1
    assert Invoice.objects.get().number == "VT-2028-000001"
    first_of_march.refresh_from_db()
    assert first_of_march.billed_at is None


def test_a_weekly_fleet_bills_iso_weeks(run_billing, driver):
    fleet = driver.fleet
    fleet.billing_period = BillingPeriodKind.WEEKLY
    fleet.save(update_fields=["billing_period"])
    inside = priced_session_create(driver=driver, started_at=utc(2026, 11, 2, 8))  # Monday
    priced_session_create(driver=driver, started_at=utc(2026, 11, 9, 8))  # next Monday

    week = run_billing(fleet, "2026-W45")

    assert (week.period_kind, week.period_start) == ("weekly", utc(2026, 11, 1, 23))
    assert [line.session for line in InvoiceLine.objects.all()] == [inside]


def test_invoice_numbers_are_consecutive_in_driver_order_and_separate_per_fleet(run_billing, fleet):
    drivers = [DriverFactory(fleet=fleet) for _ in range(3)]
    other_fleet_driver = DriverFactory(fleet=FleetFactory())
    for index, driver in enumerate([*drivers, other_fleet_driver]):
        priced_session_create(driver=driver, started_at=utc(2026, 10, 3 + index, 8))

    run_billing(fleet, "2026-10")
    run_billing(other_fleet_driver.fleet, "2026-10")

    assert [
        (invoice.driver, invoice.number)
        for invoice in Invoice.objects.filter(fleet=fleet).order_by("number")
    ] == [(driver, f"VT-2026-{index:06d}") for index, driver in enumerate(drivers, start=1)]
    assert Invoice.objects.get(fleet=other_fleet_driver.fleet).number == "VT-2026-000001"


def test_a_fleets_run_never_touches_another_fleets_sessions(run_billing, fleet, driver):
    other_driver = DriverFactory(fleet=FleetFactory())
    other_session = priced_session_create(driver=other_driver, started_at=utc(2026, 10, 3, 8))
    priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8))

    run_billing(fleet, "2026-10")

    other_session.refresh_from_db()
    assert other_session.billed_at is None
    assert not Statement.objects.filter(fleet=other_driver.fleet).exists()


def test_drivers_are_billed_in_units_of_the_configured_size(run_billing, settings, fleet):
    settings.BILLING_UNIT_DRIVERS = 2
    for index in range(5):
        priced_session_create(
            driver=DriverFactory(fleet=fleet), started_at=utc(2026, 10, 3 + index, 8)
        )

    run = run_billing(fleet, "2026-10")

    assert (run.units_total, run.units_done, run.statement_count) == (3, 3, 5)
    assert [len(unit.driver_ids) for unit in run.units.all()] == [2, 2, 1]


def test_a_period_with_nothing_to_bill_completes_empty(run_billing, fleet):
    run = run_billing(fleet, "2026-10")

    assert (run.status, run.units_total, run.session_count, run.invoice_count) == (
        BillingRunStatus.COMPLETED,
        0,
        0,
        0,
    )


def test_a_unit_that_fails_rolls_back_marks_the_run_failed_and_a_resume_completes_it(
    run_billing, settings, monkeypatch, fleet
):
    settings.BILLING_UNIT_DRIVERS = 1
    for index in range(3):
        priced_session_create(
            driver=DriverFactory(fleet=fleet), started_at=utc(2026, 10, 3 + index, 8)
        )
    real_save = services._UnitWork._save
    calls = []

    def save_failing_on_the_second_unit(work):
        calls.append(work)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real_save(work)

    monkeypatch.setattr(services._UnitWork, "_save", save_failing_on_the_second_unit)

    with pytest.raises(RuntimeError, match="disk full"):
        run_billing(fleet, "2026-10")

    run = BillingRun.objects.get()
    assert run.status == BillingRunStatus.FAILED
    assert run.error == "RuntimeError: disk full"
    assert run.units_done == 1
    assert Statement.objects.count() == 1
    assert ChargingSession.objects.filter(billed_at__isnull=False).count() == 1
    assert not Invoice.objects.exclude(status=InvoiceStatus.DRAFT).exists()

    resumed = run_billing(fleet, "2026-10")

    assert resumed.pk == run.pk
    assert (resumed.status, resumed.units_done, resumed.error) == (
        BillingRunStatus.COMPLETED,
        3,
        "",
    )
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [
        "VT-2026-000001",
        "VT-2026-000002",
        "VT-2026-000003",
    ]
    assert ChargingSession.objects.filter(billed_at__isnull=True).count() == 0


def test_each_issued_invoice_is_emailed_once_to_its_driver_with_its_pdf(run_billing, fleet, driver):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8))

    run = run_billing(fleet, "2026-10")
    sent_again = services.billing_run_invoices_email(run_id=run.pk)

    invoice = Invoice.objects.get()
    assert sent_again == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [driver.email]
    assert message.subject == f"{fleet.name}: invoice VT-2026-000001"
    assert "18.15 EUR" not in message.body
    assert f"{invoice.gross_total} EUR" in message.body
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == ("VT-2026-000001.pdf", "application/pdf")
    assert content.startswith(b"%PDF-")
    assert invoice.emailed_at is not None


class TestTheBeat:
    """The hourly beat starts each fleet's run once its period has ended in its own zone."""

    @pytest.fixture
    def fleets(self):
        with time_machine.travel(utc(2026, 10, 15), tick=False):
            return {
                "amsterdam": FleetFactory(time_zone="Europe/Amsterdam"),
                "new_york": FleetFactory(time_zone="America/New_York"),
            }

    def test_a_run_starts_after_local_midnight_and_only_once(self, fleets):
        amsterdam_after_midnight = utc(2026, 10, 31, 23, 5)
        new_york_after_midnight = utc(2026, 11, 1, 4, 5)

        with time_machine.travel(amsterdam_after_midnight, tick=False):
            started_first = services.billing_runs_start_due(now=amsterdam_after_midnight)
        with time_machine.travel(new_york_after_midnight, tick=False):
            started_next = services.billing_runs_start_due(now=new_york_after_midnight)
            started_again = services.billing_runs_start_due(now=new_york_after_midnight)

        runs = {run.fleet_id: run for run in BillingRun.objects.all()}
        assert (started_first, started_next, started_again) == (1, 1, 0)
        assert runs[fleets["amsterdam"].pk].period_label == "2026-10"
        assert runs[fleets["new_york"].pk].period_label == "2026-10"
        assert runs[fleets["new_york"].pk].period_end == utc(2026, 11, 1, 4)

    def test_a_fleet_created_after_the_period_gets_no_run_for_it(self):
        with time_machine.travel(utc(2026, 11, 5), tick=False):
            FleetFactory()
            started = services.billing_runs_start_due(now=utc(2026, 11, 5))

        assert started == 0
        assert not BillingRun.objects.exists()


def test_the_beat_resumes_a_run_that_stalled_when_its_worker_was_lost(
    fleet, driver, django_capture_on_commit_callbacks
):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8))
    period = services.billing_period_for(fleet=fleet, label="2026-10")
    run, _ = services.billing_run_start(fleet=fleet, period=period)  # its work never ran
    BillingRun.objects.filter(pk=run.pk).update(updated_at=utc(2026, 11, 1, 0))

    with django_capture_on_commit_callbacks(execute=True):
        started = services.billing_runs_start_due(now=utc(2026, 11, 1, 0, 20))

    run.refresh_from_db()
    assert started == 0
    assert (run.status, run.invoice_count) == (BillingRunStatus.COMPLETED, 1)


def test_the_beat_leaves_a_run_alone_while_it_makes_progress(
    fleet, driver, django_capture_on_commit_callbacks
):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8))
    period = services.billing_period_for(fleet=fleet, label="2026-10")
    run, _ = services.billing_run_start(fleet=fleet, period=period)
    BillingRun.objects.filter(pk=run.pk).update(updated_at=utc(2026, 11, 1, 0, 10))

    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        services.billing_runs_start_due(now=utc(2026, 11, 1, 0, 20))

    run.refresh_from_db()
    assert enqueued == []
    assert run.status == BillingRunStatus.PENDING


def test_business_charging_of_a_driver_without_cost_center_goes_to_the_vehicles(run_billing, fleet):
    vehicle_center = CostCenterFactory(fleet=fleet, code="VEH")
    driver = DriverFactory(fleet=fleet, cost_center=None)
    with_vehicle = priced_session_create(
        driver=driver,
        vehicle=VehicleFactory(fleet=fleet, cost_center=vehicle_center),
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 6, 8),
    )
    without_either = priced_session_create(
        driver=driver, purpose=SessionPurpose.BUSINESS, started_at=utc(2026, 10, 7, 8)
    )

    run_billing(fleet, "2026-10")

    assert CostAllocation.objects.get(session=with_vehicle).cost_center == vehicle_center
    assert CostAllocation.objects.get(session=without_either).cost_center is None


def test_a_plan_that_fails_marks_the_run_failed_with_the_reason(run_billing, monkeypatch, fleet):
    def selection_failing(**kwargs):
        raise ValueError("no such column")

    monkeypatch.setattr(services, "billable_session_list", selection_failing)

    with pytest.raises(ValueError, match="no such column"):
        run_billing(fleet, "2026-10")

    run = BillingRun.objects.get()
    assert (run.status, run.error) == (BillingRunStatus.FAILED, "ValueError: no such column")


def test_starting_a_failed_run_again_returns_it_resumed(run_billing, monkeypatch, fleet, driver):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8))
    real_selection = services.billable_session_list
    monkeypatch.setattr(services, "billable_session_list", lambda **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run_billing(fleet, "2026-10")
    monkeypatch.setattr(services, "billable_session_list", real_selection)

    resumed, created = services.billing_run_start(
        fleet=fleet, period=services.billing_period_for(fleet=fleet, label="2026-10")
    )

    assert (resumed.status, resumed.error, created) == (BillingRunStatus.PENDING, "", False)
    assert BillingRun.objects.get() == resumed


def test_starting_a_period_tells_whether_it_made_the_run(fleet, driver):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8))
    period = services.billing_period_for(fleet=fleet, label="2026-10")

    first, first_created = services.billing_run_start(fleet=fleet, period=period)
    again, again_created = services.billing_run_start(fleet=fleet, period=period)

    assert (first_created, again_created) == (True, False)
    assert again == first
    assert BillingRun.objects.count() == 1


def test_the_hourly_sweep_emails_invoices_whose_email_never_went_out(
    run_billing, fleet, driver, django_capture_on_commit_callbacks
):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8))
    run_billing(fleet, "2026-10")
    invoice = Invoice.objects.get()
    Invoice.objects.filter(pk=invoice.pk).update(emailed_at=None)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        too_early = services.invoices_unsent_email(now=invoice.issued_at + dt.timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        swept = services.invoices_unsent_email(now=invoice.issued_at + dt.timedelta(hours=1))

    assert (too_early, swept) == (0, 1)
    assert len(mail.outbox) == 1
    assert Invoice.objects.get().emailed_at is not None


def test_business_charging_stays_with_the_cost_center_of_the_sessions_start(
    run_billing, fleet, driver
):
    center_at_start = driver.cost_center
    session = priced_session_create(
        driver=driver,
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 6, 8),
        cost_center=center_at_start,
    )
    driver.cost_center = CostCenterFactory(fleet=fleet, code="MOVED")
    driver.save(update_fields=["cost_center"])

    run_billing(fleet, "2026-10")

    assert CostAllocation.objects.get(session=session).cost_center == center_at_start
