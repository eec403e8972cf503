"""What a charger reports over OCPP, written through the charging services: its connection,
boot, heartbeats and connector statuses, the authorisation of its tokens, and the starts,
meter readings and stops of its transactions.

The charger is the source of truth. What it reports has happened, so its starts are recorded
rather than refused: what a start from the app would be refused for (a blocked token, a second
depot session of the driver, a connector still charging) is written on the session for a
manager to look at."""

from __future__ import annotations

import dataclasses
import hmac
import logging
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.crypto import get_random_string

from apps.charging.charger_calls import remote_start_claim, remote_starts_waiting
from apps.charging.choices import (
    ConnectorStatus,
    LocationKind,
    PowerType,
    SessionSource,
    SessionStatus,
    StationStatus,
    TokenAuthorizationStatus,
)
from apps.charging.exceptions import (
    ConnectorIdInUse,
    StationPasswordInvalid,
    VehicleNotUsable,
)
from apps.charging.models import (
    ChargerMessage,
    ChargingSession,
    ChargingStation,
    Connector,
    MeterValue,
    UnassignedStation,
)
from apps.charging.services import (
    MeterReading,
    charging_session_record_meter_values,
    charging_session_stop,
    charging_sessions_stopped_save,
    charging_station_create,
    connector_create,
    cost_center_at_start,
    session_stop_refusal,
    session_stop_set,
    sessions_priced_together,
    vehicle_for_session_start,
)
from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.services import normalize_token_uid
from apps.fleets.models import Depot, Fleet
from apps.vehicles.choices import ConnectorStandard
from apps.vehicles.selectors import vehicle_assignments_at_for_drivers
from voltop.core.bulk_rows import rows_copied, rows_updated
from voltop.core.errors import DomainError
from voltop.core.timeutils import local_time_text, require_aware

logger = logging.getLogger(__name__)
Result = TypeVar("Result")
Item = TypeVar("Item")

# OCPP 1.6 security profile 1: the charger's AuthorizationKey is 16 to 40 characters.
STATION_PASSWORD_MIN_LENGTH = 16
STATION_PASSWORD_MAX_LENGTH = 40
# A connector the charger reports before a manager described it, until one does.
REPORTED_CONNECTOR_STANDARD = ConnectorStandard.IEC_62196_T2
REPORTED_CONNECTOR_POWER_TYPE = PowerType.AC_3_PHASE
REPORTED_CONNECTOR_MAX_KW = 22
STATION_STATUS_OF_CONNECTOR = {
    ConnectorStatus.AVAILABLE: StationStatus.AVAILABLE,
    ConnectorStatus.UNAVAILABLE: StationStatus.UNAVAILABLE,
    ConnectorStatus.FAULTED: StationStatus.FAULTED,
}


class StationPasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2 with fewer rounds than a person's login: a station password is 16 to 40 random
    characters, not a guessable word, and thousands of chargers reconnect at once after an
    outage, each checked once per connection."""

    algorithm = "pbkdf2_sha256_station"
    iterations = 10_000


STATION_PASSWORD_HASHER = StationPasswordHasher()


@dataclass(frozen=True)
class TokenAuthorization:
    """A tag's OCPP idTagInfo: its status, and until when an accepted tag is valid."""

    status: TokenAuthorizationStatus
    expiry: datetime | None = None
    token: ChargeToken | None = None
    reason: str = ""


@dataclass(frozen=True)
class ChargerStart:
    """A recorded charger start: the session (its id is the OCPP transactionId) and the tag's
    authorisation."""

    session: ChargingSession
    authorization: TokenAuthorization


def charging_station_password_check(password: str) -> None:
    """Refuse a station password outside 16 to 40 printable characters (OCPP 1.6 security
    profile 1), or with spaces at either end."""
    if not (
        STATION_PASSWORD_MIN_LENGTH <= len(password) <= STATION_PASSWORD_MAX_LENGTH
        and password.isprintable()
        and password == password.strip()
    ):
        raise StationPasswordInvalid(
            f"The password must be {STATION_PASSWORD_MIN_LENGTH} to "
            f"{STATION_PASSWORD_MAX_LENGTH} printable characters without spaces at either end "
            "(OCPP 1.6 security profile 1).",
            field="password",
        )


@transaction.atomic
def charging_station_password_set(*, station: ChargingStation, password: str) -> ChargingStation:
    """Give a station the password its charger sends with HTTP Basic auth; only its hash is
    kept. A password outside the rules is refused and nothing changes."""
    charging_station_password_check(password)
    station = ChargingStation.objects.select_for_update().get(pk=station.pk)
    station.ocpp_password = STATION_PASSWORD_HASHER.encode(password, get_random_string(22))
    station.save(update_fields=["ocpp_password", "updated_at"])
    logger.info("charging.station_password_set", extra={"station_id": station.pk})
    return station


class VerifiedPasswords:
    """The station passwords this process has verified, each kept as a keyed SHA-256 beside
    the stored hash it matched: a charger connecting again with the same password, and the
    station's password unchanged, costs one keyed hash instead of PBKDF2's ten thousand
    rounds. Thousands of chargers reconnecting after an outage are thus checked in
    microseconds each. The key is random and never leaves the process."""

    def __init__(self):
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, tuple[str, bytes]] = {}

    def _digest(self, password: str) -> bytes:
        return hmac.digest(self._key, password.encode(), "sha256")

    def known(self, station: ChargingStation, password: str) -> bool:
        kept = self._verified.get(station.ocpp_identity)
        return (
            kept is not None
            and kept[0] == station.ocpp_password
            and hmac.compare_digest(kept[1], self._digest(password))
        )

    def keep(self, station: ChargingStation, password: str) -> None:
        self._verified[station.ocpp_identity] = (station.ocpp_password, self._digest(password))


