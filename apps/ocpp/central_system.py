"""One charger's connection as the central system sees it: the OCPP 1.6J messages it sends,
each answered after the charging services record what it says.

This is an interface: it parses a message, calls one service and renders the answer. Errors
go back as the CALLERROR the OCPP-J 1.6 specification prescribes, and the connection stays
up."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import (
    FormationViolationError,
    FormatViolationError,
    OccurenceConstraintViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    SecurityError,
)
from ocpp.messages import Call, CallError, MessageType, unpack
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, DataTransferStatus, RegistrationStatus

from apps.charging.chargers import (
    ChargerReadings,
    ChargerStart,
    ChargerStartReport,
    ChargerStop,
    ChargerStopReport,
    ConnectorStatusReport,
    StationBoot,
    charge_token_authorization,
    charging_station_heartbeat_record,
    unassigned_station_boot_record,
)
from apps.charging.meter_units import MeterValueFormatError
from apps.charging.models import ChargingStation, UnassignedStation
from apps.ocpp.meter_values import meter_readings_of
from apps.ocpp.payload_keys import snake_case_keys
from apps.ocpp.schemas import call_payload_check, call_result_payload_check
from apps.ocpp.timestamps import TimestampInvalid, ocpp_moment, ocpp_timestamp
from voltop.core.errors import DomainError

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from apps.ocpp.database import DatabaseThreads
    from apps.ocpp.message_log import MessageLog
    from apps.ocpp.storage import Batcher

logger = logging.getLogger(__name__)
# The library logs every frame at INFO; the gateway logs them itself, with the station.
library_logger = logging.getLogger("apps.ocpp.library")
# OCPP 1.6 spells two error codes its own way (OCPP-J 1.6 errata, "known issues that will not
# be fixed"); the library raises them by the 2.0.1 names.
OCPP16_ERRORS = {
    FormatViolationError.code: FormationViolationError,
    OccurrenceConstraintViolationError.code: OccurenceConstraintViolationError,
}
UNKNOWN_MESSAGE_ID = "-1"
CLOSE_ASSIGNED = 4002


def ocpp16_error(error: OCPPError) -> OCPPError:
    """`error` under the code OCPP 1.6 gives it."""
    spelled_for_16 = OCPP16_ERRORS.get(error.code)
    if spelled_for_16 is None:
        return error
    return spelled_for_16(description=error.description, details=error.details)


def _message_id_of(raw: str | bytes) -> str:
    """The unique id of a frame that could not be read as a message, when it has one."""
    try:
        frame = json.loads(raw)
    except (TypeError, ValueError):
        return UNKNOWN_MESSAGE_ID
    if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str):
        return frame[1]
    return UNKNOWN_MESSAGE_ID


def _id_tag_info(authorization) -> IdTagInfo:
    expiry = authorization.expiry
    return IdTagInfo(
        status=authorization.status.value,
        expiry_date=ocpp_timestamp(expiry) if expiry is not None else None,
    )


@functools.cache
def _takes_call_unique_id(handler_function) -> bool:
    return "call_unique_id" in inspect.signature(handler_function).parameters


class StationConnection(ChargePoint):
    """A connected charger of a known station. The library handles its messages one at a
    time, in the order they came, so what the services record keeps the charger's order."""

    def __init__(
        self,
        station: ChargingStation,
        connection: ServerConnection,
        database: DatabaseThreads,
        message_log: MessageLog,
        *,
        meter_values: Batcher[ChargerReadings, None],
        starts: Batcher[ChargerStartReport, ChargerStart],
        stops: Batcher[ChargerStopReport, ChargerStop],
        statuses: Batcher[ConnectorStatusReport, None],
        boots: Batcher[StationBoot, None],
    ):
        super().__init__(
            station.ocpp_identity,
            connection,
            response_timeout=settings.OCPP_CALL_TIMEOUT_SECONDS,
            logger=library_logger,
        )
        self.station = station
        self.database = database
        self.message_log = message_log
        self.meter_values = meter_values
        self.starts = starts
        self.stops = stops
        self.statuses = statuses
        self.boots = boots
        self.last_heard = time.monotonic()
        self._follow_ups: set[asyncio.Future] = set()

    @property
    def connection(self) -> ServerConnection:
        return self._connection

    def _log_frame(self, direction: str, frame: str) -> None:
        logger.info(
            "ocpp.message",
            extra={"station": self.id, "direction": direction, "frame": frame},
        )
        self.message_log.add(self.station.pk, sent_by_charger=direction == "in", frame=frame)

    async def _send(self, message: str) -> None:
        self._log_frame("out", message)
        await self._connection.send(message)

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Answer a CALL, pass a CALLRESULT or CALLERROR to the call waiting for it, and answer
        a frame that is not an OCPP message with a CALLERROR rather than dropping it."""
        self.last_heard = time.monotonic()
        self._log_frame("in", raw_msg if isinstance(raw_msg, str) else repr(raw_msg))
        try:
            message = unpack(raw_msg)
        except OCPPError as error:
            logger.warning("ocpp.frame_unreadable", extra={"station": self.id, "error": str(error)})
            await self._send(
                CallError(
                    _message_id_of(raw_msg),
                    ocpp16_error(error).code,
                    error.description,
                    error.details or {},
                ).to_json()
            )
            return
        if message.message_type_id == MessageType.Call:
            await self._answer(message)
        else:
            self._response_queue.put_nowait(message)

    async def _answer(self, message: Call) -> None:
        """Answer a CALL, or refuse it with the CALLERROR of its OCPP 1.6 code."""
        if not isinstance(message.payload, dict):
            error = ProtocolError(details={"cause": "The payload of a CALL is a JSON object."})
            await self._send(message.create_call_error(error).to_json())
            return
        try:
            await self._handle_call(message)
        except OCPPError as error:
            logger.warning(
                "ocpp.call_refused",
                extra={"station": self.id, "action": message.action, "error": error.code},
            )
            await self._send(message.create_call_error(ocpp16_error(error)).to_json())

    async def _handle_call(self, msg: Call):
        """Answer a CALL as the library's ChargePoint._handle_call does, without the work it
        repeats for every message: payload keys go through a cache of the library's
        conversion, and whether a handler takes call_unique_id is looked up once. The two
        took 28 % of the event loop at 5,000 chargers (py-spy, bench/ocpp.py). Payloads, the
        CALL's and the answer's, are checked against the library's schemas by the compiled
        schema check. An action with no handler is left to the library, which refuses it; an
        OCPPError goes to _answer, which answers it with its OCPP 1.6 code."""
        handlers = self.route_map.get(msg.action, {})
        handler = handlers.get("_on_action")
        if handler is None:
            return await super()._handle_call(msg)
        await call_payload_check(msg)
        arguments = snake_case_keys(msg.payload)
        if _takes_call_unique_id(handler.__func__):
            arguments["call_unique_id"] = msg.unique_id
        try:
            response = handler(**arguments)
            if inspect.isawaitable(response):
                response = await response
        except OCPPError:
            raise
        except Exception as error:
            self.logger.exception("Error while handling request '%s'", msg)
            await self._send(msg.create_call_error(error).to_json())
            return None
        result = msg.create_call_result(
            snake_to_camel_case(remove_nones(serialize_as_dict(response)))
        )
        await call_result_payload_check(result)
        await self._send(result.to_json())
        after = handlers.get("_after_action")
        if after is not None:
            follow_up = after(**arguments)
            if inspect.isawaitable(follow_up):
                task = asyncio.ensure_future(follow_up)
                self._follow_ups.add(task)
                task.add_done_callback(self._follow_ups.discard)
        return response

    async def _record(self, service, /, **kwargs):
        """Run a charging service on a database thread. What the services refuse in a message
        the schema accepted is the charger's error: PropertyConstraintViolation, with why."""
        try:
            return await self.database.run(service, **kwargs)
        except DomainError as error:
            raise PropertyConstraintViolationError(details={"cause": error.message}) from error

    @staticmethod
    def _readings(meter_values: list):
        """The meter readings of OCPP meterValue entries; a value the schema let through but
        that is no number, or a unit OCPP does not allow, is PropertyConstraintViolation."""
        try:
            return meter_readings_of(meter_values)
        except (MeterValueFormatError, TimestampInvalid) as error:
            raise PropertyConstraintViolationError(details={"cause": error.message}) from error

    def _moment(self, value: str | None, field: str):
        if value is None:
            return timezone.now()
        try:
            return ocpp_moment(value, field=field)
        except TimestampInvalid as error:
            raise PropertyConstraintViolationError(details={"cause": error.message}) from error

    @on(Action.boot_notification)
    async def on_boot_notification(
        self,
        charge_point_vendor: str,
        charge_point_model: str,
        charge_point_serial_number: str | None = None,
        charge_box_serial_number: str | None = None,
        firmware_version: str | None = None,
        **details,
    ):
        now = timezone.now()
        refused = await self.boots.record(
            StationBoot(
                station_id=self.station.pk,
                vendor=charge_point_vendor,
                model=charge_point_model,
                serial_number=charge_point_serial_number or charge_box_serial_number or "",
                firmware_version=firmware_version or "",
                at=now,
            )
        )
        if refused is not None:
            raise PropertyConstraintViolationError(details={"cause": refused.message})
        return call_result.BootNotification(
            current_time=ocpp_timestamp(now),
            interval=settings.OCPP_HEARTBEAT_SECONDS,
            status=RegistrationStatus.accepted,
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        now = timezone.now()
        await self._record(charging_station_heartbeat_record, station_id=self.station.pk, at=now)
        return call_result.Heartbeat(current_time=ocpp_timestamp(now))

    @on(Action.status_notification)
    async def on_status_notification(
        self,
        connector_id: int,
        error_code: str,
        status: str,
        timestamp: str | None = None,
        info: str | None = None,
        vendor_error_code: str | None = None,
        **details,
    ):
        refused = await self.statuses.record(
            ConnectorStatusReport(
                station_id=self.station.pk,
                connector_id=connector_id,
                status=status,
                error_code=error_code,
                info=" · ".join(text for text in (info, vendor_error_code) if text),
                at=self._moment(timestamp, "timestamp"),
            )
        )
        if refused is not None:
            raise PropertyConstraintViolationError(details={"cause": refused.message})
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str):
        authorization = await self._record(
            charge_token_authorization, station=self.station, id_tag=id_tag, at=timezone.now()
        )
        return call_result.Authorize(id_tag_info=_id_tag_info(authorization))

    @on(Action.start_transaction)
    async def on_start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        reservation_id: int | None = None,
    ):
        start = await self.starts.record(
            ChargerStartReport(
                station=self.station,
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start_wh=meter_start,
                started_at=self._moment(timestamp, "timestamp"),
            )
        )
        if isinstance(start, DomainError):
            raise PropertyConstraintViolationError(details={"cause": start.message})
        return call_result.StartTransaction(
            transaction_id=start.session.pk,
            id_tag_info=_id_tag_info(start.authorization),
        )

    @on(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list, transaction_id: int | None = None
    ):
        if transaction_id is not None:
            refused = await self.meter_values.record(
                ChargerReadings(self.station.pk, transaction_id, tuple(self._readings(meter_value)))
            )
            if refused is not None:
                raise PropertyConstraintViolationError(details={"cause": refused.message})
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        id_tag: str | None = None,
        transaction_data: list | None = None,
    ):
        stop = await self.stops.record(
            ChargerStopReport(
                station=self.station,
                transaction_id=transaction_id,
                meter_stop_wh=meter_stop,
                stopped_at=self._moment(timestamp, "timestamp"),
                readings=tuple(self._readings(transaction_data or [])),
                id_tag=id_tag,
            )
        )
        if isinstance(stop, DomainError):
            raise PropertyConstraintViolationError(details={"cause": stop.message})
        if stop.authorization is None:
            return call_result.StopTransaction()
        return call_result.StopTransaction(id_tag_info=_id_tag_info(stop.authorization))

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **details):
        logger.info("ocpp.data_transfer_rejected", extra={"station": self.id, "vendor": vendor_id})
        return call_result.DataTransfer(status=DataTransferStatus.rejected)

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status_notification(self, status: str):
        logger.info("ocpp.diagnostics_status", extra={"station": self.id, "status": status})
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(self, status: str):
        logger.info("ocpp.firmware_status", extra={"station": self.id, "status": status})
        return call_result.FirmwareStatusNotification()


