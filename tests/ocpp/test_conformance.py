"""The central system's side of the OCPP 1.6J conformance test cases (the Open Charge
Alliance's test cases for a central system, in its numbering: TC_001 cold boot, TC_003
plug-in-first charging, …), each played by a real charge point on loopback against the
gateway, and checked in what the charger is answered and what the database holds.

Reservations (TC_046 to TC_051) and smart charging are left out: Voltop does not offer them."""

import asyncio
import datetime as dt
import time
from datetime import UTC
from decimal import Decimal

import pytest
from django.utils import timezone
from ocpp.v16 import call

from apps.charging.charger_calls import (
    charger_call_request,
    charging_session_remote_start,
    charging_session_remote_stop,
)
from apps.charging.chargers import charging_station_password_set
from apps.charging.choices import ChargerCallStatus, SessionStatus, StationStatus
from apps.charging.models import ChargerCall, ChargingSession, ChargingStation, Connector
from tests.charging.test_admin import depot_tariff_create
from tests.factories import (
    ChargeTokenFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DriverFactory,
    FleetFactory,
)
from tests.ocpp.charge_points import (
    STATION_PASSWORD,
    ConformanceChargePoint,
    charger_connected,
    energy_sample,
    timestamp,
)
from tests.ocpp.threads import off_the_loop

pytestmark = pytest.mark.postgres

IDENTITY = "CP-CONFORMANCE"
STARTED_AT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOURS_AGO = dt.datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


@pytest.fixture
def depot():
    """A station with two connectors, its password set; a driver with token TAG-VALID; tokens
    TAG-EXPIRED and TAG-BLOCKED; the fleet's depot tariff (0.30 per kWh, 0.50 per session)."""
    fleet = FleetFactory()
    station = ChargingStationFactory(fleet=fleet, ocpp_identity=IDENTITY)
    charging_station_password_set(station=station, password=STATION_PASSWORD)
    for connector_id in (1, 2):
        ConnectorFactory(station=station, connector_id=connector_id)
    driver = DriverFactory(fleet=fleet)
    ChargeTokenFactory(driver=driver, uid="TAG-VALID")
    ChargeTokenFactory(
        driver=DriverFactory(fleet=fleet),
        uid="TAG-EXPIRED",
        valid_until=dt.datetime(2026, 2, 1, tzinfo=UTC),
    )
    ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid="TAG-BLOCKED", is_active=False)
    depot_tariff_create(fleet)
    return station, driver


def _connected(station) -> bool:
    return ChargingStation.objects.get(pk=station.pk).is_connected


def _until(condition, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)
    return value


def _answered(station, action: str, payload: dict) -> ChargerCall:
    """Send a call through the gateway, as the admin and commands do, and wait for its outcome."""
    queued = charger_call_request(
        station=station, action=action, payload=payload, now=timezone.now()
    )

    def outcome():
        queued.refresh_from_db()
        return queued.status in (ChargerCallStatus.ANSWERED, ChargerCallStatus.FAILED)

    _until(outcome)
    return queued


def _status(connector_id: int, status: str, moment: dt.datetime, error_code: str = "NoError"):
    return call.StatusNotification(
        connector_id=connector_id, error_code=error_code, status=status, timestamp=timestamp(moment)
    )


def _start(id_tag: str, meter_start: int, moment: dt.datetime, connector_id: int = 1):
    return call.StartTransaction(
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start=meter_start,
        timestamp=timestamp(moment),
    )


def _play(gateway, scenario):
    """Run `scenario(charger)` with a conformance charge point connected as the station."""

    async def run():
        async with charger_connected(
            gateway.port, IDENTITY, charge_point_class=ConformanceChargePoint
        ) as charger:
            return await scenario(charger)

    return asyncio.run(run())


def test_tc_001_cold_boot_charge_point(gateway, depot):
    station, _ = depot

    async def cold_boot(charger):
        boot = await charger.boot()
        for connector_id in (0, 1, 2):
            await charger.call(_status(connector_id, "Available", STARTED_AT))
        station_status = await off_the_loop(
            lambda: ChargingStation.objects.get(pk=station.pk).status
        )
        return boot, station_status

    boot, station_status = _play(gateway, cold_boot)

    assert (boot.status, boot.interval) == ("Accepted", 300)
    assert boot.current_time.endswith("Z")
    assert list(
        Connector.objects.filter(station=station).values_list("connector_id", "status")
    ) == [(1, "Available"), (2, "Available")]
    assert station_status == StationStatus.AVAILABLE