VERIFIED_PASSWORDS = VerifiedPasswords()


@dataclass(frozen=True)
class StationCredentials:
    """The identity and password a charger connects with (HTTP Basic auth)."""

    ocpp_identity: str
    password: str


def _authenticated(station: ChargingStation | None, password: str) -> ChargingStation | None:
    if station is None or not station.ocpp_password:
        STATION_PASSWORD_HASHER.encode(password, "unknown-station")
        return None
    if VERIFIED_PASSWORDS.known(station, password):
        return station
    if not STATION_PASSWORD_HASHER.verify(password, station.ocpp_password):
        return None
    VERIFIED_PASSWORDS.keep(station, password)
    return station


def charging_stations_authenticated(
    *, batch: Sequence[StationCredentials]
) -> list[ChargingStation | None]:
    """The station each of many connecting chargers is, as the gateway gathers them, read in
    one query; item by item, as charging_station_authenticated answers for one."""
    stations = (
        ChargingStation.objects.filter(ocpp_identity__in={item.ocpp_identity for item in batch})
        .order_by()
        .in_bulk(field_name="ocpp_identity")
    )
    return [_authenticated(stations.get(item.ocpp_identity), item.password) for item in batch]


def charging_station_authenticated(*, ocpp_identity: str, password: str) -> ChargingStation | None:
    """The station that connects as `ocpp_identity` with `password`, or None. An unknown
    identity costs the same hash as a wrong password, so the answer's time tells nothing
    about which identities exist. A password this process verified before for the station,
    whose password has not changed since, is not hashed with PBKDF2 again."""
    [station] = charging_stations_authenticated(batch=[StationCredentials(ocpp_identity, password)])
    return station


def _with_time_zone(batch: Sequence[Item], outcomes: list[DomainError | None]) -> list[Item]:
    """The items of `batch` whose time `at` carries a time zone, in order; the outcome of each
    other item is the error that refuses it."""
    kept = []
    for place, item in enumerate(batch):
        try:
            require_aware(item.at, field="at")
        except DomainError as error:
            outcomes[place] = error
            continue
        kept.append(item)
    return kept


@dataclass(frozen=True)
class StationConnectionChange:
    """A station's charger connecting to the gateway, or leaving it."""

    station_id: int
    connected: bool
    at: datetime


@transaction.atomic
def charging_stations_connection_record(
    *, batch: Sequence[StationConnectionChange]
) -> list[DomainError | None]:
    """Record many stations' chargers connecting or leaving, as the gateway gathers them, in
    the batch's order; item by item, None or the error that refused it. A station offline
    shows status offline; one that connects again shows available until its reports say
    otherwise, and was heard from as it connected. The stations are locked in the order of
    their ids, and written in one UPDATE."""
    outcomes: list[DomainError | None] = [None] * len(batch)
    changes: dict[int, list[StationConnectionChange]] = defaultdict(list)
    for item in _with_time_zone(batch, outcomes):
        changes[item.station_id].append(item)
    stations = ChargingStation.objects.select_for_update(no_key=True).filter(pk__in=changes)
    rows = []
    for station_id, status, heard_at in stations.order_by("pk").values_list(
        "pk", "status", "last_heartbeat_at"
    ):
        for change in changes[station_id]:
            if not change.connected:
                status = StationStatus.OFFLINE
            elif status == StationStatus.OFFLINE:
                status, heard_at = StationStatus.AVAILABLE, change.at
        last = changes[station_id][-1]
        rows.append((station_id, last.connected, last.at, status, heard_at, timezone.now()))
    rows_updated(
        ChargingStation,
        ("is_connected", "connection_changed_at", "status", "last_heartbeat_at", "updated_at"),
        rows,
    )
    for station_id, connected, *_ in rows:
        logger.info(
            "charging.station_connected" if connected else "charging.station_disconnected",
            extra={"station_id": station_id},
        )
    return outcomes


def charging_station_connection_record(*, station_id: int, connected: bool, at: datetime) -> None:
    """Record that a station's charger connected to the gateway or left it, as
    charging_stations_connection_record records many."""
    [refused] = charging_stations_connection_record(
        batch=[StationConnectionChange(station_id, connected, at)]
    )
    if refused is not None:
        raise refused


def _told_at_boot(
    vendor: str, model: str, serial_number: str, firmware_version: str
) -> dict[str, str]:
    """What a charger says of itself in a BootNotification, as the station's fields keep it:
    50 characters at most."""
    return {
        "vendor": vendor[:50],
        "model": model[:50],
        "serial_number": serial_number[:50],
        "firmware_version": firmware_version[:50],
    }


@dataclass(frozen=True)
class StationBoot:
    """A BootNotification: what a station's charger says of itself as it boots."""

    station_id: int
    vendor: str
    model: str
    serial_number: str
    firmware_version: str
    at: datetime


@transaction.atomic
def charging_stations_boot_record(*, batch: Sequence[StationBoot]) -> list[DomainError | None]:
    """Record what many chargers say of themselves as they boot, as the gateway gathers their
    BootNotifications; item by item, None or the error that refused it. A station's last boot
    in the batch is kept. The stations are locked in the order of their ids, and written in
    one UPDATE."""
    outcomes: list[DomainError | None] = [None] * len(batch)
    boots = {item.station_id: item for item in _with_time_zone(batch, outcomes)}
    locked = ChargingStation.objects.select_for_update(no_key=True).filter(pk__in=boots)
    now = timezone.now()
    rows = []
    for station_id in locked.order_by("pk").values_list("pk", flat=True):
        boot = boots[station_id]
        told = _told_at_boot(boot.vendor, boot.model, boot.serial_number, boot.firmware_version)
        rows.append((station_id, *told.values(), boot.at, now))
    rows_updated(
        ChargingStation,
        ("vendor", "model", "serial_number", "firmware_version", "last_heartbeat_at", "updated_at"),
        rows,
    )
    for station_id, *_ in rows:
        logger.info("charging.station_booted", extra={"station_id": station_id})
    return outcomes


