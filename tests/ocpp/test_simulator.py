"""Simulated depot chargers against the gateway on loopback: `ocpp_simulate` gives the
fleet's first depot stations new passwords, and their chargers charge the fleet's active
drivers; what they report lands in the database as completed, priced OCPP sessions."""

import asyncio
import datetime as dt
import io
import time
from datetime import UTC
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from ocpp.v16 import call

from apps.charging.chargers import charging_station_authenticated
from apps.charging.choices import PowerType, SessionSource, SessionStatus
from apps.charging.models import ChargingSession, ChargingStation, Connector, MeterValue
from apps.drivers.choices import DriverStatus
from apps.ocpp.simulator import (
    SimulationOptions,
    SimulationPlan,
    depot_simulate,
    simulation_prepare,
)
from tests.charging.test_admin import depot_tariff_create
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DriverFactory,
    FleetFactory,
)
from tests.ocpp.threads import off_the_loop
from voltop.core.money import round_money

pytestmark = pytest.mark.postgres

AC_DRAW_W = 6_600
DC_DRAW_W = 50_000
EARLIER_METER_STOP_WH = 1_020_500


@pytest.fixture
def depot_fleet():
    """A fleet with three depot stations and a wallbox at a driver's home, which sorts first:
    CP-SIM-1 with two 22 kW AC connectors (connector 1 read 1 020 500 Wh at its last session),
    CP-SIM-2 with one 150 kW DC connector, CP-SIM-3 with one AC connector. Three active drivers
    have an active token each; a suspended driver's token, a blocked token and an expired one
    are not to be used. The depot tariff: 0.30 per kWh and 0.50 per session, 21 % VAT."""
    fleet = FleetFactory(slug="sim-depot")
    ChargingStationFactory(fleet=fleet, ocpp_identity="CP-SIM-0-HOME", depot=None)
    first = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-SIM-1")
    earlier = ConnectorFactory(station=first, connector_id=1)
    ConnectorFactory(station=first, connector_id=2)
    second = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-SIM-2")
    ConnectorFactory(station=second, connector_id=1, power_type=PowerType.DC, max_kw="150.0")
    third = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-SIM-3")
    ConnectorFactory(station=third, connector_id=1)
    ChargingSessionFactory(fleet=fleet, connector=earlier, meter_stop_wh=EARLIER_METER_STOP_WH)
    tokens = [
        ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid=f"04SIM00{index}")
        for index in range(3)
    ]
    ChargeTokenFactory(
        driver=DriverFactory(fleet=fleet, status=DriverStatus.SUSPENDED), uid="04SUSPENDED"
    )
    ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid="04BLOCKED", is_active=False)
    ChargeTokenFactory(
        driver=DriverFactory(fleet=fleet),
        uid="04EXPIRED",
        valid_until=dt.datetime(2026, 2, 1, tzinfo=UTC),
    )
    depot_tariff_create(fleet)
    return fleet, tokens


def _options(port: int, **changes) -> SimulationOptions:
    values = {
        "host": "127.0.0.1",
        "port": port,
        "meter_seconds": 0.1,
        "session_seconds": 0.8,
        "pause_seconds": 0,
        "sessions_per_connector": 1,
        "response_timeout_seconds": 10,
        **changes,
    }
    return SimulationOptions(**values)


def _prepare(fleet, stations: int) -> SimulationPlan:
    return simulation_prepare(fleet_slug=fleet.slug, station_count=stations, at=timezone.now())


def _until(read, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while not (value := read()):
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)
    return value


def _depot_price(energy_wh: int) -> tuple[Decimal, Decimal, Decimal]:
    """0.50 a session and 0.30 a kWh, 21 % VAT, each total rounded once."""
    excl_vat = round_money(Decimal("0.50") + Decimal(energy_wh) * Decimal("0.30") / 1000, "EUR")
    incl_vat = round_money(Decimal("0.605") + Decimal(energy_wh) * Decimal("0.363") / 1000, "EUR")
    return excl_vat, incl_vat - excl_vat, incl_vat