def _regular_session(identification_first: bool):
    async def session(charger):
        if identification_first:
            authorized = await charger.call(call.Authorize(id_tag="TAG-VALID"))
            await charger.call(_status(1, "Preparing", STARTED_AT))
        else:
            await charger.call(_status(1, "Preparing", STARTED_AT))
            authorized = await charger.call(call.Authorize(id_tag="TAG-VALID"))
        started = await charger.call(_start("TAG-VALID", 2_000, STARTED_AT))
        await charger.call(_status(1, "Charging", STARTED_AT))
        await charger.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[energy_sample(STARTED_AT + dt.timedelta(minutes=30), 7_000)],
            )
        )
        stopped = await charger.call(
            call.StopTransaction(
                meter_stop=12_000,
                timestamp=timestamp(STARTED_AT + dt.timedelta(hours=1)),
                transaction_id=started.transaction_id,
                id_tag="TAG-VALID",
                reason="Local",
            )
        )
        await charger.call(_status(1, "Finishing", STARTED_AT + dt.timedelta(hours=1)))
        await charger.call(_status(1, "Available", STARTED_AT + dt.timedelta(hours=1, seconds=5)))
        return authorized, started, stopped

    return session


@pytest.mark.parametrize(
    "identification_first",
    [False, True],
    ids=["tc_003_plugin_first", "tc_004_1_identification_first"],
)
def test_tc_003_and_tc_004_1_regular_charging_session(gateway, depot, identification_first):
    station, driver = depot

    authorized, started, stopped = _play(gateway, _regular_session(identification_first))

    assert authorized.id_tag_info["status"] == "Accepted"
    assert started.id_tag_info["status"] == "Accepted"
    assert stopped.id_tag_info["status"] == "Accepted"
    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert (session.driver, session.status, session.energy_wh) == (
        driver,
        SessionStatus.COMPLETED,
        10_000,
    )
    # 10 kWh at 0.30 and 0.50 for the session: 3.50 excl. VAT, 21 % VAT 0.74.
    assert session.price_incl_vat == Decimal("4.24")
    assert Connector.objects.get(station=station, connector_id=1).status == "Available"


def test_tc_005_1_ev_side_disconnected(gateway, depot):
    async def disconnected(charger):
        started = await charger.call(_start("TAG-VALID", 0, STARTED_AT))
        await charger.call(
            call.StopTransaction(
                meter_stop=3_000,
                timestamp=timestamp(STARTED_AT + dt.timedelta(minutes=20)),
                transaction_id=started.transaction_id,
                reason="EVDisconnected",
            )
        )
        return started

    started = _play(gateway, disconnected)

    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert (session.status, session.energy_wh) == (SessionStatus.COMPLETED, 3_000)


@pytest.mark.parametrize(
    ("answer", "session_appears"),
    [("Accepted", True), ("Rejected", False)],
    ids=["tc_010_and_tc_011_1_accepted", "tc_026_rejected"],
)
def test_tc_010_tc_011_1_and_tc_026_remote_start(gateway, depot, answer, session_appears):
    station, driver = depot
    connector = Connector.objects.get(station=station, connector_id=1)

    async def remote_start(charger):
        charger.remote_answer = answer
        await off_the_loop(_until, lambda: _connected(station))
        start_request = await off_the_loop(
            charging_session_remote_start, driver=driver, connector=connector, now=timezone.now()
        )

        def answered():
            start_request.refresh_from_db()
            return start_request.status == ChargerCallStatus.ANSWERED and (
                start_request.session_id or answer != "Accepted"
            )

        await off_the_loop(_until, answered)
        return start_request

    start_request = _play(gateway, remote_start)

    assert start_request.answer == {"status": answer}
    assert start_request.payload["connectorId"] == 1
    assert ChargingSession.objects.filter(driver=driver).exists() is session_appears


@pytest.mark.parametrize(
    ("answer", "stops"), [("Accepted", True), ("Rejected", False)], ids=["tc_012", "tc_028"]
)
def test_tc_012_and_tc_028_remote_stop(gateway, depot, answer, stops):
    station, driver = depot

    async def remote_stop(charger):
        started = await charger.call(_start("TAG-VALID", 50_000, timezone.now()))
        charger.meter_wh = 50_000
        charger.remote_answer = answer
        await off_the_loop(_until, lambda: _connected(station))
        session = await off_the_loop(ChargingSession.objects.get, pk=started.transaction_id)
        stop_request = await off_the_loop(
            charging_session_remote_stop, driver=driver, session=session, now=timezone.now()
        )

        def done():
            stop_request.refresh_from_db()
            session.refresh_from_db()
            answered = stop_request.status == ChargerCallStatus.ANSWERED
            return answered and (session.status == SessionStatus.COMPLETED or answer != "Accepted")

        await off_the_loop(_until, done)
        return stop_request, session

    stop_request, session = _play(gateway, remote_stop)

    assert stop_request.answer == {"status": answer}
    assert (session.status == SessionStatus.COMPLETED) is stops
    if stops:
        assert session.energy_wh == 5_000


