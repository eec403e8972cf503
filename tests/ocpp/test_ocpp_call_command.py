"""`manage.py ocpp_call`: any central-system call to a connected station, through the running
gateway, with the charger's answer printed as JSON."""

import asyncio
import datetime as dt
import json
import time
from datetime import UTC
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.charging.charger_calls import charger_call_request, charger_calls_take_queued
from apps.charging.chargers import charging_station_password_set
from apps.charging.choices import ChargerCallStatus
from apps.charging.models import ChargerCall, ChargingStation
from tests.factories import ChargingStationFactory
from tests.ocpp.charge_points import STATION_PASSWORD, charger_connected
from tests.ocpp.threads import off_the_loop

pytestmark = pytest.mark.postgres


@pytest.fixture
def station():
    station = ChargingStationFactory(ocpp_identity="CP-CALLED")
    charging_station_password_set(station=station, password=STATION_PASSWORD)
    return station


def _until_connected(station) -> None:
    deadline = time.monotonic() + 10
    while not ChargingStation.objects.get(pk=station.pk).is_connected:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _ocpp_call(*arguments) -> str:
    out = StringIO()
    call_command("ocpp_call", *arguments, stdout=out)
    return out.getvalue()


def _while_connected(gateway, station, *arguments):
    async def run():
        async with charger_connected(gateway.port, station.ocpp_identity):
            await off_the_loop(_until_connected, station)
            return await off_the_loop(_ocpp_call, *arguments)

    return asyncio.run(run())


def test_a_call_reaches_the_charger_and_its_answer_is_printed_as_json(gateway, station):
    printed = _while_connected(
        gateway,
        station,
        "--identity",
        "CP-CALLED",
        "GetConfiguration",
        '{"key": ["HeartbeatInterval"]}',
    )

    assert json.loads(printed) == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
    }
    call = ChargerCall.objects.get()
    assert (call.action, call.payload, call.status) == (
        "GetConfiguration",
        {"key": ["HeartbeatInterval"]},
        ChargerCallStatus.ANSWERED,
    )


def test_a_call_the_charger_does_not_implement_fails_with_its_callerror(gateway, station):
    with pytest.raises(CommandError) as failed:
        _while_connected(gateway, station, "--identity", "CP-CALLED", "ClearCache")

    assert str(failed.value).startswith("ClearCache to CP-CALLED failed: NotImplemented")
    assert ChargerCall.objects.get().status == ChargerCallStatus.FAILED


def test_a_payload_that_does_not_fit_the_action_fails_without_reaching_the_charger(
    gateway, station
):
    with pytest.raises(CommandError) as failed:
        _while_connected(gateway, station, "--identity", "CP-CALLED", "Reset", '{"type": "Gentle"}')

    assert "Reset to CP-CALLED failed:" in str(failed.value)
    assert "Gentle" in str(failed.value)


def test_a_call_to_a_station_not_connected_fails_at_once(gateway, station):
    with pytest.raises(CommandError) as failed:
        _ocpp_call("--identity", "CP-CALLED", "Reset", '{"type": "Soft"}')

    assert str(failed.value) == "Reset to CP-CALLED failed: The station is not connected."


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--identity", "CP-NOBODY", "Reset", "{}"],
            "--identity: no station connects as 'CP-NOBODY'.",
        ),
        (["--identity", "CP-CALLED", "Reset", "{type"], "JSON: not valid JSON"),
        (["--identity", "CP-CALLED", "Reset", "[]"], "PAYLOAD: The payload must be a JSON object."),
        (
            ["--identity", "CP-CALLED", "BootNotification", "{}"],
            "ACTION: 'BootNotification' is not a call",
        ),
    ],
    ids=["unknown station", "not json", "not an object", "a charger's action"],
)
def test_bad_arguments_are_refused_and_nothing_is_queued(db, station, arguments, message):
    with pytest.raises(CommandError) as refused:
        _ocpp_call(*arguments)

    assert str(refused.value).startswith(message)
    assert not ChargerCall.objects.exists()


def test_a_call_no_gateway_took_in_time_fails_and_is_never_sent(db, station, settings):
    settings.OCPP_CALL_TIMEOUT_SECONDS = 30
    queued_at = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    call = charger_call_request(
        station=station, action="Reset", payload={"type": "Hard"}, now=queued_at
    )

    sent = charger_calls_take_queued(
        connected={"CP-CALLED"}, now=queued_at + dt.timedelta(seconds=31)
    )

    assert sent == []
    call.refresh_from_db()
    assert (call.status, call.error) == (
        ChargerCallStatus.FAILED,
        "No gateway took the call in time; it was not sent.",
    )
