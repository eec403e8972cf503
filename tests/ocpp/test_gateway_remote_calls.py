"""Starting and stopping from the driver app at a charger that connects over OCPP: the API
queues the call and answers 202 at once; the gateway sends it to the charger, whose answer the
app reads; the charger reports the session, which appears and completes with its meter."""

import asyncio
import json
import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.charging.charger_calls import charger_call_request
from apps.charging.chargers import charging_station_password_set
from apps.charging.choices import (
    ChargerCallStatus,
    SessionPurpose,
    SessionSource,
    SessionStatus,
)
from apps.charging.models import ChargerCall, ChargingSession, ChargingStation
from apps.drivers.choices import TokenKind
from tests.api.conftest import PASSWORD
from tests.charging.test_admin import depot_tariff_create
from tests.factories import (
    ChargingStationFactory,
    ConnectorFactory,
    DriverFactory,
    FleetFactory,
    UserFactory,
)
from tests.ocpp.charge_points import STATION_PASSWORD, charger_connected, raw_connection
from tests.ocpp.threads import off_the_loop

pytestmark = pytest.mark.postgres


@pytest.fixture
def depot():
    fleet = FleetFactory()
    station = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-REMOTE")
    charging_station_password_set(station=station, password=STATION_PASSWORD)
    connector = ConnectorFactory(station=station, connector_id=1)
    driver = DriverFactory(fleet=fleet, user=UserFactory(email="anna@example.com"))
    depot_tariff_create(fleet)
    return station, connector, driver


def _driver_client(driver) -> APIClient:
    client = APIClient()
    login = client.post(
        "/api/v1/auth/login/", {"email": driver.user.email, "password": PASSWORD}, format="json"
    )
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
    return client


def _until(read, done, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r}"
        time.sleep(0.05)


def _start_and_stop_from_the_app(port, station, connector, driver, remote_answer="Accepted"):
    client = _driver_client(driver)

    async def through_the_charger():
        async with charger_connected(port, station.ocpp_identity) as charger:
            charger.remote_answer = remote_answer
            await off_the_loop(
                _until,
                lambda: (
                    ChargingSession.objects.none().exists()
                    or station.__class__.objects.get(pk=station.pk).is_connected
                ),
                bool,
            )
            started = await off_the_loop(
                client.post,
                "/api/v1/me/sessions/",
                {"connector": connector.pk, "purpose": "private"},
                format="json",
            )
            start_request = await off_the_loop(
                _until,
                lambda: client.get(started["Location"]).json(),
                lambda answer: (
                    answer["status"] in ("answered", "failed")
                    and (answer["session"] or answer["accepted"] is False)
                ),
            )
            if not start_request["accepted"]:
                return started, start_request, None, None
            stopped = await off_the_loop(
                client.post, f"/api/v1/me/sessions/{start_request['session']}/stop/", {}
            )
            stop_request = await off_the_loop(
                _until,
                lambda: client.get(stopped["Location"]).json(),
                lambda answer: answer["status"] in ("answered", "failed"),
            )
            await off_the_loop(
                _until,
                lambda: ChargingSession.objects.get(pk=start_request["session"]).priced_at,
                bool,
            )
            return started, start_request, stopped, stop_request

    return asyncio.run(through_the_charger())


def test_a_start_and_a_stop_from_the_app_reach_the_charger_and_its_meter_gives_the_energy(
    gateway, depot
):
    station, connector, driver = depot

    started, start_request, stopped, stop_request = _start_and_stop_from_the_app(
        gateway.port, station, connector, driver
    )

    assert started.status_code == 202
    assert started.json()["status"] == "queued"
    assert started.json()["session"] is None
    assert start_request["accepted"] is True
    assert stopped.status_code == 202
    assert stop_request["accepted"] is True
    assert stop_request["session"] == start_request["session"]
    session = ChargingSession.objects.get(pk=start_request["session"])
    assert (session.status, session.source, session.driver_id, session.purpose) == (
        SessionStatus.COMPLETED,
        SessionSource.OCPP,
        driver.pk,
        SessionPurpose.PRIVATE,
    )
    assert session.energy_wh == 5_000
    assert session.token.kind == TokenKind.APP_USER
    assert len(session.token.uid) <= 20
    assert session.price_incl_vat is not None
    start_call = ChargerCall.objects.get(pk=start_request["id"])
    assert start_call.payload == {"connectorId": 1, "idTag": session.token.uid}
    assert start_call.answer == {"status": "Accepted"}


@pytest.mark.redis
def test_with_redis_the_gateway_is_told_of_the_call_on_its_channel(gateway, depot):
    station, connector, driver = depot

    started, start_request, _, stop_request = _start_and_stop_from_the_app(
        gateway.port, station, connector, driver
    )

    assert started.status_code == 202
    assert (start_request["accepted"], stop_request["accepted"]) == (True, True)


def test_a_start_the_charger_rejects_is_answered_so_and_records_no_session(gateway, depot):
    station, connector, driver = depot

    started, start_request, _, _ = _start_and_stop_from_the_app(
        gateway.port, station, connector, driver, remote_answer="Rejected"
    )

    assert started.status_code == 202
    assert (start_request["status"], start_request["accepted"], start_request["session"]) == (
        "answered",
        False,
        None,
    )
    assert not ChargingSession.objects.exists()


def test_a_start_at_a_station_not_connected_is_refused_and_nothing_is_queued(gateway, depot):
    _, connector, driver = depot

    response = _driver_client(driver).post(
        "/api/v1/me/sessions/", {"connector": connector.pk}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "charging.station_offline"
    assert not ChargerCall.objects.exists()


def test_calls_to_a_charger_that_leaves_before_answering_fail_and_say_why(gateway, depot, settings):
    """The charger leaves on its first CALL: that call times out, and the one queued behind it
    fails as not sent, rather than staying sent with an error only in the gateway's log."""
    settings.OCPP_CALL_TIMEOUT_SECONDS = 1
    station = depot[0]

    async def scenario() -> str:
        async with raw_connection(gateway.port, station.ocpp_identity) as connection:
            await _until_on_the_loop(lambda: _connected(station))
            for action, payload in (("Reset", {"type": "Soft"}), ("ClearCache", {})):
                await off_the_loop(
                    charger_call_request,
                    station=station,
                    action=action,
                    payload=payload,
                    now=timezone.now(),
                )
            first_call = json.loads(await asyncio.wait_for(connection.recv(), 10))
        await _until_on_the_loop(lambda: not _calls_open())
        return first_call[2]

    first_action = asyncio.run(scenario())

    failures = dict(ChargerCall.objects.values_list("action", "error"))
    second_action = ({"Reset", "ClearCache"} - {first_action}).pop()
    assert set(ChargerCall.objects.values_list("status", flat=True)) == {ChargerCallStatus.FAILED}
    assert failures[first_action] == "The charger did not answer within 1 s."
    assert failures[second_action] == "The station disconnected before the call could be sent."


def _connected(station) -> bool:
    return ChargingStation.objects.filter(pk=station.pk, is_connected=True).exists()


def _calls_open() -> bool:
    return ChargerCall.objects.filter(
        status__in=(ChargerCallStatus.QUEUED, ChargerCallStatus.SENT)
    ).exists()


async def _until_on_the_loop(condition, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await off_the_loop(condition):
        assert time.monotonic() < deadline, "the gateway did not get there in time"
        await asyncio.sleep(0.05)