def test_tc_013_hard_reset_without_transaction(gateway, depot):
    station, _ = depot

    async def reset(charger):
        await off_the_loop(_until, lambda: _connected(station))
        return await off_the_loop(_answered, station, "Reset", {"type": "Hard"})

    reset_call = _play(gateway, reset)
    boot_again = _play(gateway, lambda charger: charger.boot())

    assert reset_call.answer == {"status": "Accepted"}
    assert boot_again.status == "Accepted"


@pytest.mark.parametrize(
    ("action", "payload", "expected_answer"),
    [
        ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
        (
            "GetConfiguration",
            {},
            {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]},
        ),
        (
            "ChangeConfiguration",
            {"key": "HeartbeatInterval", "value": "60"},
            {"status": "Accepted"},
        ),
        ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, {"status": "Accepted"}),
        ("ClearCache", {}, {"status": "Accepted"}),
    ],
    ids=[
        "tc_017_1_unlock_connector",
        "tc_019_1_retrieve_all_configuration_keys",
        "tc_021_change_set_configuration",
        "tc_030_change_availability",
        "tc_061_clear_authorization_cache",
    ],
)
def test_central_system_calls_reach_the_charger_and_its_answer_is_kept(
    gateway, depot, action, payload, expected_answer
):
    station, _ = depot

    async def send(charger):
        await off_the_loop(_until, lambda: _connected(station))
        return await off_the_loop(_answered, station, action, payload)

    sent = _play(gateway, send)

    assert (sent.status, sent.answer) == (ChargerCallStatus.ANSWERED, expected_answer)


@pytest.mark.parametrize(
    ("id_tag", "status"),
    [("TAG-UNKNOWN", "Invalid"), ("TAG-EXPIRED", "Expired"), ("TAG-BLOCKED", "Blocked")],
    ids=["tc_023_1_invalid", "tc_023_2_expired", "tc_023_3_blocked"],
)
def test_tc_023_start_charging_session_authorize_refused(gateway, depot, id_tag, status):
    answer = _play(gateway, lambda charger: charger.call(call.Authorize(id_tag=id_tag)))

    assert answer.id_tag_info["status"] == status
    assert not ChargingSession.objects.exists()


def test_tc_032_1_power_failure_boot_stop_transactions(gateway, depot):
    async def before_the_outage(charger):
        return await charger.call(_start("TAG-VALID", 1_000, HOURS_AGO))

    started = _play(gateway, before_the_outage)

    async def after_power_returns(charger):
        boot = await charger.boot()
        await charger.call(
            call.StopTransaction(
                meter_stop=4_000,
                timestamp=timestamp(HOURS_AGO + dt.timedelta(hours=2)),
                transaction_id=started.transaction_id,
                reason="PowerLoss",
            )
        )
        await charger.call(_status(1, "Available", timezone.now()))
        return boot

    boot = _play(gateway, after_power_returns)

    assert boot.status == "Accepted"
    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert (session.status, session.ended_at, session.energy_wh) == (
        SessionStatus.COMPLETED,
        HOURS_AGO + dt.timedelta(hours=2),
        3_000,
    )


def test_tc_037_1_and_tc_039_offline_transaction_hours_in_the_past(gateway, depot):
    async def offline(charger):
        started = await charger.call(_start("TAG-VALID", 10_000, HOURS_AGO))
        await charger.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[energy_sample(HOURS_AGO + dt.timedelta(minutes=40), 14_000)],
            )
        )
        await charger.call(
            call.StopTransaction(
                meter_stop=19_000,
                timestamp=timestamp(HOURS_AGO + dt.timedelta(hours=1, minutes=30)),
                transaction_id=started.transaction_id,
                reason="Local",
            )
        )
        return started

    started = _play(gateway, offline)

    assert started.id_tag_info["status"] == "Accepted"
    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert (session.started_at, session.energy_wh, session.status) == (
        HOURS_AGO,
        9_000,
        SessionStatus.COMPLETED,
    )
    assert session.meter_values.count() == 1


@pytest.mark.parametrize(
    ("answer", "status_sent"), [("Accepted", True), ("Rejected", False)], ids=["tc_054", "tc_055"]
)
def test_tc_054_and_tc_055_trigger_message(gateway, depot, answer, status_sent):
    station, _ = depot
    Connector.objects.filter(station=station).update(status="", status_at=None)

    async def trigger(charger):
        charger.answers["TriggerMessage"] = answer
        await off_the_loop(_until, lambda: _connected(station))
        sent = await off_the_loop(
            _answered,
            station,
            "TriggerMessage",
            {"requestedMessage": "StatusNotification", "connectorId": 1},
        )
        if status_sent:
            await off_the_loop(
                _until, lambda: Connector.objects.get(station=station, connector_id=1).status
            )
        return sent

    sent = _play(gateway, trigger)

    assert sent.answer == {"status": answer}
    reported = Connector.objects.get(station=station, connector_id=1).status
    assert reported == ("Available" if status_sent else "")