def charging_station_boot_record(
    *,
    station_id: int,
    vendor: str,
    model: str,
    serial_number: str,
    firmware_version: str,
    at: datetime,
) -> None:
    """Record what a charger says of itself when it boots (OCPP BootNotification), as
    charging_stations_boot_record records many."""
    [refused] = charging_stations_boot_record(
        batch=[StationBoot(station_id, vendor, model, serial_number, firmware_version, at)]
    )
    if refused is not None:
        raise refused


def charging_station_heartbeat_record(*, station_id: int, at: datetime) -> None:
    """Record a charger's heartbeat: the last moment it was heard from."""
    require_aware(at, field="at")
    ChargingStation.objects.filter(pk=station_id).update(last_heartbeat_at=at, updated_at=at)


def _connector_reported(station: ChargingStation, connector_id: int) -> Connector:
    """The station's connector `connector_id`, created when the charger reports one Voltop
    does not know yet. It is described like the station's first connector, or as a 22 kW
    Type 2 outlet when it has none, until a manager corrects it."""
    connector = (
        Connector.objects.select_for_update(of=("self",), no_key=True)
        .filter(station=station, connector_id=connector_id)
        .order_by("pk")
    ).first()
    if connector is not None:
        return connector
    sibling = station.connectors.order_by("connector_id").first()
    try:
        with transaction.atomic():
            connector = connector_create(
                station=station,
                connector_id=connector_id,
                standard=sibling.standard if sibling else REPORTED_CONNECTOR_STANDARD,
                power_type=sibling.power_type if sibling else REPORTED_CONNECTOR_POWER_TYPE,
                max_kw=sibling.max_kw if sibling else REPORTED_CONNECTOR_MAX_KW,
            )
    except ConnectorIdInUse:
        pass
    else:
        logger.info(
            "charging.connector_reported",
            extra={"station_id": station.pk, "connector_id": connector_id},
        )
    return Connector.objects.select_for_update(no_key=True).get(
        station=station, connector_id=connector_id
    )


@transaction.atomic
def connector_status_record(
    *,
    station_id: int,
    connector_id: int,
    status: str,
    error_code: str,
    info: str,
    at: datetime,
) -> None:
    """Record a charger's StatusNotification. Connector 0 is the station as a whole; any other
    is one outlet, created when Voltop does not know it yet. A report older than the one kept
    (a replay after the charger was offline) changes nothing."""
    require_aware(at, field="at")
    station = ChargingStation.objects.select_for_update(no_key=True).get(pk=station_id)
    if connector_id == 0:
        station.status = STATION_STATUS_OF_CONNECTOR.get(status, StationStatus.OCCUPIED)
        station.save(update_fields=["status", "updated_at"])
        return
    connector = _connector_reported(station, connector_id)
    if connector.status_at is not None and at < connector.status_at:
        return
    connector.status = status
    connector.error_code = error_code
    connector.status_info = info[:100]
    connector.status_at = at
    connector.save(update_fields=["status", "error_code", "status_info", "status_at", "updated_at"])


def _one_by_one(service: Callable[..., Result], /, **kwargs) -> Result | DomainError:
    """`service(**kwargs)` in a savepoint of its own, for an item a batch cannot record with
    the others: what the service returns, or the DomainError that refused the item, with what
    the service wrote for it undone."""
    try:
        with transaction.atomic():
            return service(**kwargs)
    except DomainError as error:
        return error


def _reported_one_by_one(
    service: Callable[..., Result], report, /, *, leaving_out: Collection[str] = ()
) -> Result | DomainError:
    """_one_by_one with the fields of a charger's report, those `leaving_out` aside, as the
    service's arguments."""
    return _one_by_one(
        service,
        **{
            field.name: getattr(report, field.name)
            for field in dataclasses.fields(report)
            if field.name not in leaving_out
        },
    )


def _connectors_locked(named: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Connector]:
    """The connectors Voltop knows among those named by station id and connector id, locked in
    the order of their ids as every batch locks them. Their ids are found first by the
    stations and connector numbers named: a condition per connector, OR-ed, cost Django
    milliseconds to build for a batch of a hundred."""
    named = set(named)
    if not named:
        return {}
    candidates = Connector.objects.filter(
        station_id__in={station_id for station_id, _ in named},
        connector_id__in={connector_id for _, connector_id in named},
    ).values_list("pk", "station_id", "connector_id")
    ids = [pk for pk, *station_and_number in candidates if tuple(station_and_number) in named]
    return {
        (connector.station_id, connector.connector_id): connector
        for connector in Connector.objects.select_for_update(no_key=True)
        .filter(pk__in=ids)
        .order_by("pk")
    }


@dataclass(frozen=True)
class ConnectorStatusReport:
    """A StatusNotification as a station's charger sends it."""

    station_id: int
    connector_id: int
    status: str
    error_code: str
    info: str
    at: datetime


