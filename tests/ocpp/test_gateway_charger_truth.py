"""The charger is the source of truth: what it reports has happened, so the gateway records
it, flags what a manager should see, and never refuses it."""

import asyncio
import datetime as dt
import time
from datetime import UTC

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v16 import call

from apps.charging.chargers import charging_station_password_set
from apps.charging.choices import SessionStatus, StationStatus
from apps.charging.models import ChargingSession, ChargingStation
from apps.drivers.choices import DriverStatus
from tests.charging.test_admin import depot_tariff_create
from tests.factories import (
    ChargeTokenFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DriverFactory,
    FleetFactory,
)
from tests.ocpp.charge_points import STATION_PASSWORD, charger_connected, energy_sample, timestamp
from tests.ocpp.threads import off_the_loop

pytestmark = pytest.mark.postgres

HOURS_AGO = dt.datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def depot():
    fleet = FleetFactory()
    station = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-TRUTH")
    charging_station_password_set(station=station, password=STATION_PASSWORD)
    ConnectorFactory(station=station, connector_id=1)
    ConnectorFactory(station=station, connector_id=2)
    token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid="TAG-ANNA")
    depot_tariff_create(fleet)
    return station, token


def _start(connector_id: int, id_tag: str, meter_start: int, moment: dt.datetime):
    return call.StartTransaction(
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start=meter_start,
        timestamp=timestamp(moment),
    )


def test_an_offline_replay_of_start_meter_values_and_stop_makes_one_priced_session(gateway, depot):
    station, _ = depot

    async def replay():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            started = await charger.call(_start(1, "TAG-ANNA", 50_000, HOURS_AGO))
            again = await charger.call(_start(1, "TAG-ANNA", 50_000, HOURS_AGO))
            for minutes, wh in ((15, 52_000), (30, 54_000), (15, 52_000)):
                await charger.call(
                    call.MeterValues(
                        connector_id=1,
                        transaction_id=started.transaction_id,
                        meter_value=[energy_sample(HOURS_AGO + dt.timedelta(minutes=minutes), wh)],
                    )
                )
            stop = call.StopTransaction(
                meter_stop=60_000,
                timestamp=timestamp(HOURS_AGO + dt.timedelta(hours=1)),
                transaction_id=started.transaction_id,
                transaction_data=[energy_sample(HOURS_AGO + dt.timedelta(minutes=45), 57_000)],
            )
            await charger.call(stop)
            await charger.call(stop)
            return started, again

    started, again = asyncio.run(replay())

    assert again.transaction_id == started.transaction_id
    session = ChargingSession.objects.get()
    assert session.pk == started.transaction_id
    assert (session.status, session.started_at, session.ended_at, session.energy_wh) == (
        SessionStatus.COMPLETED,
        HOURS_AGO,
        HOURS_AGO + dt.timedelta(hours=1),
        10_000,
    )
    assert list(session.meter_values.values_list("energy_wh", flat=True)) == [
        52_000,
        54_000,
        57_000,
    ]
    assert session.price_incl_vat is not None


def test_a_start_on_a_connector_still_charging_closes_that_session_as_interrupted(gateway, depot):
    station, token = depot
    other_token = ChargeTokenFactory(driver=DriverFactory(fleet=station.fleet), uid="TAG-BERT")

    async def start_twice():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            first = await charger.call(_start(1, "TAG-ANNA", 10_000, HOURS_AGO))
            await charger.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=first.transaction_id,
                    meter_value=[energy_sample(HOURS_AGO + dt.timedelta(minutes=20), 13_000)],
                )
            )
            second = await charger.call(
                _start(1, "TAG-BERT", 14_000, HOURS_AGO + dt.timedelta(hours=1))
            )
            return first, second

    first, second = asyncio.run(start_twice())

    assert second.id_tag_info == {"status": "Accepted"}
    interrupted = ChargingSession.objects.get(pk=first.transaction_id)
    assert (interrupted.status, interrupted.ended_at, interrupted.meter_stop_wh) == (
        SessionStatus.COMPLETED,
        HOURS_AGO + dt.timedelta(minutes=20),
        13_000,
    )
    assert interrupted.driver_id == token.driver_id
    assert interrupted.charger_issue.startswith(
        "Interrupted: the charger started a new transaction"
    )
    assert interrupted.price_incl_vat is not None
    new = ChargingSession.objects.get(pk=second.transaction_id)
    assert (new.status, new.driver_id, new.charger_issue) == (
        SessionStatus.ACTIVE,
        other_token.driver_id,
        "",
    )


@pytest.mark.parametrize(
    ("token_state", "expected_status", "expected_issue"),
    [
        ({"is_active": False}, "Blocked", "the token is blocked"),
        (
            {"valid_until": dt.datetime(2026, 3, 1, tzinfo=UTC)},
            "Expired",
            "the token expired on 2026-03-01 01:00 CET",
        ),
    ],
    ids=["blocked", "expired"],
)
def test_a_start_with_a_blocked_or_expired_tag_is_recorded_flagged_and_answered_so(
    gateway, depot, token_state, expected_status, expected_issue
):
    station, token = depot
    for field, value in token_state.items():
        setattr(token, field, value)
    token.save()

    async def start():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            return await charger.call(_start(1, "tag-anna", 10_000, HOURS_AGO))

    started = asyncio.run(start())

    assert started.id_tag_info == {"status": expected_status}
    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert session.status == SessionStatus.ACTIVE
    assert session.driver_id == token.driver_id
    assert session.charger_issue == (
        f"Started with a tag the charger should not have accepted: {expected_issue}."
    )


