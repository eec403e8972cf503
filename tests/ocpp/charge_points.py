"""A charge point for the gateway's tests, built on the `ocpp` package's ChargePoint: it
connects over a real WebSocket with its station's password and sends OCPP 1.6J calls."""

import asyncio
import base64
import contextlib
import datetime as dt
from collections.abc import AsyncIterator

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect

STATION_PASSWORD = "station-password-0123"


def basic_auth(identity: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{identity}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def energy_sample(moment: dt.datetime, wh: int, *, power_w: int | None = None) -> dict:
    samples = [
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
    ]
    if power_w is not None:
        samples.append({"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"})
    return {"timestamp": timestamp(moment), "sampledValue": samples}


class SimulatedChargePoint(ChargePoint):
    """The charger's side: it calls the central system, and answers a remote start or stop
    with `remote_answer`; having accepted one, it reports the start or stop as a charger does,
    its meter at `meter_wh` and 5 kWh more at the stop."""

    remote_answer = "Accepted"
    meter_wh = 100_000

    @on(Action.remote_start_transaction)
    async def on_remote_start_transaction(self, id_tag: str, connector_id: int = 1, **details):
        return call_result.RemoteStartTransaction(status=self.remote_answer)

    @after(Action.remote_start_transaction)
    async def after_remote_start_transaction(self, id_tag: str, connector_id: int = 1, **details):
        if self.remote_answer == "Accepted":
            await self.call(
                call.StartTransaction(
                    connector_id=connector_id,
                    id_tag=id_tag,
                    meter_start=self.meter_wh,
                    timestamp=timestamp(dt.datetime.now(tz=dt.UTC)),
                )
            )

    @on(Action.reset)
    async def on_reset(self, type: str):
        return call_result.Reset(status="Accepted")

    @on(Action.get_configuration)
    async def on_get_configuration(self, key: list | None = None):
        return call_result.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        )

    @on(Action.remote_stop_transaction)
    async def on_remote_stop_transaction(self, transaction_id: int):
        return call_result.RemoteStopTransaction(status=self.remote_answer)

    @after(Action.remote_stop_transaction)
    async def after_remote_stop_transaction(self, transaction_id: int):
        if self.remote_answer == "Accepted":
            await self.call(
                call.StopTransaction(
                    meter_stop=self.meter_wh + 5_000,
                    timestamp=timestamp(dt.datetime.now(tz=dt.UTC)),
                    transaction_id=transaction_id,
                    reason="Remote",
                )
            )

    async def boot(self):
        return await self.call(
            call.BootNotification(
                charge_point_vendor="Alfen",
                charge_point_model="Eve Double Pro-line",
                charge_point_serial_number="ACE0000042",
                firmware_version="6.4.0",
            )
        )


class ConformanceChargePoint(SimulatedChargePoint):
    """A charger for the conformance cases: it answers the central system's calls with
    `answers` (by action, Accepted by default), records every call it gets, and sends the
    message a TriggerMessage asks for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answers: dict[str, str] = {}
        self.calls_received: list[tuple[str, dict]] = []

    def _answer(self, action: str, payload: dict) -> str:
        self.calls_received.append((action, payload))
        return self.answers.get(action, "Accepted")

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, connector_id: int):
        return call_result.UnlockConnector(status=self.answers.get("UnlockConnector", "Unlocked"))

    @on(Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str):
        return call_result.ChangeConfiguration(
            status=self._answer("ChangeConfiguration", {"key": key, "value": value})
        )

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str):
        return call_result.ChangeAvailability(
            status=self._answer("ChangeAvailability", {"connectorId": connector_id, "type": type})
        )

    @on(Action.clear_cache)
    async def on_clear_cache(self):
        return call_result.ClearCache(status=self._answer("ClearCache", {}))

    @on(Action.trigger_message)
    async def on_trigger_message(self, requested_message: str, connector_id: int | None = None):
        return call_result.TriggerMessage(
            status=self._answer("TriggerMessage", {"requestedMessage": requested_message})
        )

    @after(Action.trigger_message)
    async def after_trigger_message(self, requested_message: str, connector_id: int | None = None):
        if self.answers.get("TriggerMessage", "Accepted") != "Accepted":
            return
        if requested_message == "StatusNotification":
            await self.call(
                call.StatusNotification(
                    connector_id=connector_id or 1,
                    error_code="NoError",
                    status="Available",
                    timestamp=timestamp(dt.datetime.now(tz=dt.UTC)),
                )
            )
        elif requested_message == "Heartbeat":
            await self.call(call.Heartbeat())


class LocalListChargePoint(SimulatedChargePoint):
    """A charger that keeps a local authorization list, starting at version 3; it records
    every list it is sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.list_version = 3
        self.lists_received: list[dict] = []

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self):
        return call_result.GetLocalListVersion(list_version=self.list_version)

    @on(Action.send_local_list)
    async def on_send_local_list(self, list_version: int, update_type: str, **details):
        self.lists_received.append(
            {
                "listVersion": list_version,
                "updateType": update_type,
                "localAuthorizationList": [
                    {"idTag": entry["id_tag"], "status": entry["id_tag_info"]["status"]}
                    for entry in details.get("local_authorization_list", [])
                ],
            }
        )
        self.list_version = list_version
        return call_result.SendLocalList(status="Accepted")


class CacheChargePoint(SimulatedChargePoint):
    """A charger without a local list that caches tags; it counts the times it clears them."""

    caches_cleared = 0

    @on(Action.clear_cache)
    async def on_clear_cache(self):
        self.caches_cleared += 1
        return call_result.ClearCache(status="Accepted")


@contextlib.asynccontextmanager
async def charger_connected(
    port: int,
    identity: str,
    password: str = STATION_PASSWORD,
    response_timeout: float = 10,
    charge_point_class: type[SimulatedChargePoint] = SimulatedChargePoint,
) -> AsyncIterator[SimulatedChargePoint]:
    """A charge point connected to the gateway on loopback, reading its messages until the
    block ends."""
    connection: ClientConnection = await connect(
        f"ws://127.0.0.1:{port}/ocpp/{identity}",
        subprotocols=["ocpp1.6"],
        additional_headers=basic_auth(identity, password),
        open_timeout=10,
    )
    charge_point = charge_point_class(identity, connection, response_timeout=response_timeout)
    reading = asyncio.create_task(charge_point.start())
    try:
        yield charge_point
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reading
        await connection.close()


@contextlib.asynccontextmanager
async def raw_connection(
    port: int, identity: str, password: str = STATION_PASSWORD
) -> AsyncIterator[ClientConnection]:
    """A bare WebSocket to the gateway as a station, for frames no ChargePoint would send."""
    connection = await connect(
        f"ws://127.0.0.1:{port}/ocpp/{identity}",
        subprotocols=["ocpp1.6"],
        additional_headers=basic_auth(identity, password),
        open_timeout=10,
    )
    try:
        yield connection
    finally:
        await connection.close()
