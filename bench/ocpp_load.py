"""The OCPP bench's load and floor: simulated OCPP 1.6J chargers on raw WebSockets, run by
worker processes that each have their own event loop and a share of the chargers, and the
floor's bare server, which answers every CALL with a fixed CALLRESULT.

Nothing here imports Django or the `ocpp` package: bench/ocpp.py starts these functions in
processes of their own (multiprocessing, spawn).

A simulated charger behaves as OCPP 1.6J asks of one: one CALL at a time on its connection
(the next is sent once the last is answered or has timed out), transaction messages
(StartTransaction, MeterValues, StopTransaction) queued while it is offline and replayed in
order when it is back, and resent after a timeout up to `transaction_attempts` times. An
overload refused politely (HTTP 429 or 503 at the handshake with an optional Retry-After,
or a BootNotification answered Pending or Rejected) is counted apart and retried with
backoff; any other failed handshake is retried the same way.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import random
import threading
import time
import traceback
from array import array
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

SUBPROTOCOL = "ocpp1.6"
CALL, CALLRESULT, CALLERROR = 2, 3, 4
OPEN_TIMEOUT_SECONDS = 30
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
POWER_W = 11_000
STATE_OF_CHARGE_START = 20
REFUSED_STATUSES = (429, 503)
# What the simulated charger answers the central system's calls: a charger of the Core
# profile without a local authorization list (listVersion -1, OCPP 1.6 section 6.31).
CHARGER_ANSWERS = {
    "ClearCache": {"status": "Accepted"},
    "GetLocalListVersion": {"listVersion": -1},
    "ChangeAvailability": {"status": "Accepted"},
    "ChangeConfiguration": {"status": "Rejected"},
    "GetConfiguration": {"configurationKey": []},
    "RemoteStartTransaction": {"status": "Rejected"},
    "RemoteStopTransaction": {"status": "Rejected"},
    "Reset": {"status": "Rejected"},
    "TriggerMessage": {"status": "Rejected"},
    "UnlockConnector": {"status": "NotSupported"},
}


def iso_now() -> str:
    """Now as OCPP writes it: UTC, milliseconds, Z."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def basic_auth(identity: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{identity}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


async def sleep_until(moment: float) -> None:
    """Sleep until the wall-clock `moment` (epoch seconds), shared by all worker processes."""
    delay = moment - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


@dataclass(frozen=True)
class LoadPlan:
    """What one worker process simulates, and when (epoch seconds, the same for all)."""

    url: str
    password: str
    chargers: tuple[tuple[str, str, str], ...]  # (identity, tag of connector 1, of 2)
    first_index: int  # this worker's chargers are numbered first_index + k * index_stride
    index_stride: int
    total_chargers: int
    start_at: float
    ramp_seconds: float
    session_seconds: float
    steady_from: float  # the steady window: every charger connected, no transaction stopped
    steady_until: float
    meter_interval_seconds: float
    call_timeout_seconds: float
    transaction_attempts: int
    drain_seconds: float
    storm_seconds: float
    storm_deadline_seconds: float
    compression: bool
    seed: int


@dataclass
class Call:
    """A CALL waiting in a charger's queue; `payload` is built when it is sent, so a
    MeterValues queued behind its StartTransaction carries the transactionId the start got."""

    action: str
    payload: Callable[[], dict | None]  # None: nothing to send any more
    transactional: bool
    answered: Callable[[dict], None] | None = None
    attempts: int = 0


@dataclass
class Transaction:
    """A transaction as the charger ran it: what the database must hold afterwards."""

    identity: str
    connector_id: int
    started: str
    meter_start: int
    phase: str
    transaction_id: int | None = None
    readings: int = 0
    meter_stop: int | None = None
    stop_answered: bool = False