def test_a_start_by_a_suspended_driver_is_recorded_flagged_and_answered_blocked(gateway, depot):
    station, token = depot
    token.driver.status = DriverStatus.SUSPENDED
    token.driver.save()

    async def start():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            return await charger.call(_start(1, "TAG-ANNA", 10_000, HOURS_AGO))

    started = asyncio.run(start())

    assert started.id_tag_info == {"status": "Blocked"}
    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert session.charger_issue == (
        "Started with a tag the charger should not have accepted: the driver is suspended."
    )


def test_a_second_depot_session_of_one_driver_is_recorded_and_flagged(gateway, depot):
    station, _ = depot

    async def start_on_both():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            first = await charger.call(_start(1, "TAG-ANNA", 10_000, HOURS_AGO))
            second = await charger.call(
                _start(2, "TAG-ANNA", 20_000, HOURS_AGO + dt.timedelta(minutes=5))
            )
            return first, second

    first, second = asyncio.run(start_on_both())

    assert second.id_tag_info == {"status": "Accepted"}
    assert ChargingSession.objects.get(pk=second.transaction_id).charger_issue == (
        f"The driver was charging at the same time in session {first.transaction_id}."
    )
    assert ChargingSession.objects.filter(status=SessionStatus.ACTIVE).count() == 2


def test_a_tag_of_another_fleet_is_invalid_at_this_fleets_station(gateway, depot):
    station, _ = depot
    ChargeTokenFactory(driver=DriverFactory(fleet=FleetFactory()), uid="TAG-ELSEWHERE")

    async def authorize():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            return await charger.call(call.Authorize(id_tag="TAG-ELSEWHERE"))

    assert asyncio.run(authorize()).id_tag_info == {"status": "Invalid"}


def test_a_reconnect_replaces_the_old_connection_and_the_station_stays_connected(gateway, depot):
    station, _ = depot

    async def reconnect():
        async with charger_connected(gateway.port, station.ocpp_identity) as first:
            await first.call(call.Heartbeat())
            async with charger_connected(gateway.port, station.ocpp_identity) as second:
                await second.call(call.Heartbeat())
                await asyncio.wait_for(first._connection.wait_closed(), 10)
                close_code = first._connection.close_code
                still_serves = await second.call(call.Heartbeat())
                connected = await off_the_loop(
                    lambda: ChargingStation.objects.get(pk=station.pk).is_connected
                )
                return close_code, still_serves, connected

    close_code, still_serves, connected = asyncio.run(reconnect())

    assert close_code == 4000
    assert still_serves.current_time
    assert connected is True
    assert list(gateway.gateway.connections) == []


def test_a_silent_charger_is_disconnected_and_its_station_shown_offline(gateway, depot, settings):
    station, _ = depot
    settings.OCPP_OFFLINE_AFTER_SECONDS = 1

    async def fall_silent():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            await charger.call(call.Heartbeat())
            await asyncio.wait_for(charger._connection.wait_closed(), 10)
            return charger._connection.close_code

    assert asyncio.run(fall_silent()) == 4001
    deadline = time.monotonic() + 10
    while ChargingStation.objects.get(pk=station.pk).is_connected:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ChargingStation.objects.get(pk=station.pk).status == StationStatus.OFFLINE


def test_a_start_with_a_tag_unknown_to_the_fleet_is_recorded_without_a_driver_and_answered_invalid(
    gateway, depot
):
    station, _ = depot

    async def start_and_stop():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            started = await charger.call(_start(1, "tag-nobody", 10_000, HOURS_AGO))
            stopped = await charger.call(
                call.StopTransaction(
                    meter_stop=15_000,
                    timestamp=timestamp(HOURS_AGO + dt.timedelta(hours=1)),
                    transaction_id=started.transaction_id,
                    id_tag="tag-nobody",
                )
            )
            return started, stopped

    started, stopped = asyncio.run(start_and_stop())

    assert started.id_tag_info == {"status": "Invalid"}
    assert stopped.id_tag_info == {"status": "Invalid"}
    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert (session.driver_id, session.token_id, session.status, session.energy_wh) == (
        None,
        None,
        SessionStatus.COMPLETED,
        5_000,
    )
    assert session.charger_issue == (
        "Started with tag TAG-NOBODY, which no driver of the fleet has: give the session its "
        "driver, or invalidate it."
    )
    assert str(session).startswith(f"Session {session.pk} · driver unknown · ")


def test_a_meter_value_below_the_last_is_refused_with_why_and_nothing_is_stored(gateway, depot):
    station, _ = depot

    async def backwards():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            started = await charger.call(_start(1, "TAG-ANNA", 10_000, HOURS_AGO))
            await charger.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[energy_sample(HOURS_AGO + dt.timedelta(minutes=5), 12_000)],
                )
            )
            with pytest.raises(OCPPError) as refused:
                await charger.call(
                    call.MeterValues(
                        connector_id=1,
                        transaction_id=started.transaction_id,
                        meter_value=[energy_sample(HOURS_AGO + dt.timedelta(minutes=10), 11_000)],
                    ),
                    suppress=False,
                )
            return started, refused.value

    started, refused = asyncio.run(backwards())

    assert refused.code == "PropertyConstraintViolation"
    assert "less than 12000 Wh" in refused.details["cause"]
    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert list(session.meter_values.values_list("energy_wh", flat=True)) == [12_000]