def test_the_first_depot_stations_charge_one_priced_session_per_connector(gateway, depot_fleet):
    fleet, tokens = depot_fleet

    plan = _prepare(fleet, stations=2)
    report = asyncio.run(depot_simulate(plan, _options(gateway.port)))

    assert [station.ocpp_identity for station in plan.stations] == ["CP-SIM-1", "CP-SIM-2"]
    assert sorted(plan.id_tags) == ["04SIM000", "04SIM001", "04SIM002"]
    assert report.sessions_by_station == {"CP-SIM-1": 2, "CP-SIM-2": 1}
    assert report.failures == {}
    sessions = list(
        ChargingSession.objects.filter(source=SessionSource.OCPP)
        .select_related("connector__station")
        .order_by("connector__station__ocpp_identity", "connector__connector_id")
    )
    assert [(s.connector.station.ocpp_identity, s.connector.connector_id) for s in sessions] == [
        ("CP-SIM-1", 1),
        ("CP-SIM-1", 2),
        ("CP-SIM-2", 1),
    ]
    assert [s.meter_start_wh for s in sessions] == [EARLIER_METER_STOP_WH, 0, 0]
    assert {s.token_id for s in sessions} == {token.pk for token in tokens}
    assert {s.driver_id for s in sessions} == {token.driver_id for token in tokens}
    for session, draw_w in zip(sessions, (AC_DRAW_W, AC_DRAW_W, DC_DRAW_W), strict=True):
        assert session.status == SessionStatus.COMPLETED
        assert session.energy_wh == session.meter_stop_wh - session.meter_start_wh
        seconds = (session.ended_at - session.started_at).total_seconds()
        assert 1 <= session.energy_wh <= draw_w * seconds / 3600 + 1
        assert (session.charger_issue, session.is_suspect) == ("", False)
        readings = list(session.meter_values.order_by("measured_at"))
        assert len(readings) >= 3
        energies = [reading.energy_wh for reading in readings]
        assert energies == sorted(energies)
        assert session.meter_start_wh <= energies[0] <= energies[-1] <= session.meter_stop_wh
        assert {reading.power_w for reading in readings} == {draw_w}
        assert all(15 <= reading.state_of_charge_percent <= 100 for reading in readings)
        assert session.tariff_version is not None
        assert (
            session.price_excl_vat,
            session.price_vat,
            session.price_incl_vat,
        ) == _depot_price(session.energy_wh)
    assert set(
        Connector.objects.filter(station__ocpp_identity__in=["CP-SIM-1", "CP-SIM-2"]).values_list(
            "status", flat=True
        )
    ) == {"Available"}
    for station in plan.stations:
        assert charging_station_authenticated(
            ocpp_identity=station.ocpp_identity, password=station.password
        )
        assert 16 <= len(station.password) <= 40
    untouched = ChargingStation.objects.filter(ocpp_identity__in=["CP-SIM-0-HOME", "CP-SIM-3"])
    assert list(untouched.values_list("ocpp_password", flat=True)) == ["", ""]
    _until(lambda: not ChargingStation.objects.filter(is_connected=True).exists())


def test_a_stop_while_charging_stops_each_transaction_at_its_meter_and_disconnects(
    gateway, depot_fleet
):
    fleet, _ = depot_fleet
    plan = _prepare(fleet, stations=1)

    async def stop_while_charging():
        stopping = asyncio.Event()
        simulation = asyncio.create_task(
            depot_simulate(
                plan,
                _options(gateway.port, session_seconds=60, sessions_per_connector=None),
                stopping=stopping,
            )
        )
        await off_the_loop(
            _until,
            lambda: (
                ChargingSession.objects.filter(status=SessionStatus.ACTIVE).count() == 2
                and MeterValue.objects.count() >= 2
            ),
        )
        stopping.set()
        return await asyncio.wait_for(simulation, 15)

    report = asyncio.run(stop_while_charging())

    assert report.sessions_by_station == {"CP-SIM-1": 2}
    sessions = ChargingSession.objects.filter(source=SessionSource.OCPP)
    assert sessions.count() == 2
    for session in sessions:
        assert session.status == SessionStatus.COMPLETED
        assert session.energy_wh == session.meter_stop_wh - session.meter_start_wh
        assert session.price_incl_vat == _depot_price(session.energy_wh)[2]
    _until(lambda: not ChargingStation.objects.filter(is_connected=True).exists())


