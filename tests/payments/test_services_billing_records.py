"""What a billing run records for the finance exports: each reimbursement line with the meter
source, price basis and the home rate that priced its session, and each session the run left
out as a row with its reason, agreeing with the run's counts."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

from apps.charging import services as charging_services
from apps.charging.choices import (
    EnergySource,
    HomeApproval,
    LocationKind,
    PriceBasis,
    SessionPurpose,
    SessionStatus,
    UnpricedReason,
)
from apps.charging.models import ChargingSession
from apps.drivers.models import Driver
from apps.payments import services
from apps.payments.choices import BillingRunStatus, LeftOutReason
from apps.payments.models import BillingLeftOut, BillingRun, ReimbursementLine
from apps.payments.selectors import billing_left_out_list, reimbursement_line_list
from tests.factories import (
    ChargingSessionFactory,
    CostCenterFactory,
    DriverFactory,
    FleetFactory,
    UserFactory,
)
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC
NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def fleet():
    return FleetFactory(time_zone="Europe/Amsterdam", currency="EUR")


@pytest.fixture
def driver(fleet):
    return DriverFactory(
        fleet=fleet, cost_center=CostCenterFactory(fleet=fleet), home_rate_per_kwh=D("0.30000")
    )


def home_claim_priced_and_approved(
    driver: Driver, started_at: dt.datetime, energy_wh: int
) -> ChargingSession:
    """Business charging at home as it happens: the driver reports it, pricing prices it at
    their home rate, a manager approves it."""
    session = charging_services.home_session_report(
        driver=driver,
        started_at=started_at,
        ended_at=started_at + dt.timedelta(hours=3),
        energy_wh=energy_wh,
    )
    session = charging_services.charging_session_price(session=session)
    return charging_services.home_session_review(
        session=session, approve=True, reviewer=UserFactory()
    )


def without_price(session: ChargingSession, reason: str = "") -> ChargingSession:
    ChargingSession.objects.filter(pk=session.pk).update(
        price_basis="",
        price_currency="",
        price_excl_vat=None,
        price_vat=None,
        price_incl_vat=None,
        priced_at=None,
        unpriced_reason=reason,
    )
    return session


def line_record(line: ReimbursementLine) -> tuple:
    return (line.session_id, line.meter_source, line.price_basis, line.rate_per_kwh, line.amount)


# Reimbursement lines ------------------------------------------------------------------------


def test_a_home_session_priced_at_the_home_rate_keeps_source_basis_and_rate_on_its_line(
    run_billing, fleet, driver
):
    session = home_claim_priced_and_approved(driver, utc(2026, 10, 5, 18), energy_wh=12_000)

    run = run_billing(fleet, "2026-10")

    assert run.status == BillingRunStatus.COMPLETED
    (line,) = ReimbursementLine.objects.filter(reimbursement__billing_run=run)
    assert line_record(line) == (
        session.pk,
        EnergySource.ENTERED,
        PriceBasis.HOME_RATE,
        D("0.30000"),
        D("3.60"),
    )


def test_a_home_rate_changed_after_pricing_leaves_the_rate_that_priced_the_session(
    run_billing, fleet, driver
):
    session = home_claim_priced_and_approved(driver, utc(2026, 10, 5, 18), energy_wh=12_000)
    driver.home_rate_per_kwh = D("0.45000")
    driver.save(update_fields=["home_rate_per_kwh"])

    run = run_billing(fleet, "2026-10")

    (line,) = ReimbursementLine.objects.filter(reimbursement__billing_run=run)
    assert line_record(line) == (
        session.pk,
        EnergySource.ENTERED,
        PriceBasis.HOME_RATE,
        D("0.30000"),
        D("3.60"),
    )


def test_a_home_session_whose_breakdown_records_no_rate_leaves_the_lines_rate_empty(
    run_billing, fleet, driver
):
    session = priced_session_create(
        driver=driver,
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 6, 18),
        price_excl_vat=D("2.50"),
    )
    assert session.price_breakdown is None

    run = run_billing(fleet, "2026-10")

    (line,) = ReimbursementLine.objects.filter(reimbursement__billing_run=run)
    assert line_record(line) == (
        session.pk,
        EnergySource.MEASURED,
        PriceBasis.HOME_RATE,
        None,
        D("2.50"),
    )


def test_reimbursement_lines_are_read_per_fleet_and_period_by_reimbursement_then_session(
    run_billing, fleet, driver
):
    second_driver = DriverFactory(fleet=fleet, home_rate_per_kwh=D("0.22000"))
    first = home_claim_priced_and_approved(driver, utc(2026, 10, 5, 18), energy_wh=12_000)
    second = home_claim_priced_and_approved(driver, utc(2026, 10, 3, 18), energy_wh=10_000)
    third = home_claim_priced_and_approved(second_driver, utc(2026, 10, 4, 18), energy_wh=5_000)
    november = home_claim_priced_and_approved(driver, utc(2026, 11, 2, 18), energy_wh=1_000)
    other_fleet = FleetFactory(currency="EUR")
    home_claim_priced_and_approved(
        DriverFactory(fleet=other_fleet), utc(2026, 10, 5, 18), energy_wh=4_000
    )
    run_billing(fleet, "2026-10")
    run_billing(other_fleet, "2026-10")

    lines = reimbursement_line_list(
        fleet=fleet, period_start=utc(2026, 9, 1), period_end=utc(2026, 11, 1)
    )

    assert [line_record(line) for line in lines] == [
        (first.pk, EnergySource.ENTERED, PriceBasis.HOME_RATE, D("0.30000"), D("3.60")),
        (second.pk, EnergySource.ENTERED, PriceBasis.HOME_RATE, D("0.30000"), D("3.00")),
        (third.pk, EnergySource.ENTERED, PriceBasis.HOME_RATE, D("0.22000"), D("1.10")),
    ]
    assert [line.reimbursement.driver_id for line in lines] == [
        driver.pk,
        driver.pk,
        second_driver.pk,
    ]
    assert november.pk not in {line.session_id for line in lines}


# Sessions left out ----------------------------------------------------------------------------


def left_out_rows(run: BillingRun) -> list[tuple[int, str]]:
    return list(billing_left_out_list(run=run).values_list("session_id", "reason"))


def test_a_run_records_each_session_it_left_out_with_its_reason_as_its_counts_have_it(
    run_billing, fleet, driver
):
    billed = priced_session_create(driver=driver, started_at=utc(2026, 10, 2, 8))
    still_charging = ChargingSessionFactory(
        fleet=fleet,
        driver=DriverFactory(fleet=fleet),
        active=True,
        started_at=utc(2026, 10, 31, 20),
    )
    invalid = priced_session_create(
        driver=driver, started_at=utc(2026, 10, 3, 8), status=SessionStatus.INVALID
    )
    home_pending = priced_session_create(
        driver=driver,
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        home_approval=HomeApproval.PENDING,
        started_at=utc(2026, 10, 4, 18),
    )
    no_tariff = without_price(
        priced_session_create(driver=driver, started_at=utc(2026, 10, 5, 8)),
        UnpricedReason.NO_TARIFF,
    )
    cost_pending = without_price(
        priced_session_create(
            driver=driver, location_kind=LocationKind.PUBLIC, started_at=utc(2026, 10, 6, 8)
        ),
        UnpricedReason.COST_PENDING,
    )
    not_priced_yet = without_price(
        priced_session_create(driver=driver, started_at=utc(2026, 10, 7, 8))
    )
    not_priced_either = without_price(
        priced_session_create(driver=driver, started_at=utc(2026, 10, 8, 8))
    )
    priced_session_create(driver=driver, started_at=utc(2026, 11, 2, 8))
    priced_session_create(driver=DriverFactory(), started_at=utc(2026, 10, 9, 8))

    run = run_billing(fleet, "2026-10")

    assert run.status == BillingRunStatus.COMPLETED
    assert run.session_count == 1
    assert billed.pk not in {session_id for session_id, _ in left_out_rows(run)}
    assert left_out_rows(run) == [
        (still_charging.pk, LeftOutReason.STILL_CHARGING),
        (invalid.pk, LeftOutReason.INVALID),
        (home_pending.pk, LeftOutReason.HOME_PENDING),
        (no_tariff.pk, LeftOutReason.NO_TARIFF),
        (cost_pending.pk, LeftOutReason.COST_PENDING),
        (not_priced_yet.pk, LeftOutReason.NOT_PRICED_YET),
        (not_priced_either.pk, LeftOutReason.NOT_PRICED_YET),
    ]
    assert run.left_out_reasons == {
        LeftOutReason.STILL_CHARGING: 1,
        LeftOutReason.INVALID: 1,
        LeftOutReason.HOME_PENDING: 1,
        LeftOutReason.NO_TARIFF: 1,
        LeftOutReason.COST_PENDING: 1,
        LeftOutReason.NOT_PRICED_YET: 2,
    }
    assert run.left_out_reasons == dict(Counter(reason for _, reason in left_out_rows(run)))
    assert run.left_out_count == 7


def test_finalizing_a_completed_run_again_adds_no_row_and_changes_no_count(
    run_billing, fleet, driver, django_capture_on_commit_callbacks
):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 2, 8))
    unpriced = without_price(priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8)))
    run = run_billing(fleet, "2026-10")
    rows_before = list(
        BillingLeftOut.objects.filter(run=run).values_list("pk", "session_id", "reason")
    )
    run_before = BillingRun.objects.values().get(pk=run.pk)
    ChargingSession.objects.filter(pk=unpriced.pk).update(status=SessionStatus.INVALID)

    with django_capture_on_commit_callbacks() as callbacks:
        again = services.billing_run_finalize(run=run)

    assert rows_before == [(rows_before[0][0], unpriced.pk, LeftOutReason.NOT_PRICED_YET)]
    assert (
        list(BillingLeftOut.objects.filter(run=run).values_list("pk", "session_id", "reason"))
        == rows_before
    )
    assert BillingRun.objects.values().get(pk=run.pk) == run_before
    assert again.left_out_reasons == {LeftOutReason.NOT_PRICED_YET: 1}
    assert callbacks == []


def test_a_session_priced_after_its_driver_was_billed_is_recorded_for_the_next_run(
    fleet, driver, django_capture_on_commit_callbacks
):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 2, 8))
    late = without_price(priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8)))
    with django_capture_on_commit_callbacks():
        run, _ = services.billing_run_start(
            fleet=fleet, period=services.billing_period_for(fleet=fleet, label="2026-10")
        )
        services.billing_run_plan(run=run)
        services.billing_run_advance(run_id=run.pk)
    ChargingSession.objects.filter(pk=late.pk).update(
        price_basis=PriceBasis.TARIFF,
        price_currency="EUR",
        price_excl_vat=D("6.00"),
        price_vat=D("1.26"),
        price_incl_vat=D("7.26"),
    )

    with django_capture_on_commit_callbacks():
        run = services.billing_run_finalize(run=BillingRun.objects.get(pk=run.pk))

    assert left_out_rows(run) == [(late.pk, LeftOutReason.NEXT_RUN)]
    assert run.left_out_reasons == {LeftOutReason.NEXT_RUN: 1}


def test_a_run_that_is_not_done_records_nothing_left_out(
    fleet, driver, django_capture_on_commit_callbacks
):
    without_price(priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8)))
    priced_session_create(driver=driver, started_at=utc(2026, 10, 2, 8))
    with django_capture_on_commit_callbacks():
        run, _ = services.billing_run_start(
            fleet=fleet, period=services.billing_period_for(fleet=fleet, label="2026-10")
        )
        services.billing_run_plan(run=run)

    with django_capture_on_commit_callbacks():
        run = services.billing_run_finalize(run=BillingRun.objects.get(pk=run.pk))

    assert run.status == BillingRunStatus.RUNNING
    assert (run.left_out_reasons, run.left_out_count) == ({}, 0)
    assert not BillingLeftOut.objects.filter(run=run).exists()
