"""Calls from Voltop to chargers over OCPP 1.6J: asked for by the driver app, the admin or a
command, sent by the gateway, answered by the charger.

Every call is a row (ChargerCall). The gateway takes the queued rows of the stations connected
to it and writes each charger's answer back, so whoever asked reads it without waiting on a
charger. With REDIS_URL set, a new call is also announced on a Redis channel, and the gateway
sends it at once; without Redis it finds it on its next look at the table."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.charging.choices import (
    ChargerCallStatus,
    LocationKind,
    SessionPurpose,
    SessionSource,
    SessionStatus,
)
from apps.charging.exceptions import (
    ChargerCallInvalid,
    ConnectorBusy,
    DriverAlreadyCharging,
    DriverNotActive,
    SessionNotActive,
    StationOffline,
)
from apps.charging.models import (
    ChargerCall,
    ChargingSession,
    ChargingStation,
    Connector,
)
from apps.charging.services import cost_center_at_start, vehicle_for_session_start
from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.services import charge_token_issue
from apps.vehicles.models import Vehicle
from voltop.core.bulk_rows import rows_updated

logger = logging.getLogger(__name__)

# The OCPP 1.6 calls a central system sends, by the profiles of the specification.
CENTRAL_SYSTEM_ACTIONS = frozenset(
    {
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "Reset",
        "UnlockConnector",
        "GetConfiguration",
        "ChangeConfiguration",
        "ChangeAvailability",
        "TriggerMessage",
        "SetChargingProfile",
        "ClearChargingProfile",
        "GetCompositeSchedule",
        "ReserveNow",
        "CancelReservation",
        "SendLocalList",
        "GetLocalListVersion",
        "ClearCache",
        "UpdateFirmware",
        "GetDiagnostics",
    }
)
CALLS_CHANNEL = "voltop:ocpp:calls"
# A start the charger reports within this time of accepting a remote start is that start's.
REMOTE_START_MATCH_WINDOW = timedelta(minutes=10)
APP_ID_TAG_PREFIX = "APP"


@dataclass(frozen=True)
class CallToSend:
    """A queued call the gateway sends now."""

    call_id: int
    ocpp_identity: str
    action: str
    payload: dict


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    """One client per process for each Redis URL: its connection pool is shared by threads."""
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def _gateway_notify(call_id: int) -> None:
    """Tell the gateway at once that a call is queued; without Redis it finds it by looking."""
    if not settings.REDIS_URL:
        return
    try:
        _redis_client(settings.REDIS_URL).publish(CALLS_CHANNEL, str(call_id))
    except redis.RedisError:
        logger.warning("charging.charger_call_not_announced", extra={"call_id": call_id})


@transaction.atomic
def charger_call_request(
    *,
    station: ChargingStation,
    action: str,
    payload: dict,
    now: datetime,
    driver: Driver | None = None,
    connector: Connector | None = None,
    session: ChargingSession | None = None,
    purpose: str = "",
    vehicle: Vehicle | None = None,
) -> ChargerCall:
    """Queue `action` with `payload` for the station's charger; the gateway sends it after
    commit. An action a central system does not send in OCPP 1.6, or a payload that is not a
    JSON object, is refused and nothing is queued. The gateway checks the payload against the
    action's schema when it sends it, and records a mismatch as the call's failure."""
    [call] = _calls_queue(
        [
            ChargerCall(
                station=station,
                action=action,
                payload=payload,
                driver=driver,
                connector=connector,
                session=session,
                purpose=purpose,
                vehicle=vehicle,
                created_at=now,
            )
        ]
    )
    return call


def _calls_queue(calls: list[ChargerCall]) -> list[ChargerCall]:
    """Insert `calls`, refused as charger_call_request refuses one, and tell the gateway once
    they are committed."""
    for call in calls:
        if call.action not in CENTRAL_SYSTEM_ACTIONS:
            raise ChargerCallInvalid(
                f"{call.action!r} is not a call a central system sends in OCPP 1.6; one of "
                f"{', '.join(sorted(CENTRAL_SYSTEM_ACTIONS))}.",
                field="action",
            )
        if not isinstance(call.payload, dict):
            raise ChargerCallInvalid("The payload must be a JSON object.", field="payload")
    if not calls:
        return calls
    ChargerCall.objects.bulk_create(calls)
    for call in calls:
        logger.info(
            "charging.charger_call_queued",
            extra={"call_id": call.pk, "station_id": call.station_id, "action": call.action},
        )
    first_call_id = calls[0].pk
    transaction.on_commit(lambda: _gateway_notify(first_call_id))
    return calls


@transaction.atomic
def charger_calls_take_queued(*, connected: set[str], now: datetime) -> list[CallToSend]:
    """The queued calls the gateway sends now, marked sent: those of stations connected to it
    (`connected`, their OCPP identities). A queued call of a station not connected fails at
    once. So does a call queued longer ago than the call timeout (no gateway ran: a Reset must
    not reach a charger hours later), and a call sent longer ago than twice the call timeout
    without an answer recorded (the gateway stopped while it waited)."""
    queued = list(
        ChargerCall.objects.select_for_update(skip_locked=True)
        .filter(status=ChargerCallStatus.QUEUED)
        .select_related("station")
        .order_by("created_at", "pk")
    )
    stale_before = now - timedelta(seconds=settings.OCPP_CALL_TIMEOUT_SECONDS)
    to_send, offline, stale = [], [], []
    for call in queued:
        if call.created_at < stale_before:
            stale.append(call.pk)
        elif call.station.ocpp_identity in connected:
            to_send.append(call)
        else:
            offline.append(call.pk)
    ChargerCall.objects.filter(pk__in=[call.pk for call in to_send]).update(
        status=ChargerCallStatus.SENT, sent_at=now
    )
    ChargerCall.objects.filter(pk__in=offline).update(
        status=ChargerCallStatus.FAILED, error="The station is not connected.", answered_at=now
    )
    ChargerCall.objects.filter(pk__in=stale).update(
        status=ChargerCallStatus.FAILED,
        error="No gateway took the call in time; it was not sent.",
        answered_at=now,
    )
    lost_before = now - timedelta(seconds=2 * settings.OCPP_CALL_TIMEOUT_SECONDS)
    ChargerCall.objects.filter(status=ChargerCallStatus.SENT, sent_at__lt=lost_before).update(
        status=ChargerCallStatus.FAILED,
        error="No answer was recorded: the gateway stopped while it waited.",
        answered_at=now,
    )
    return [
        CallToSend(call.pk, call.station.ocpp_identity, call.action, call.payload)
        for call in to_send
    ]


@dataclass(frozen=True)
class ChargerCallOutcome:
    """What became of a sent call: the charger's CALLRESULT (`answer`), or why there was none
    (`error`; `not_implemented` when the charger does not know the call)."""

    call_id: int
    at: datetime
    answer: dict | None = None
    error: str = ""
    not_implemented: bool = False


@transaction.atomic
def charger_calls_record_outcomes(*, batch: Sequence[ChargerCallOutcome]) -> list[None]:
    """Record what became of many sent calls, as the gateway gathers their answers and
    failures, each as charger_call_record_answer or charger_call_record_failure records one.
    A call that has its outcome already keeps it. The calls, then the stations whose tags they
    were about, are locked in the order of their ids; each is written in one UPDATE."""
    sent = {
        call.pk: call
        for call in ChargerCall.objects.select_for_update()
        .filter(pk__in={item.call_id for item in batch}, status=ChargerCallStatus.SENT)
        .order_by("pk")
    }
    answered, failed, about_tags = [], [], []
    for item in batch:
        call = sent.pop(item.call_id, None)
        if call is None:
            continue
        call.answered_at = item.at
        if item.answer is not None:
            call.status, call.answer = ChargerCallStatus.ANSWERED, item.answer
            answered.append((call.pk, call.status, call.answer, call.answered_at))
        else:
            call.status, call.error = ChargerCallStatus.FAILED, item.error
            failed.append((call.pk, call.status, call.error, call.answered_at))
        if call.action in TAG_ACTIONS and (item.answer is not None or item.not_implemented):
            about_tags.append(call)
    rows_updated(ChargerCall, ("status", "answer", "answered_at"), answered)
    rows_updated(ChargerCall, ("status", "error", "answered_at"), failed)
    _stations_tags_record(about_tags)
    return [None] * len(batch)


def charger_call_record_answer(*, call_id: int, answer: dict, at: datetime) -> None:
    """Record the charger's CALLRESULT for a sent call; an answer about its tags (its local
    list's version, a list or a cache cleared) is kept on the station too."""
    charger_calls_record_outcomes(batch=[ChargerCallOutcome(call_id, at, answer=answer)])


