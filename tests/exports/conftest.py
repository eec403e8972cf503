"""Fixtures of the exports tests: a fleet with a billed month to export."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from apps.charging.choices import LocationKind, SessionPurpose, SessionStatus
from apps.fleets.choices import MembershipRole
from tests.factories import (
    ChargingSessionFactory,
    DriverFactory,
    MembershipFactory,
    StaffUserFactory,
)
from tests.payments.builders import billing_fleet_create, priced_session_create

OCTOBER = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
AFTER_OCTOBER = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)

BREAKDOWN = {
    "ocpi": {
        "currency": "EUR",
        "total_cost": {"excl_vat": "7.41", "incl_vat": "8.97"},
        "total_fixed_cost": {"excl_vat": "1.00", "incl_vat": "1.21"},
        "total_energy": "12.5",
        "total_energy_cost": {"excl_vat": "5.00", "incl_vat": "6.05"},
        "total_time": "2.0",
        "total_time_cost": {"excl_vat": "0.41", "incl_vat": "0.50"},
        "total_parking_time": "0.2500",
        "total_parking_cost": {"excl_vat": "1.00", "incl_vat": "1.21"},
    }
}


@pytest.fixture
def frozen_after_october():
    with time_machine.travel(AFTER_OCTOBER, tick=False):
        yield AFTER_OCTOBER


@pytest.fixture
def billed_fleet(run_billing, frozen_after_october):
    """A fleet billed for October 2026: four drivers' priced sessions (invoiced, allocated,
    reimbursed), a session with a full price breakdown, a driver whose name a spreadsheet
    would run as a formula, one with a delimiter and quotes in it, and sessions the run left
    out (still charging, invalid)."""
    fleet = billing_fleet_create(drivers=4, sessions_per_driver=5, month_start=OCTOBER)
    awkward = DriverFactory(fleet=fleet, first_name="=HYPERLINK(1)", last_name='O"Brien; Jr')
    priced_session_create(
        driver=awkward,
        started_at=OCTOBER + dt.timedelta(days=3, hours=6),
        ended_at=OCTOBER + dt.timedelta(days=3, hours=8, minutes=30, seconds=7),
        price_excl_vat=Decimal("7.41"),
        price_vat=Decimal("1.56"),
        price_breakdown=BREAKDOWN,
    )
    ChargingSessionFactory(
        fleet=fleet,
        driver=awkward,
        location_kind=LocationKind.DEPOT,
        purpose=SessionPurpose.BUSINESS,
        started_at=OCTOBER + dt.timedelta(days=30, hours=20),
        active=True,
    )
    ChargingSessionFactory(
        fleet=fleet,
        driver=awkward,
        location_kind=LocationKind.PUBLIC,
        purpose=SessionPurpose.PRIVATE,
        started_at=OCTOBER + dt.timedelta(days=5),
        ended_at=OCTOBER + dt.timedelta(days=5, hours=1),
        status=SessionStatus.INVALID,
        invalid_reason="Duplicate of another session.",
    )
    run_billing(fleet, "2026-10")
    return fleet


@pytest.fixture
def finance_user(billed_fleet):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=billed_fleet, role=MembershipRole.FINANCE)
    return user