@dataclass
class Figures:
    """What one worker measured; merged across workers by bench/ocpp.py."""

    latencies_ms: dict[str, array] = field(
        default_factory=lambda: {"main": array("d"), "storm": array("d")}
    )
    meter_values_ms: dict[str, array] = field(
        default_factory=lambda: {"main": array("d"), "storm": array("d")}
    )
    steady_latencies_ms: array = field(default_factory=lambda: array("d"))
    answered_per_second: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    events: dict[str, float] = field(default_factory=dict)

    def event_max(self, name: str, moment: float) -> None:
        self.events[name] = max(self.events.get(name, moment), moment)

    def event_min(self, name: str, moment: float) -> None:
        self.events[name] = min(self.events.get(name, moment), moment)


class ConnectionLost(Exception):
    """The connection closed while a CALL waited for its answer."""


class SimulatedCharger:
    """One charger with two connectors, its connection and its queue of CALLs."""

    def __init__(self, worker: LoadWorker, index: int, identity: str, tags: tuple[str, str]):
        self.worker = worker
        self.plan = worker.plan
        self.figures = worker.figures
        self.identity = identity
        self.tags = {1: tags[0], 2: tags[1]}
        self.meter = {1: 1_000_000 + 1_000 * index, 2: 5_000_000 + 1_000 * index}
        self.state_of_charge = {1: STATE_OF_CHARGE_START, 2: STATE_OF_CHARGE_START}
        self.queue: deque[Call] = deque()
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.online = asyncio.Event()
        self.connection: ClientConnection | None = None
        self.pending: dict[str, asyncio.Future] = {}
        self.leaving = False
        self.heartbeat_seconds = 300.0
        self.message_number = 0
        self.transactions: list[Transaction] = []
        self.tasks: list[asyncio.Task] = []

    # Connection --------------------------------------------------------------------------

    async def open(self, deadline: float) -> ClientConnection | None:
        """A new connection, retried with backoff (and Retry-After on a polite refusal)
        until `deadline`; None if there is none by then."""
        delay = BACKOFF_FIRST_SECONDS
        while time.time() < deadline:
            try:
                return await connect(
                    self.plan.url + self.identity,
                    subprotocols=[SUBPROTOCOL],
                    additional_headers=basic_auth(self.identity, self.plan.password),
                    compression="deflate" if self.plan.compression else None,
                    open_timeout=OPEN_TIMEOUT_SECONDS,
                    ping_interval=None,
                    proxy=None,
                    max_queue=None,
                )
            except InvalidStatus as error:
                status = error.response.status_code
                wait = delay
                if status in REFUSED_STATUSES:
                    self.figures.counts[f"refused_http_{status}"] += 1
                    retry_after = error.response.headers.get("Retry-After", "")
                    if retry_after.isdigit():
                        wait = max(float(retry_after), 0.1)
                else:
                    self.figures.counts[f"handshake_http_{status}"] += 1
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as error:
                self.figures.counts["handshake_failed"] += 1
                self.figures.errors[f"handshake: {type(error).__name__}"] += 1
                wait = delay
            await asyncio.sleep(wait * random.uniform(0.5, 1.5))
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        return None

    async def go_online(self, *, boot: bool, deadline: float) -> bool:
        """Connect and, when `boot`, send BootNotification until it is Accepted; then the
        queue is sent. False if that did not happen by `deadline`."""
        delay = BACKOFF_FIRST_SECONDS
        while time.time() < deadline:
            connection = await self.open(deadline)
            if connection is None:
                return False
            self.tasks.append(asyncio.create_task(self.read(connection)))
            accepted = not boot
            while not accepted and time.time() < deadline:
                outcome, answer = await self.exchange(connection, "BootNotification", self.boot())
                if outcome == "closed":
                    break
                if outcome != "result":
                    await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                    delay = min(delay * 2, BACKOFF_MAX_SECONDS)
                    continue
                if answer.get("status") == "Accepted":
                    self.heartbeat_seconds = float(answer.get("interval") or 300)
                    accepted = True
                    break
                self.figures.counts[f"boot_{str(answer.get('status')).lower()}"] += 1
                wait = float(answer.get("interval") or 0) or delay
                await asyncio.sleep(wait * random.uniform(0.5, 1.5))
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
            if accepted:
                self.connection = connection
                self.online.set()
                return True
        return False

    async def read(self, connection: ClientConnection) -> None:
        """Hand every CALLRESULT or CALLERROR to the CALL waiting for it; refuse the central
        system's own CALLs (the bench queues none). An unexpected loss of the connection is
        counted and followed by a reconnect, without a boot."""
        try:
            async for frame in connection:
                message = orjson.loads(frame)
                if message[0] in (CALLRESULT, CALLERROR):
                    waiting = self.pending.pop(message[1], None)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(message)
                    else:
                        self.figures.counts["late_answers"] += 1
                elif message[0] == CALL:
                    self.figures.counts[f"received {message[2]}"] += 1
                    answer = CHARGER_ANSWERS.get(message[2])
                    if answer is None:
                        reply = [CALLERROR, message[1], "NotSupported", "Bench charger.", {}]
                    else:
                        reply = [CALLRESULT, message[1], answer]
                    await connection.send(orjson.dumps(reply).decode())
        except ConnectionClosed:
            pass
        finally:
            for waiting in self.pending.values():
                if not waiting.done():
                    waiting.set_exception(ConnectionLost())
            self.pending.clear()
            if self.connection is connection:
                self.connection = None
                self.online.clear()
                if not self.leaving:
                    self.figures.counts["connections_dropped"] += 1
                    self.tasks.append(
                        asyncio.create_task(
                            self.go_online(boot=False, deadline=self.worker.deadline)
                        )
                    )

    async def drop(self) -> None:
        """Lose the connection at once, as a network outage does: no close handshake."""
        connection = self.connection
        self.leaving = True
        self.connection = None
        self.online.clear()
        if connection is not None:
            connection.transport.abort()
            with contextlib.suppress(ConnectionClosed):
                await connection.wait_closed()
        self.leaving = False

    async def leave(self) -> None:
        self.leaving = True
        connection, self.connection = self.connection, None
        self.online.clear()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5)

    # Calls -------------------------------------------------------------------------------

    async def exchange(
        self, connection: ClientConnection, action: str, payload: dict
    ) -> tuple[str, dict]:
        """Send one CALL and wait for its answer: ("result", payload), ("error", {}),
        ("timeout", {}) or ("closed", {}). Answers and their latency are recorded; a
        MeterValues without a transaction (its start was refused), which the central system
        acknowledges without storing, is counted apart from the stored CALLs."""
        self.message_number += 1
        message_id = str(self.message_number)
        waiting = asyncio.get_running_loop().create_future()
        self.pending[message_id] = waiting
        phase = self.worker.phase
        sent, sent_at = time.perf_counter(), time.time()
        try:
            await connection.send(orjson.dumps([CALL, message_id, action, payload]).decode())
            answer = await asyncio.wait_for(waiting, self.plan.call_timeout_seconds)
        except (ConnectionClosed, ConnectionLost):
            self.pending.pop(message_id, None)
            return "closed", {}
        except TimeoutError:
            self.pending.pop(message_id, None)
            self.figures.counts[f"{phase}_timeouts"] += 1
            self.figures.errors[f"{action}: timeout"] += 1
            return "timeout", {}
        elapsed_ms = (time.perf_counter() - sent) * 1000
        if answer[0] == CALLERROR:
            self.figures.counts[f"{phase}_callerrors"] += 1
            self.figures.errors[f"{action}: {answer[2]} {str(answer[4])[:120]}"] += 1
            return "error", {}
        self.figures.latencies_ms[phase].append(elapsed_ms)
        if phase == "main" and self.plan.steady_from <= sent_at <= self.plan.steady_until:
            self.figures.steady_latencies_ms.append(elapsed_ms)
        self.figures.counts[f"{phase}_answered"] += 1
        if action == "MeterValues" and "transactionId" not in payload:
            self.figures.counts[f"{phase}_answered MeterValues without transaction"] += 1
            return "result", answer[2]
        if action == "MeterValues":
            self.figures.meter_values_ms[phase].append(elapsed_ms)
        self.figures.answered_per_second[int(time.time() - self.plan.start_at)] += 1
        self.figures.counts[f"{phase}_answered {action}"] += 1
        return "result", answer[2]

    def enqueue(self, call: Call) -> None:
        self.queue.append(call)
        self.idle.clear()
        self.wake.set()

    async def send_queued(self) -> None:
        """Send the queue head first, one CALL at a time, for the charger's lifetime."""
        while True:
            while not self.queue:
                self.idle.set()
                self.wake.clear()
                await self.wake.wait()
            await self.online.wait()
            connection = self.connection
            if connection is None:
                await asyncio.sleep(0)
                continue
            call = self.queue[0]
            payload = call.payload()
            if payload is None:
                self.figures.counts[f"not sent {call.action}"] += 1
                self.queue.popleft()
                continue
            outcome, answer = await self.exchange(connection, call.action, payload)
            if outcome == "closed":
                continue
            if outcome == "timeout":
                call.attempts += 1
                if call.attempts < (self.plan.transaction_attempts if call.transactional else 1):
                    self.figures.counts["resent"] += 1
                    continue
                self.figures.counts["lost"] += 1
                self.figures.counts[f"lost {call.action}"] += 1
            self.queue.popleft()
            if outcome == "result" and call.answered is not None:
                call.answered(answer)

    async def drained(self, deadline: float) -> bool:
        """Wait until every queued CALL has been answered (or given up), until `deadline`."""
        try:
            await asyncio.wait_for(self.idle.wait(), max(deadline - time.time(), 0))
        except TimeoutError:
            return False
        return True

    async def send_heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            if self.online.is_set() and not any(c.action == "Heartbeat" for c in self.queue):
                self.enqueue(Call("Heartbeat", dict, transactional=False))

    # What a charger says -----------------------------------------------------------------

    def boot(self) -> dict:
        return {
            "chargePointVendor": "Voltop Bench",
            "chargePointModel": "Simulated 2x22",
            "chargePointSerialNumber": f"SIM-{self.identity}"[-25:],
            "firmwareVersion": "1.0.0",
        }

    def report_available(self) -> None:
        for connector_id in (1, 2):
            payload = {
                "connectorId": connector_id,
                "errorCode": "NoError",
                "status": "Available",
                "timestamp": iso_now(),
            }
            self.enqueue(Call("StatusNotification", lambda p=payload: p, transactional=False))

    async def run_transaction(
        self, connector_id: int, *, start_at: float, stop_at: float, phase: str
    ) -> None:
        """StartTransaction at `start_at`, MeterValues every interval before `stop_at`, and
        StopTransaction at `stop_at`, each queued when its moment comes."""
        interval = self.plan.meter_interval_seconds
        await sleep_until(start_at)
        record = Transaction(
            self.identity, connector_id, iso_now(), self.meter[connector_id], phase
        )
        self.transactions.append(record)
        tag = self.tags[connector_id]
        start = {
            "connectorId": connector_id,
            "idTag": tag,
            "meterStart": record.meter_start,
            "timestamp": record.started,
        }

        def started(answer: dict) -> None:
            record.transaction_id = answer.get("transactionId")

        self.enqueue(Call("StartTransaction", lambda: start, True, started))
        self.figures.event_max(f"{phase}_last_start", time.time())
        moment = start_at + interval
        while moment < stop_at - 0.5:
            await sleep_until(moment)
            self.meter[connector_id] += round(POWER_W * interval / 3600)
            self.state_of_charge[connector_id] = min(self.state_of_charge[connector_id] + 1, 100)
            reading = {
                "timestamp": iso_now(),
                "sampledValue": [
                    {
                        "value": str(self.meter[connector_id]),
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "Wh",
                    },
                    {"value": str(POWER_W), "measurand": "Power.Active.Import", "unit": "W"},
                    {
                        "value": str(self.state_of_charge[connector_id]),
                        "measurand": "SoC",
                        "unit": "Percent",
                    },
                ],
            }
            record.readings += 1

            def meter_values(reading=reading) -> dict:
                # Without a transactionId when the start got none (a CALLERROR), as a
                # charger sends readings outside a transaction.
                payload = {"connectorId": connector_id, "meterValue": [reading]}
                if record.transaction_id is not None:
                    payload["transactionId"] = record.transaction_id
                return payload

            self.enqueue(Call("MeterValues", meter_values, True))
            moment += interval
        await sleep_until(stop_at)
        self.meter[connector_id] += 7
        record.meter_stop = self.meter[connector_id]
        stop_timestamp = iso_now()
        self.figures.event_min(f"{phase}_first_stop", time.time())

        def stop() -> dict | None:
            if record.transaction_id is None:
                # The start was answered with a CALLERROR: there is no transaction to stop.
                return None
            return {
                "meterStop": record.meter_stop,
                "timestamp": stop_timestamp,
                "transactionId": record.transaction_id,
                "reason": "Local",
                "idTag": tag,
            }

        def stopped(answer: dict) -> None:
            record.stop_answered = True

        self.enqueue(Call("StopTransaction", stop, True, stopped))

    # Phases ------------------------------------------------------------------------------

    async def run_main(self, connect_at: float, stop_by: float, deadline: float) -> None:
        """Connect and boot at `connect_at`, report both connectors, run one transaction on
        each (started apart within one meter interval; a charger that got in late stops by
        `stop_by`, when the last one planned stops), and deliver everything by `deadline`."""
        await sleep_until(connect_at)
        self.tasks += [
            asyncio.create_task(self.send_queued()),
            asyncio.create_task(self.send_heartbeats()),
        ]
        if not await self.go_online(boot=True, deadline=deadline):
            self.figures.counts["never_connected"] += 1
            return
        self.figures.event_max("main_all_connected", time.time())
        self.report_available()
        interval = self.plan.meter_interval_seconds
        transactions = []
        for connector_id in (1, 2):
            start_at = time.time() + random.uniform(0, interval)
            stop_at = min(start_at + self.plan.session_seconds, stop_by)
            if stop_at - start_at < 1:
                self.figures.counts["main_sessions_not_run (connected too late)"] += 1
                continue
            if stop_at < start_at + self.plan.session_seconds:
                self.figures.counts["main_sessions_shortened (connected late)"] += 1
            transactions.append(
                self.run_transaction(connector_id, start_at=start_at, stop_at=stop_at, phase="main")
            )
        await asyncio.gather(*transactions)
        if await self.drained(deadline):
            self.figures.event_max("main_all_answered", time.time())
        else:
            self.figures.counts["main_not_drained"] += 1

    async def run_storm(self, drop_at: float, reconnect_at: float, deadline: float) -> None:
        """Drop at `drop_at`; offline, run one transaction on each connector until shortly
        before `reconnect_at`; then reconnect, boot, replay the queue and report."""
        await sleep_until(drop_at)
        await self.drop()
        transactions = [
            self.run_transaction(
                connector_id,
                start_at=drop_at + 0.5,
                stop_at=reconnect_at - 0.5,
                phase="storm",
            )
            for connector_id in (1, 2)
        ]
        await asyncio.gather(*transactions)
        await sleep_until(reconnect_at)
        if not await self.go_online(boot=True, deadline=deadline):
            self.figures.counts["storm_not_reconnected"] += 1
            return
        self.figures.event_max("storm_all_connected", time.time())
        self.report_available()
        if await self.drained(deadline):
            self.figures.event_max("storm_all_answered", time.time())
        else:
            self.figures.counts["storm_not_drained"] += 1


