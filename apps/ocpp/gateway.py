"""The OCPP 1.6J gateway: a WebSocket server at /ocpp/<charge point identity> that lets in the
stations its fleets know, with their passwords (HTTP Basic auth, OCPP 1.6 security profile 1),
keeps one connection per station, and marks a station offline when it leaves or falls
silent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import sys
import time
from http import HTTPStatus
from urllib.parse import unquote

import ocpp.messages
from django.conf import settings
from django.utils import timezone
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from apps.charging.charger_calls import (
    TAG_SWEEP_STATIONS,
    charger_calls_record_outcomes,
    charger_tag_updates_queue,
)
from apps.charging.chargers import (
    StationConnectionChange,
    StationCredentials,
    charging_sessions_charger_meter_values,
    charging_sessions_charger_start,
    charging_sessions_charger_stop,
    charging_stations_authenticated,
    charging_stations_boot_record,
    charging_stations_connection_record,
    connector_statuses_record,
    unassigned_station_record,
)
from apps.charging.models import ChargingStation, UnassignedStation
from apps.ocpp.central_system import PendingConnection, StationConnection
from apps.ocpp.database import DatabaseProcesses, DatabaseThreads
from apps.ocpp.dispatch import CallDispatcher
from apps.ocpp.message_log import MessageLog
from apps.ocpp.storage import Batcher

logger = logging.getLogger(__name__)

PATH_PREFIX = "/ocpp/"
SUBPROTOCOL = Subprotocol("ocpp1.6")
REALM = "Voltop OCPP"
CLOSE_REPLACED = 4000
CLOSE_SILENT = 4001
DISABLED_TAG_SYNC_LOOK_SECONDS = 1.0
RETRY_AFTER_SECONDS = 5
# Starts, stops and status reports gathered into one service call: each names its connector or
# session in the query that locks them.
LOCKING_BATCH_MAX = 100
# Passwords checked in one service call: those not verified before are hashed one after
# another (PBKDF2, about 6 ms each), and every charger of the batch waits for the last.
PASSWORD_BATCH_MAX = 32
# A charger's handshake waits this long for its password check, within the time in which the
# server drops a handshake not done. At 5 s, 5,000 chargers connecting were refused 71,039
# times, and every refusal was a handshake to answer again (bench/ocpp.py).
PASSWORD_CHECK_WAIT_SECONDS = 20.0
HANDSHAKE_TIMEOUT_SECONDS = 30.0
# How long a thread may hold the GIL while another waits for it. Python's 5 ms lets the
# database threads keep the event loop waiting 5 ms after each socket read or write under
# load; at 1 ms the median reply under load fell from 660 ms to 200 ms (bench/ocpp.py, 1,000
# chargers).
SWITCH_INTERVAL_SECONDS = 0.001


def gateway_process_configure() -> None:
    """Set what a gateway process sets for itself alone: the GIL's switch interval, and
    where the ocpp library checks messages against their schemas (OCPP_ASYNC_VALIDATION)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    ocpp.messages.ASYNC_VALIDATION = settings.OCPP_ASYNC_VALIDATION


def identity_of_path(path: str) -> str | None:
    """The charge point identity a connection's path names: /ocpp/<identity>, percent-decoded;
    None for any other path."""
    path = path.split("?", 1)[0]
    if not path.startswith(PATH_PREFIX):
        return None
    identity = unquote(path[len(PATH_PREFIX) :])
    if not identity or "/" in identity:
        return None
    return identity


