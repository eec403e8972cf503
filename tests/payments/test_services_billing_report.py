"""What a billing run accounts for: every session of its period billed (invoiced, allocated,
reimbursed) or left out with its reason, and the late arrivals it billed from earlier
periods."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.charging.choices import (
    HomeApproval,
    LocationKind,
    SessionPurpose,
    SessionStatus,
    UnpricedReason,
)
from apps.charging.models import ChargingSession
from apps.payments import services
from apps.payments.choices import BillingRunStatus, LeftOutReason
from apps.payments.models import BillingRun
from apps.payments.selectors import billing_run_left_out
from tests.factories import ChargingSessionFactory, CostCenterFactory, DriverFactory, FleetFactory
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def fleet():
    return FleetFactory(time_zone="Europe/Amsterdam", currency="EUR")


@pytest.fixture
def driver(fleet):
    return DriverFactory(fleet=fleet, cost_center=CostCenterFactory(fleet=fleet))


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


def home(driver, day: int, **fields) -> ChargingSession:
    fields.setdefault("purpose", SessionPurpose.BUSINESS)
    return priced_session_create(
        driver=driver, location_kind=LocationKind.HOME, started_at=utc(2026, 10, day, 18), **fields
    )


def test_a_run_accounts_for_every_session_of_its_period(run_billing, fleet, driver):
    priced_session_create(driver=driver, started_at=utc(2026, 9, 12, 8))
    priced_session_create(driver=driver, started_at=utc(2026, 10, 2, 8))
    for day in (3, 4):
        priced_session_create(
            driver=driver, purpose=SessionPurpose.BUSINESS, started_at=utc(2026, 10, day, 8)
        )
    home(driver, 5)
    home(driver, 6, home_approval=HomeApproval.PENDING)
    home(driver, 7, home_approval=HomeApproval.PENDING, purpose=SessionPurpose.PRIVATE)
    home(driver, 8, home_approval=HomeApproval.REJECTED)
    home(driver, 9, purpose=SessionPurpose.PRIVATE)
    home(driver, 10, home_approval=HomeApproval.NOT_REQUIRED)
    priced_session_create(
        driver=driver, started_at=utc(2026, 10, 11, 8), status=SessionStatus.INVALID
    )
    without_price(
        priced_session_create(driver=driver, started_at=utc(2026, 10, 12, 8)),
        UnpricedReason.NO_TARIFF,
    )
    without_price(
        priced_session_create(
            driver=driver, location_kind=LocationKind.PUBLIC, started_at=utc(2026, 10, 13, 8)
        ),
        UnpricedReason.COST_PENDING,
    )
    without_price(
        priced_session_create(driver=driver, started_at=utc(2026, 10, 14, 8)),
        UnpricedReason.TARIFF_CURRENCY,
    )
    without_price(priced_session_create(driver=driver, started_at=utc(2026, 10, 15, 8)))
    priced_session_create(driver=driver, started_at=utc(2026, 10, 16, 8), price_currency="USD")
    other_driver = DriverFactory(fleet=fleet)
    ChargingSessionFactory(
        fleet=fleet, driver=other_driver, active=True, started_at=utc(2026, 10, 31, 20)
    )
    ChargingSessionFactory(
        fleet=fleet, driver=DriverFactory(fleet=fleet), active=True, started_at=utc(2026, 11, 1)
    )
    priced_session_create(driver=driver, started_at=utc(2026, 11, 2, 8))
    priced_session_create(driver=DriverFactory(), started_at=utc(2026, 10, 17, 8))
    unknown_tag = priced_session_create(driver=driver, started_at=utc(2026, 10, 18, 8))
    ChargingSession.objects.filter(pk=unknown_tag.pk).update(driver=None, source="ocpp")

    run = run_billing(fleet, "2026-10")

    assert run.status == BillingRunStatus.COMPLETED
    assert (
        run.invoiced_session_count,
        run.allocated_session_count,
        run.reimbursed_session_count,
        run.earlier_session_count,
        run.session_count,
    ) == (2, 2, 1, 1, 5)
    assert run.left_out_reasons == {
        LeftOutReason.STILL_CHARGING: 1,
        LeftOutReason.INVALID: 1,
        LeftOutReason.NO_DRIVER: 1,
        LeftOutReason.HOME_PENDING: 2,
        LeftOutReason.HOME_REJECTED: 1,
        LeftOutReason.HOME_PRIVATE: 1,
        LeftOutReason.HOME_NOT_CLAIMED: 1,
        LeftOutReason.NO_TARIFF: 1,
        LeftOutReason.TARIFF_CURRENCY: 1,
        LeftOutReason.COST_PENDING: 1,
        LeftOutReason.NOT_PRICED_YET: 1,
        LeftOutReason.OTHER_CURRENCY: 1,
    }
    assert [reason for reason, _ in billing_run_left_out(run)] == [
        reason for reason in LeftOutReason.values if reason in run.left_out_reasons
    ]
    assert run.left_out_count == 13
    of_the_period = ChargingSession.objects.filter(
        fleet=fleet, ended_at__gte=run.period_start, ended_at__lt=run.period_end
    ).count()
    still_charging = 1
    assert of_the_period + still_charging == (
        run.session_count - run.earlier_session_count + run.left_out_count
    )


def test_a_session_priced_after_its_driver_was_billed_is_left_for_the_next_run(
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
        price_basis="tariff",
        price_currency="EUR",
        price_excl_vat=D("6.00"),
        price_vat=D("1.26"),
        price_incl_vat=D("7.26"),
    )

    with django_capture_on_commit_callbacks():
        services.billing_run_finalize(run=BillingRun.objects.get(pk=run.pk))

    run.refresh_from_db()
    assert (run.status, run.session_count) == (BillingRunStatus.COMPLETED, 1)
    assert run.left_out_reasons == {LeftOutReason.NEXT_RUN: 1}


def test_a_period_whose_every_session_was_billed_leaves_nothing_out(run_billing, fleet, driver):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 2, 8))

    run = run_billing(fleet, "2026-10")

    assert (run.session_count, run.left_out_count, run.left_out_reasons) == (1, 0, {})


def test_every_reason_a_session_has_no_price_is_a_reason_a_run_names():
    assert set(UnpricedReason.values) <= set(LeftOutReason.values)