def charger_call_record_failure(
    *, call_id: int, error: str, at: datetime, not_implemented: bool = False
) -> None:
    """Record why a sent call failed: the charger's CALLERROR, or no answer in time. A charger
    that does not implement local lists (`not_implemented`) is not sent one again; one that
    cannot clear its cache is not asked again for the same changes."""
    charger_calls_record_outcomes(
        batch=[ChargerCallOutcome(call_id, at, error=error, not_implemented=not_implemented)]
    )


def charging_station_call(
    *, station: ChargingStation, action: str, payload: dict, now: datetime
) -> ChargerCall:
    """Queue a call a manager sends a connected charger from the admin (Reset, ChangeAvailability,
    TriggerMessage, …); a station not connected is refused and nothing is queued."""
    _refuse_offline(station, field="station")
    return charger_call_request(station=station, action=action, payload=payload, now=now)


def _app_token(driver: Driver, now: datetime) -> ChargeToken:
    """The driver's app token, which a remote start names to the charger; issued on first use
    with an id tag of 19 characters (OCPP allows 20)."""
    token = (
        ChargeToken.objects.filter(driver=driver, kind=TokenKind.APP_USER, is_active=True)
        .filter(valid_from__lte=now)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by("-valid_from", "-pk")
        .first()
    )
    if token is not None:
        return token
    return charge_token_issue(
        driver=driver,
        uid=f"{APP_ID_TAG_PREFIX}{secrets.token_hex(8).upper()}",
        valid_from=now,
        kind=TokenKind.APP_USER,
    )


