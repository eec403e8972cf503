"""Simulated depot chargers for trying the OCPP gateway locally: each is one of a fleet's depot
stations, built on the `ocpp` package's charge point side, that connects with a fresh password,
charges the fleet's drivers one session after another, answers what the central system asks,
and reports it all over OCPP 1.6J as a real charger would.

The database is read and the stations' passwords are set before the event loop starts
(`simulation_prepare`); what runs on the loop (`depot_simulate`) only talks OCPP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from urllib.parse import quote

from django.db import transaction
from django.db.models import Case, Max, Prefetch, Q, When
from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import KeyValue, MeterValue, SampledValue
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityStatus,
    AvailabilityType,
    ChargePointErrorCode,
    ChargePointStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    Measurand,
    MessageTrigger,
    ReadingContext,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ResetStatus,
    ResetType,
    TriggerMessageStatus,
    UnitOfMeasure,
    UnlockStatus,
    UpdateStatus,
    UpdateType,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.headers import build_authorization_basic

from apps.charging.chargers import charging_station_password_set
from apps.charging.choices import PowerType
from apps.charging.models import ChargingSession, ChargingStation, Connector
from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.models import ChargeToken
from apps.fleets.models import Fleet
from apps.ocpp.gateway import PATH_PREFIX, SUBPROTOCOL
from apps.ocpp.timestamps import ocpp_timestamp
from voltop.core.errors import DomainError, NotFound

logger = logging.getLogger(__name__)
# The library logs every frame it sends and receives at INFO; `ocpp_simulate` shows them only
# at a higher verbosity.
FRAMES_LOGGER_NAME = "apps.ocpp.simulator.frames"
frames_logger = logging.getLogger(FRAMES_LOGGER_NAME)

# secrets.token_urlsafe(24) is 32 characters: inside OCPP 1.6's 16 to 40 for a password.
STATION_PASSWORD_BYTES = 24
# What a simulated car draws: the connector's maximum, up to what the slowest cars of a fleet
# take (a Nissan Leaf: 6.6 kW AC, 50 kW DC), so that no session takes more than its car could.
SIMULATED_CAR_AC_POWER_W = 6_600
SIMULATED_CAR_DC_POWER_W = 50_000
SIMULATED_BATTERY_WH = 60_000
SIMULATED_STATE_OF_CHARGE_AT_ARRIVAL = (15, 60)
# Before the central system names an interval in its BootNotification answer.
HEARTBEAT_SECONDS_BEFORE_BOOT = 300
# BootNotification limits a vendor and a model to 20 characters (CiString20Type).
BOOT_VENDOR_MAX_LENGTH = 20
BOOT_MODEL_MAX_LENGTH = 20
BOOT_SERIAL_NUMBER_MAX_LENGTH = 25
BOOT_FIRMWARE_VERSION_MAX_LENGTH = 50
METER_VALUES_SAMPLED_DATA = ",".join(
    (Measurand.energy_active_import_register, Measurand.power_active_import, Measurand.soc)
)
LOCAL_AUTH_LIST_MAX_LENGTH = 10_000
WRITABLE_CONFIGURATION_DEFAULTS = {
    "AuthorizeRemoteTxRequests": "false",
    "ClockAlignedDataInterval": "0",
    "ConnectionTimeOut": "60",
    "LocalAuthListEnabled": "true",
    "LocalAuthorizeOffline": "true",
    "MeterValuesSampledData": METER_VALUES_SAMPLED_DATA,
    "StopTransactionOnEVSideDisconnect": "true",
}
READ_ONLY_CONFIGURATION = {
    "LocalAuthListMaxLength": str(LOCAL_AUTH_LIST_MAX_LENGTH),
    "SupportedFeatureProfiles": "Core,LocalAuthListManagement,RemoteTrigger",
}
TRIGGERS_ANSWERED = frozenset(
    {
        MessageTrigger.boot_notification,
        MessageTrigger.heartbeat,
        MessageTrigger.status_notification,
        MessageTrigger.meter_values,
        MessageTrigger.diagnostics_status_notification,
        MessageTrigger.firmware_status_notification,
    }
)


class SimulatorFleetUnknown(NotFound):
    code = "ocpp.simulator_fleet_unknown"


class SimulatorFleetWithoutStations(DomainError):
    code = "ocpp.simulator_fleet_without_stations"


class SimulatorFleetWithoutTokens(DomainError):
    code = "ocpp.simulator_fleet_without_tokens"


class ChargerDisconnected(Exception):
    """The gateway closed a simulated charger's connection."""


class SessionOutcome(Enum):
    """How a simulated session attempt ended."""

    COMPLETED = "completed"
    TAG_REFUSED = "tag_refused"
    NOT_STARTED = "not_started"