class LoadWorker:
    """One process's share of the chargers."""

    def __init__(self, plan: LoadPlan):
        self.plan = plan
        self.figures = Figures()
        self.phase = "main"
        self.deadline = 0.0
        random.seed(plan.seed + plan.first_index)
        self.chargers = [
            SimulatedCharger(self, self.index_of(offset), identity, (tag_1, tag_2))
            for offset, (identity, tag_1, tag_2) in enumerate(plan.chargers)
        ]

    def index_of(self, offset: int) -> int:
        """The charger's number among all the workers' chargers."""
        return self.plan.first_index + offset * self.plan.index_stride

    async def run(self, barrier, storm_at) -> dict:
        plan = self.plan
        interval = plan.meter_interval_seconds
        stop_by = plan.start_at + plan.ramp_seconds + interval + plan.session_seconds
        self.deadline = stop_by + plan.drain_seconds
        await asyncio.gather(
            *(
                charger.run_main(
                    plan.start_at + plan.ramp_seconds * self.index_of(offset) / plan.total_chargers,
                    stop_by,
                    self.deadline,
                )
                for offset, charger in enumerate(self.chargers)
            )
        )
        # Every worker is done with the main phase before any drops its chargers.
        if await asyncio.to_thread(barrier.wait) == 0:
            storm_at.value = time.time() + 2
        await asyncio.to_thread(barrier.wait)
        drop_at = storm_at.value
        self.figures.events["storm_drop_at"] = drop_at
        self.deadline = drop_at + plan.storm_deadline_seconds

        async def storm_phase() -> None:
            await sleep_until(drop_at)
            self.phase = "storm"

        phase_switch = asyncio.create_task(storm_phase())
        await asyncio.gather(
            *(
                charger.run_storm(
                    drop_at, drop_at + 2 + random.uniform(0, plan.storm_seconds - 2), self.deadline
                )
                for charger in self.chargers
            )
        )
        await phase_switch
        return self.result()

    async def close(self) -> None:
        await asyncio.gather(*(charger.leave() for charger in self.chargers))

    def result(self) -> dict:
        figures = self.figures
        for charger in self.chargers:
            left = len(charger.queue)
            figures.counts["lost"] += left
            figures.counts["never_sent"] += left
        transactions = [
            (
                t.identity,
                t.connector_id,
                t.started,
                t.meter_start,
                t.meter_stop,
                t.readings,
                t.transaction_id,
                t.stop_answered,
                t.phase,
            )
            for charger in self.chargers
            for t in charger.transactions
        ]
        return {
            "latencies_ms": figures.latencies_ms,
            "meter_values_ms": figures.meter_values_ms,
            "steady_latencies_ms": figures.steady_latencies_ms,
            "answered_per_second": dict(figures.answered_per_second),
            "counts": dict(figures.counts),
            "errors": dict(figures.errors),
            "events": figures.events,
            "transactions": transactions,
        }