def _refuse_offline(station: ChargingStation, field: str = "connector") -> None:
    if not station.is_connected:
        raise StationOffline(
            f"Station {station.ocpp_identity} is not connected; try again when it is.",
            field=field,
        )


@transaction.atomic
def charging_session_remote_start(
    *,
    driver: Driver,
    connector: Connector,
    now: datetime,
    vehicle: Vehicle | None = None,
    purpose: SessionPurpose = SessionPurpose.BUSINESS,
) -> ChargerCall:
    """Ask the connector's charger to start charging for the driver (RemoteStartTransaction
    with the driver's app token). The session appears when the charger reports the start; it
    then takes the purpose and vehicle asked for here. Refused, with nothing queued, for a
    driver not active, a station not connected, a connector charging, or a driver charging at
    a depot already."""
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    if driver.status != DriverStatus.ACTIVE:
        raise DriverNotActive(
            f"Driver {driver} is {driver.get_status_display().lower()}.", field="driver"
        )
    connector = Connector.objects.select_related("station").get(pk=connector.pk)
    _refuse_offline(connector.station)
    if ChargingSession.objects.filter(connector=connector, status=SessionStatus.ACTIVE).exists():
        raise ConnectorBusy(f"Connector {connector} is already charging.", field="connector")
    if ChargingSession.objects.filter(
        driver=driver, status=SessionStatus.ACTIVE, location_kind=LocationKind.DEPOT
    ).exists():
        raise DriverAlreadyCharging(
            f"{driver.full_name} already has an active depot session.", field="driver"
        )
    vehicle = vehicle_for_session_start(driver, vehicle, now)
    token = _app_token(driver, now)
    return charger_call_request(
        station=connector.station,
        action="RemoteStartTransaction",
        payload={"connectorId": connector.connector_id, "idTag": token.uid},
        now=now,
        driver=driver,
        connector=connector,
        purpose=purpose,
        vehicle=vehicle,
    )


@transaction.atomic
def charging_session_remote_stop(
    *, driver: Driver, session: ChargingSession, now: datetime
) -> ChargerCall:
    """Ask the charger of the driver's active session to stop it (RemoteStopTransaction). The
    session completes when the charger reports the stop, with its meter's energy. Refused for
    a session not active or a station not connected."""
    session = ChargingSession.objects.select_related("connector__station").get(pk=session.pk)
    if session.status != SessionStatus.ACTIVE:
        raise SessionNotActive("Only an active session can be stopped.", field="session")
    station = session.connector.station
    _refuse_offline(station)
    return charger_call_request(
        station=station,
        action="RemoteStopTransaction",
        payload={"transactionId": session.pk},
        now=now,
        driver=driver,
        connector=session.connector,
        session=session,
    )


def charging_session_is_stopped_by_charger(session: ChargingSession) -> bool:
    """Whether stopping this session is the charger's to report: a session a charger reported
    on a station that connects over OCPP."""
    return (
        session.source == SessionSource.OCPP
        and session.connector_id is not None
        and bool(session.connector.station.ocpp_password)
    )


def _remote_starts_unclaimed(*, since: datetime) -> QuerySet[ChargerCall]:
    return ChargerCall.objects.filter(
        action="RemoteStartTransaction",
        status=ChargerCallStatus.ANSWERED,
        answer__status="Accepted",
        session__isnull=True,
        created_at__gte=since,
    )


