"""Benchmark: the OCPP 1.6J gateway under a fleet of chargers (default 5,000 stations of two
connectors, each transaction sending MeterValues every 10 s: 1,000 per second), then a
reconnect storm, next to the floor measured in the same run.

    .venv/bin/python bench/ocpp.py [--chargers 5000] [--minutes 5] [--floor-minutes 1]
        [--workers 4] [--storm-seconds 60] [--storm-deadline 300] [--drain-seconds 120]
        [--database-url URL] [--redis-url URL] [--compression] [--async-validation]
        [--profile] [--keep]
        [--project DIR]

Data. A database of the bench's own (default postgres://postgres@127.0.0.1:5432/
voltop_bench_ocpp; its name must contain "bench": the bench drops and recreates it),
migrated, with one fleet: a depot with its published tariff, `--chargers` stations of two
22 kW connectors, and one driver with a charge token per connector. The first station's
password is set through charging_station_password_set; the others get the same hash with one
UPDATE (PBKDF2 for each of 5,000 stations would take minutes and measure nothing).

Gateway. `manage.py ocpp_gateway` in a process of its own on loopback, on the bench database,
DEBUG off, LOG_LEVEL=WARNING, without REDIS_URL unless --redis-url is given (so Celery runs
the pricing of each stopped session eagerly, inside the gateway, as it does without Redis).
With --redis-url (a Redis database of the bench's own: its queue is purged), the gateway
queues that pricing on Redis, as in production, and a Celery worker (one process) prices the
sessions; the database is checked once every completed session is priced (at most 300 s
after the load). Its resident memory (VmRSS of the process and its children) and the CPU time
of the gateway, of PostgreSQL's processes, of the load processes and of the worker are sampled
every second.

Load. `--workers` processes (multiprocessing, spawn), each with its own event loop and a
share of the chargers (bench/ocpp_load.py). Each charger connects over a raw WebSocket (HTTP
Basic auth with its identity, subprotocol ocpp1.6; connections spread over a ramp of
chargers/250 s), sends BootNotification (and Heartbeat at the interval its answer gives),
StatusNotification for both connectors, then on each connector, started apart within one
interval: StartTransaction, MeterValues every 10 s (energy register in Wh, power, SoC) for
`--minutes`, StopTransaction. A charger has one CALL in flight at a time, as OCPP-J asks;
what it has to say meanwhile waits in its queue, in order. Every CALL's time from send to
CALLRESULT is recorded; CALLERRORs and timeouts (`--call-timeout`, transaction messages are
sent up to 3 times) are failed; a CALL never answered by the end is lost. HTTP 429/503 at the
handshake and BootNotification Pending are counted as polite refusals and retried with
backoff. The main phase ends when every charger's queue is empty, or `--drain-seconds` after
the last planned stop. The gateway's own calls are answered as a Core-profile charger without a
local list answers them (GetLocalListVersion -1, ClearCache Accepted; others refused).

Reconnect storm. Then every charger's connection drops at once (no close handshake). Offline,
each connector runs a short transaction (start, readings, stop, all queued), and each charger
reconnects at a random moment within `--storm-seconds`, boots, replays its queue and reports
its connectors. Measured: from the drop until every charger is connected, and until every
queued CALL is answered.

Floor. A bare websockets server on the same port answering every CALL with a fixed
CALLRESULT (no validation, no storage), driven first by the same load processes with the
same load, for `--floor-minutes` (the rate and latency of a steady load, which the floor
keeps up with, need no longer), storm included.

Checks. In the database afterwards: one session per transaction the chargers ran (none lost,
none doubled by the replays), each completed with the meter start and stop the charger sent
and energy = stop - start, and exactly the readings sent as meter values.

--project DIR measures the gateway of another checkout (a `git worktree` or `git archive` of a
commit), e.g. to measure a commit while this tree is being edited. --profile runs the gateway
under `python -m cProfile` (its event loop thread only: the database threads are not seen)
and prints the top functions. The last line printed is one JSON object with the figures.
"""

import argparse
import json
import math
import multiprocessing
import os
import pstats
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
# This file has the name of the `ocpp` package that the gateway's modules import: its folder
# must not stand first on the path.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(BASE_DIR))

from bench.ocpp_load import LoadPlan, floor_server_main, load_worker_main  # noqa: E402