@dataclass(frozen=True)
class ConnectorToSimulate:
    """An outlet of a simulated charger: its OCPP id, what a car draws from it (W) and its meter
    register (Wh) when the simulation starts."""

    connector_id: int
    power_w: int
    meter_wh: int


@dataclass(frozen=True)
class StationToSimulate:
    """A station a simulated charger plays, with the password it connects with."""

    ocpp_identity: str
    password: str
    vendor: str
    model: str
    serial_number: str
    firmware_version: str
    connectors: tuple[ConnectorToSimulate, ...]


@dataclass(frozen=True)
class SimulationPlan:
    """The stations of a fleet to simulate and the id tags their drivers charge with."""

    fleet_slug: str
    stations: tuple[StationToSimulate, ...]
    id_tags: tuple[str, ...]


@dataclass(frozen=True)
class SimulationOptions:
    """Where the gateway listens and how the simulated chargers charge: a session lasts
    `session_seconds` with a meter reading every `meter_seconds`, a connector rests
    `pause_seconds` between sessions, and each charges `sessions_per_connector` sessions (None:
    until the simulation is stopped)."""

    host: str
    port: int
    meter_seconds: float
    session_seconds: float
    pause_seconds: float
    sessions_per_connector: int | None
    response_timeout_seconds: float = 30.0


@dataclass(frozen=True)
class SimulationReport:
    """What a simulation did: the sessions each station completed, and why any charger failed."""

    sessions_by_station: dict[str, int]
    failures: dict[str, str]

    @property
    def sessions(self) -> int:
        return sum(self.sessions_by_station.values())


# Reading the fleet, before the event loop ---------------------------------------------------


def simulator_station_list(*, fleet: Fleet, count: int) -> list[ChargingStation]:
    """The first `count` depot stations of `fleet` with an OCPP identity, ordered by identity,
    with their connectors."""
    return list(
        ChargingStation.objects.filter(fleet=fleet, depot__isnull=False)
        .exclude(ocpp_identity="")
        .order_by("ocpp_identity")
        .prefetch_related(
            Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
        )[:count]
    )