class Gateway:
    """The central system's side of every charger connection."""

    def __init__(self, database: DatabaseThreads | DatabaseProcesses):
        self.database = database
        self.connections: dict[str, StationConnection] = {}
        self._stations: dict[ServerConnection, ChargingStation | UnassignedStation] = {}
        self.dispatcher = CallDispatcher(self)
        self.message_log = MessageLog(self.database)
        self.meter_values = Batcher(self.database, charging_sessions_charger_meter_values)
        self.credentials = Batcher(
            self.database, charging_stations_authenticated, batch_max=PASSWORD_BATCH_MAX
        )
        locking = tuple(
            Batcher(self.database, service, batch_max=LOCKING_BATCH_MAX)
            for service in (
                charging_sessions_charger_start,
                charging_sessions_charger_stop,
                connector_statuses_record,
                charging_stations_connection_record,
                charging_stations_boot_record,
                charger_calls_record_outcomes,
            )
        )
        (
            self.starts,
            self.stops,
            self.statuses,
            self.connection_changes,
            self.boots,
            self.call_outcomes,
        ) = locking
        self._batchers = [self.meter_values, self.credentials, *locking]
        self._background: list[asyncio.Task] = []
        self._admitting = 0

    async def serve(
        self, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> Server:
        """Start listening; the returned server runs until it is closed."""
        ping_seconds = settings.OCPP_PING_SECONDS or None
        server = await serve(
            self._converse,
            host,
            port,
            subprotocols=[SUBPROTOCOL],
            process_request=self._admit,
            ssl=ssl_context,
            ping_interval=ping_seconds,
            ping_timeout=ping_seconds,
            open_timeout=HANDSHAKE_TIMEOUT_SECONDS,
        )
        self._background = [
            asyncio.create_task(self._disconnect_silent()),
            asyncio.create_task(self.dispatcher.run()),
            asyncio.create_task(self._keep_tags_up_to_date()),
            asyncio.create_task(self.message_log.run()),
            *(asyncio.create_task(batcher.run()) for batcher in self._batchers),
        ]
        logger.info("ocpp.gateway_listening", extra={"host": host, "port": port})
        return server

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self.database.close)

    @staticmethod
    def _refusal(connection: ServerConnection, status: HTTPStatus, text: str) -> Response:
        response = connection.respond(status, text + "\n")
        if status == HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = build_www_authenticate_basic(REALM)
        return response

    def _deferral(self, connection: ServerConnection, identity: str) -> Response:
        logger.warning("ocpp.connection_deferred", extra={"station": identity})
        response = self._refusal(
            connection,
            HTTPStatus.TOO_MANY_REQUESTS,
            "Too many chargers are connecting; connect again shortly.",
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    async def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """Let a connection in only for a known station with its password: 404 for another
        path, 401 without the station's credentials (unless OCPP_HOLD_UNKNOWN_STATIONS holds
        an unknown identity pending). The user name is the station's identity, as OCPP 1.6
        security profile 1 has it. Beyond OCPP_MAX_CONNECTIONS, with
        OCPP_MAX_HANDSHAKES_AT_ONCE passwords being checked (a reconnect storm), or with more
        than OCPP_MAX_DATABASE_BACKLOG service calls waiting for the database, a charger is
        asked to come back shortly: 429 with Retry-After. The chargers already connected are
        then answered first, rather than every charger waiting until its calls time out. So is
        a charger whose password is not checked within PASSWORD_CHECK_WAIT_SECONDS, before the
        handshake's own timeout drops it without an answer; the check goes on, and a password
        found right is not hashed again when the charger comes back."""
        identity = identity_of_path(request.path)
        if identity is None:
            return self._refusal(connection, HTTPStatus.NOT_FOUND, "Connect to /ocpp/<identity>.")
        if (
            self._admitting >= settings.OCPP_MAX_HANDSHAKES_AT_ONCE
            or len(self.connections) >= settings.OCPP_MAX_CONNECTIONS
            or self.database.backlog > settings.OCPP_MAX_DATABASE_BACKLOG
        ):
            return self._deferral(connection, identity)
        self._admitting += 1
        try:
            admitted = await asyncio.wait_for(
                self._station_of_credentials(identity, request.headers),
                PASSWORD_CHECK_WAIT_SECONDS,
            )
        except TimeoutError:
            return self._deferral(connection, identity)
        finally:
            self._admitting -= 1
        if admitted is None:
            logger.warning("ocpp.connection_refused", extra={"station": identity})
            return self._refusal(
                connection, HTTPStatus.UNAUTHORIZED, "Unknown station or wrong password."
            )
        self._stations[connection] = admitted
        return None

    async def _station_of_credentials(
        self, identity: str, headers: Headers
    ) -> ChargingStation | UnassignedStation | None:
        """The station these credentials are, or (OCPP_HOLD_UNKNOWN_STATIONS on) the charger
        held pending under an identity no station has; None to refuse."""
        try:
            username, password = parse_authorization_basic(headers["Authorization"])
        except (KeyError, InvalidHeader):
            username, password = identity, ""
        if username != identity:
            return None
        station = None
        if password:
            station = await self.credentials.record(StationCredentials(identity, password))
        if station is None and settings.OCPP_HOLD_UNKNOWN_STATIONS:
            return await self.database.run(
                unassigned_station_record,
                ocpp_identity=identity,
                password=password,
                at=timezone.now(),
            )
        return station

    async def _converse(self, connection: ServerConnection) -> None:
        """Serve one admitted charger until it leaves. A new connection of the same station
        replaces the one before; only the last to leave marks the station offline. A charger
        held pending is only told to wait."""
        station = self._stations.pop(connection)
        if isinstance(station, UnassignedStation):
            with contextlib.suppress(ConnectionClosed):
                await PendingConnection(station, connection, self.database).start()
            return
        charger = StationConnection(
            station,
            connection,
            self.database,
            self.message_log,
            meter_values=self.meter_values,
            starts=self.starts,
            stops=self.stops,
            statuses=self.statuses,
            boots=self.boots,
        )
        replaced = self.connections.get(station.ocpp_identity)
        self.connections[station.ocpp_identity] = charger
        if replaced is not None:
            logger.info("ocpp.connection_replaced", extra={"station": station.ocpp_identity})
            await replaced.connection.close(CLOSE_REPLACED, "replaced by a new connection")
        await self._connection_record(station, connected=True)
        try:
            await charger.start()
        except ConnectionClosed:
            pass
        finally:
            if self.connections.get(station.ocpp_identity) is charger:
                del self.connections[station.ocpp_identity]
                await self._connection_record(station, connected=False)

    async def _connection_record(self, station: ChargingStation, *, connected: bool) -> None:
        refused = await self.connection_changes.record(
            StationConnectionChange(station.pk, connected, timezone.now())
        )
        if refused is not None:
            raise refused

    async def _keep_tags_up_to_date(self) -> None:
        """Every OCPP_TAG_SYNC_SECONDS, queue what brings connected chargers' tags up to date
        (a token blocked, a driver suspended), and send it at once; 0 turns this off. Stations
        are taken TAG_SWEEP_STATIONS at a time, each batch in a transaction of its own, so
        that thousands of chargers connecting at once do not wait behind one long sweep."""
        while True:
            every = settings.OCPP_TAG_SYNC_SECONDS
            await asyncio.sleep(every or DISABLED_TAG_SYNC_LOOK_SECONDS)
            if not every or not self.connections:
                continue
            queued = TAG_SWEEP_STATIONS
            while queued == TAG_SWEEP_STATIONS:
                try:
                    queued = await self.database.run(
                        charger_tag_updates_queue,
                        connected=set(self.connections),
                        now=timezone.now(),
                        limit=TAG_SWEEP_STATIONS,
                    )
                except Exception:
                    logger.exception("ocpp.tag_updates_not_queued")
                    break
                if queued:
                    self.dispatcher.wake()

    async def _disconnect_silent(self) -> None:
        """Close the connections of chargers not heard from for OCPP_OFFLINE_AFTER_SECONDS:
        their stations show offline until they come back."""
        while True:
            limit = settings.OCPP_OFFLINE_AFTER_SECONDS
            await asyncio.sleep(min(5.0, limit / 4))
            silent_since = time.monotonic() - limit
            for charger in list(self.connections.values()):
                if charger.last_heard < silent_since:
                    logger.warning("ocpp.station_silent", extra={"station": charger.id})
                    await charger.connection.close(CLOSE_SILENT, "no message within the limit")