@transaction.atomic
def connector_statuses_record(
    *, batch: Sequence[ConnectorStatusReport]
) -> list[DomainError | None]:
    """Record many chargers' StatusNotifications at once, as the gateway gathers them, as
    connector_status_record records each; item by item, None or the error that refused it.
    Reports on connectors Voltop knows are applied in the batch's order and written in one
    UPDATE. A report on the station as a whole (connector 0), on a connector not known yet, or
    without a time zone goes through connector_status_record after them, in the batch's order,
    in a savepoint of its own."""
    connectors = _connectors_locked(
        (item.station_id, item.connector_id)
        for item in batch
        if item.connector_id != 0 and item.at.tzinfo is not None
    )
    outcomes: list[DomainError | None] = [None] * len(batch)
    changed = {}
    others = []
    now = timezone.now()
    for place, item in enumerate(batch):
        connector = connectors.get((item.station_id, item.connector_id))
        if connector is None or item.at.tzinfo is None:
            others.append(place)
            continue
        if connector.status_at is not None and item.at < connector.status_at:
            continue
        connector.status_at = item.at
        changed[connector.pk] = (
            connector.pk,
            item.status,
            item.error_code,
            item.info[:100],
            item.at,
            now,
        )
    rows_updated(
        Connector,
        ("status", "error_code", "status_info", "status_at", "updated_at"),
        list(changed.values()),
    )
    for place in others:
        item = batch[place]
        outcomes[place] = _reported_one_by_one(connector_status_record, batch[place])
    return outcomes


def _fleet_token(fleet_id: int, id_tag: str) -> ChargeToken | None:
    """The token of the fleet with this tag, case-insensitively; an active one before an old
    one with the same tag."""
    return (
        ChargeToken.objects.select_related("driver__fleet")
        .filter(driver__fleet_id=fleet_id, uid=normalize_token_uid(id_tag))
        .order_by("-is_active", "-valid_from", "-pk")
        .first()
    )


def charge_token_authorization(
    *, station: ChargingStation, id_tag: str, at: datetime
) -> TokenAuthorization:
    """How the station should treat `id_tag` at `at` (OCPP Authorize): accepted for an active
    token of an active driver of the station's fleet, blocked for a blocked token or a driver
    not active, expired after its validity, invalid when unknown to the fleet or not valid
    yet."""
    return _token_authorization(_fleet_token(station.fleet_id, id_tag), at)


def _token_authorization(token: ChargeToken | None, at: datetime) -> TokenAuthorization:
    """charge_token_authorization of the fleet's token with the tag (its driver and fleet
    loaded), or of none."""
    if token is None:
        return TokenAuthorization(
            TokenAuthorizationStatus.INVALID, reason="the tag is unknown to the fleet"
        )
    zone = token.driver.fleet.zone
    if not token.is_active:
        return TokenAuthorization(
            TokenAuthorizationStatus.BLOCKED, token=token, reason="the token is blocked"
        )
    if token.driver.status != DriverStatus.ACTIVE:
        return TokenAuthorization(
            TokenAuthorizationStatus.BLOCKED,
            token=token,
            reason=f"the driver is {token.driver.get_status_display().lower()}",
        )
    if token.valid_until is not None and at >= token.valid_until:
        return TokenAuthorization(
            TokenAuthorizationStatus.EXPIRED,
            token=token,
            reason=f"the token expired on {local_time_text(token.valid_until, zone)}",
        )
    if at < token.valid_from:
        return TokenAuthorization(
            TokenAuthorizationStatus.INVALID,
            token=token,
            reason=f"the token is valid only from {local_time_text(token.valid_from, zone)}",
        )
    return TokenAuthorization(
        TokenAuthorizationStatus.ACCEPTED, expiry=token.valid_until, token=token
    )


def _interrupt(session: ChargingSession, next_session_at: datetime) -> None:
    """Close a session left open on a connector that the charger started again on: it stops at
    its last meter reading, flagged for a manager, and is priced on that reading."""
    last = session.meter_values.order_by("-measured_at").first()
    ended_at = last.measured_at if last else session.started_at
    meter_stop_wh = last.energy_wh if last else session.meter_start_wh
    session = charging_session_stop(session=session, ended_at=ended_at, meter_stop_wh=meter_stop_wh)
    session.charger_issue = (
        "Interrupted: the charger started a new transaction on this connector at "
        f"{local_time_text(next_session_at, session.fleet.zone, seconds=True)} without "
        "stopping this one; it ends at its last meter reading."
    )
    session.save(update_fields=["charger_issue", "updated_at"])
    logger.warning(
        "charging.session_interrupted",
        extra={"session_id": session.pk, "connector_id": session.connector_id},
    )


def _charger_session(
    connector: Connector, started_at: datetime, meter_start_wh: int, **fields
) -> ChargingSession:
    """An active depot session a charger reports on `connector`, with `fields` (its fleet,
    driver, …), not saved yet."""
    return ChargingSession(
        connector=connector,
        location_kind=LocationKind.DEPOT,
        started_at=started_at,
        meter_start_wh=meter_start_wh,
        status=SessionStatus.ACTIVE,
        source=SessionSource.OCPP,
        **fields,
    )


def _charger_session_create(
    connector: Connector, started_at: datetime, meter_start_wh: int, **fields
) -> ChargingSession:
    session = _charger_session(connector, started_at, meter_start_wh, **fields)
    session.save(force_insert=True)
    return session


def _unattributed_session_create(
    connector: Connector, id_tag: str, meter_start_wh: int, started_at: datetime
) -> ChargingSession:
    """A session started with a tag no driver of the fleet has: recorded without a driver,
    and not billed until a manager gives it one or invalidates it."""
    session = _charger_session_create(
        connector,
        started_at,
        meter_start_wh,
        fleet_id=connector.station.fleet_id,
        charger_issue=(
            f"Started with tag {normalize_token_uid(id_tag)}, which no driver of the fleet has: "
            "give the session its driver, or invalidate it."
        ),
    )
    logger.warning(
        "charging.session_started_unattributed",
        extra={"session_id": session.pk, "connector_id": connector.pk},
    )
    return session


