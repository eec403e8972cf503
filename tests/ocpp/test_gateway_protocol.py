"""Frames a central system must answer with the CALLERROR the OCPP-J 1.6 specification
prescribes, keeping the connection up, and calls it answers without recording anything."""

import asyncio
import base64
import json
import os
import sys
import time

import ocpp.messages
import pytest
from ocpp.v16 import call

from apps.charging.chargers import charging_station_password_set
from apps.charging.models import ChargerMessage, ChargingSession, ChargingStation
from apps.ocpp import central_system
from apps.ocpp.gateway import SWITCH_INTERVAL_SECONDS, gateway_process_configure
from tests.factories import ChargingStationFactory, ConnectorFactory
from tests.ocpp.charge_points import STATION_PASSWORD, charger_connected, raw_connection
from tests.ocpp.conftest import gateway_running

pytestmark = pytest.mark.postgres


@pytest.fixture
def station():
    station = ChargingStationFactory(ocpp_identity="CP-PROTOCOL")
    charging_station_password_set(station=station, password=STATION_PASSWORD)
    ConnectorFactory(station=station, connector_id=1)
    return station


async def _exchange(port: int, identity: str, frames: list[str]) -> list:
    """Send each frame and read one answer to it, then prove the connection still serves a
    Heartbeat."""
    answers = []
    async with raw_connection(port, identity) as connection:
        for frame in frames:
            await connection.send(frame)
            answers.append(json.loads(await asyncio.wait_for(connection.recv(), 10)))
        await connection.send(json.dumps([2, "alive", "Heartbeat", {}]))
        answers.append(json.loads(await asyncio.wait_for(connection.recv(), 10)))
    return answers


@pytest.mark.parametrize(
    ("frame", "expected_error"),
    [
        ("this is not json", ["-1", "FormationViolation"]),
        ('[2, "m1", "Heartbeat"', ["-1", "FormationViolation"]),
        ('{"not": "a list"}', ["-1", "ProtocolError"]),
        ('[2, "m2"]', ["m2", "ProtocolError"]),
        ('[2, "m3", "Heartbeat", "not an object"]', ["m3", "ProtocolError"]),
        ('[2, "m4", "FlyToTheMoon", {}]', ["m4", "NotSupported"]),
        ('[2, "m5", "StartTransaction", {"connectorId": 1}]', ["m5", "ProtocolError"]),
        (
            '[2, "m6", "StartTransaction", {"connectorId": "one", "idTag": "A", '
            '"meterStart": 0, "timestamp": "2026-03-02T08:00:00Z"}]',
            ["m6", "TypeConstraintViolation"],
        ),
        (
            '[2, "m7", "Authorize", {"idTag": "A", "colour": "green"}]',
            ["m7", "FormationViolation"],
        ),
        (
            '[2, "m8", "Authorize", {"idTag": "123456789012345678901"}]',
            ["m8", "TypeConstraintViolation"],
        ),
        (
            '[2, "m9", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", '
            '"status": "Available", "timestamp": "yesterday"}]',
            ["m9", "PropertyConstraintViolation"],
        ),
        ('[2, "m10", "MeterValues", {"connectorId": 1}]', ["m10", "ProtocolError"]),
        (
            '[2, "m11", "MeterValues", {"connectorId": 1.5, "meterValue": []}]',
            ["m11", "TypeConstraintViolation"],
        ),
        (
            '[2, "m12", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", '
            '"status": "Flying"}]',
            ["m12", "FormationViolation"],
        ),
        (
            '[2, "m13", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", '
            '"status": "Available", "colour": "green"}]',
            ["m13", "FormationViolation"],
        ),
    ],
    ids=[
        "not json",
        "cut short",
        "not a list",
        "no action",
        "payload not an object",
        "unknown action",
        "required fields missing",
        "wrong type",
        "unknown field",
        "id tag over 20 characters",
        "unreadable timestamp",
        "meter values without readings",
        "meter values of a fractional connector",
        "status not in the schema",
        "status with an unknown field",
    ],
)
def test_a_bad_frame_gets_the_callerror_of_ocpp16_and_the_connection_stays_up(
    gateway, station, frame, expected_error
):
    answers = asyncio.run(_exchange(gateway.port, station.ocpp_identity, [frame]))

    error, heartbeat = answers
    assert error[0] == 4
    assert error[1:3] == expected_error
    assert heartbeat[0:2] == [3, "alive"]
    assert set(heartbeat[2]) == {"currentTime"}
    assert not ChargingSession.objects.exists()