def remote_starts_waiting(
    *, sessions: Sequence[ChargingSession]
) -> set[tuple[int | None, int | None]]:
    """The (driver, connector) pairs of `sessions` that a remote start may be waiting for, as
    remote_start_claim looks for one: one query for many sessions just reported, so that only
    those have to be claimed one by one."""
    if not sessions:
        return set()
    since = min(session.started_at for session in sessions) - REMOTE_START_MATCH_WINDOW
    waiting = set(
        _remote_starts_unclaimed(since=since)
        .filter(
            driver_id__in={session.driver_id for session in sessions},
            connector_id__in={session.connector_id for session in sessions},
        )
        .values_list("driver_id", "connector_id")
    )
    return {
        (session.driver_id, session.connector_id)
        for session in sessions
        if (session.driver_id, session.connector_id) in waiting
    }


def remote_start_claim(*, session: ChargingSession) -> ChargerCall | None:
    """Link a session a charger just reported to the remote start that asked for it: the
    latest accepted RemoteStartTransaction of its driver on its connector, unclaimed and
    recent. The session takes the purpose and vehicle the driver asked for."""
    call = (
        _remote_starts_unclaimed(since=session.started_at - REMOTE_START_MATCH_WINDOW)
        .select_for_update()
        .filter(driver_id=session.driver_id, connector_id=session.connector_id)
        .order_by("-created_at", "-pk")
        .first()
    )
    if call is None:
        return None
    call.session = session
    call.save(update_fields=["session"])
    fields = []
    if call.purpose:
        session.purpose = call.purpose
        fields.append("purpose")
    if call.vehicle_id and call.vehicle_id != session.vehicle_id:
        session.vehicle = call.vehicle
        session.cost_center_id = cost_center_at_start(session.driver, call.vehicle)
        fields += ["vehicle", "cost_center"]
    if fields:
        session.save(update_fields=[*fields, "updated_at"])
    return call


# Tags reaching chargers ---------------------------------------------------------------------

TAG_ACTIONS = frozenset({"GetLocalListVersion", "SendLocalList", "ClearCache"})
# Tag changes reach chargers once they are this old: a change stamped earlier is committed
# by then, so none is passed over by an update that read the changes before it committed.
TAG_CHANGES_SETTLE = timedelta(seconds=1)
# Stations brought up to date in one transaction: their own messages wait while it runs.
TAG_SWEEP_STATIONS = 200
NO_LOCAL_LIST = -1


def _tag_info(token: ChargeToken, at: datetime) -> dict:
    """How a charger should treat a token, as a local list entry's idTagInfo."""
    if not token.is_active or token.driver.status != DriverStatus.ACTIVE:
        status = "Blocked"
    elif token.valid_until is not None and at >= token.valid_until:
        status = "Expired"
    else:
        status = "Accepted"
    info = {"status": status}
    if status == "Accepted" and token.valid_until is not None:
        info["expiryDate"] = token.valid_until.isoformat()
    return info


def _tag_update(station: ChargingStation, tokens: list[ChargeToken], now: datetime):
    """The call that brings a station found behind its fleet's tags up to date, or None when
    none is needed: a cleared cache for a charger without a list, the whole list for a local
    list never sent, the changes for one that was (`tokens`)."""
    if station.local_list_version == NO_LOCAL_LIST:
        return "ClearCache", {}
    if station.tags_synced_at is not None and not tokens:
        return None
    update_type = "Full" if station.tags_synced_at is None else "Differential"
    return "SendLocalList", {
        "listVersion": station.local_list_version + 1,
        "updateType": update_type,
        "localAuthorizationList": [
            {"idTag": token.uid, "idTagInfo": _tag_info(token, now)} for token in tokens
        ],
    }