def _start_issues(driver: Driver, authorization: TokenAuthorization) -> list[str]:
    issues = []
    if authorization.status != TokenAuthorizationStatus.ACCEPTED:
        issues.append(
            f"Started with a tag the charger should not have accepted: {authorization.reason}."
        )
    other = ChargingSession.objects.filter(
        driver=driver, status=SessionStatus.ACTIVE, location_kind=LocationKind.DEPOT
    ).first()
    if other is not None:
        issues.append(f"The driver was charging at the same time in session {other.pk}.")
    return issues


@transaction.atomic
def charging_session_charger_start(
    *,
    station: ChargingStation,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    started_at: datetime,
) -> ChargerStart:
    """Record a StartTransaction as the charger reports it; the session's id is the OCPP
    transactionId.

    The same start sent again returns the first session. A start on a connector that still has
    an active session closes that one as interrupted. A blocked, expired or not yet valid tag,
    or a driver charging elsewhere at the depot, is recorded on the session as its charger
    issue, and the tag's status goes back to the charger. A tag no driver of the fleet has
    starts a session without a driver, answered Invalid.
    """
    require_aware(started_at, field="started_at")
    station = ChargingStation.objects.select_related("fleet").get(pk=station.pk)
    connector = _connector_reported(station, connector_id)
    replayed = ChargingSession.objects.filter(
        connector=connector,
        source=SessionSource.OCPP,
        started_at=started_at,
        meter_start_wh=meter_start_wh,
    ).first()
    authorization = charge_token_authorization(station=station, id_tag=id_tag, at=started_at)
    if replayed is not None:
        return ChargerStart(replayed, authorization)
    for open_session in ChargingSession.objects.filter(
        connector=connector, status=SessionStatus.ACTIVE
    ):
        _interrupt(open_session, started_at)
    token = authorization.token
    if token is None:
        session = _unattributed_session_create(connector, id_tag, meter_start_wh, started_at)
        return ChargerStart(session, authorization)
    driver = (
        Driver.objects.select_for_update(of=("self",))
        .select_related("fleet")
        .get(pk=token.driver_id)
    )
    issues = _start_issues(driver, authorization)
    try:
        vehicle = vehicle_for_session_start(driver, None, started_at)
    except VehicleNotUsable as error:
        vehicle = None
        issues.append(f"{error.message} The session has no vehicle.")
    session = _charger_session_create(
        connector,
        started_at,
        meter_start_wh,
        fleet_id=driver.fleet_id,
        driver=driver,
        vehicle=vehicle,
        cost_center_id=cost_center_at_start(driver, vehicle),
        token=token,
        charger_issue=" ".join(issues),
    )
    remote_start_claim(session=session)
    logger.info(
        "charging.session_started",
        extra={"session_id": session.pk, "driver_id": driver.pk, "source": SessionSource.OCPP},
    )
    return ChargerStart(session, authorization)


@dataclass(frozen=True)
class ChargerStartReport:
    """A StartTransaction as a station's charger sends it."""

    station: ChargingStation
    connector_id: int
    id_tag: str
    meter_start_wh: int
    started_at: datetime


def _fleet_tokens(
    batch: Sequence[ChargerStartReport | ChargerStopReport],
) -> dict[tuple[int, str], ChargeToken]:
    """_fleet_token of the tag of each item of the batch, in one query."""
    tokens: dict[tuple[int, str], ChargeToken] = {}
    for token in (
        ChargeToken.objects.select_related("driver__fleet")
        .filter(
            driver__fleet_id__in={item.station.fleet_id for item in batch},
            uid__in={normalize_token_uid(item.id_tag) for item in batch},
        )
        .order_by("-is_active", "-valid_from", "-pk")
    ):
        tokens.setdefault((token.driver.fleet_id, token.uid), token)
    return tokens


def _plain_starts(
    batch: Sequence[ChargerStartReport],
) -> dict[int, tuple[Connector, Driver, TokenAuthorization]]:
    """The items of the batch that start plainly, by their place in it, with their connector,
    their driver (both locked) and the tag's authorisation: a connector Voltop knows, with no
    session open on it and none this start would repeat, and an accepted tag of a driver
    charging at no depot. No other item of the batch names the same connector or driver."""
    candidates = [
        (place, item) for place, item in enumerate(batch) if item.started_at.tzinfo is not None
    ]
    if not candidates:
        return {}
    connectors = _connectors_locked((item.station.pk, item.connector_id) for _, item in candidates)
    busy_connectors = set(
        ChargingSession.objects.filter(connector__in=list(connectors.values()))
        .filter(
            Q(status=SessionStatus.ACTIVE)
            | Q(
                source=SessionSource.OCPP,
                started_at__in={item.started_at for _, item in candidates},
            )
        )
        .values_list("connector_id", flat=True)
    )
    tokens = _fleet_tokens([item for _, item in candidates])
    plain = {}
    for place, item in candidates:
        connector = connectors.get((item.station.pk, item.connector_id))
        if connector is None or connector.pk in busy_connectors:
            continue
        token = tokens.get((item.station.fleet_id, normalize_token_uid(item.id_tag)))
        authorization = _token_authorization(token, item.started_at)
        if authorization.status == TokenAuthorizationStatus.ACCEPTED:
            plain[place] = (connector, authorization)
    places_of = defaultdict(list)
    for place, (connector, authorization) in plain.items():
        places_of["connector", connector.pk].append(place)
        places_of["driver", authorization.token.driver_id].append(place)
    shared = {place for places in places_of.values() if len(places) > 1 for place in places}
    plain = {place: found for place, found in plain.items() if place not in shared}
    drivers = {
        driver.pk: driver
        for driver in Driver.objects.select_for_update(of=("self",))
        .select_related("fleet")
        .filter(pk__in={authorization.token.driver_id for _, authorization in plain.values()})
        .order_by("pk")
    }
    charging_elsewhere = set(
        ChargingSession.objects.filter(
            driver__in=list(drivers.values()),
            status=SessionStatus.ACTIVE,
            location_kind=LocationKind.DEPOT,
        ).values_list("driver_id", flat=True)
    )
    return {
        place: (connector, drivers[authorization.token.driver_id], authorization)
        for place, (connector, authorization) in plain.items()
        if authorization.token.driver_id not in charging_elsewhere
    }


