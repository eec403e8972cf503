"""A real charge point, built on the `ocpp` package's ChargePoint, against the gateway on
loopback: what it reports is recorded and priced in the database."""

import asyncio
import datetime as dt
import threading
import time
from datetime import UTC
from decimal import Decimal

import pytest
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from apps.charging import chargers
from apps.charging.chargers import charging_station_password_set
from apps.charging.choices import SessionSource, SessionStatus, StationStatus
from apps.charging.models import ChargingSession, ChargingStation, Connector
from apps.ocpp import gateway as ocpp_gateway
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
    charger_connected,
    energy_sample,
    timestamp,
)
from tests.ocpp.threads import off_the_loop

pytestmark = pytest.mark.postgres

STARTED_AT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def depot():
    """A fleet's station CP-DEPOT-1 with connector 1, its password set, a driver's token and
    the fleet's depot tariff: 0.30 per kWh and 0.50 per session, 21 % VAT."""
    fleet = FleetFactory()
    station = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-DEPOT-1")
    charging_station_password_set(station=station, password=STATION_PASSWORD)
    ConnectorFactory(station=station, connector_id=1)
    token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid="04AABBCCDD")
    depot_tariff_create(fleet)
    return station, token


def test_boot_authorize_start_meter_values_stop_records_a_completed_priced_session(gateway, depot):
    station, token = depot

    async def charge():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            boot = await charger.boot()
            authorized = await charger.call(call.Authorize(id_tag="04aabbccdd"))
            started = await charger.call(
                call.StartTransaction(
                    connector_id=1,
                    id_tag="04aabbccdd",
                    meter_start=1_000_000,
                    timestamp=timestamp(STARTED_AT),
                )
            )
            await charger.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[
                        energy_sample(
                            STARTED_AT + dt.timedelta(minutes=30), 1_005_500, power_w=11_000
                        ),
                        energy_sample(
                            STARTED_AT + dt.timedelta(hours=1), 1_011_000, power_w=11_000
                        ),
                    ],
                )
            )
            stopped = await charger.call(
                call.StopTransaction(
                    meter_stop=1_020_500,
                    timestamp=timestamp(STARTED_AT + dt.timedelta(hours=2)),
                    transaction_id=started.transaction_id,
                    reason="EVDisconnected",
                    id_tag="04AABBCCDD",
                )
            )
            return boot, authorized, started, stopped

    boot, authorized, started, stopped = asyncio.run(charge())

    assert boot.status == "Accepted"
    assert boot.interval == 300
    assert authorized.id_tag_info == {"status": "Accepted"}
    assert started.id_tag_info == {"status": "Accepted"}
    assert stopped.id_tag_info == {"status": "Accepted"}
    session = ChargingSession.objects.get(pk=started.transaction_id)
    assert session.source == SessionSource.OCPP
    assert session.status == SessionStatus.COMPLETED
    assert session.driver_id == token.driver_id
    assert session.token_id == token.pk
    assert session.connector.station_id == station.pk
    assert session.started_at == STARTED_AT
    assert session.ended_at == STARTED_AT + dt.timedelta(hours=2)
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (
        1_000_000,
        1_020_500,
        20_500,
    )
    assert list(session.meter_values.values_list("energy_wh", "power_w")) == [
        (1_005_500, 11_000),
        (1_011_000, 11_000),
    ]
    assert session.charger_issue == ""
    # 20.5 kWh at 0.30 + 0.50 = 6.65 excl. VAT; 21 % VAT 1.40; 8.05 incl.
    assert (session.price_excl_vat, session.price_vat, session.price_incl_vat) == (
        Decimal("6.65"),
        Decimal("1.40"),
        Decimal("8.05"),
    )
    station.refresh_from_db()
    assert (station.vendor, station.model, station.serial_number, station.firmware_version) == (
        "Alfen",
        "Eve Double Pro-line",
        "ACE0000042",
        "6.4.0",
    )


