"""The sessions' day totals PostgreSQL's triggers keep: after any write to the sessions, or to
what decides their day and their depot, they are the sessions summed as they are."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F, Sum

from apps.charging.choices import LocationKind, SessionStatus
from apps.charging.models import ChargingDayTotal, ChargingSession
from apps.charging.selectors import charging_day_totals, charging_day_totals_from_sessions
from apps.charging.services import charging_day_totals_deferred, charging_session_invalidate
from apps.fleets.models import Fleet
from tests.dashboard.charging_rows import NOW, fleet_charging_create
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DepotFactory,
    FleetFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

KEYS = ("day", "location_kind", "depot_id", "cost_center_id", "price_currency")


def summed(rows) -> list[tuple]:
    """Rows of charging_day_totals summed by their whole key, in the key's order."""
    return sorted(
        (
            (tuple(row[key] for key in KEYS), row["count"], row["energy"], row["price"])
            for row in rows.values(*KEYS).annotate(
                count=Sum("sessions"),
                energy=Sum("energy_wh", default=0),
                price=Sum("price_incl_vat", default=Decimal("0.00")),
            )
        ),
        key=str,
    )


def assert_totals_are_the_sessions(fleet: Fleet) -> list[tuple]:
    kept = summed(charging_day_totals(fleet=fleet))
    assert kept == summed(charging_day_totals_from_sessions(fleet=fleet))
    return kept


@pytest.fixture
def charging():
    return fleet_charging_create(FleetFactory(time_zone="Europe/Amsterdam"), scale=2)


def test_the_totals_are_the_sessions_of_each_local_day_and_place(charging):
    kept = assert_totals_are_the_sessions(charging.fleet)

    depot_of_the_first = charging.depots[0].pk
    first_of_december = [
        figures
        for key, *figures in kept
        if key[:3] == (dt.date(2026, 12, 1), LocationKind.DEPOT, depot_of_the_first)
    ]
    # The 00:30 local sessions under the first cost center, the morning ones under the second:
    # two of each at scale 2.
    assert [count for count, _, _ in first_of_december] == [2, 2]
    assert (
        sum(count for _, count, _, _ in kept)
        == ChargingSession.objects.filter(fleet=charging.fleet)
        .exclude(status=SessionStatus.INVALID)
        .count()
    )


def test_changes_inserts_and_deletes_keep_the_totals_equal_to_the_sessions(charging):
    sessions = ChargingSession.objects.filter(fleet=charging.fleet)
    completed = sessions.filter(status=SessionStatus.COMPLETED).order_by("pk")

    charging_session_invalidate(session=completed[0], reason="A test charge.")
    sessions.filter(pk=completed[1].pk).update(
        started_at=dt.datetime(2026, 12, 5, 23, 30, tzinfo=dt.UTC),
        ended_at=dt.datetime(2026, 12, 6, 1, 30, tzinfo=dt.UTC),
        meter_stop_wh=F("meter_start_wh") + 77_777,
        energy_wh=77_777,
    )
    sessions.filter(pk=completed[2].pk).update(
        price_incl_vat=Decimal("12.34"), price_currency="EUR"
    )
    sessions.filter(pk=completed[3].pk).update(cost_center=charging.cost_centers[-1])
    sessions.filter(pk=completed[4].pk).update(location_kind=LocationKind.PUBLIC, connector=None)
    sessions.filter(pk=completed[5].pk).delete()
    sessions.filter(status=SessionStatus.INVALID).order_by("pk").first().delete()
    ChargingSessionFactory(
        fleet=charging.fleet,
        started_at=NOW,
        ended_at=NOW + dt.timedelta(hours=1),
        location_kind=LocationKind.HOME,
    )

    assert_totals_are_the_sessions(charging.fleet)


def test_billing_marking_sessions_billed_writes_no_total(charging):
    before = _total_row_versions()

    ChargingSession.objects.filter(fleet=charging.fleet).update(billed_at=NOW, updated_at=NOW)

    assert _total_row_versions() == before


def test_a_station_moved_to_another_depot_takes_its_sessions_along(charging):
    station = charging.sessions[0].connector.station
    new_depot = DepotFactory(fleet=charging.fleet, name="New depot")

    station.depot = new_depot
    station.save(update_fields=["depot"])

    kept = assert_totals_are_the_sessions(charging.fleet)
    assert any(key[2] == new_depot.pk for key, *_ in kept)


def test_a_connector_moved_to_another_station_takes_its_sessions_along(charging):
    connector = charging.sessions[0].connector
    new_depot = DepotFactory(fleet=charging.fleet, name="Other depot")

    connector.station = ChargingStationFactory(fleet=charging.fleet, depot=new_depot)
    connector.save(update_fields=["station"])

    kept = assert_totals_are_the_sessions(charging.fleet)
    assert any(key[2] == new_depot.pk for key, *_ in kept)


def test_a_fleet_whose_zone_changes_has_its_sessions_summed_again_on_its_new_days(charging):
    Fleet.objects.filter(pk=charging.fleet.pk).update(time_zone="UTC")
    charging.fleet.refresh_from_db()

    kept = assert_totals_are_the_sessions(charging.fleet)
    assert (dt.date(2026, 11, 30), LocationKind.DEPOT, charging.depots[0].pk) in {
        key[:3] for key, *_ in kept
    }


def test_another_fleets_sessions_never_reach_the_fleets_totals(charging):
    other = FleetFactory()
    ChargingSessionFactory(
        fleet=other,
        started_at=NOW,
        ended_at=NOW + dt.timedelta(hours=1),
        location_kind=LocationKind.DEPOT,
        connector=ConnectorFactory(station=ChargingStationFactory(fleet=other)),
    )

    assert_totals_are_the_sessions(charging.fleet)
    assert summed(charging_day_totals(fleet=other)) == summed(
        charging_day_totals_from_sessions(fleet=other)
    )
    assert ChargingDayTotal.objects.filter(fleet=other).aggregate(Sum("sessions")) == {
        "sessions__sum": 1
    }


def test_sessions_written_while_deferred_are_summed_once_at_the_end(charging):
    before = summed(charging_day_totals(fleet=charging.fleet))

    with charging_day_totals_deferred(fleet=charging.fleet):
        ChargingSessionFactory(
            fleet=charging.fleet,
            started_at=NOW,
            ended_at=NOW + dt.timedelta(hours=1),
            location_kind=LocationKind.HOME,
        )
        during = summed(charging_day_totals(fleet=charging.fleet))

    assert during == before
    assert assert_totals_are_the_sessions(charging.fleet) != before


def test_the_load_seed_leaves_each_fleets_totals_equal_to_its_sessions():
    call_command("seed_demo", "--sessions", "500", "--fleets", "2", stdout=io.StringIO())

    fleets = Fleet.objects.filter(slug__startswith="load-").order_by("slug")
    counted = [
        ChargingSession.objects.filter(fleet=fleet).exclude(status=SessionStatus.INVALID).count()
        for fleet in fleets
    ]
    assert sum(counted) > 490
    assert [
        sum(row[1] for row in assert_totals_are_the_sessions(fleet)) for fleet in fleets
    ] == counted


def _total_row_versions() -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, xmin::text FROM {ChargingDayTotal._meta.db_table} ORDER BY id"  # noqa: S608
        )
        return cursor.fetchall()