@transaction.atomic
def charging_sessions_charger_start(
    *, batch: Sequence[ChargerStartReport]
) -> list[ChargerStart | DomainError]:
    """Record many chargers' StartTransactions at once, as the gateway gathers them; item by
    item, the recorded start or the error that refused it, as charging_session_charger_start
    records or refuses each.

    Plain starts (_plain_starts) whose driver's vehicle may charge are checked for the whole
    batch in a few queries (and one more per vehicle, which is locked), and inserted in one
    statement. Every other item goes through
    charging_session_charger_start after them, in the batch's order, in a savepoint of its
    own, so that what it refuses keeps no other from being recorded."""
    plain = _plain_starts(batch)
    assignments = vehicle_assignments_at_for_drivers(
        moments_by_driver={
            driver.pk: [batch[place].started_at] for place, (_, driver, _) in plain.items()
        }
    )
    new_sessions: dict[int, ChargingSession] = {}
    for place, (connector, driver, authorization) in plain.items():
        item = batch[place]
        assignment = assignments.get((driver.pk, item.started_at))
        try:
            vehicle = (
                vehicle_for_session_start(driver, assignment.vehicle, item.started_at)
                if assignment is not None
                else None
            )
        except DomainError:
            continue
        new_sessions[place] = _charger_session(
            connector,
            item.started_at,
            item.meter_start_wh,
            fleet_id=driver.fleet_id,
            driver=driver,
            vehicle=vehicle,
            cost_center_id=cost_center_at_start(driver, vehicle),
            token=authorization.token,
            charger_issue="",
        )
    ChargingSession.objects.bulk_create(new_sessions.values())
    remote_started = remote_starts_waiting(sessions=list(new_sessions.values()))
    outcomes: list[ChargerStart | DomainError] = []
    for place, item in enumerate(batch):
        session = new_sessions.get(place)
        if session is None:
            outcomes.append(_reported_one_by_one(charging_session_charger_start, item))
            continue
        if (session.driver_id, session.connector_id) in remote_started:
            remote_start_claim(session=session)
        logger.info(
            "charging.session_started",
            extra={
                "session_id": session.pk,
                "driver_id": session.driver_id,
                "source": SessionSource.OCPP,
            },
        )
        outcomes.append(ChargerStart(session, plain[place][2]))
    return outcomes


def _station_session(station: ChargingStation, transaction_id: int) -> ChargingSession | None:
    try:
        return ChargingSession.objects.select_related("fleet").get(
            pk=transaction_id, source=SessionSource.OCPP, connector__station=station
        )
    except ChargingSession.DoesNotExist:
        return None


@dataclass(frozen=True)
class ChargerReadings:
    """The readings one MeterValues message of a station's charger gives for a transaction."""

    station_id: int
    transaction_id: int
    readings: tuple[MeterReading, ...]


def _appended_cleanly(
    session: ChargingSession, readings: Sequence[MeterReading], last_at, last_wh
) -> bool:
    """Whether `readings` only extend an active session's meter: each later than the one
    before and than the last stored, none below the meter's last value, none before the
    start. Those are recorded in bulk; any other set goes through the one-session service,
    which refuses it or merges it with what is stored."""
    if session.status != SessionStatus.ACTIVE or session.billed_at is not None:
        return False
    previous_at = last_at
    floor_wh = max(value for value in (session.meter_start_wh, last_wh, 0) if value is not None)
    for reading in readings:
        moment = reading.measured_at
        if moment.tzinfo is None or moment < session.started_at:
            return False
        if previous_at is not None and moment <= previous_at:
            return False
        if reading.energy_wh < floor_wh:
            return False
        if reading.power_w is not None and reading.power_w < 0:
            return False
        if reading.state_of_charge_percent is not None and not (
            0 <= reading.state_of_charge_percent <= 100
        ):
            return False
        previous_at, floor_wh = moment, reading.energy_wh
    return True