def simulator_id_tag_list(*, fleet: Fleet, at: datetime) -> list[str]:
    """One id tag per active driver of `fleet`: the uid of an active token valid at `at`, an
    RFID card before another kind."""
    tokens = (
        ChargeToken.objects.filter(
            driver__fleet=fleet,
            driver__status=DriverStatus.ACTIVE,
            is_active=True,
            valid_from__lte=at,
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .annotate(card_first=Case(When(kind=TokenKind.RFID, then=0), default=1))
        .order_by("driver_id", "card_first", "pk")
        .values_list("driver_id", "uid")
    )
    id_tag_of_driver: dict[int, str] = {}
    for driver_id, uid in tokens:
        id_tag_of_driver.setdefault(driver_id, uid)
    return list(id_tag_of_driver.values())


def connector_meter_readings(*, connector_ids: Iterable[int]) -> dict[int, int]:
    """The highest meter reading (Wh) recorded on each connector's sessions, by connector pk;
    a connector without sessions is left out."""
    rows = (
        ChargingSession.objects.filter(connector_id__in=list(connector_ids))
        .values("connector_id")
        .annotate(stop=Max("meter_stop_wh"), start=Max("meter_start_wh"))
    )
    return {
        row["connector_id"]: max(value or 0 for value in (row["stop"], row["start"]))
        for row in rows
    }


def simulated_power_w(connector: Connector) -> int:
    """What a simulated car draws from `connector` (W)."""
    car_limit = (
        SIMULATED_CAR_DC_POWER_W
        if connector.power_type == PowerType.DC
        else SIMULATED_CAR_AC_POWER_W
    )
    return min(int(connector.max_kw * 1000), car_limit)


@transaction.atomic
def simulation_prepare(*, fleet_slug: str, station_count: int, at: datetime) -> SimulationPlan:
    """Choose the first `station_count` depot stations of the fleet by OCPP identity, give each
    a freshly generated password, and read what their chargers start from: their connectors
    (connector 1 for a station that has none yet), each connector's meter at the highest
    reading recorded on it, and the id tags of the fleet's active drivers.

    An unknown fleet, or one without depot stations or without an active driver holding an
    active token, is refused and nothing changes. A charger already connected as one of the
    stations stays connected, but cannot connect again with its old password."""
    fleet = Fleet.objects.filter(slug=fleet_slug).first()
    if fleet is None:
        raise SimulatorFleetUnknown(f"There is no fleet {fleet_slug!r}.", field="fleet")
    stations = simulator_station_list(fleet=fleet, count=station_count)
    if not stations:
        raise SimulatorFleetWithoutStations(
            f"Fleet {fleet.slug!r} has no depot station with an OCPP identity to simulate.",
            field="fleet",
        )
    id_tags = simulator_id_tag_list(fleet=fleet, at=at)
    if not id_tags:
        raise SimulatorFleetWithoutTokens(
            f"Fleet {fleet.slug!r} has no active driver with an active charge token to charge "
            "with.",
            field="fleet",
        )
    readings = connector_meter_readings(
        connector_ids=[
            connector.pk for station in stations for connector in station.connectors.all()
        ]
    )
    planned = []
    for station in stations:
        password = secrets.token_urlsafe(STATION_PASSWORD_BYTES)
        charging_station_password_set(station=station, password=password)
        connectors = tuple(
            ConnectorToSimulate(
                connector_id=connector.connector_id,
                power_w=simulated_power_w(connector),
                meter_wh=readings.get(connector.pk, 0),
            )
            for connector in station.connectors.all()
        ) or (ConnectorToSimulate(connector_id=1, power_w=SIMULATED_CAR_AC_POWER_W, meter_wh=0),)
        planned.append(
            StationToSimulate(
                ocpp_identity=station.ocpp_identity,
                password=password,
                vendor=station.vendor,
                model=station.model,
                serial_number=station.serial_number,
                firmware_version=station.firmware_version,
                connectors=connectors,
            )
        )
    logger.info(
        "ocpp.simulation_prepared",
        extra={"fleet": fleet.slug, "stations": [station.ocpp_identity for station in planned]},
    )
    return SimulationPlan(fleet_slug=fleet.slug, stations=tuple(planned), id_tags=tuple(id_tags))


# The chargers, on the event loop ---------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(tz=UTC)


async def _wait_for_event(event: asyncio.Event, seconds: float) -> bool:
    """Whether `event` is set within `seconds`."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), max(seconds, 0))
    return event.is_set()


class IdTagPool:
    """The fleet's id tags, each lent to one connector at a time, as a driver charges one car at
    a time. A tag the central system refuses is retired."""

    def __init__(self, id_tags: Iterable[str]):
        self._free: asyncio.Queue[str | None] = asyncio.Queue()
        self._usable = 0
        for id_tag in id_tags:
            self._free.put_nowait(id_tag)
            self._usable += 1

    async def take(self, stopping: asyncio.Event) -> str | None:
        """A free tag, once one is; None when the simulation stops or no usable tag is left."""
        if self._usable == 0 or stopping.is_set():
            return None
        taking = asyncio.ensure_future(self._free.get())
        stopped = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({taking, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not taking.done():
                taking.cancel()
        if not taking.done() or taking.cancelled():
            return None
        id_tag = taking.result()
        if id_tag is None:
            self._free.put_nowait(None)
        return id_tag

    def give_back(self, id_tag: str) -> None:
        self._free.put_nowait(id_tag)

    def retire(self, id_tag: str) -> None:
        self._usable -= 1
        if self._usable == 0:
            self._free.put_nowait(None)


class ConnectorState:
    """One outlet of a simulated charger: its meter register, whether it is taken, and the
    transaction on it."""

    def __init__(self, simulated: ConnectorToSimulate):
        self.connector_id = simulated.connector_id
        self.power_w = simulated.power_w
        self.register_wh = float(simulated.meter_wh)
        self.status = ChargePointStatus.available
        self.operative = True
        self.busy = False
        self.transaction_id: int | None = None
        self.state_of_charge_percent: int | None = None
        self.stop_reason = Reason.local
        self._stop_requested = asyncio.Event()
        self._changed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def meter_wh(self) -> int:
        return int(self.register_wh)

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def claim(self) -> bool:
        """Take the connector for a session, when it is free and operative."""
        if self.busy or not self.operative:
            return False
        self.busy = True
        self.stop_reason = Reason.local
        self._stop_requested.clear()
        self._idle.clear()
        return True

    async def claim_when_free(self, stopping: asyncio.Event) -> bool:
        """Take the connector once it is free and operative; False when the simulation stops
        first."""
        while True:
            self._changed.clear()
            if stopping.is_set():
                return False
            if self.claim():
                return True
            waiting = asyncio.ensure_future(self._changed.wait())
            stopped = asyncio.ensure_future(stopping.wait())
            try:
                await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
                stopped.cancel()

    def release(self) -> None:
        self.busy = False
        self.transaction_id = None
        self._idle.set()
        self._changed.set()

    def operative_set(self, operative: bool) -> None:
        self.operative = operative
        self._changed.set()

    def request_stop(self, reason: Reason) -> None:
        """Ask the session on the connector to stop, for `reason`."""
        if self.busy and not self._stop_requested.is_set():
            self.stop_reason = reason
            self._stop_requested.set()

    async def wait_for_stop(self, seconds: float) -> bool:
        """Whether a stop is requested within `seconds`."""
        return await _wait_for_event(self._stop_requested, seconds)

    async def wait_idle(self) -> None:
        await self._idle.wait()


class SimulatedCharger(ChargePoint):
    """The charger of one station: it boots, reports its connectors, sends heartbeats, and
    charges one session after another on each connector; it answers remote starts and stops
    as a charger does, and the central system's other calls with plausible answers."""

    def __init__(
        self,
        station: StationToSimulate,
        connection: ClientConnection,
        *,
        options: SimulationOptions,
        id_tags: IdTagPool,
        stopping: asyncio.Event,
    ):
        super().__init__(
            station.ocpp_identity,
            connection,
            response_timeout=options.response_timeout_seconds,
            logger=frames_logger,
        )
        self.station = station
        self.options = options
        self.id_tags = id_tags
        self.stopping = stopping
        self.connectors = {
            connector.connector_id: ConnectorState(connector) for connector in station.connectors
        }
        self.heartbeat_seconds: float = HEARTBEAT_SECONDS_BEFORE_BOOT
        self.meter_seconds = options.meter_seconds
        self.configuration = dict(WRITABLE_CONFIGURATION_DEFAULTS)
        self.local_list_version = 0
        self.sessions_completed = 0
        self._random = random.Random(station.ocpp_identity)  # noqa: S311 - a simulation, not cryptography
        self._closing = False
        self._remote_start_claims: dict[str, ConnectorState] = {}
        self._answers_in_progress: set[asyncio.Task] = set()

    # The charger's own flow -------------------------------------------------------------------

    async def run(self) -> int:
        """Boot, then charge until every connector has charged its sessions or the simulation
        stops; then finish what the central system asked for (a remotely started session, a
        reset). Returns the sessions completed."""
        if not await self.boot():
            return self.sessions_completed
        heartbeats = asyncio.create_task(self._send_heartbeats())
        stopper = asyncio.create_task(self._stop_transactions_when_stopping())
        try:
            async with asyncio.TaskGroup() as sessions:
                for connector in self.connectors.values():
                    sessions.create_task(self._charge_sessions(connector))
            self._closing = True
            while self._answers_in_progress:
                await asyncio.gather(*self._answers_in_progress, return_exceptions=True)
        finally:
            for task in (heartbeats, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return self.sessions_completed

    async def boot(self) -> bool:
        """Send BootNotification until the central system accepts it, then the status of each
        connector; False when the simulation stops first."""
        while True:
            answer = await self._boot_notification()
            if answer.status == RegistrationStatus.accepted:
                break
            logger.warning(
                "ocpp.simulator_boot_not_accepted",
                extra={"station": self.id, "status": answer.status},
            )
            if await _wait_for_event(self.stopping, self.heartbeat_seconds):
                return False
        logger.info(
            "ocpp.simulator_booted",
            extra={"station": self.id, "heartbeat_seconds": self.heartbeat_seconds},
        )
        for connector in self.connectors.values():
            await self._report_status(connector, connector.status)
        return True

    async def _boot_notification(self) -> call_result.BootNotification:
        station = self.station
        answer = await self.call(
            call.BootNotification(
                charge_point_vendor=station.vendor[:BOOT_VENDOR_MAX_LENGTH],
                charge_point_model=station.model[:BOOT_MODEL_MAX_LENGTH],
                charge_point_serial_number=station.serial_number[:BOOT_SERIAL_NUMBER_MAX_LENGTH]
                or None,
                firmware_version=station.firmware_version[:BOOT_FIRMWARE_VERSION_MAX_LENGTH]
                or None,
            ),
            suppress=False,
        )
        if answer.interval > 0:
            self.heartbeat_seconds = answer.interval
        return answer

    async def _send_heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            await self._report(call.Heartbeat())

    async def _stop_transactions_when_stopping(self) -> None:
        await self.stopping.wait()
        for connector in self.connectors.values():
            connector.request_stop(Reason.local)

    async def _charge_sessions(self, connector: ConnectorState) -> None:
        """Charge the connector's sessions one after another, each with a free id tag. After a
        session that could not start, wait at least a meter interval before the next try."""
        wanted = self.options.sessions_per_connector
        charged = 0
        if await _wait_for_event(
            self.stopping, self._random.uniform(0, self.options.pause_seconds)
        ):
            return
        while wanted is None or charged < wanted:
            id_tag = await self.id_tags.take(self.stopping)
            if id_tag is None:
                return
            if not await connector.claim_when_free(self.stopping):
                self.id_tags.give_back(id_tag)
                return
            outcome = SessionOutcome.NOT_STARTED
            try:
                outcome = await self._charge(connector, id_tag, authorize=True)
            finally:
                connector.release()
                if outcome == SessionOutcome.TAG_REFUSED:
                    self.id_tags.retire(id_tag)
                else:
                    self.id_tags.give_back(id_tag)
            pause = self.options.pause_seconds
            if outcome == SessionOutcome.COMPLETED:
                charged += 1
            else:
                pause = max(pause, self.meter_seconds)
            if await _wait_for_event(self.stopping, pause):
                return

    async def _charge(
        self, connector: ConnectorState, id_tag: str, *, authorize: bool
    ) -> SessionOutcome:
        """One session on a connector taken for it: Authorize (unless started remotely),
        Preparing, StartTransaction, Charging, a meter reading every few seconds, then
        StopTransaction and Available."""
        if authorize:
            try:
                authorized = await self.call(call.Authorize(id_tag=id_tag), suppress=False)
            except OCPPError as error:
                self._log_refusal(Action.authorize, error)
                return SessionOutcome.NOT_STARTED
            status = authorized.id_tag_info["status"]
            if status != AuthorizationStatus.accepted:
                logger.warning(
                    "ocpp.simulator_tag_refused",
                    extra={"station": self.id, "id_tag": id_tag, "status": status},
                )
                return SessionOutcome.TAG_REFUSED
        if connector.stop_requested or not connector.operative:
            return SessionOutcome.NOT_STARTED
        await self._report_status(connector, ChargePointStatus.preparing)
        meter_start_wh = connector.meter_wh
        try:
            started = await self.call(
                call.StartTransaction(
                    connector_id=connector.connector_id,
                    id_tag=id_tag,
                    meter_start=meter_start_wh,
                    timestamp=ocpp_timestamp(_now()),
                ),
                suppress=False,
            )
        except OCPPError as error:
            self._log_refusal(Action.start_transaction, error)
            await self._report_status(connector, self._idle_status(connector))
            return SessionOutcome.NOT_STARTED
        connector.transaction_id = started.transaction_id
        logger.info(
            "ocpp.simulator_session_started",
            extra={
                "station": self.id,
                "connector_id": connector.connector_id,
                "transaction_id": started.transaction_id,
                "id_tag": id_tag,
                "meter_start_wh": meter_start_wh,
                "remote": not authorize,
            },
        )
        if started.id_tag_info["status"] == AuthorizationStatus.accepted:
            await self._report_status(connector, ChargePointStatus.charging)
        else:
            connector.request_stop(Reason.de_authorized)
        await self._meter_until_stopped(connector, meter_start_wh)
        return await self._stop_transaction(connector, id_tag, meter_start_wh)

    async def _meter_until_stopped(self, connector: ConnectorState, meter_start_wh: int) -> None:
        """Let the car draw its power, sending a meter reading every `meter_seconds`, until
        the session's time is up or a stop is requested."""
        arrival_percent = self._random.randint(*SIMULATED_STATE_OF_CHARGE_AT_ARRIVAL)
        connector.state_of_charge_percent = arrival_percent
        last = time.monotonic()
        ends = last + self.options.session_seconds
        while not await connector.wait_for_stop(min(self.meter_seconds, ends - last)):
            now = time.monotonic()
            connector.register_wh += connector.power_w * (now - last) / 3600
            last = now
            if now >= ends:
                break
            charged_wh = connector.meter_wh - meter_start_wh
            connector.state_of_charge_percent = min(
                arrival_percent + charged_wh * 100 // SIMULATED_BATTERY_WH, 100
            )
            await self._report_meter(connector, ReadingContext.sample_periodic)
        connector.register_wh += connector.power_w * (time.monotonic() - last) / 3600

    async def _stop_transaction(
        self, connector: ConnectorState, id_tag: str, meter_start_wh: int
    ) -> SessionOutcome:
        transaction_id = connector.transaction_id
        meter_stop_wh = connector.meter_wh
        try:
            await self.call(
                call.StopTransaction(
                    meter_stop=meter_stop_wh,
                    timestamp=ocpp_timestamp(_now()),
                    transaction_id=transaction_id,
                    reason=connector.stop_reason,
                    id_tag=id_tag,
                ),
                suppress=False,
            )
        except OCPPError as error:
            self._log_refusal(Action.stop_transaction, error)
            return SessionOutcome.NOT_STARTED
        finally:
            connector.transaction_id = None
            connector.state_of_charge_percent = None
        logger.info(
            "ocpp.simulator_session_stopped",
            extra={
                "station": self.id,
                "connector_id": connector.connector_id,
                "transaction_id": transaction_id,
                "meter_stop_wh": meter_stop_wh,
                "energy_wh": meter_stop_wh - meter_start_wh,
                "reason": connector.stop_reason,
            },
        )
        self.sessions_completed += 1
        await self._report_status(connector, self._idle_status(connector))
        return SessionOutcome.COMPLETED

    @staticmethod
    def _idle_status(connector: ConnectorState) -> ChargePointStatus:
        return ChargePointStatus.available if connector.operative else ChargePointStatus.unavailable

    async def _report(self, payload) -> None:
        """Send a report whose refusal the charger can only log."""
        try:
            await self.call(payload, suppress=False)
        except OCPPError as error:
            self._log_refusal(payload.__class__.__name__, error)

    async def _report_status(self, connector: ConnectorState, status: ChargePointStatus) -> None:
        connector.status = status
        await self._report(
            call.StatusNotification(
                connector_id=connector.connector_id,
                error_code=ChargePointErrorCode.no_error,
                status=status,
                timestamp=ocpp_timestamp(_now()),
            )
        )

    async def _report_meter(self, connector: ConnectorState, context: ReadingContext) -> None:
        charging = connector.transaction_id is not None
        samples = [
            SampledValue(
                value=str(connector.meter_wh),
                context=context,
                measurand=Measurand.energy_active_import_register,
                unit=UnitOfMeasure.wh,
            ),
            SampledValue(
                value=str(connector.power_w if charging else 0),
                context=context,
                measurand=Measurand.power_active_import,
                unit=UnitOfMeasure.w,
            ),
        ]
        if charging and connector.state_of_charge_percent is not None:
            samples.append(
                SampledValue(
                    value=str(connector.state_of_charge_percent),
                    context=context,
                    measurand=Measurand.soc,
                    unit=UnitOfMeasure.percent,
                )
            )
        await self._report(
            call.MeterValues(
                connector_id=connector.connector_id,
                transaction_id=connector.transaction_id,
                meter_value=[MeterValue(timestamp=ocpp_timestamp(_now()), sampled_value=samples)],
            )
        )

    def _log_refusal(self, action: str, error: OCPPError) -> None:
        logger.warning(
            "ocpp.simulator_call_refused",
            extra={"station": self.id, "action": action, "error": f"{error.code}: {error}"},
        )

    def _log_answer(self, action: str, status: str, **details) -> None:
        logger.info(
            "ocpp.simulator_call_answered",
            extra={"station": self.id, "action": action, "status": status, **details},
        )

    @contextlib.contextmanager
    def _answer_in_progress(self, action: str):
        """Keep the running task, what the charger does after answering `action`, until it
        ends, so the charger finishes it before it disconnects; log its failure, which nobody
        else would see."""
        task = asyncio.current_task()
        if task is not None:
            self._answers_in_progress.add(task)
        try:
            yield
        except Exception as error:
            logger.exception(
                "ocpp.simulator_answer_failed",
                extra={"station": self.id, "action": action, "error": str(error)},
            )
        finally:
            self._answers_in_progress.discard(task)

    def _connectors_named(self, connector_id: int | None) -> list[ConnectorState]:
        """The connectors a call names: all for none or 0, else the one with that id."""
        if not connector_id:
            return list(self.connectors.values())
        connector = self.connectors.get(connector_id)
        return [connector] if connector is not None else []

    def _connector_of_transaction(self, transaction_id: int) -> ConnectorState | None:
        for connector in self.connectors.values():
            if connector.transaction_id == transaction_id:
                return connector
        return None

    # Calls from the central system ------------------------------------------------------------

    @on(Action.remote_start_transaction)
    async def on_remote_start_transaction(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict | None = None,
        call_unique_id: str = "",
    ):
        candidates = self._connectors_named(connector_id) if not self._closing else []
        connector = next((c for c in candidates if not self.stopping.is_set() and c.claim()), None)
        status = RemoteStartStopStatus.rejected
        if connector is not None:
            self._remote_start_claims[call_unique_id] = connector
            status = RemoteStartStopStatus.accepted
        self._log_answer(Action.remote_start_transaction, status, connector_id=connector_id)
        return call_result.RemoteStartTransaction(status=status)

    @after(Action.remote_start_transaction)
    async def after_remote_start_transaction(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict | None = None,
        call_unique_id: str = "",
    ):
        connector = self._remote_start_claims.pop(call_unique_id, None)
        if connector is None:
            return
        with self._answer_in_progress(Action.remote_start_transaction):
            try:
                await self._charge(connector, id_tag, authorize=False)
            finally:
                connector.release()

    @on(Action.remote_stop_transaction)
    async def on_remote_stop_transaction(self, transaction_id: int):
        known = self._connector_of_transaction(transaction_id) is not None
        status = RemoteStartStopStatus.accepted if known else RemoteStartStopStatus.rejected
        self._log_answer(Action.remote_stop_transaction, status, transaction_id=transaction_id)
        return call_result.RemoteStopTransaction(status=status)

    @after(Action.remote_stop_transaction)
    async def after_remote_stop_transaction(self, transaction_id: int):
        connector = self._connector_of_transaction(transaction_id)
        if connector is not None:
            connector.request_stop(Reason.remote)

    @on(Action.reset)
    async def on_reset(self, type: str):
        self._log_answer(Action.reset, ResetStatus.accepted, type=type)
        return call_result.Reset(status=ResetStatus.accepted)

    @after(Action.reset)
    async def after_reset(self, type: str):
        """Stop the transactions in progress, as a charger does before it restarts, then boot
        again."""
        reason = Reason.hard_reset if type == ResetType.hard else Reason.soft_reset
        charging = [c for c in self.connectors.values() if c.transaction_id is not None]
        with self._answer_in_progress(Action.reset):
            for connector in charging:
                connector.request_stop(reason)
            await asyncio.gather(*(connector.wait_idle() for connector in charging))
            await self.boot()

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str):
        connectors = self._connectors_named(connector_id)
        operative = type == AvailabilityType.operative
        status = AvailabilityStatus.rejected
        if connectors:
            status = AvailabilityStatus.accepted
            for connector in connectors:
                if connector.busy and not operative:
                    status = AvailabilityStatus.scheduled
                connector.operative_set(operative)
        self._log_answer(Action.change_availability, status, connector_id=connector_id, type=type)
        return call_result.ChangeAvailability(status=status)

    @after(Action.change_availability)
    async def after_change_availability(self, connector_id: int, type: str):
        with self._answer_in_progress(Action.change_availability):
            for connector in self._connectors_named(connector_id):
                if not connector.busy:
                    await self._report_status(connector, self._idle_status(connector))

    @on(Action.trigger_message)
    async def on_trigger_message(self, requested_message: str, connector_id: int | None = None):
        if requested_message not in TRIGGERS_ANSWERED:
            status = TriggerMessageStatus.not_implemented
        elif not self._connectors_named(connector_id):
            status = TriggerMessageStatus.rejected
        else:
            status = TriggerMessageStatus.accepted
        self._log_answer(Action.trigger_message, status, requested_message=requested_message)
        return call_result.TriggerMessage(status=status)

    @after(Action.trigger_message)
    async def after_trigger_message(self, requested_message: str, connector_id: int | None = None):
        connectors = self._connectors_named(connector_id)
        if requested_message not in TRIGGERS_ANSWERED or not connectors:
            return
        with self._answer_in_progress(Action.trigger_message):
            await self._send_triggered(requested_message, connectors)

    async def _send_triggered(
        self, requested_message: str, connectors: list[ConnectorState]
    ) -> None:
        if requested_message == MessageTrigger.boot_notification:
            await self._boot_notification()
        elif requested_message == MessageTrigger.heartbeat:
            await self._report(call.Heartbeat())
        elif requested_message == MessageTrigger.status_notification:
            for connector in connectors:
                await self._report_status(connector, connector.status)
        elif requested_message == MessageTrigger.meter_values:
            for connector in connectors:
                await self._report_meter(connector, ReadingContext.trigger)
        elif requested_message == MessageTrigger.diagnostics_status_notification:
            await self._report(call.DiagnosticsStatusNotification(status=DiagnosticsStatus.idle))
        else:
            await self._report(call.FirmwareStatusNotification(status=FirmwareStatus.idle))

    @on(Action.clear_cache)
    async def on_clear_cache(self):
        self._log_answer(Action.clear_cache, ClearCacheStatus.accepted)
        return call_result.ClearCache(status=ClearCacheStatus.accepted)

    @on(Action.send_local_list)
    async def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list | None = None,
    ):
        entries = local_authorization_list or []
        if len(entries) > LOCAL_AUTH_LIST_MAX_LENGTH:
            status = UpdateStatus.failed
        elif update_type == UpdateType.differential and list_version <= self.local_list_version:
            status = UpdateStatus.version_mismatch
        else:
            status = UpdateStatus.accepted
            self.local_list_version = list_version
        self._log_answer(
            Action.send_local_list, status, list_version=list_version, entries=len(entries)
        )
        return call_result.SendLocalList(status=status)

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self):
        return call_result.GetLocalListVersion(list_version=self.local_list_version)

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, connector_id: int):
        known = connector_id in self.connectors
        status = UnlockStatus.unlocked if known else UnlockStatus.unlock_failed
        self._log_answer(Action.unlock_connector, status, connector_id=connector_id)
        return call_result.UnlockConnector(status=status)

    @after(Action.unlock_connector)
    async def after_unlock_connector(self, connector_id: int):
        connector = self.connectors.get(connector_id)
        if connector is not None and connector.transaction_id is not None:
            connector.request_stop(Reason.unlock_command)

    def _configuration(self) -> dict[str, tuple[str, bool]]:
        """Each configuration key's value and whether it is read-only."""
        return {
            "HeartbeatInterval": (f"{self.heartbeat_seconds:g}", False),
            "MeterValueSampleInterval": (f"{self.meter_seconds:g}", False),
            "NumberOfConnectors": (str(len(self.connectors)), True),
            **{key: (value, True) for key, value in READ_ONLY_CONFIGURATION.items()},
            **{key: (value, False) for key, value in self.configuration.items()},
        }

    @on(Action.get_configuration)
    async def on_get_configuration(self, key: list | None = None):
        configuration = self._configuration()
        wanted = key or sorted(configuration)
        return call_result.GetConfiguration(
            configuration_key=[
                KeyValue(key=name, readonly=configuration[name][1], value=configuration[name][0])
                for name in wanted
                if name in configuration
            ],
            unknown_key=[name for name in wanted if name not in configuration] or None,
        )

    @on(Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str):
        current = self._configuration().get(key)
        if current is None:
            status = ConfigurationStatus.not_supported
        elif current[1]:
            status = ConfigurationStatus.rejected
        elif key in ("HeartbeatInterval", "MeterValueSampleInterval"):
            status = self._interval_change(key, value)
        else:
            self.configuration[key] = value
            status = ConfigurationStatus.accepted
        self._log_answer(Action.change_configuration, status, key=key, value=value)
        return call_result.ChangeConfiguration(status=status)

    def _interval_change(self, key: str, value: str) -> ConfigurationStatus:
        try:
            seconds = int(value)
        except ValueError:
            return ConfigurationStatus.rejected
        if seconds <= 0:
            return ConfigurationStatus.rejected
        if key == "HeartbeatInterval":
            self.heartbeat_seconds = seconds
        else:
            self.meter_seconds = seconds
        return ConfigurationStatus.accepted