class PendingConnection(ChargePoint):
    """A charger no fleet knows, held until a superuser assigns it: its BootNotification is
    answered Pending, its heartbeats are answered, anything else is a SecurityError. Once it is
    assigned, its next boot closes the connection, so that it connects again as its station."""

    def __init__(
        self, unassigned: UnassignedStation, connection: ServerConnection, database: DatabaseThreads
    ):
        super().__init__(
            unassigned.ocpp_identity,
            connection,
            response_timeout=settings.OCPP_CALL_TIMEOUT_SECONDS,
            logger=library_logger,
        )
        self.database = database
        self.assigned = False

    async def route_message(self, raw_msg: str | bytes) -> None:
        try:
            message = unpack(raw_msg)
        except OCPPError as error:
            await self._send(
                CallError(
                    _message_id_of(raw_msg), ocpp16_error(error).code, error.description, {}
                ).to_json()
            )
            return
        if message.message_type_id != MessageType.Call:
            return
        if message.action not in (Action.boot_notification, Action.heartbeat):
            refusal = SecurityError(
                description="The charger is not accepted yet: a superuser assigns it to a fleet."
            )
            await self._send(message.create_call_error(refusal).to_json())
            return
        try:
            await self._handle_call(message)
        except OCPPError as error:
            await self._send(message.create_call_error(ocpp16_error(error)).to_json())

    @on(Action.boot_notification)
    async def on_boot_notification(
        self,
        charge_point_vendor: str,
        charge_point_model: str,
        charge_point_serial_number: str | None = None,
        charge_box_serial_number: str | None = None,
        firmware_version: str | None = None,
        **details,
    ):
        now = timezone.now()
        still_held = await self.database.run(
            unassigned_station_boot_record,
            ocpp_identity=self.id,
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial_number=charge_point_serial_number or charge_box_serial_number or "",
            firmware_version=firmware_version or "",
            at=now,
        )
        self.assigned = not still_held
        return call_result.BootNotification(
            current_time=ocpp_timestamp(now),
            interval=settings.OCPP_PENDING_BOOT_SECONDS,
            status=RegistrationStatus.pending,
        )

    @after(Action.boot_notification)
    async def after_boot_notification(self, **details):
        if self.assigned:
            await self._connection.close(CLOSE_ASSIGNED, "assigned to a fleet: connect again")

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        return call_result.Heartbeat(current_time=ocpp_timestamp(timezone.now()))