HOST = "127.0.0.1"
# The checkout whose gateway is measured: this one, or --project (a `git worktree` of a commit,
# say, to measure it while this tree is being edited).
project_dir = BASE_DIR
FLEET_SLUG = "bench-ocpp"
PROCESS_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "voltop-bench-only-" + "o" * 40,
    "EMAIL_URL": "dummymail://",
    "LOG_LEVEL": "WARNING",
    # Production settings refuse plain ws://; on loopback the bench stands for the TLS proxy.
    "OCPP_BEHIND_TLS_PROXY": "true",
}
METER_INTERVAL_SECONDS = 10.0
RAMP_CHARGERS_PER_SECOND = 250
TRANSACTION_ATTEMPTS = 3
SERVER_READY_SECONDS = 60
SERVER_STOP_SECONDS = 60
PRICING_WAIT_SECONDS = 300
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    """Progress, on stderr: stdout holds the figures."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# Databases ---------------------------------------------------------------------------------


def database_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def database_recreate(url: str) -> None:
    name = database_name(url)
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def database_drop(url: str) -> None:
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def manage(environment: dict, *arguments: str) -> None:
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *arguments],
        cwd=project_dir,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")


def fleet_seed(chargers: int) -> tuple[int, str, list[tuple[str, str, str]]]:
    """The bench's fleet: a depot with a published tariff, `chargers` stations of two
    connectors with one password, a driver and a charge token per connector. Returns the
    fleet's id, the stations' password and (identity, tag 1, tag 2) per station."""
    import datetime as dt
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from apps.charging.chargers import charging_station_password_set
    from apps.charging.choices import PowerType
    from apps.charging.models import ChargingStation, Connector
    from apps.charging.services import tariff_create, tariff_element_create, tariff_publish
    from apps.drivers.models import ChargeToken, Driver
    from apps.fleets.models import Depot, Fleet
    from apps.vehicles.choices import ConnectorStandard

    now = timezone.now()
    password = secrets.token_urlsafe(18)
    with transaction.atomic():
        fleet = Fleet.objects.create(
            name="Bench OCPP fleet",
            slug=FLEET_SLUG,
            currency="EUR",
            time_zone="Europe/Amsterdam",
            country="NL",
            default_vat_rate=Decimal("21.00"),
        )
        depot = Depot.objects.create(
            fleet=fleet,
            name="Bench depot",
            address="Stationsplein 1, Amsterdam",
            grid_connection_limit_kw=Decimal("99999.0"),
        )
        tariff = tariff_create(
            fleet=fleet, name="Depot tariff", ocpi_id="BENCH-DEPOT", currency="EUR", depot=depot
        )
        tariff_element_create(
            tariff=tariff,
            energy_price=Decimal("0.30000"),
            energy_vat_rate=Decimal("21.00"),
            flat_price=Decimal("0.50000"),
            flat_vat_rate=Decimal("21.00"),
        )
        tariff_publish(tariff=tariff, effective_from=now - dt.timedelta(days=1))
        stations = ChargingStation.objects.bulk_create(
            [
                ChargingStation(
                    fleet=fleet,
                    depot=depot,
                    ocpp_identity=f"BENCH-{number:05d}",
                    vendor="Voltop Bench",
                    model="Simulated 2x22",
                    serial_number=f"SIM-{number:05d}",
                )
                for number in range(1, chargers + 1)
            ],
            batch_size=2_000,
        )
        Connector.objects.bulk_create(
            [
                Connector(
                    station=station,
                    connector_id=connector_id,
                    standard=ConnectorStandard.IEC_62196_T2,
                    power_type=PowerType.AC_3_PHASE,
                    max_kw=Decimal("22.0"),
                )
                for station in stations
                for connector_id in (1, 2)
            ],
            batch_size=2_000,
        )
        drivers = Driver.objects.bulk_create(
            [
                Driver(
                    fleet=fleet,
                    employee_number=f"B-{number:06d}",
                    first_name="Bench",
                    last_name=f"Driver {number}",
                    email=f"driver{number}@bench.voltop.example",
                )
                for number in range(1, 2 * chargers + 1)
            ],
            batch_size=2_000,
        )
        ChargeToken.objects.bulk_create(
            [
                ChargeToken(
                    driver=driver,
                    uid=f"BENCH{number:08X}",
                    valid_from=now - dt.timedelta(days=1),
                )
                for number, driver in enumerate(drivers, start=1)
            ],
            batch_size=2_000,
        )
    first = charging_station_password_set(station=stations[0], password=password)
    ChargingStation.objects.filter(fleet=fleet).update(ocpp_password=first.ocpp_password)
    identities = [
        (station.ocpp_identity, f"BENCH{2 * index + 1:08X}", f"BENCH{2 * index + 2:08X}")
        for index, station in enumerate(stations)
    ]
    return fleet.pk, password, identities


def database_check(url: str, fleet_id: int, transactions: list[tuple]) -> dict:
    """What the database holds against what the chargers ran."""
    with psycopg.connect(url) as db:
        db.execute(
            "CREATE TEMP TABLE ran (identity text, connector_id int, started_at timestamptz,"
            " meter_start bigint, meter_stop bigint, readings int, transaction_id bigint,"
            " stop_answered bool, phase text)"
        )
        with db.cursor().copy("COPY ran FROM STDIN") as copy:
            for row in transactions:
                copy.write_row(row)

        def one(sql: str, *params):
            return db.execute(sql, params).fetchone()[0]

        figures = {
            "transactions_run": len(transactions),
            "transactions_with_id": one(
                "SELECT count(*) FROM ran WHERE transaction_id IS NOT NULL"
            ),
            "sessions": one(
                "SELECT count(*) FROM charging_chargingsession WHERE fleet_id = %s", fleet_id
            ),
            "sessions_of_transactions": one(
                "SELECT count(*) FROM ran r JOIN charging_chargingsession s"
                " ON s.id = r.transaction_id"
            ),
            "sessions_not_run": one(
                "SELECT count(*) FROM charging_chargingsession s WHERE s.fleet_id = %s AND NOT"
                " EXISTS (SELECT 1 FROM ran r WHERE r.transaction_id = s.id)",
                fleet_id,
            ),
            "doubled_starts": one(
                "SELECT count(*) FROM (SELECT 1 FROM charging_chargingsession WHERE fleet_id = %s"
                " GROUP BY connector_id, started_at HAVING count(*) > 1) d",
                fleet_id,
            ),
            "completed_exact": one(
                "SELECT count(*) FROM ran r JOIN charging_chargingsession s"
                " ON s.id = r.transaction_id"
                " JOIN charging_connector c ON c.id = s.connector_id"
                " JOIN charging_chargingstation st ON st.id = c.station_id"
                " WHERE s.status = 'completed' AND st.ocpp_identity = r.identity"
                " AND c.connector_id = r.connector_id AND s.started_at = r.started_at"
                " AND s.meter_start_wh = r.meter_start AND s.meter_stop_wh = r.meter_stop"
                " AND s.energy_wh = s.meter_stop_wh - s.meter_start_wh"
            ),
            "with_charger_issue": one(
                "SELECT count(*) FROM charging_chargingsession WHERE fleet_id = %s"
                " AND charger_issue <> ''",
                fleet_id,
            ),
            "priced": one(
                "SELECT count(*) FROM charging_chargingsession WHERE fleet_id = %s"
                " AND price_incl_vat IS NOT NULL",
                fleet_id,
            ),
            "readings_sent": one("SELECT coalesce(sum(readings), 0) FROM ran"),
            "meter_values": one(
                "SELECT count(*) FROM charging_metervalue v JOIN charging_chargingsession s"
                " ON s.id = v.session_id WHERE s.fleet_id = %s",
                fleet_id,
            ),
            "sessions_with_other_reading_count": one(
                "SELECT count(*) FROM ran r LEFT JOIN (SELECT session_id, count(*) AS n"
                " FROM charging_metervalue GROUP BY session_id) v"
                " ON v.session_id = r.transaction_id WHERE coalesce(v.n, 0) <> r.readings"
            ),
            "energy_wh_sent": one("SELECT coalesce(sum(meter_stop - meter_start), 0) FROM ran"),
            "energy_wh_stored": one(
                "SELECT coalesce(sum(energy_wh), 0) FROM charging_chargingsession"
                " WHERE fleet_id = %s",
                fleet_id,
            ),
        }
    figures["ok"] = (
        figures["sessions"] == figures["transactions_run"] == figures["completed_exact"]
        and figures["sessions_not_run"] == 0
        and figures["doubled_starts"] == 0
        and figures["meter_values"] == figures["readings_sent"]
        and figures["sessions_with_other_reading_count"] == 0
        and figures["energy_wh_stored"] == figures["energy_wh_sent"]
    )
    return figures


# Processes and what they use ---------------------------------------------------------------


def open_files_limit_raise() -> int:
    """Raise this process's (and so its children's) open-file limit to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1_048_576
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    pids, index = [pid], 0
    while index < len(pids):
        tasks = Path(f"/proc/{pids[index]}/task")
        index += 1
        try:
            for task in tasks.iterdir():
                children = (task / "children").read_text().split()
                pids.extend(int(child) for child in children)
        except OSError:
            continue
    return pids


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """The CPU seconds (user + system) each process has used since it started."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


class CpuTotal:
    """The CPU seconds a changing set of processes used (PostgreSQL's backends come and go):
    what each used since it was last seen, added up."""

    def __init__(self):
        self.seconds = 0.0
        self.last: dict[int, float] = {}

    def add(self, used: dict[int, float]) -> float:
        for pid, seconds in used.items():
            self.seconds += max(seconds - self.last.get(pid, 0.0), 0.0)
        self.last = used
        return self.seconds


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class ResourceSampler(threading.Thread):
    """Every second: the server's resident memory, and the CPU seconds of the server, of
    PostgreSQL and of the load processes, since they started."""

    def __init__(self, server_pid: int, load_pids: list[int], worker_pid: int | None = None):
        super().__init__(daemon=True)
        self.server_pid = server_pid
        self.load_pids = load_pids
        self.worker_pid = worker_pid
        self.samples: list[tuple[float, int, float, float, float, float]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        server_cpu, postgres_cpu, load_cpu, worker_cpu = (CpuTotal() for _ in range(4))
        while not self.stopping.is_set():
            server = process_tree(self.server_pid)
            worker = process_tree(self.worker_pid) if self.worker_pid else []
            self.samples.append(
                (
                    time.time(),
                    rss_kb(server),
                    server_cpu.add(cpu_seconds(server)),
                    postgres_cpu.add(cpu_seconds(postgres_pids())),
                    load_cpu.add(cpu_seconds(self.load_pids)),
                    worker_cpu.add(cpu_seconds(worker)),
                )
            )
            self.stopping.wait(1.0)

    def stop(self) -> None:
        self.stopping.set()
        self.join()

    def peak_rss_mb(self, until: float | None = None) -> float:
        values = [s[1] for s in self.samples if until is None or s[0] <= until]
        return max(values, default=0) / 1024

    def cpu_shares(self, since: float, until: float) -> dict[str, float]:
        """The share of one core each used between two moments, in %."""
        inside = [s for s in self.samples if since <= s[0] <= until]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        seconds = last[0] - first[0]
        return {
            name: 100 * (last[column] - first[column]) / seconds
            for name, column in (("server", 2), ("postgres", 3), ("load", 4), ("worker", 5))
        }


EXCEPTION_LINE = re.compile(r"^[\w.]+(?:Error|Exception|Violation)\b.*", re.MULTILINE)


def exception_of(trace: str) -> str:
    """The exception a logged traceback ends in: its last "SomeError: message" line, with
    PostgreSQL's DETAIL, or else its last line."""
    found = EXCEPTION_LINE.findall(trace)
    if not found:
        return trace.strip().splitlines()[-1][:200]
    detail = re.search(r"^DETAIL:\s+(.*)", trace, re.MULTILINE)
    return (found[-1] + (f" ({detail[1]})" if detail else ""))[:240]


def project_process_start(arguments: list[str], environment: dict, log_path: Path):
    """`python ARGUMENTS` in the measured checkout, in a session of its own, its output to
    `log_path`."""
    with log_path.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - fixed arguments
            [sys.executable, *arguments],
            cwd=project_dir,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class GatewayServer:
    """`manage.py ocpp_gateway` on the bench database, logging to a file."""

    label = "gateway"

    def __init__(self, port: int, environment: dict, log_path: Path, profile_path: Path | None):
        self.port = port
        self.environment = environment
        self.log_path = log_path
        self.profile_path = profile_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        profile = ["-m", "cProfile", "-o", str(self.profile_path)] if self.profile_path else []
        self.process = project_process_start(
            [*profile, "manage.py", "ocpp_gateway", "--host", HOST, "--port", str(self.port)],
            self.environment,
            self.log_path,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.poll()

    def stop(self) -> int | None:
        """SIGINT (the command closes every connection and its database threads), then
        SIGKILL if it has not stopped in time; returns its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log("the gateway did not stop within a minute of SIGINT: SIGKILL")
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def log_events(self) -> tuple[Counter, Counter]:
        """The gateway's log lines by level and event, and its exceptions by their last line."""
        events: Counter = Counter()
        exceptions: Counter = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                if line.strip():
                    events[f"text {line.strip()[:80]}"] += 1
                continue
            message = str(record.get("message", "?")).split(": <", 1)[0].split(" '<", 1)[0]
            events[f"{record.get('level', '?')} {message[:80]}"] += 1
            if record.get("exc_info"):
                exceptions[re.sub(r"\d+", "N", exception_of(record["exc_info"]))] += 1
        return events, exceptions


class CeleryWorker:
    """With --redis-url, a Celery worker of the gateway's checkout, on the bench database and
    that Redis, in a process of its own: it prices the sessions the gateway stops, as in
    production, where without Redis the gateway prices them itself (Celery eager)."""

    def __init__(self, environment: dict, log_path: Path):
        self.environment = environment
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        celery = ["-m", "celery", "-A", "voltop"]
        purged = subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, *celery, "purge", "-f"],
            cwd=project_dir,
            env=self.environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if purged.returncode:
            raise SystemExit(f"celery purge failed:\n{purged.stdout}{purged.stderr}")
        self.process = project_process_start(
            [
                *celery,
                "worker",
                "--concurrency",
                "1",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            self.environment,
            self.log_path,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def pricing_wait(url: str, fleet_id: int, seconds: float) -> float | None:
    """Wait until every completed session of the fleet is priced, for at most `seconds`: the
    worker prices them after the gateway has answered their stops. How long it took, or
    None when some were still not priced."""
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as db:
        while time.monotonic() - began < seconds:
            waiting = db.execute(
                "SELECT count(*) FROM charging_chargingsession WHERE fleet_id = %s"
                " AND status = 'completed' AND price_incl_vat IS NULL",
                (fleet_id,),
            ).fetchone()[0]
            if not waiting:
                return time.monotonic() - began
            time.sleep(1.0)
    return None


class FloorServer:
    """The floor: a bare websockets server in a process of its own."""

    label = "floor"

    def __init__(self, port: int):
        self.port = port
        self.process = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(target=floor_server_main, args=(HOST, self.port))
        self.process.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.exitcode

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(SERVER_STOP_SECONDS)
        return self.process.exitcode


def server_wait_listening(server, port: int) -> None:
    deadline = time.monotonic() + SERVER_READY_SECONDS
    while time.monotonic() < deadline:
        if server.exit_code() is not None:
            raise SystemExit(f"the {server.label} exited with code {server.exit_code()}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the {server.label} did not listen on port {port} within a minute")


# The load ----------------------------------------------------------------------------------


def percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def load_run(
    server, options, identities, password: str, session_seconds: float, worker=None
) -> dict:
    """Start `server`, drive it with the load processes (main phase, then storm), stop it;
    returns the merged figures."""
    context = multiprocessing.get_context("spawn")
    workers = max(1, min(options.workers, len(identities)))
    ramp_seconds = max(2.0, len(identities) / RAMP_CHARGERS_PER_SECOND)
    server.start()
    server_wait_listening(server, server.port)
    start_at = time.time() + 3
    steady_from, steady_until = steady_window(start_at, ramp_seconds, session_seconds)
    shares = [identities[number::workers] for number in range(workers)]
    plans = []
    for number, share in enumerate(shares):
        plans.append(
            LoadPlan(
                url=f"ws://{HOST}:{server.port}/ocpp/",
                password=password,
                chargers=tuple(share),
                first_index=number,
                index_stride=workers,
                total_chargers=len(identities),
                start_at=start_at,
                ramp_seconds=ramp_seconds,
                session_seconds=session_seconds,
                steady_from=steady_from,
                steady_until=steady_until,
                meter_interval_seconds=METER_INTERVAL_SECONDS,
                call_timeout_seconds=options.call_timeout,
                transaction_attempts=TRANSACTION_ATTEMPTS,
                drain_seconds=options.drain_seconds,
                storm_seconds=options.storm_seconds,
                storm_deadline_seconds=options.storm_deadline,
                compression=options.compression,
                seed=number * 7919,
            )
        )
    barrier = context.Barrier(workers)
    storm_at = context.Value("d", 0.0)
    stop_now = context.Event()
    results = context.Queue()
    processes = [
        context.Process(
            target=load_worker_main,
            args=(plan, barrier, storm_at, stop_now, results),
            daemon=True,
        )
        for plan in plans
    ]
    for process in processes:
        process.start()
    sampler = ResourceSampler(
        server.pid,
        [process.pid for process in processes],
        worker.pid if worker is not None else None,
    )
    sampler.start()
    limit = (
        start_at
        + ramp_seconds
        + METER_INTERVAL_SECONDS
        + session_seconds
        + options.drain_seconds
        + options.storm_deadline
        + 300
    )
    outputs = []
    crashed = None
    try:
        while len(outputs) < workers:
            try:
                outputs.append(results.get(timeout=5))
            except Exception:  # queue.Empty
                if server.exit_code() is not None and crashed is None:
                    crashed = server.exit_code()
                    log(f"the {server.label} exited with code {crashed} during the load")
                if time.time() > limit and not stop_now.is_set():
                    log("the load did not finish in time: its processes report what they have")
                    stop_now.set()
                    barrier.abort()
                    limit = time.time() + 120
                elif time.time() > limit:
                    break
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join()
        sampler.stop()
        exit_code = server.stop()
    errors = [output["error"] for output in outputs if "error" in output]
    if errors:
        raise SystemExit("a load process failed:\n" + "\n".join(errors))
    if len(outputs) < workers:
        raise SystemExit(f"only {len(outputs)} of {workers} load processes reported")
    merged = merge(outputs)
    merged.update(
        start_at=start_at,
        ramp_seconds=ramp_seconds,
        session_seconds=session_seconds,
        sampler=sampler,
        crashed=crashed,
        exit_code=exit_code,
    )
    return merged


def merge(outputs: list[dict]) -> dict:
    latencies = {"main": [], "storm": []}
    meter_values = {"main": [], "storm": []}
    steady_latencies = []
    per_second: Counter = Counter()
    counts: Counter = Counter()
    errors: Counter = Counter()
    events: dict[str, float] = {}
    transactions = []
    for output in outputs:
        for phase in latencies:
            latencies[phase].extend(output["latencies_ms"][phase])
            meter_values[phase].extend(output["meter_values_ms"][phase])
        steady_latencies.extend(output["steady_latencies_ms"])
        per_second.update(output["answered_per_second"])
        counts.update(output["counts"])
        errors.update(output["errors"])
        transactions.extend(output["transactions"])
        for name, moment in output["events"].items():
            pick = min if name.endswith("_first_stop") else max
            events[name] = pick(events.get(name, moment), moment)
    for phase in latencies:
        latencies[phase].sort()
        meter_values[phase].sort()
    steady_latencies.sort()
    return {
        "latencies": latencies,
        "steady_latencies": steady_latencies,
        "meter_values": meter_values,
        "per_second": per_second,
        "counts": counts,
        "errors": errors,
        "events": events,
        "transactions": transactions,
    }


def steady_window(start_at: float, ramp_seconds: float, session_seconds: float):
    """The steady window, as planned: every charger connected and both its transactions
    started, none stopped yet; the offered load is then 2 MeterValues per charger per
    interval. With sessions too short for one, the whole planned main phase."""
    steady_from = start_at + ramp_seconds + METER_INTERVAL_SECONDS
    steady_until = start_at + session_seconds
    if steady_until - steady_from < 3:
        return start_at, start_at + ramp_seconds + session_seconds
    return steady_from, steady_until


def figures_of(run: dict) -> dict:
    """The headline figures of one server's run."""
    events, counts = run["events"], run["counts"]
    start_at = run["start_at"]
    steady_from, steady_until = steady_window(start_at, run["ramp_seconds"], run["session_seconds"])
    seconds = range(math.ceil(steady_from - start_at), math.floor(steady_until - start_at))
    rate = sum(run["per_second"].get(second, 0) for second in seconds) / max(len(seconds), 1)
    main = run["latencies"]["main"]
    steady = run["steady_latencies"]
    meter_values = run["meter_values"]["main"]
    drop_at = events.get("storm_drop_at")
    storm_complete = not (counts.get("storm_not_reconnected") or counts.get("storm_not_drained"))
    reconnected = events.get("storm_all_connected")
    answered = events.get("storm_all_answered")
    sampler = run["sampler"]
    return {
        "msgs_per_s": rate,
        "steady_seconds": steady_until - steady_from,
        "steady_from": steady_from,
        "steady_until": steady_until,
        "p50_ms": percentile(main, 0.50),
        "p99_ms": percentile(main, 0.99),
        "max_ms": main[-1] if main else None,
        "steady_p50_ms": percentile(steady, 0.50),
        "steady_p99_ms": percentile(steady, 0.99),
        "meter_values_p50_ms": percentile(meter_values, 0.50),
        "meter_values_p99_ms": percentile(meter_values, 0.99),
        "answered": counts.get("main_answered", 0) + counts.get("storm_answered", 0),
        "failed": sum(
            counts.get(f"{phase}_{what}", 0)
            for phase in ("main", "storm")
            for what in ("callerrors", "timeouts")
        ),
        "main_failed": counts.get("main_callerrors", 0) + counts.get("main_timeouts", 0),
        "storm_failed": counts.get("storm_callerrors", 0) + counts.get("storm_timeouts", 0),
        "callerrors": counts.get("main_callerrors", 0) + counts.get("storm_callerrors", 0),
        "timeouts": counts.get("main_timeouts", 0) + counts.get("storm_timeouts", 0),
        "lost": counts.get("lost", 0),
        "refused": sum(
            count
            for name, count in counts.items()
            if name.startswith("refused_http_") or name.startswith("boot_")
        ),
        "handshake_failed": sum(
            count for name, count in counts.items() if name.startswith("handshake_")
        ),
        "dropped": counts.get("connections_dropped", 0),
        "main_seconds": events.get("main_all_answered", math.nan) - start_at,
        "reconnected_s": reconnected - drop_at if reconnected and drop_at else None,
        "reconnect_s": answered - drop_at if answered and drop_at and storm_complete else None,
        "storm_p99_ms": percentile(run["latencies"]["storm"], 0.99),
        "rss_mb": sampler.peak_rss_mb(),
        "cpu": sampler.cpu_shares(steady_from, steady_until),
    }


def profile_lines(path: Path) -> list[str]:
    import io

    output = io.StringIO()
    stats = pstats.Stats(str(path), stream=output)
    stats.sort_stats("tottime").print_stats(25)
    return [
        f"    {line}"
        for line in output.getvalue().splitlines()
        if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced"))
    ]


# Main --------------------------------------------------------------------------------------


def ratio(value: float | None, floor: float | None) -> float | None:
    if value is None or not floor:
        return None
    return value / floor


def text(value, spec: str = ",.0f") -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=5_000)
    parser.add_argument("--minutes", type=float, default=5.0, help="Session length.")
    parser.add_argument(
        "--floor-minutes", type=float, default=1.0, help="Session length on the floor."
    )
    parser.add_argument("--workers", type=int, default=4, help="Load processes.")
    parser.add_argument("--call-timeout", type=float, default=30.0)
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=120.0,
        help="How long after the last planned stop chargers may still deliver.",
    )
    parser.add_argument("--storm-seconds", type=float, default=60.0)
    parser.add_argument(
        "--storm-deadline", type=float, default=300.0, help="Seconds the storm may take."
    )
    parser.add_argument("--compression", action="store_true", help="Offer permessage-deflate.")
    parser.add_argument(
        "--async-validation",
        action="store_true",
        help="Run the gateway with OCPP_ASYNC_VALIDATION=true: schemas checked on threads.",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voltop_bench_ocpp"
        ),
    )
    parser.add_argument("--redis-url", help="REDIS_URL for the gateway (default: none).")
    parser.add_argument("--profile", action="store_true", help="Run the gateway under cProfile.")
    parser.add_argument("--keep", action="store_true", help="Keep the database and the logs.")
    parser.add_argument(
        "--project",
        type=Path,
        help="Measure the gateway of another checkout of Voltop (default: this one).",
    )
    options = parser.parse_args()
    if options.project:
        global project_dir
        project_dir = options.project.resolve()
        sys.path.insert(0, str(project_dir))
    url = options.database_url
    if "bench" not in database_name(url):
        parser.error("--database-url: its database is dropped and recreated; use a name with bench")
    open_files = open_files_limit_raise()
    # An empty REDIS_URL, not a missing one: settings would take it from the checkout's .env.
    environment = {
        **os.environ,
        **PROCESS_ENVIRONMENT,
        "DATABASE_URL": url,
        "REDIS_URL": options.redis_url or "",
        "OCPP_ASYNC_VALIDATION": "true" if options.async_validation else "false",
    }
    os.environ.update({**PROCESS_ENVIRONMENT, "DATABASE_URL": url, "REDIS_URL": ""})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voltop.settings")
    work_dir = Path(tempfile.mkdtemp(prefix="voltop-bench-ocpp-"))

    began = time.perf_counter()
    database_recreate(url)
    log(f"migrating {database_name(url)}")
    manage(environment, "migrate", "--noinput")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    log(f"seeding {options.chargers:,} stations x 2 connectors")
    fleet_id, password, identities = fleet_seed(options.chargers)
    connection.close()
    log(f"database ready in {time.perf_counter() - began:.0f} s; open files limit {open_files}")

    port = free_port()
    gateway = GatewayServer(
        port,
        environment,
        work_dir / "gateway.log",
        work_dir / "gateway.prof" if options.profile else None,
    )
    worker = CeleryWorker(environment, work_dir / "worker.log") if options.redis_url else None
    try:
        floor_minutes = min(options.floor_minutes, options.minutes)
        log(f"floor: bare server on port {port}, {floor_minutes:g} min sessions, then the storm")
        floor = load_run(FloorServer(port), options, identities, password, floor_minutes * 60)
        if worker is not None:
            log(f"Celery worker on {options.redis_url}")
            worker.start()
        log(f"gateway on port {port}: {options.minutes:g} min sessions, then the storm")
        run = load_run(gateway, options, identities, password, options.minutes * 60, worker)
        if worker is not None:
            log("waiting for the worker to price the completed sessions")
            run["pricing_wait_s"] = pricing_wait(url, fleet_id, PRICING_WAIT_SECONDS)
        log("checking the database")
        check = database_check(url, fleet_id, run["transactions"])
        events, exceptions = gateway.log_events()
    finally:
        gateway.stop()
        if worker is not None:
            worker.stop()
        if options.keep:
            log(f"kept {database_name(url)} and the gateway's log in {work_dir}")
        else:
            database_drop(url)

    lines = figures_lines(options, settings, run, floor, check, events, exceptions, work_dir)
    if not options.keep:
        shutil.rmtree(work_dir, ignore_errors=True)
    for line in lines:
        print(line)
    g, f = run["figures"], floor["figures"]
    print(
        json.dumps(
            {
                "bench": "ocpp",
                "chargers": options.chargers,
                "connectors": 2 * options.chargers,
                "minutes": options.minutes,
                "async_validation": options.async_validation,
                "offered_meter_values_per_s": round(2 * options.chargers / METER_INTERVAL_SECONDS),
                "msgs_per_s": round(g["msgs_per_s"], 1),
                "p50_ms": rounded(g["p50_ms"]),
                "p99_ms": rounded(g["p99_ms"]),
                "meter_values_p99_ms": rounded(g["meter_values_p99_ms"]),
                "steady_p50_ms": rounded(g["steady_p50_ms"]),
                "steady_p99_ms": rounded(g["steady_p99_ms"]),
                "floor_steady_p99_ms": rounded(f["steady_p99_ms"]),
                "floor_msgs_per_s": round(f["msgs_per_s"], 1),
                "floor_p50_ms": rounded(f["p50_ms"]),
                "floor_p99_ms": rounded(f["p99_ms"]),
                "msgs_ratio": rounded(ratio(g["msgs_per_s"], f["msgs_per_s"]), 3),
                "p99_ratio": rounded(ratio(g["p99_ms"], f["p99_ms"])),
                "lost": g["lost"],
                "failed": g["failed"],
                "refused": g["refused"],
                "handshake_failed": g["handshake_failed"],
                "reconnect_s": rounded(g["reconnect_s"]),
                "reconnected_s": rounded(g["reconnected_s"]),
                "floor_reconnect_s": rounded(f["reconnect_s"]),
                "reconnect_ratio": rounded(ratio(g["reconnect_s"], f["reconnect_s"])),
                "rss_mb": round(g["rss_mb"]),
                "celery_worker": bool(options.redis_url),
                "floor_rss_mb": round(f["rss_mb"]),
                "database_ok": check["ok"],
                "gateway_crashed": run["crashed"] is not None,
                "stopped_at_time_limit": bool(run["counts"].get("stopped_at_time_limit")),
            }
        )
    )