async def _charger_run(
    station: StationToSimulate,
    options: SimulationOptions,
    id_tags: IdTagPool,
    stopping: asyncio.Event,
) -> int:
    """Connect one station's charger with its password, run it, and close its connection; the
    sessions it completed."""
    uri = f"ws://{options.host}:{options.port}{PATH_PREFIX}{quote(station.ocpp_identity, safe='')}"
    async with connect(
        uri,
        subprotocols=[SUBPROTOCOL],
        additional_headers={
            "Authorization": build_authorization_basic(station.ocpp_identity, station.password)
        },
        open_timeout=options.response_timeout_seconds,
    ) as connection:
        charger = SimulatedCharger(
            station, connection, options=options, id_tags=id_tags, stopping=stopping
        )
        logger.info("ocpp.simulator_connected", extra={"station": station.ocpp_identity})
        reading = asyncio.create_task(charger.start())
        running = asyncio.create_task(charger.run())
        try:
            await asyncio.wait({reading, running}, return_when=asyncio.FIRST_COMPLETED)
            if not running.done():
                raise ChargerDisconnected(
                    f"The gateway closed the connection: {reading.exception()!r}"
                )
            sessions = running.result()
        finally:
            for task in (running, reading):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
    logger.info(
        "ocpp.simulator_disconnected",
        extra={"station": station.ocpp_identity, "sessions": sessions},
    )
    return sessions


