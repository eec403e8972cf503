"""The gateway's worker processes run the charging services on the database of the process
that started them, hand back what the services return or refuse, and count the services
waiting for them; the gateway records what a charger says through them."""

import asyncio
import datetime as dt
import os
from datetime import UTC

import pytest
from django.db import connection
from ocpp.v16 import call

from apps.charging.chargers import (
    charging_station_authenticated,
    charging_station_heartbeat_record,
    charging_station_password_set,
)
from apps.charging.choices import ConnectorStatus
from apps.charging.exceptions import StationPasswordInvalid
from apps.charging.models import ChargingSession, ChargingStation, MeterValue
from apps.ocpp.database import DatabaseProcesses, DatabaseThreads, gateway_database
from tests.factories import (
    ChargeTokenFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DriverFactory,
)
from tests.ocpp.charge_points import STATION_PASSWORD, charger_connected, energy_sample, timestamp
from tests.ocpp.conftest import gateway_running
from tests.ocpp.processes import pause_then_answer, process_and_database

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MOMENT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def station():
    station = ChargingStationFactory(ocpp_identity="CP-PROCESSES")
    charging_station_password_set(station=station, password=STATION_PASSWORD)
    return station


def in_processes(size: int, scenario):
    """Run `scenario(processes)` on an event loop, then end the processes."""

    async def main():
        processes = DatabaseProcesses(size)
        try:
            return await scenario(processes)
        finally:
            await asyncio.to_thread(processes.close)

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("processes", "kind", "size"),
    [(0, DatabaseThreads, 8), (2, DatabaseProcesses, 2)],
    ids=["threads by default", "processes when set"],
)
def test_the_gateway_runs_its_services_where_the_setting_says(settings, processes, kind, size):
    settings.OCPP_DATABASE_PROCESSES = processes

    database = gateway_database()
    database.close()

    assert (type(database), database.size) == (kind, size)


def test_a_service_runs_in_another_process_on_the_same_database(station):
    async def scenario(processes):
        where = await processes.run(process_and_database)
        await processes.run(charging_station_heartbeat_record, station_id=station.pk, at=MOMENT)
        return where

    pid, database = in_processes(1, scenario)

    assert pid != os.getpid()
    assert database == connection.settings_dict["NAME"]
    station.refresh_from_db()
    assert station.last_heartbeat_at == MOMENT


def test_what_a_service_returns_or_refuses_comes_back_whole(station):
    password_before = ChargingStation.objects.get(pk=station.pk).ocpp_password

    async def scenario(processes):
        found = await processes.run(
            charging_station_authenticated,
            ocpp_identity=station.ocpp_identity,
            password=STATION_PASSWORD,
        )
        with pytest.raises(StationPasswordInvalid) as refused:
            await processes.run(charging_station_password_set, station=station, password="short")
        return found, refused.value

    found, refusal = in_processes(1, scenario)

    assert isinstance(found, ChargingStation)
    assert (found.pk, found.ocpp_identity, found.fleet_id) == (
        station.pk,
        station.ocpp_identity,
        station.fleet_id,
    )
    assert (refusal.code, refusal.field) == ("charging.station_password_invalid", "password")
    assert "16 to 40 printable characters" in refusal.message
    assert ChargingStation.objects.get(pk=station.pk).ocpp_password == password_before


def test_the_backlog_counts_the_services_waiting_for_a_process():
    async def scenario(processes):
        await processes.run(pause_then_answer, seconds=0, answer="started")
        calls = [
            asyncio.create_task(processes.run(pause_then_answer, seconds=0.5, answer=str(n)))
            for n in range(3)
        ]
        await asyncio.sleep(0.1)
        backlog_while_busy = processes.backlog
        answers = await asyncio.gather(*calls)
        return backlog_while_busy, answers, processes.backlog

    backlog_while_busy, answers, backlog_after = in_processes(1, scenario)

    assert backlog_while_busy == 2
    assert answers == ["0", "1", "2"]
    assert backlog_after == 0


def test_a_service_whose_caller_gave_up_is_counted_until_its_process_finishes_it():
    async def scenario(processes):
        await processes.run(pause_then_answer, seconds=0, answer="started")
        given_up = asyncio.create_task(processes.run(pause_then_answer, seconds=1, answer="late"))
        waiting = [
            asyncio.create_task(processes.run(pause_then_answer, seconds=0, answer=str(n)))
            for n in range(2)
        ]
        await asyncio.sleep(0.3)
        given_up.cancel()
        await asyncio.sleep(0.1)
        backlog_while_the_first_runs = processes.backlog
        answers = await asyncio.gather(*waiting)
        return backlog_while_the_first_runs, answers, processes.backlog

    backlog_while_the_first_runs, answers, backlog_after = in_processes(1, scenario)

    assert backlog_while_the_first_runs == 2
    assert answers == ["0", "1"]
    assert backlog_after == 0


def test_the_gateway_records_a_chargers_start_and_readings_through_its_processes(station, settings):
    settings.OCPP_TAG_SYNC_SECONDS = 0
    settings.REDIS_URL = ""
    ConnectorFactory(station=station, connector_id=1)
    token = ChargeTokenFactory(driver=DriverFactory(fleet=station.fleet), uid="04AABBCCDD")

    async def charge(port):
        async with charger_connected(port, station.ocpp_identity) as charger:
            boot = await charger.boot()
            await charger.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
            )
            started = await charger.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="04aabbccdd",
                    meter_start=1_000,
                    timestamp=timestamp(MOMENT),
                )
            )
            await charger.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[energy_sample(MOMENT + dt.timedelta(minutes=1), 1_200)],
                )
            )
            return boot, started

    with gateway_running(database=DatabaseProcesses(2)) as gateway:
        boot, started = asyncio.run(charge(gateway.port))

    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert boot.status == "Accepted"
    assert started.id_tag_info == {"status": "Accepted"}
    assert (session.token_id, session.started_at, session.meter_start_wh) == (
        token.pk,
        MOMENT,
        1_000,
    )
    assert list(MeterValue.objects.values_list("session_id", "energy_wh")) == [(session.pk, 1_200)]
    assert session.connector.status == ConnectorStatus.PREPARING