@transaction.atomic
def charging_sessions_charger_meter_values(
    *, batch: Sequence[ChargerReadings]
) -> list[DomainError | None]:
    """Record many chargers' MeterValues at once, as the gateway gathers them: a few queries
    for the whole batch whatever its size. Returns, item by item, None when the readings are
    recorded (or belong to a transaction the station does not have, which is logged), or the
    error that refused them; a refused item changes nothing and keeps no other from being
    recorded.

    Readings that only extend an active session's meter are checked here and inserted in one
    statement; any other item goes through charging_session_record_meter_values, in a
    savepoint of its own."""
    session_ids = sorted({item.transaction_id for item in batch})
    last_stored = MeterValue.objects.filter(session=OuterRef("pk")).order_by("-measured_at")
    sessions = {
        session.pk: session
        for session in ChargingSession.objects.select_for_update(of=("self",))
        .filter(pk__in=session_ids, source=SessionSource.OCPP)
        .only("status", "billed_at", "started_at", "meter_start_wh")
        .annotate(
            station_id=F("connector__station_id"),
            last_at=Subquery(last_stored.values("measured_at")[:1]),
            last_wh=Subquery(last_stored.values("energy_wh")[:1]),
        )
        .order_by("pk")
    }
    outcomes: list[DomainError | None] = []
    new_values = []
    for item in batch:
        session = sessions.get(item.transaction_id)
        if session is None or session.station_id != item.station_id:
            logger.warning(
                "charging.charger_readings_unknown_transaction",
                extra={"station_id": item.station_id, "transaction_id": item.transaction_id},
            )
            outcomes.append(None)
            continue
        readings = sorted(item.readings, key=lambda reading: reading.measured_at)
        if readings and _appended_cleanly(session, readings, session.last_at, session.last_wh):
            new_values += [
                (
                    session.pk,
                    reading.measured_at,
                    reading.energy_wh,
                    reading.power_w,
                    reading.state_of_charge_percent,
                )
                for reading in readings
            ]
            session.last_at, session.last_wh = readings[-1].measured_at, readings[-1].energy_wh
            outcomes.append(None)
            continue
        recorded = _one_by_one(
            charging_session_record_meter_values, session=session, readings=readings
        )
        outcomes.append(recorded if isinstance(recorded, DomainError) else None)
    rows_copied(
        MeterValue,
        ("session", "measured_at", "energy_wh", "power_w", "state_of_charge_percent"),
        new_values,
    )
    return outcomes


@transaction.atomic
def charging_session_charger_stop(
    *,
    station: ChargingStation,
    transaction_id: int,
    meter_stop_wh: int,
    stopped_at: datetime,
    readings: Sequence[MeterReading],
) -> ChargingSession | None:
    """Record a StopTransaction with its transaction data; the session is priced after commit.
    An unknown transaction, or one already stopped otherwise (closed as interrupted), is logged
    and left as it is: the charger has only to be acknowledged."""
    require_aware(stopped_at, field="stopped_at")
    session = _station_session(station, transaction_id)
    if session is None:
        logger.warning(
            "charging.charger_stop_unknown_transaction",
            extra={"station_id": station.pk, "transaction_id": transaction_id},
        )
        return None
    if session.status != SessionStatus.ACTIVE:
        if session.ended_at != stopped_at or session.meter_stop_wh != meter_stop_wh:
            logger.warning(
                "charging.charger_stop_of_closed_session",
                extra={"session_id": session.pk, "status": session.status},
            )
        return session
    in_session = [r for r in readings if r.measured_at <= stopped_at]
    if in_session:
        charging_session_record_meter_values(session=session, readings=in_session)
    return charging_session_stop(session=session, ended_at=stopped_at, meter_stop_wh=meter_stop_wh)


@dataclass(frozen=True)
class ChargerStopReport:
    """A StopTransaction as a station's charger sends it, with the tag it names, if any."""

    station: ChargingStation
    transaction_id: int
    meter_stop_wh: int
    stopped_at: datetime
    readings: tuple[MeterReading, ...]
    id_tag: str | None = None


@dataclass(frozen=True)
class ChargerStop:
    """A recorded charger stop: the session (None for a transaction the station does not
    have) and the authorisation of the tag the charger named (None when it named none)."""

    session: ChargingSession | None
    authorization: TokenAuthorization | None


def _sessions_to_stop_locked(batch: Sequence[ChargerStopReport]) -> dict[int, ChargingSession]:
    """The charger sessions the batch names, by id, locked in the order of their ids as every
    batch locks them, with their connector and vehicle and the time and energy of their last
    reading (last_at, last_wh)."""
    readings = MeterValue.objects.filter(session=OuterRef("pk")).order_by().values("session")
    return {
        session.pk: session
        for session in ChargingSession.objects.select_for_update(of=("self",))
        .select_related("connector", "vehicle")
        .filter(pk__in={item.transaction_id for item in batch}, source=SessionSource.OCPP)
        .annotate(
            last_at=Subquery(readings.annotate(last=Max("measured_at")).values("last")),
            last_wh=Subquery(readings.annotate(last=Max("energy_wh")).values("last")),
        )
        .order_by("pk")
    }


def _stops_plainly(item: ChargerStopReport, session: ChargingSession | None) -> bool:
    """Whether charging_session_charger_stop would record the stop as it is: an active session
    of the station's with a meter start, no transaction data to merge, and a stop that
    charging_session_stop would not refuse (session_stop_refusal, on the session's last
    reading)."""
    if session is None or session.connector is None or session.meter_start_wh is None:
        return False
    return (
        session.connector.station_id == item.station.pk
        and session.status == SessionStatus.ACTIVE
        and not item.readings
        and item.stopped_at.tzinfo is not None
        and session_stop_refusal(
            session,
            ended_at=item.stopped_at,
            meter_stop_wh=item.meter_stop_wh,
            last_measured_at=session.last_at,
            highest_reading_wh=session.last_wh,
        )
        is None
    )