def test_a_handler_that_fails_unexpectedly_answers_internal_error_and_the_connection_stays_up(
    gateway, station, monkeypatch
):
    def failing_authorization(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(central_system, "charge_token_authorization", failing_authorization)

    answers = asyncio.run(
        _exchange(gateway.port, station.ocpp_identity, ['[2, "a1", "Authorize", {"idTag": "A"}]'])
    )

    error, heartbeat = answers
    assert error[:3] == [4, "a1", "InternalError"]
    assert heartbeat[0:2] == [3, "alive"]


@pytest.mark.parametrize("on_threads", [True, False], ids=["on threads", "on the event loop"])
def test_the_gateway_process_checks_schemas_where_the_setting_says_with_the_same_refusals(
    gateway, station, settings, monkeypatch, on_threads
):
    settings.OCPP_ASYNC_VALIDATION = on_threads
    monkeypatch.setattr(ocpp.messages, "ASYNC_VALIDATION", not on_threads)
    switch_interval = sys.getswitchinterval()
    frames = [
        '[2, "m5", "StartTransaction", {"connectorId": 1}]',
        '[2, "m8", "Authorize", {"idTag": "123456789012345678901"}]',
    ]
    try:
        gateway_process_configure()
        configured = (ocpp.messages.ASYNC_VALIDATION, sys.getswitchinterval())
        answers = asyncio.run(_exchange(gateway.port, station.ocpp_identity, frames))
    finally:
        sys.setswitchinterval(switch_interval)

    assert configured == (on_threads, SWITCH_INTERVAL_SECONDS)
    assert [answer[:3] for answer in answers[:2]] == [
        [4, "m5", "ProtocolError"],
        [4, "m8", "TypeConstraintViolation"],
    ]
    assert answers[2][:2] == [3, "alive"]
    assert not ChargingSession.objects.exists()


def test_a_meter_value_that_is_not_a_number_is_refused_and_nothing_is_stored(gateway, station):
    frame = json.dumps(
        [
            2,
            "m1",
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": 1,
                "meterValue": [
                    {
                        "timestamp": "2026-03-02T08:00:00Z",
                        "sampledValue": [{"value": "twelve", "unit": "Wh"}],
                    }
                ],
            },
        ]
    )

    error, _ = asyncio.run(_exchange(gateway.port, station.ocpp_identity, [frame]))

    assert error[:3] == [4, "m1", "PropertyConstraintViolation"]


def test_data_transfer_is_rejected_politely(gateway, station):
    async def transfer():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            return await charger.call(call.DataTransfer(vendor_id="com.example", data="hello"))

    answer = asyncio.run(transfer())

    assert answer.status == "Rejected"


def test_a_stop_of_an_unknown_transaction_is_acknowledged_and_changes_nothing(gateway, station):
    async def stop():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            return await charger.call(
                call.StopTransaction(
                    meter_stop=5_000, timestamp="2026-03-02T10:00:00Z", transaction_id=4242
                )
            )

    answer = asyncio.run(stop())

    assert answer.id_tag_info is None
    assert not ChargingSession.objects.exists()


def test_a_known_station_is_answered_without_a_boot_notification(gateway, station):
    async def heartbeat_first():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            return await charger.call(call.Heartbeat())

    answer = asyncio.run(heartbeat_first())

    assert answer.current_time.endswith("Z")


def test_every_frame_in_and_out_is_kept_for_the_stations_page(gateway, station):
    async def converse():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            await charger.call(call.Heartbeat())
            await charger.call(call.DataTransfer(vendor_id="com.example"))

    asyncio.run(converse())
    deadline = time.monotonic() + 10
    while ChargerMessage.objects.count() < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    kept = list(
        ChargerMessage.objects.filter(station=station)
        .order_by("at", "pk")
        .values_list("sent_by_charger", "frame")
    )
    assert [(by_charger, json.loads(frame)[0]) for by_charger, frame in kept] == [
        (True, 2),
        (False, 3),
        (True, 2),
        (False, 3),
    ]
    assert json.loads(kept[2][1])[2:] == ["DataTransfer", {"vendorId": "com.example"}]
    assert json.loads(kept[3][1])[2] == {"status": "Rejected"}


async def _silent_charger(port: int, identity: str) -> tuple[bytes, bytes, bytes]:
    """A charger that opens its WebSocket by hand and then answers nothing, not even the
    gateway's pings: the handshake's status line, the first frame's header, and the next
    frame's header."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    credentials = base64.b64encode(f"{identity}:{STATION_PASSWORD}".encode()).decode()
    writer.write(
        (
            f"GET /ocpp/{identity} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: ocpp1.6\r\nAuthorization: Basic {credentials}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    try:
        handshake = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        first = await asyncio.wait_for(reader.readexactly(2), 10)
        await reader.readexactly(first[1] & 0x7F)
        second = await asyncio.wait_for(reader.readexactly(2), 10)
    finally:
        writer.close()
    return handshake.split(b"\r\n", 1)[0], first, second


def test_a_charger_that_stops_answering_pings_is_dropped_and_shown_offline(
    transactional_db, station, settings
):
    settings.OCPP_PING_SECONDS = 0.5
    settings.REDIS_URL = ""
    settings.OCPP_TAG_SYNC_SECONDS = 0
    with gateway_running() as running:
        began = time.monotonic()
        status_line, first, second = asyncio.run(
            _silent_charger(running.port, station.ocpp_identity)
        )
        waited = time.monotonic() - began
        deadline = time.monotonic() + 10
        while ChargingStation.objects.get(pk=station.pk).is_connected:
            assert time.monotonic() < deadline, "the station is still shown connected"
            time.sleep(0.05)

    assert status_line == b"HTTP/1.1 101 Switching Protocols"
    assert (first[0], second[0]) == (0x89, 0x88)
    assert waited >= 1.0