def test_the_charger_answers_remote_start_and_stop_and_the_central_systems_other_calls(
    gateway, depot_fleet
):
    fleet, tokens = depot_fleet
    plan = _prepare(fleet, stations=1)

    def on_gateway(coroutine):
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, gateway.loop))

    async def converse():
        stopping = asyncio.Event()
        simulation = asyncio.create_task(
            depot_simulate(
                plan,
                _options(
                    gateway.port,
                    session_seconds=60,
                    pause_seconds=60,
                    sessions_per_connector=None,
                ),
                stopping=stopping,
            )
        )
        await off_the_loop(
            _until,
            lambda: (
                Connector.objects.filter(
                    station__ocpp_identity="CP-SIM-1", status="Available"
                ).count()
                == 2
            ),
        )
        charger = gateway.gateway.connections["CP-SIM-1"]

        async def ask(payload):
            return await on_gateway(charger.call(payload, suppress=False))

        answers = {}
        answers["remote start"] = await ask(
            call.RemoteStartTransaction(id_tag=tokens[0].uid, connector_id=2)
        )
        answers["remote start on the busy connector"] = await ask(
            call.RemoteStartTransaction(id_tag=tokens[1].uid, connector_id=2)
        )
        started = await off_the_loop(
            _until,
            lambda: ChargingSession.objects.filter(
                status=SessionStatus.ACTIVE, meter_values__isnull=False
            ).first(),
        )
        answers["remote stop"] = await ask(call.RemoteStopTransaction(transaction_id=started.pk))
        answers["remote stop of an unknown transaction"] = await ask(
            call.RemoteStopTransaction(transaction_id=started.pk + 1000)
        )
        await off_the_loop(
            _until,
            lambda: ChargingSession.objects.filter(
                pk=started.pk, status=SessionStatus.COMPLETED, price_incl_vat__isnull=False
            ).exists(),
        )
        answers["get configuration"] = await ask(
            call.GetConfiguration(key=["HeartbeatInterval", "NumberOfConnectors", "Nonsense"])
        )
        answers["change a writable key"] = await ask(
            call.ChangeConfiguration(key="MeterValueSampleInterval", value="30")
        )
        answers["change a read-only key"] = await ask(
            call.ChangeConfiguration(key="NumberOfConnectors", value="4")
        )
        answers["change an unknown key"] = await ask(
            call.ChangeConfiguration(key="Nonsense", value="1")
        )
        answers["trigger a heartbeat"] = await ask(
            call.TriggerMessage(requested_message="Heartbeat")
        )
        answers["clear cache"] = await ask(call.ClearCache())
        answers["send local list"] = await ask(
            call.SendLocalList(list_version=3, update_type="Full", local_authorization_list=[])
        )
        answers["get local list version"] = await ask(call.GetLocalListVersion())
        answers["unlock connector"] = await ask(call.UnlockConnector(connector_id=1))
        answers["make connector 1 inoperative"] = await ask(
            call.ChangeAvailability(connector_id=1, type="Inoperative")
        )
        answers["remote start on the inoperative connector"] = await ask(
            call.RemoteStartTransaction(id_tag=tokens[1].uid, connector_id=1)
        )
        await off_the_loop(
            _until,
            lambda: Connector.objects.filter(
                station__ocpp_identity="CP-SIM-1", connector_id=1, status="Unavailable"
            ).exists(),
        )
        answers["reset"] = await ask(call.Reset(type="Soft"))
        stopping.set()
        await asyncio.wait_for(simulation, 15)
        return started, answers

    started, answers = asyncio.run(converse())

    statuses = {name: getattr(answer, "status", None) for name, answer in answers.items()}
    assert statuses == {
        "remote start": "Accepted",
        "remote start on the busy connector": "Rejected",
        "remote stop": "Accepted",
        "remote stop of an unknown transaction": "Rejected",
        "get configuration": None,
        "change a writable key": "Accepted",
        "change a read-only key": "Rejected",
        "change an unknown key": "NotSupported",
        "trigger a heartbeat": "Accepted",
        "clear cache": "Accepted",
        "send local list": "Accepted",
        "get local list version": None,
        "unlock connector": "Unlocked",
        "make connector 1 inoperative": "Accepted",
        "remote start on the inoperative connector": "Rejected",
        "reset": "Accepted",
    }
    assert answers["get configuration"].configuration_key == [
        {
            "key": "HeartbeatInterval",
            "readonly": False,
            "value": str(settings.OCPP_HEARTBEAT_SECONDS),
        },
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
    ]
    assert answers["get configuration"].unknown_key == ["Nonsense"]
    assert answers["get local list version"].list_version == 3
    session = ChargingSession.objects.get(pk=started.pk)
    assert (session.source, session.status, session.driver_id) == (
        SessionSource.OCPP,
        SessionStatus.COMPLETED,
        tokens[0].driver_id,
    )
    assert session.connector.connector_id == 2
    assert session.energy_wh == session.meter_stop_wh - session.meter_start_wh
    assert ChargingSession.objects.filter(source=SessionSource.OCPP).count() == 1