@transaction.atomic
def charging_sessions_charger_stop(
    *, batch: Sequence[ChargerStopReport]
) -> list[ChargerStop | DomainError]:
    """Record many chargers' StopTransactions at once, as the gateway gathers them; item by
    item, the recorded stop, with the authorisation of its tag at the stop, or the error that
    refused it, as charging_session_charger_stop records or refuses each.

    The batch's sessions are locked first, in one statement, and its tags are looked up in
    one query. Plain stops (_stops_plainly) of sessions no other item names are written in one
    statement; every other item goes through charging_session_charger_stop, in the batch's
    order, in a savepoint of its own, so that what it refuses keeps no other from being
    recorded. The stopped sessions are priced by one task queued after commit."""
    sessions = _sessions_to_stop_locked(batch)
    named = Counter(item.transaction_id for item in batch)
    tagged = [item for item in batch if item.id_tag is not None]
    tokens = _fleet_tokens(tagged) if tagged else {}
    outcomes: list[ChargerStop | DomainError] = []
    stopped_plainly = []
    with sessions_priced_together():
        for item in batch:
            session = sessions.get(item.transaction_id)
            if named[item.transaction_id] == 1 and _stops_plainly(item, session):
                energy_wh = item.meter_stop_wh - session.meter_start_wh
                session_stop_set(
                    session,
                    ended_at=item.stopped_at,
                    meter_stop_wh=item.meter_stop_wh,
                    energy_wh=energy_wh,
                )
                stopped_plainly.append(session)
                stopped = session
            else:
                stopped = _reported_one_by_one(
                    charging_session_charger_stop, item, leaving_out={"id_tag"}
                )
            if isinstance(stopped, DomainError):
                outcomes.append(stopped)
                continue
            authorization = (
                _token_authorization(
                    tokens.get((item.station.fleet_id, normalize_token_uid(item.id_tag))),
                    item.stopped_at,
                )
                if item.id_tag is not None
                else None
            )
            outcomes.append(ChargerStop(stopped, authorization))
        charging_sessions_stopped_save(sessions=stopped_plainly)
    return outcomes


@dataclass(frozen=True)
class FrameSeen:
    """An OCPP frame as the gateway saw it go by."""

    station_id: int
    at: datetime
    sent_by_charger: bool
    frame: str


# A frame longer than this is kept cut, with its length: a firmware's diagnostics may be large.
MESSAGE_FRAME_MAX_CHARACTERS = 4_000


def _frame_kept(frame: str) -> str:
    """A frame as the log keeps it: cut after MESSAGE_FRAME_MAX_CHARACTERS, and with any NUL
    character (which PostgreSQL text cannot hold) written as JSON writes it."""
    if len(frame) > MESSAGE_FRAME_MAX_CHARACTERS:
        frame = f"{frame[:MESSAGE_FRAME_MAX_CHARACTERS]}… ({len(frame)} characters)"
    return frame.replace("\x00", "\\u0000")


def charger_messages_record(*, frames: Sequence[FrameSeen]) -> int:
    """Keep the frames the gateway saw, in one statement (a COPY on PostgreSQL); returns how
    many."""
    return rows_copied(
        ChargerMessage,
        ("station", "at", "sent_by_charger", "frame"),
        [
            (seen.station_id, seen.at, seen.sent_by_charger, _frame_kept(seen.frame))
            for seen in frames
        ],
    )


def charger_messages_prune(*, now: datetime) -> int:
    """Delete the frames older than OCPP_MESSAGE_KEEP_DAYS; returns how many."""
    deleted, _ = ChargerMessage.objects.filter(
        at__lt=now - timedelta(days=settings.OCPP_MESSAGE_KEEP_DAYS)
    ).delete()
    logger.info("charging.charger_messages_pruned", extra={"messages": deleted})
    return deleted


# Chargers no fleet knows ----------------------------------------------------------------------


@transaction.atomic
def unassigned_station_record(
    *, ocpp_identity: str, password: str, at: datetime
) -> UnassignedStation | None:
    """Hold a charger whose identity no fleet knows, with the hash of the password it came with,
    until a superuser assigns it; None for an identity a station has (its password was wrong)
    or one longer than a station's."""
    require_aware(at, field="at")
    identity_field = ChargingStation._meta.get_field("ocpp_identity")
    if len(ocpp_identity) > identity_field.max_length:
        return None
    if ChargingStation.objects.filter(ocpp_identity=ocpp_identity).exists():
        return None
    unassigned, created = UnassignedStation.objects.select_for_update().get_or_create(
        ocpp_identity=ocpp_identity, defaults={"first_seen_at": at, "last_seen_at": at}
    )
    unassigned.last_seen_at = at
    unassigned.ocpp_password = (
        STATION_PASSWORD_HASHER.encode(password, get_random_string(22)) if password else ""
    )
    unassigned.save(update_fields=["last_seen_at", "ocpp_password"])
    if created:
        logger.warning("charging.station_unassigned", extra={"station": ocpp_identity})
    return unassigned


def unassigned_station_boot_record(
    *,
    ocpp_identity: str,
    vendor: str,
    model: str,
    serial_number: str,
    firmware_version: str,
    at: datetime,
) -> bool:
    """Record what a held charger says of itself when it boots; False once it is assigned."""
    return bool(
        UnassignedStation.objects.filter(ocpp_identity=ocpp_identity).update(
            **_told_at_boot(vendor, model, serial_number, firmware_version), last_seen_at=at
        )
    )


@transaction.atomic
def unassigned_station_assign(
    *, unassigned: UnassignedStation, fleet: Fleet, depot: Depot | None = None
) -> ChargingStation:
    """Make the held charger a station of `fleet` (at `depot`), keeping the password it
    connected with, so that it is let in when it connects again. A depot of another fleet, or
    an identity a station took meanwhile, is refused and nothing changes."""
    unassigned = UnassignedStation.objects.select_for_update().get(pk=unassigned.pk)
    station = charging_station_create(
        fleet=fleet,
        ocpp_identity=unassigned.ocpp_identity,
        vendor=unassigned.vendor or "unknown",
        model=unassigned.model or "unknown",
        depot=depot,
        serial_number=unassigned.serial_number,
        firmware_version=unassigned.firmware_version,
    )
    if unassigned.ocpp_password:
        station.ocpp_password = unassigned.ocpp_password
        station.save(update_fields=["ocpp_password", "updated_at"])
    unassigned.delete()
    logger.info("charging.station_assigned", extra={"station_id": station.pk, "fleet_id": fleet.pk})
    return station