def load_worker_main(plan: LoadPlan, barrier, storm_at, stop_now, results) -> None:
    """A worker process: simulate the plan's chargers and put what was measured on
    `results` (or the error that stopped it). When `stop_now` is set (the bench's time is up)
    it stops where it is and reports what it measured so far."""

    async def main() -> dict:
        worker = LoadWorker(plan)
        running = asyncio.create_task(worker.run(barrier, storm_at))
        while not running.done():
            if await asyncio.to_thread(stop_now.wait, 1.0):
                running.cancel()
                worker.figures.counts["stopped_at_time_limit"] += 1
        try:
            await running
        except (asyncio.CancelledError, threading.BrokenBarrierError):
            if not stop_now.is_set():
                raise
        finally:
            await worker.close()
        return worker.result()

    try:
        results.put(asyncio.run(main()))
    except BaseException:
        with contextlib.suppress(Exception):
            barrier.abort()
        results.put({"error": traceback.format_exc()})


# The floor ---------------------------------------------------------------------------------

FLOOR_ANSWERS = {
    "BootNotification": {"status": "Accepted", "currentTime": "", "interval": 300},
    "Heartbeat": {"currentTime": ""},
    "StartTransaction": {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
    "StopTransaction": {"idTagInfo": {"status": "Accepted"}},
}


async def floor_answer(connection: ServerConnection) -> None:
    """Answer every CALL with its action's fixed CALLRESULT: no validation, no storage."""
    answers = {action: orjson.dumps(answer).decode() for action, answer in FLOOR_ANSWERS.items()}
    with contextlib.suppress(ConnectionClosed):
        async for frame in connection:
            message = orjson.loads(frame)
            if message[0] == CALL:
                answer = answers.get(message[2], "{}")
                await connection.send(f'[3,"{message[1]}",{answer}]')


def floor_server_main(host: str, port: int) -> None:
    """The floor's process: a bare WebSocket server on `port` until terminated."""

    async def main() -> None:
        async with serve(floor_answer, host, port, subprotocols=[SUBPROTOCOL]) as server:
            await server.serve_forever()

    asyncio.run(main())