@transaction.atomic
def charger_tag_updates_queue(
    *, connected: set[str], now: datetime, limit: int = TAG_SWEEP_STATIONS
) -> int:
    """Queue for each connected station what brings its tags up to date, after a token was
    blocked or a driver suspended (or anything else changed a tag of its fleet): a
    differential SendLocalList where the charger keeps a local list, a ClearCache otherwise.
    A charger that was offline is brought up to date once it is connected again. A station
    whose list version is not known is asked for it first. Returns how many calls it queued.

    Only the stations that have something to catch up on are read and locked, at most
    `limit` of them, so that their messages never wait long behind this: a gateway whose
    chargers are all up to date spends two queries here, one of them a single pass over their
    fleets' tokens. Run it again while it queues `limit` calls."""
    settled = now - TAG_CHANGES_SETTLE
    connected_stations = ChargingStation.objects.filter(ocpp_identity__in_array=sorted(connected))
    fleet_tags_changed_at = (
        ChargeToken.objects.filter(
            driver__fleet_id__in=connected_stations.values("fleet_id"), updated_at__lte=settled
        )
        .order_by()
        .values("driver__fleet_id")
        .annotate(changed_at=Max("updated_at"))
        .values_list("driver__fleet_id", "changed_at")
    )
    behind = Q(local_list_version__isnull=True) | Q(tags_synced_at__isnull=True)
    for fleet_id, changed_at in fleet_tags_changed_at:
        behind |= Q(fleet_id=fleet_id, tags_synced_at__lt=changed_at)
    tag_call_open = ChargerCall.objects.filter(
        station_id=OuterRef("pk"),
        action__in=TAG_ACTIONS,
        status__in=(ChargerCallStatus.QUEUED, ChargerCallStatus.SENT),
    )
    waiting = list(
        connected_stations.select_for_update(skip_locked=True, no_key=True)
        .filter(behind)
        .exclude(Exists(tag_call_open))
        .order_by("pk")[:limit]
    )
    calls = [
        ChargerCall(station=station, action="GetLocalListVersion", payload={}, created_at=now)
        for station in waiting
        if station.local_list_version is None
    ]
    fleet_tokens = _changed_fleet_tokens(
        [station for station in waiting if station.local_list_version not in (None, NO_LOCAL_LIST)]
    )
    for station in waiting:
        if station.local_list_version is None:
            continue
        tokens = [
            token
            for token in fleet_tokens.get(station.fleet_id, [])
            if station.tags_synced_at is None
            or station.tags_synced_at < token.updated_at <= settled
        ]
        update = _tag_update(station, tokens, now)
        if update is not None:
            action, payload = update
            calls.append(
                ChargerCall(
                    station=station,
                    action=action,
                    payload=payload,
                    created_at=now,
                    tags_up_to=max([settled, *(token.updated_at for token in tokens)]),
                )
            )
    return len(_calls_queue(calls))


def _changed_fleet_tokens(stations: list[ChargingStation]) -> dict[int, list[ChargeToken]]:
    """The tokens of the stations' fleets changed since the least synced of their stations:
    all of a fleet's for a station never synced, usually none at all."""
    since: dict[int, datetime | None] = {}
    for station in stations:
        synced = station.tags_synced_at
        least = since.get(station.fleet_id, synced)
        since[station.fleet_id] = None if synced is None or least is None else min(synced, least)
    changed: dict[int, list[ChargeToken]] = {}
    for fleet_id, synced in since.items():
        tokens = ChargeToken.objects.filter(driver__fleet_id=fleet_id)
        if synced is not None:
            tokens = tokens.filter(updated_at__gt=synced)
        changed[fleet_id] = list(tokens.select_related("driver").order_by("updated_at", "pk"))
    return changed


def _stations_tags_record(calls: list[ChargerCall]) -> None:
    """Keep on their stations what calls about tags found out: an answer, or that the
    charger does not implement the call."""
    stations = (
        ChargingStation.objects.select_for_update(no_key=True)
        .filter(pk__in={call.station_id for call in calls})
        .order_by("pk")
        .in_bulk()
    )
    for call in calls:
        station = stations[call.station_id]
        if call.status == ChargerCallStatus.ANSWERED:
            _station_tags_answered(station, call)
        else:
            _station_tags_not_implemented(station, call)
    now = timezone.now()
    rows_updated(
        ChargingStation,
        ("local_list_version", "tags_synced_at", "updated_at"),
        [
            (station.pk, station.local_list_version, station.tags_synced_at, now)
            for station in stations.values()
        ],
    )


def _station_tags_answered(station: ChargingStation, call: ChargerCall) -> None:
    answer = call.answer or {}
    synced_at = call.tags_up_to
    if call.action == "GetLocalListVersion":
        station.local_list_version = answer.get("listVersion", NO_LOCAL_LIST)
    elif answer.get("status") == "Accepted":
        if call.action == "SendLocalList":
            station.local_list_version = call.payload["listVersion"]
        if station.tags_synced_at is None or synced_at > station.tags_synced_at:
            station.tags_synced_at = synced_at
    elif answer.get("status") == "NotSupported":
        station.local_list_version = NO_LOCAL_LIST
    else:
        station.local_list_version = None
        station.tags_synced_at = None
    logger.info(
        "charging.station_tags_answered",
        extra={"station_id": station.pk, "action": call.action, "status": answer.get("status")},
    )


def _station_tags_not_implemented(station: ChargingStation, call: ChargerCall) -> None:
    if call.action == "ClearCache":
        station.tags_synced_at = call.tags_up_to
    else:
        station.local_list_version = NO_LOCAL_LIST