def test_a_station_is_connected_while_its_charger_is_and_offline_after(gateway, depot):
    station, _ = depot

    async def connect_then_leave():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            await charger.call(call.Heartbeat())
            return await off_the_loop(
                lambda: ChargingStation.objects.values_list("is_connected", "status").get(
                    pk=station.pk
                )
            )

    while_connected = asyncio.run(connect_then_leave())

    assert while_connected == (True, StationStatus.AVAILABLE)
    _wait_until(lambda: not ChargingStation.objects.get(pk=station.pk).is_connected)
    station.refresh_from_db()
    assert station.status == StationStatus.OFFLINE
    assert station.last_heartbeat_at is not None


def _wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("identity", "password"),
    [
        ("CP-DEPOT-1", "wrong-password-0123"),
        ("CP-UNKNOWN", STATION_PASSWORD),
    ],
    ids=["wrong password", "unknown identity"],
)
def test_a_charger_without_its_stations_credentials_is_refused_at_the_handshake(
    gateway, depot, identity, password
):
    async def connect():
        async with charger_connected(gateway.port, identity, password=password):
            pass

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(connect())

    assert refused.value.response.status_code == 401
    assert not ChargingStation.objects.filter(is_connected=True).exists()


def test_a_status_notification_of_an_unknown_connector_creates_it_with_its_status(gateway, depot):
    station, _ = depot

    async def report():
        async with charger_connected(gateway.port, station.ocpp_identity) as charger:
            await charger.call(
                call.StatusNotification(
                    connector_id=2,
                    error_code="NoError",
                    status="Available",
                    timestamp=timestamp(STARTED_AT),
                )
            )

    asyncio.run(report())

    connector = Connector.objects.get(station=station, connector_id=2)
    assert (connector.status, connector.error_code, connector.status_at) == (
        "Available",
        "NoError",
        STARTED_AT,
    )
    assert (connector.standard, connector.power_type, connector.max_kw) == (
        "IEC_62196_T2",
        "AC_3_PHASE",
        Decimal("22.0"),
    )


@pytest.mark.parametrize(
    ("limit", "value"),
    [("OCPP_MAX_CONNECTIONS", 0), ("OCPP_MAX_DATABASE_BACKLOG", -1)],
    ids=["connections", "messages waiting for the database"],
)
def test_beyond_a_limit_a_charger_is_asked_politely_to_come_back(
    gateway, depot, settings, limit, value
):
    station, _ = depot
    setattr(settings, limit, value)

    async def connect():
        async with charger_connected(gateway.port, station.ocpp_identity):
            pass

    with pytest.raises(InvalidStatus) as deferred:
        asyncio.run(connect())

    assert deferred.value.response.status_code == 429
    assert deferred.value.response.headers["Retry-After"] == "5"
    assert not ChargingStation.objects.get(pk=station.pk).is_connected


def test_a_charger_whose_password_is_not_checked_in_time_is_asked_to_come_back(
    gateway, depot, monkeypatch
):
    station, _ = depot
    hashed = []
    verify = chargers.STATION_PASSWORD_HASHER.verify

    def verify_slowly(password, encoded):
        hashed.append(password)
        time.sleep(2)
        return verify(password, encoded)

    class PasswordsKept(chargers.VerifiedPasswords):
        def __init__(self):
            super().__init__()
            self.kept = threading.Event()

        def keep(self, station, password):
            super().keep(station, password)
            self.kept.set()

    passwords = PasswordsKept()
    monkeypatch.setattr(chargers, "VERIFIED_PASSWORDS", passwords)
    monkeypatch.setattr(chargers.STATION_PASSWORD_HASHER, "verify", verify_slowly)
    monkeypatch.setattr(ocpp_gateway, "PASSWORD_CHECK_WAIT_SECONDS", 0.5)

    async def connect():
        async with charger_connected(gateway.port, station.ocpp_identity):
            pass

    with pytest.raises(InvalidStatus) as deferred:
        asyncio.run(connect())
    connected_while_checked = ChargingStation.objects.get(pk=station.pk).is_connected
    assert passwords.kept.wait(10)
    asyncio.run(connect())

    assert deferred.value.response.status_code == 429
    assert deferred.value.response.headers["Retry-After"] == "5"
    assert connected_while_checked is False
    assert hashed == [STATION_PASSWORD]