def _failure_text(error: BaseException) -> str:
    """What went wrong, from the errors inside a task group rather than the group itself."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_failure_text(inner) for inner in error.exceptions)
    return f"{error.__class__.__name__}: {error}" if str(error) else error.__class__.__name__


async def depot_simulate(
    plan: SimulationPlan, options: SimulationOptions, *, stopping: asyncio.Event | None = None
) -> SimulationReport:
    """Run a charger for each planned station against the gateway until each has charged its
    sessions, or until `stopping` is set: then each stops the transactions in progress and
    closes its connection. A charger that fails is reported; the others go on."""
    stopping = stopping if stopping is not None else asyncio.Event()
    id_tags = IdTagPool(plan.id_tags)
    outcomes = await asyncio.gather(
        *(_charger_run(station, options, id_tags, stopping) for station in plan.stations),
        return_exceptions=True,
    )
    sessions_by_station: dict[str, int] = {}
    failures: dict[str, str] = {}
    for station, outcome in zip(plan.stations, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            failures[station.ocpp_identity] = _failure_text(outcome)
            logger.error(
                "ocpp.simulator_charger_failed",
                extra={"station": station.ocpp_identity, "error": repr(outcome)},
            )
        else:
            sessions_by_station[station.ocpp_identity] = outcome
    return SimulationReport(sessions_by_station=sessions_by_station, failures=failures)