def rounded(value: float | None, places: int = 1) -> float | None:
    return None if value is None or math.isnan(value) else round(value, places)


def figures_lines(options, settings, run, floor, check, events, exceptions, work_dir) -> list[str]:
    run["figures"] = g = figures_of(run)
    floor["figures"] = f = figures_of(floor)
    chargers = options.chargers
    counts = run["counts"]
    lines = [
        f"chargers                 {chargers:,} stations x 2 connectors, {options.workers} load "
        f"processes; sessions {options.minutes:g} min on the gateway, "
        f"{floor['session_seconds'] / 60:g} min on the floor; "
        f"MeterValues every {METER_INTERVAL_SECONDS:g} s, heartbeat every "
        f"{settings.OCPP_HEARTBEAT_SECONDS} s; gateway of {project_dir}; Celery "
        f"{'on ' + options.redis_url if options.redis_url else 'eager (no REDIS_URL)'}; "
        f"schemas checked {'on threads' if options.async_validation else 'on the event loop'}",
        f"offered                  {2 * chargers / METER_INTERVAL_SECONDS:,.0f} MeterValues/s "
        "in the steady window (all started, none stopped); a CALL counts as stored when "
        "answered with a CALLRESULT, less MeterValues without a transaction",
        f"{'':<25}{'gateway':>12}{'floor':>12}{'ratio':>10}",
    ]

    def row(name: str, key: str, spec: str = ",.0f") -> None:
        value, floor_value = g[key], f[key]
        lines.append(
            f"{name:<25}{text(value, spec):>12}{text(floor_value, spec):>12}"
            f"{text(ratio(value, floor_value), '.2f') + 'x':>10}"
        )

    row("stored CALLs/s steady", "msgs_per_s", ",.1f")
    row("steady window s", "steady_seconds", ".0f")
    row("reply p50 ms", "p50_ms", ",.1f")
    row("reply p99 ms", "p99_ms", ",.1f")
    row("reply max ms", "max_ms", ",.0f")
    row("steady reply p50 ms", "steady_p50_ms", ",.1f")
    row("steady reply p99 ms", "steady_p99_ms", ",.1f")
    row("MeterValues p50 ms", "meter_values_p50_ms", ",.1f")
    row("MeterValues p99 ms", "meter_values_p99_ms", ",.1f")
    row("main phase s", "main_seconds", ",.0f")
    row("CALLs answered", "answered")
    row("failed (error+timeout)", "failed")
    row("  in the main phase", "main_failed")
    row("  in the storm", "storm_failed")
    row("lost (never answered)", "lost")
    row("refused (429/Pending)", "refused")
    row("handshakes failed", "handshake_failed")
    row("connections dropped", "dropped")
    row("storm: all connected s", "reconnected_s", ",.1f")
    row("storm: all answered s", "reconnect_s", ",.1f")
    row("storm reply p99 ms", "storm_p99_ms", ",.1f")
    row("server RSS peak MB", "rss_mb", ",.0f")
    cpu, floor_cpu = g["cpu"], f["cpu"]
    if cpu:
        lines.append(
            "CPU in the steady window (% of one core; 2 cores = 200 %): gateway "
            f"{cpu['server']:.0f} %, PostgreSQL {cpu['postgres']:.0f} %, load processes "
            f"{cpu['load']:.0f} %"
            + (f", Celery worker {cpu['worker']:.0f} %" if options.redis_url else "")
            + (
                f"; floor run: server {floor_cpu['server']:.0f} %, load {floor_cpu['load']:.0f} %"
                if floor_cpu
                else ""
            )
        )
    by_action = ", ".join(
        f"{name.split(' ', 1)[1]} {count:,}"
        for name, count in sorted(counts.items())
        if name.startswith("main_answered ")
    )
    lines.append(f"main phase answered      {by_action}")
    if counts.get("not sent StopTransaction"):
        lines.append(
            f"stops not sent           {counts['not sent StopTransaction']:,} "
            "(their StartTransaction was answered with a CALLERROR)"
        )
    lines.append(
        f"database                 sessions {check['sessions']:,} for "
        f"{check['transactions_run']:,} "
        f"transactions run ({check['transactions_with_id']:,} answered with an id), "
        f"{check['sessions_not_run']:,} not run, {check['doubled_starts']:,} doubled; "
        f"{check['completed_exact']:,} completed with the charger's meter start/stop and "
        f"energy = stop - start; meter values {check['meter_values']:,} for "
        f"{check['readings_sent']:,} readings sent "
        f"({check['sessions_with_other_reading_count']:,} sessions differ); energy "
        f"{check['energy_wh_stored']:,} Wh stored for {check['energy_wh_sent']:,} Wh sent; "
        f"{check['priced']:,} priced, {check['with_charger_issue']:,} with a charger issue: "
        f"{'OK' if check['ok'] else 'MISMATCH'}"
    )
    if options.redis_url:
        waited = run.get("pricing_wait_s")
        lines.append(
            "pricing                  the Celery worker priced every completed session "
            f"{waited:.0f} s after the load ended"
            if waited is not None
            else f"pricing                  sessions still not priced {PRICING_WAIT_SECONDS} s "
            "after the load ended"
        )
    for label, errors in (("gateway", run["errors"]), ("floor", floor["errors"])):
        handshakes = [(n, c) for n, c in errors.items() if n.startswith("handshake")]
        others = Counter({n: c for n, c in errors.items() if not n.startswith("handshake")})
        for name, count in [*others.most_common(6), *handshakes]:
            lines.append(f"  {label} run, failed {count:>8,}  {name}")
    for name, count in events.most_common(10):
        lines.append(f"  gateway log {count:>8,}  {name}")
    for name, count in exceptions.most_common(5):
        lines.append(f"  gateway exception {count:>8,}  {name}")
    charger_calls = ", ".join(
        f"{name.split(' ', 1)[1]} {count:,}"
        for name, count in sorted(counts.items())
        if name.startswith("received ")
    )
    lines.append(f"calls from the gateway   {charger_calls or 'none'}")
    for label, counts_of in (("gateway", counts), ("floor", floor["counts"])):
        if counts_of.get("stopped_at_time_limit"):
            lines.append(f"the {label} run was stopped at the bench's time limit")
        for name in ("shortened (connected late)", "not_run (connected too late)"):
            if counts_of.get(f"main_sessions_{name}"):
                lines.append(
                    f"{label} run: {counts_of[f'main_sessions_{name}']:,} main sessions {name}"
                )
    if run["crashed"] is not None:
        lines.append(f"the gateway exited during the load with code {run['crashed']}")
    if options.profile and (work_dir / "gateway.prof").exists():
        lines.append("cProfile of the gateway's event loop thread, by own time:")
        lines += profile_lines(work_dir / "gateway.prof")
    return lines


if __name__ == "__main__":
    main()
