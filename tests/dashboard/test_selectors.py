"""The dashboard's figures of one fleet: right, in the fleet's zone and currency, never counting
another fleet's rows, and read in the same number of queries whatever the fleet's size."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from apps.charging.choices import LocationKind, SessionStatus
from apps.dashboard.selectors import (
    ChargingNow,
    dashboard_charging_now,
    dashboard_cost_by_cost_center,
    dashboard_days,
    dashboard_energy_by_depot,
    dashboard_energy_by_location_kind,
    dashboard_last_billing_run,
    dashboard_months,
    month_start,
)
from apps.payments.choices import BillingRunStatus
from tests.dashboard.charging_rows import NOW, billing_run_create, fleet_charging_create
from tests.factories import FleetFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FIGURE_QUERIES = 7


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def charging():
    """Our fleet's charging, twice over, beside another fleet's in the same database."""
    fleet_charging_create(FleetFactory(name="Other fleet", time_zone="Europe/Amsterdam"), scale=3)
    return fleet_charging_create(FleetFactory(time_zone="Europe/Amsterdam"), scale=2)


def counted(sessions):
    return [session for session in sessions if session.status != SessionStatus.INVALID]


def local_month(session) -> tuple[int, int]:
    started = session.started_at.astimezone(AMSTERDAM)
    return started.year, started.month


def this_month(sessions):
    return [session for session in counted(sessions) if local_month(session) == (2026, 12)]


def euro_cost(sessions) -> Decimal:
    return sum(
        (
            session.price_incl_vat
            for session in sessions
            if session.price_incl_vat is not None and session.price_currency == "EUR"
        ),
        Decimal("0.00"),
    )


def energy(sessions) -> int:
    return sum(session.energy_wh or 0 for session in sessions)


def all_figures(fleet):
    return (
        dashboard_charging_now(fleet=fleet),
        dashboard_months(fleet=fleet, now=NOW),
        dashboard_days(fleet=fleet, now=NOW),
        dashboard_energy_by_depot(fleet=fleet, now=NOW),
        dashboard_energy_by_location_kind(fleet=fleet, now=NOW),
        dashboard_cost_by_cost_center(fleet=fleet, now=NOW),
        dashboard_last_billing_run(fleet=fleet),
    )


@pytest.mark.parametrize("scale", [1, 6])
def test_every_figure_is_read_in_the_same_number_of_queries_whatever_the_fleet_size(
    django_assert_num_queries, scale
):
    fleet = fleet_charging_create(FleetFactory(), scale=scale).fleet
    billing_run_create(
        fleet, "2026-11", dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC)
    )

    with django_assert_num_queries(FIGURE_QUERIES):
        figures = all_figures(fleet)

    assert figures[0].sessions == scale


def test_months_are_the_fleets_months_in_its_zone():
    assert month_start(NOW, AMSTERDAM) == dt.datetime(2026, 12, 1, tzinfo=AMSTERDAM)
    assert month_start(NOW, AMSTERDAM, months_back=1) == dt.datetime(2026, 11, 1, tzinfo=AMSTERDAM)
    assert month_start(dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC), AMSTERDAM) == dt.datetime(
        2026, 2, 1, tzinfo=AMSTERDAM
    )
    assert month_start(
        dt.datetime(2026, 1, 15, tzinfo=UTC), AMSTERDAM, months_back=1
    ) == dt.datetime(2025, 12, 1, tzinfo=AMSTERDAM)


def test_energy_and_cost_this_month_against_last_month(charging):
    this, last = dashboard_months(fleet=charging.fleet, now=NOW)

    expected_this = this_month(charging.sessions)
    expected_last = [s for s in counted(charging.sessions) if local_month(s) == (2026, 11)]
    assert (this.sessions, this.energy_wh, this.cost) == (
        len(expected_this),
        energy(expected_this),
        euro_cost(expected_this),
    )
    assert (last.sessions, last.energy_wh, last.cost) == (
        len(expected_last),
        energy(expected_last),
        euro_cost(expected_last),
    )
    assert isinstance(this.cost, Decimal)
    assert this.start == dt.datetime(2026, 12, 1, tzinfo=AMSTERDAM)


def test_a_fleet_without_sessions_reads_zeros_beside_a_busy_fleet(charging):
    empty = FleetFactory()

    this, last = dashboard_months(fleet=empty, now=NOW)

    assert (this.sessions, this.energy_wh, this.cost) == (0, 0, Decimal("0.00"))
    assert (last.sessions, last.energy_wh, last.cost) == (0, 0, Decimal("0.00"))
    assert dashboard_charging_now(fleet=empty) == ChargingNow(sessions=0, vehicles=0)
    assert dashboard_energy_by_depot(fleet=empty, now=NOW) == []
    assert dashboard_cost_by_cost_center(fleet=empty, now=NOW) == []
    kinds = dashboard_energy_by_location_kind(fleet=empty, now=NOW)
    assert {share.energy_wh for share in kinds} == {0}
    days = dashboard_days(fleet=empty, now=NOW)
    assert {(day.sessions, day.energy_wh) for day in days} == {(0, 0)}


def test_sessions_and_energy_per_local_day_over_the_last_30_days(charging):
    days = dashboard_days(fleet=charging.fleet, now=NOW)

    expected = defaultdict(lambda: [0, 0])
    for session in counted(charging.sessions):
        expected[session.started_at.astimezone(AMSTERDAM).date()][0] += 1
        expected[session.started_at.astimezone(AMSTERDAM).date()][1] += session.energy_wh or 0
    first_day = dt.date(2026, 11, 7)
    assert [day.day for day in days] == [first_day + dt.timedelta(days=n) for n in range(30)]
    assert [(day.sessions, day.energy_wh) for day in days] == [
        tuple(expected[day.day]) if day.day in expected else (0, 0) for day in days
    ]
    assert sum(day.sessions for day in days) > 0


def test_energy_per_depot_this_month(charging):
    shares = dashboard_energy_by_depot(fleet=charging.fleet, now=NOW)

    expected = defaultdict(int)
    for session in this_month(charging.sessions):
        if session.connector_id is not None:
            expected[session.connector.station.depot_id] += session.energy_wh or 0
    assert {share.key: share.energy_wh for share in shares} == dict(expected)
    names = {depot.pk: depot.name for depot in charging.depots}
    assert {share.key: share.label for share in shares} == {key: names[key] for key in expected}
    assert [share.energy_wh for share in shares] == sorted(expected.values(), reverse=True)


def test_energy_per_location_kind_this_month(charging):
    shares = dashboard_energy_by_location_kind(fleet=charging.fleet, now=NOW)

    assert [share.key for share in shares] == [
        LocationKind.DEPOT,
        LocationKind.HOME,
        LocationKind.PUBLIC,
    ]
    assert {share.key: share.energy_wh for share in shares} == {
        kind: energy(s for s in this_month(charging.sessions) if s.location_kind == kind)
        for kind in LocationKind.values
    }


def test_cost_per_cost_center_this_month_in_the_fleets_currency(charging):
    shares = dashboard_cost_by_cost_center(fleet=charging.fleet, now=NOW)

    sessions = this_month(charging.sessions)
    expected = {
        center: (
            euro_cost(s for s in sessions if s.cost_center_id == center),
            energy(s for s in sessions if s.cost_center_id == center),
        )
        for center in {s.cost_center_id for s in sessions}
    }
    assert {share.key: (share.cost, share.energy_wh) for share in shares} == expected
    assert [share.cost for share in shares] == sorted(
        (cost for cost, _energy in expected.values()), reverse=True
    )
    labels = {share.key: share.label for share in shares}
    assert labels[None] == "No cost center"
    center = charging.cost_centers[0]
    assert labels[center.pk] == f"{center.code} {center.name}"


def test_charging_now_counts_active_sessions_and_their_vehicles(charging):
    active = [s for s in charging.sessions if s.status == SessionStatus.ACTIVE]

    assert dashboard_charging_now(fleet=charging.fleet) == ChargingNow(
        sessions=len(active), vehicles=len({s.vehicle_id for s in active})
    )


def test_the_last_billing_run_is_the_fleets_latest_period():
    fleet, other = FleetFactory(), FleetFactory()
    billing_run_create(
        fleet, "2026-10", dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC)
    )
    november = billing_run_create(
        fleet,
        "2026-11",
        dt.datetime(2026, 11, 1, tzinfo=UTC),
        dt.datetime(2026, 12, 1, tzinfo=UTC),
        status=BillingRunStatus.FAILED,
    )
    billing_run_create(
        other, "2026-12", dt.datetime(2026, 12, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC)
    )

    assert dashboard_last_billing_run(fleet=fleet) == november
    assert dashboard_last_billing_run(fleet=FleetFactory()) is None