def test_the_command_runs_its_sessions_and_reports_them(gateway, depot_fleet):
    fleet, _ = depot_fleet
    output = io.StringIO()

    call_command(
        "ocpp_simulate",
        "--fleet",
        fleet.slug,
        "--stations",
        "1",
        "--port",
        str(gateway.port),
        "--sessions",
        "1",
        "--meter-seconds",
        "0.1",
        "--session-seconds",
        "0.3",
        "--pause-seconds",
        "0",
        stdout=output,
    )

    assert output.getvalue().splitlines() == [
        f"Simulating CP-SIM-1 against ws://127.0.0.1:{gateway.port}/ocpp/ for 1 session(s) "
        "per connector.",
        "  CP-SIM-1: 2 session(s)",
        "Completed 2 session(s).",
    ]
    assert (
        ChargingSession.objects.filter(
            source=SessionSource.OCPP, status=SessionStatus.COMPLETED
        ).count()
        == 2
    )


def _station_passwords() -> dict[str, str]:
    return dict(ChargingStation.objects.values_list("ocpp_identity", "ocpp_password"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fleet_slug", "message"),
    [
        ("no-such-fleet", "--fleet: There is no fleet 'no-such-fleet'."),
        (
            "home-only",
            "--fleet: Fleet 'home-only' has no depot station with an OCPP identity to simulate.",
        ),
        (
            "no-drivers",
            "--fleet: Fleet 'no-drivers' has no active driver with an active charge token to "
            "charge with.",
        ),
    ],
    ids=["unknown fleet", "fleet without depot stations", "fleet without active tokens"],
)
def test_the_command_refuses_a_fleet_it_cannot_simulate_and_changes_nothing(
    depot_fleet, fleet_slug, message
):
    home_only = FleetFactory(slug="home-only")
    ChargingStationFactory(fleet=home_only, ocpp_identity="CP-HOME-ONLY", depot=None)
    ChargeTokenFactory(driver=DriverFactory(fleet=home_only))
    ChargingStationFactory(fleet=FleetFactory(slug="no-drivers"), ocpp_identity="CP-NO-DRIVERS")
    passwords_before = _station_passwords()

    with pytest.raises(CommandError) as refused:
        call_command("ocpp_simulate", "--fleet", fleet_slug, "--stations", "2")

    assert str(refused.value) == message
    assert _station_passwords() == passwords_before
    assert not ChargingSession.objects.filter(source=SessionSource.OCPP).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("option", "value"),
    [("--stations", "0"), ("--sessions", "0"), ("--meter-seconds", "0")],
)
def test_the_command_refuses_counts_and_intervals_below_their_minimum(depot_fleet, option, value):
    fleet, _ = depot_fleet
    passwords_before = _station_passwords()

    with pytest.raises(CommandError, match=f"argument {option}"):
        call_command("ocpp_simulate", "--fleet", fleet.slug, option, value)

    assert _station_passwords() == passwords_before
