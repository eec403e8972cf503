"""Benchmark: bill one load-test fleet of 1,000,000 charging sessions (10,000 drivers) on
PostgreSQL with two Celery worker processes, next to the raw-SQL floor measured in the same run.

    .venv/bin/python bench/billing.py [--sessions 1000000] [--database-url URL]
        [--redis-url URL] [--unit-drivers N] [--parallel-units N] [--keep] [--profile]

Data. The bench has databases of its own (default postgres://postgres@127.0.0.1:5432/
voltop_bench). Once per size it builds a template, <name>_seed_<sessions>: migrated, one
load fleet seeded with `manage.py seed_demo --sessions N --fleets 1`, then, because seeded
sessions lie in the three months up to today and the current month cannot be billed yet,
shifted back by a whole number of months (one, unless today is early in a month and
sessions end after the month's start) with one UPDATE of started_at and ended_at by the
days those months had, so durations and order stay as seeded; triggers are off for it, so
history records no change of a million sessions that nobody made. Every timed phase starts
from a fresh copy (CREATE DATABASE … TEMPLATE), unbilled. The period billed is the month
of the latest session, so one run bills every billable session of the fleet.

Billing. Two `celery worker --pool prefork --concurrency 1` processes of the voltop app, on
a queue of their own in Redis (default REDIS_URL or redis://127.0.0.1:6379/0; the worker
is started through app.worker_main so that the tasks a lane re-queues go to that queue too)
and on the bench database; invoice e-mails are routed to another queue that nothing
consumes and deleted afterwards, so they never run. Timed: billing_run_start until the run's
status is completed (polled every 50 ms), i.e. plan, every unit, finalize and Celery's
overhead in between. DEBUG is off in every process, as in production.

Floor. On another fresh copy, the least any billing must do, in one transaction: one
INSERT … SELECT of one invoice line per billable session (billable_session_list's own SQL;
the line's columns, description and rounded amounts computed in SQL) into a copy of
payments_invoiceline with its indexes (no foreign keys, no trigger), one GROUP BY of the
per-driver totals, and the UPDATE of the sessions' billed_at.

--profile then bills a third copy in this process, unit by unit, and prints where the time
goes: SQL time per statement (selection, each bulk insert, billed_at, finalize numbering),
the Python time around it, and cProfile's top functions for one unit.

Without --keep the bench's databases (including the seeded template) are dropped at the
end; with it they stay, and the next run of the same size reuses the template as long as
the migrations and the seeding code are unchanged. The database name must contain "bench":
the bench drops and recreates it. The last
line printed is one JSON object with the figures.
"""

import argparse
import calendar
import contextlib
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zoneinfo
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

FLEET_SLUG = "load-1"
TEMPLATE_MARK = "voltop bench billing, code "
WORKERS = 2
POLL_SECONDS = 0.05
WORKER_READY_SECONDS = 120
WORKER_STOP_SECONDS = 10
MAIL_TASKS = (
    "apps.payments.tasks.send_billing_run_invoices",
    "apps.payments.tasks.send_invoice_email",
)
# What every process of the bench runs with: production-like (DEBUG off keeps Django from
# recording and formatting every query), and e-mail that goes nowhere.
PROCESS_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "voltop-bench-only-" + "b" * 40,
    "EMAIL_URL": "dummymail://",
}

# `celery worker` of the voltop app on one queue, which is also where the tasks it sends go
# (a billing lane re-queues itself); invoice e-mails go to a queue no worker consumes.
WORKER_MAIN = """
import sys
from voltop.celery import app

queue, mail_queue, hostname, *mail_tasks = sys.argv[1:]
app.conf.task_default_queue = queue
app.conf.task_routes = {name: {"queue": mail_queue} for name in mail_tasks}
app.worker_main([
    "worker", "--pool=prefork", "--concurrency=1", "--queues", queue, "--hostname", hostname,
    "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
])
"""
TASK_SUCCEEDED = re.compile(
    r"Task apps\.payments\.tasks\.(\w+)\[[^\]]+\] succeeded in ([\d.]+)s: (\w+)"
)


def log(message: str) -> None:
    """Progress, on stderr: stdout holds the figures."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# Databases ---------------------------------------------------------------------------------


def database_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def admin_execute(url: str, *statements: str) -> None:
    """Run statements on the server's maintenance database, outside a transaction."""
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as admin:
        for statement in statements:
            admin.execute(statement)


def database_comment(url: str, name: str) -> str | None:
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    return None if row is None else (row[0] or "")


def database_drop(url: str, name: str) -> None:
    admin_execute(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_copy(url: str, template: str, name: str) -> float:
    """A fresh copy of the template under `name`; returns the seconds it took. Django's
    connection is closed first: it may be on the copy being replaced."""
    from django.db import connection

    connection.close()
    began = time.perf_counter()
    database_drop(url, name)
    admin_execute(url, f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    return time.perf_counter() - began


def manage(url: str, *arguments: str) -> str:
    """`manage.py …` on the database at `url`, eager Celery (no broker); returns its output."""
    environment = {**os.environ, **PROCESS_ENVIRONMENT, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    environment.pop("REDIS_URL", None)
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *arguments],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def months_before(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def seed_code_version() -> str:
    """A digest of the migrations and the seeding code: a template made by others is rebuilt."""
    digest = hashlib.sha256()
    paths = [*BASE_DIR.glob("*/*/migrations/*.py"), BASE_DIR / "apps/demo/seed.py"]
    for path in sorted(paths):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def template_build(url: str, template: str, sessions: int) -> None:
    """Migrate and seed the template, shift its sessions before the current month, vacuum."""
    started = time.perf_counter()
    database_drop(url, template)
    admin_execute(url, f'CREATE DATABASE "{template}"')
    template_url = database_url(url, template)
    log(f"migrating {template}")
    manage(template_url, "migrate", "--noinput")
    log(f"seeding {sessions:,} sessions into {template} (minutes for a million)")
    seeded = manage(template_url, "seed_demo", "--sessions", str(sessions), "--fleets", "1")
    for line in seeded.splitlines():
        log(f"  {line}")
    with psycopg.connect(template_url) as db:
        fleet_id, zone_name = db.execute(
            "SELECT id, time_zone FROM fleets_fleet WHERE slug = %s", [FLEET_SLUG]
        ).fetchone()
        zone = zoneinfo.ZoneInfo(zone_name)
        (latest,) = db.execute(
            "SELECT max(ended_at) FROM charging_chargingsession WHERE fleet_id = %s", [fleet_id]
        ).fetchone()
        today = dt.datetime.now(dt.UTC).astimezone(zone).date()
        month_start = dt.datetime.combine(today.replace(day=1), dt.time(), tzinfo=zone)
        months, days = 0, 0
        while latest - dt.timedelta(days=days) >= month_start:
            months += 1
            days = (today - months_before(today, months)).days
        db.execute("SET TIME ZONE 'UTC'")
        # The shift is the bench's, not a change of the sessions: no trigger records it.
        db.execute("SET LOCAL session_replication_role = replica")
        db.execute(
            "UPDATE charging_chargingsession"
            " SET started_at = started_at - make_interval(days => %s),"
            " ended_at = ended_at - make_interval(days => %s) WHERE fleet_id = %s",
            [days, days, fleet_id],
        )
        db.execute(
            f'COMMENT ON DATABASE "{template}" IS '
            f"'{TEMPLATE_MARK}{seed_code_version()}: {sessions} sessions seeded on {today}, "
            f"shifted back {months} month(s) = {days} days'"
        )
    with psycopg.connect(template_url, autocommit=True) as db:
        db.execute("VACUUM (ANALYZE, FREEZE)")
    log(
        f"template {template} built in {time.perf_counter() - started:.0f} s, sessions shifted "
        f"back {months} month(s) ({days} days)"
    )


def template_ensure(url: str, sessions: int) -> str:
    template = f"{database_name(url)}_seed_{sessions}"
    comment = database_comment(url, template) or ""
    if comment.startswith(f"{TEMPLATE_MARK}{seed_code_version()}:"):
        log(f"reusing {template} ({comment.partition(': ')[2]})")
    else:
        template_build(url, template, sessions)
    return template


# Celery workers ----------------------------------------------------------------------------


class Workers:
    """Two `celery worker` processes, each the leader of a process group of its own (main
    process and its one pool child), logging to files in `log_dir`."""

    def __init__(self, *, queue: str, mail_queue: str, log_dir: Path, environment: dict):
        self.queue = queue
        self.mail_queue = mail_queue
        self.log_dir = log_dir
        self.environment = environment
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, count: int) -> None:
        from voltop.celery import app

        worker_command = [sys.executable, "-c", WORKER_MAIN, self.queue, self.mail_queue]
        for number in range(1, count + 1):
            hostname = f"{self.queue}-{number}@bench"
            with (self.log_dir / f"worker-{number}.log").open("wb") as output:
                self.processes[hostname] = subprocess.Popen(  # noqa: S603 - fixed arguments
                    [*worker_command, hostname, *MAIL_TASKS],
                    cwd=BASE_DIR,
                    env=self.environment,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        waiting = set(self.processes)
        deadline = time.monotonic() + WORKER_READY_SECONDS
        while waiting:
            for hostname in waiting:
                if self.processes[hostname].poll() is not None:
                    raise SystemExit(f"worker {hostname} exited:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"workers {sorted(waiting)} did not answer a ping:\n{self.logs()}")
            for reply in app.control.ping(destination=sorted(waiting), timeout=1):
                waiting -= set(reply)

    def stop(self) -> None:
        """Warm shutdown (the main process lets its pool child finish and log its task), then
        SIGKILL to the whole group of any that have not stopped in time."""
        for process in self.processes.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=WORKER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")[-3000:] for path in sorted(self.log_dir.glob("*.log"))
        )

    def task_seconds(self) -> dict[str, list[float]]:
        """The run time of every task the workers finished, by task name; a lane's advance
        that found no unit left (returned False) is counted apart."""
        seconds: dict[str, list[float]] = {}
        for match in TASK_SUCCEEDED.finditer(self.logs_full()):
            task = match[1] if match[3] != "False" else f"{match[1]} (nothing left)"
            seconds.setdefault(task, []).append(float(match[2]))
        return seconds

    def logs_full(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.log_dir.glob("*.log"))


def redis_queues_delete(redis_url: str, *queues: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for queue in queues:
            keys = client.keys(f"*{queue}*")
            if keys:
                client.delete(*keys)
    finally:
        client.close()


# The run -----------------------------------------------------------------------------------


def period_of_data(fleet):
    """The month of the fleet's latest billable session; with the shifted data it has ended."""
    from django.utils import timezone

    from apps.payments.selectors import billable_session_list
    from apps.payments.services import billing_period_for

    everything = billable_session_list(fleet=fleet, ended_before=timezone.now())
    latest = everything.order_by("-ended_at").values_list("ended_at", flat=True).first()
    if latest is None:
        raise SystemExit(f"fleet {fleet.slug} has nothing to bill")
    period = billing_period_for(fleet=fleet, label=f"{latest.astimezone(fleet.zone):%Y-%m}")
    if period.end > timezone.now():
        raise SystemExit(f"the latest session is in {period.label}, which has not ended")
    far = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
    billable = billable_session_list(fleet=fleet, ended_before=period.end).count()
    if billable != billable_session_list(fleet=fleet, ended_before=far).count():
        raise SystemExit(f"some billable sessions end after {period.label}")
    return period, billable


def billing_time(workers: Workers, fleet, period, timeout: float):
    """Start the run, wait for completion; returns (seconds, run)."""
    from apps.payments.choices import BillingRunStatus
    from apps.payments.models import BillingRun
    from apps.payments.services import billing_run_start

    began = time.perf_counter()
    run, _ = billing_run_start(fleet=fleet, period=period)
    status = run.status
    while status not in (BillingRunStatus.COMPLETED, BillingRunStatus.FAILED):
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"run {run.pk} had not finished after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
        status = BillingRun.objects.filter(pk=run.pk).values_list("status", flat=True).get()
    seconds = time.perf_counter() - began
    run.refresh_from_db()
    if status == BillingRunStatus.FAILED:
        raise SystemExit(f"run {run.pk} failed: {run.error}\n{workers.logs()}")
    return seconds, run


# The floor ---------------------------------------------------------------------------------

FLOOR_TABLE = "bench_floor_invoiceline"
FLOOR_INSERT = f"""
WITH selection AS ({{selection}}),
amounts AS (
    SELECT id, driver_id, started_at, location_kind, depot_name,
           round(energy_wh / 1000.0, 3) AS kwh, round(price_excl_vat, 2) AS net
    FROM selection
)
INSERT INTO {FLOOR_TABLE}
    (invoice_id, session_id, position, description, quantity_kwh, unit_price, net, vat_rate,
     vat, gross)
SELECT driver_id, id,
       row_number() OVER (PARTITION BY driver_id ORDER BY started_at, id),
       initcap(location_kind) || coalesce(' ' || depot_name, '') || ' charging, '
           || to_char(started_at AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI'),
       kwh,
       CASE WHEN kwh > 0 THEN round(net / kwh, 5) ELSE 0 END,
       net, %s, round(net * %s / 100, 2), net + round(net * %s / 100, 2)
FROM amounts
"""
FLOOR_TOTALS = f"""
SELECT invoice_id, count(*), sum(quantity_kwh), sum(net), sum(vat), sum(gross)
FROM {FLOOR_TABLE} GROUP BY invoice_id
"""
FLOOR_BILLED = f"""
UPDATE charging_chargingsession AS s SET billed_at = %s, updated_at = %s
FROM {FLOOR_TABLE} AS l WHERE s.id = l.session_id
"""


def floor_time(url: str, fleet, period) -> tuple[float, int, dict[str, float]]:
    """The raw SQL of a minimal billing on the database at `url`, in one transaction; returns
    (seconds, lines inserted, seconds per statement)."""
    from django.db.models import F

    from apps.payments.selectors import billable_session_list

    selection = (
        billable_session_list(fleet=fleet, ended_before=period.end)
        .order_by()
        .values(
            "id", "driver_id", "started_at", "energy_wh", "price_excl_vat", "location_kind",
            depot_name=F("connector__station__depot__name"),
        )
    )  # fmt: skip
    selection_sql, selection_params = selection.query.sql_with_params()
    vat = fleet.default_vat_rate
    now = dt.datetime.now(dt.UTC)
    parts: dict[str, float] = {}
    with psycopg.connect(url, cursor_factory=psycopg.ClientCursor) as db:
        db.execute(f"CREATE TABLE {FLOOR_TABLE} (LIKE payments_invoiceline INCLUDING ALL)")
        db.commit()
        began = time.perf_counter()
        mark = began
        lines = db.execute(
            FLOOR_INSERT.format(selection=selection_sql),
            [*selection_params, fleet.time_zone, vat, vat, vat],
        ).rowcount
        parts["insert … select lines"] = time.perf_counter() - mark
        mark = time.perf_counter()
        totals = db.execute(FLOOR_TOTALS).fetchall()
        parts["group by totals"] = time.perf_counter() - mark
        mark = time.perf_counter()
        billed = db.execute(FLOOR_BILLED, [now, now]).rowcount
        parts["update billed_at"] = time.perf_counter() - mark
        mark = time.perf_counter()
        db.commit()
        parts["commit"] = time.perf_counter() - mark
        seconds = time.perf_counter() - began
    if billed != lines or not totals:
        raise SystemExit(f"floor: {lines} lines, {billed} sessions marked, {len(totals)} totals")
    return seconds, lines, parts


# In-process profile -------------------------------------------------------------------------


class SqlTimes:
    """A database execute wrapper adding up the time of each kind of statement."""

    def __init__(self):
        self.seconds: Counter[str] = Counter()
        self.count: Counter[str] = Counter()

    @staticmethod
    def kind(sql: str) -> str:
        head = sql.lstrip()[:80]
        if head.startswith("INSERT INTO"):
            return "insert " + head.split('"')[1].removeprefix("payments_")
        if head.startswith('UPDATE "charging_chargingsession"'):
            return "update sessions billed_at"
        if head.startswith('UPDATE "payments_invoice"'):
            return "update invoices (numbering bulk_update)"
        if 'FROM "charging_chargingsession"' in sql and "FOR UPDATE" in sql:
            return "select sessions FOR UPDATE"
        if 'FROM "charging_chargingsession"' in sql:
            return "select sessions (plan)"
        if 'FROM "payments_invoice"' in sql and "FOR UPDATE" in sql:
            return "select drafts FOR UPDATE"
        return "other"

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = self.kind(sql)
            self.seconds[kind] += time.perf_counter() - began
            self.count[kind] += 1


@contextlib.contextmanager
def measuring(times: SqlTimes):
    """Add up the SQL time of the block in `times`, commits (which run the deferred foreign
    key checks) included."""
    from django.db import connection

    commit = connection._commit

    def timed_commit():
        began = time.perf_counter()
        try:
            return commit()
        finally:
            times.seconds["commit (deferred FK checks)"] += time.perf_counter() - began
            times.count["commit (deferred FK checks)"] += 1

    connection._commit = timed_commit
    try:
        with connection.execute_wrapper(times):
            yield times
    finally:
        del connection._commit


def profile_run(fleet, period) -> list[str]:
    """Bill the run in this process, phase by phase, measuring SQL and Python time, unit 1
    under cProfile too; returns the lines to print."""
    from apps.charging.models import ChargingSession
    from apps.payments import services
    from apps.payments.models import BillingRun

    phases: dict[str, tuple[float, SqlTimes]] = {}

    def measured(name: str, call):
        began = time.perf_counter()
        with measuring(SqlTimes()) as times:
            result = call()
        phases[name] = (time.perf_counter() - began, times)
        return result

    run, _ = services.billing_run_start(fleet=fleet, period=period)
    run = measured("plan", lambda: services.billing_run_plan(run=run))
    profiler = cProfile.Profile()

    def profiled_advance():
        profiler.enable()
        try:
            return services.billing_run_advance(run_id=run.pk)
        finally:
            profiler.disable()

    measured("advance unit 1 (cProfile)", profiled_advance)
    unit_sessions = ChargingSession.objects.filter(fleet=fleet, billed_at__isnull=False).count()
    units = 0

    def advance_all():
        nonlocal units
        while services.billing_run_advance(run_id=run.pk):
            units += 1

    measured("advance units 2…", advance_all)
    run = BillingRun.objects.get(pk=run.pk)
    measured("finalize", lambda: services.billing_run_finalize(run=run))
    lines = [
        f"profile, in this process: unit 1 ({unit_sessions:,} sessions) under cProfile, "
        f"then {units} more units, then finalize"
    ]
    for name, (seconds, times) in phases.items():
        sql = sum(times.seconds.values())
        lines.append(
            f"  {name:<28} {seconds:8.2f} s   SQL {sql:7.2f} s   Python {seconds - sql:7.2f} s"
        )
        for kind, kind_seconds in times.seconds.most_common():
            lines.append(
                f"      {kind:<40} {kind_seconds:7.2f} s  ({times.count[kind]} statements)"
            )
    output = io.StringIO()
    stats = pstats.Stats(profiler, stream=output)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(
        r"services\.py|totals\.py|money\.py|query\.py|compiler\.py|psycopg/cursor\.py", 30
    )
    lines.append("  cProfile of unit 1, by own time, then cumulative:")
    header_seen = False
    for line in output.getvalue().splitlines():
        if " function calls " in line:
            if header_seen:
                continue
            header_seen = True
        if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced")):
            lines.append(f"    {line}")
    return lines


# Main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voltop_bench"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    )
    parser.add_argument("--unit-drivers", type=int, help="BILLING_UNIT_DRIVERS for the run.")
    parser.add_argument("--parallel-units", type=int, help="BILLING_PARALLEL_UNITS for the run.")
    parser.add_argument("--timeout", type=float, default=1800, help="Seconds a run may take.")
    parser.add_argument("--keep", action="store_true", help="Keep the bench's databases.")
    parser.add_argument("--profile", action="store_true", help="Also profile a run in-process.")
    options = parser.parse_args()
    url = options.database_url
    name = database_name(url)
    if "bench" not in name:
        parser.error(f"--database-url: {name!r} is dropped and recreated; use a name with 'bench'")
    floor_name = f"{name}_floor"
    environment = {**PROCESS_ENVIRONMENT, "DATABASE_URL": url, "REDIS_URL": options.redis_url}
    if options.unit_drivers:
        environment["BILLING_UNIT_DRIVERS"] = str(options.unit_drivers)
    if options.parallel_units:
        environment["BILLING_PARALLEL_UNITS"] = str(options.parallel_units)
    os.environ.update(environment)
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voltop.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from apps.fleets.models import Fleet
    from apps.payments.selectors import billable_session_list
    from voltop.celery import app

    queue = f"bench-billing-{uuid.uuid4().hex[:8]}"
    mail_queue = f"{queue}-mail"
    app.conf.task_default_queue = queue
    app.conf.task_routes = {task: {"queue": mail_queue} for task in MAIL_TASKS}
    template = template_ensure(url, options.sessions)
    log_dir = Path(tempfile.mkdtemp(prefix="voltop-bench-billing-"))
    workers = Workers(
        queue=queue,
        mail_queue=mail_queue,
        log_dir=log_dir,
        environment={**os.environ, **environment, "LOG_LEVEL": "INFO"},
    )
    try:
        copy_seconds = database_copy(url, template, name)
        log(f"fresh copy {name} in {copy_seconds:.1f} s; starting {WORKERS} workers")
        fleet = Fleet.objects.get(slug=FLEET_SLUG)
        period, billable = period_of_data(fleet)
        drivers = (
            billable_session_list(fleet=fleet, ended_before=period.end)
            .values("driver_id")
            .distinct()
            .count()
        )
        workers.start(WORKERS)
        log(f"billing {billable:,} sessions of {drivers:,} drivers, period {period.label}")
        seconds, run = billing_time(workers, fleet, period, options.timeout)
        workers.stop()
        left = billable_session_list(fleet=fleet, ended_before=period.end).count()
        if run.session_count != billable or left:
            raise SystemExit(f"run billed {run.session_count} of {billable}; {left} left unbilled")
        tasks = workers.task_seconds()
        connection.close()

        database_copy(url, template, floor_name)
        log("floor on a fresh copy")
        floor_seconds, floor_lines, floor_parts = floor_time(
            database_url(url, floor_name), fleet, period
        )
        database_drop(url, floor_name)
        if floor_lines != billable:
            raise SystemExit(f"floor wrote {floor_lines} lines for {billable} sessions")

        profile_lines = []
        if options.profile:
            database_copy(url, template, name)
            log("profiling a run in this process")
            profile_lines = profile_run(Fleet.objects.get(slug=FLEET_SLUG), period)
            connection.close()
    finally:
        workers.stop()
        redis_queues_delete(options.redis_url, queue)
        connection.close()
        database_drop(url, floor_name)
        if options.keep:
            log(f"kept {name}, {template} and the worker logs in {log_dir}")
        else:
            database_drop(url, name)
            database_drop(url, template)
            shutil.rmtree(log_dir)

    unit_drivers = settings.BILLING_UNIT_DRIVERS
    lanes = settings.BILLING_PARALLEL_UNITS
    sessions_per_s = billable / seconds
    floor_per_s = billable / floor_seconds
    ratio = seconds / floor_seconds
    advance = tasks.get("advance_billing_run", [])
    idle = tasks.get("advance_billing_run (nothing left)", [])
    worker_line = ", ".join(
        f"{task.removesuffix('_billing_run')} {len(runs)} x {sum(runs) / len(runs):.2f} s"
        for task, runs in (
            ("plan_billing_run", tasks.get("plan_billing_run", [])),
            ("advance_billing_run", advance),
            ("finalize_billing_run", tasks.get("finalize_billing_run", [])),
        )
        if runs
    )
    floor_line = ", ".join(
        f"{part} {part_seconds:.2f} s" for part, part_seconds in floor_parts.items()
    )
    figures = [
        f"sessions billed          {run.session_count:,} of {options.sessions:,} seeded, "
        f"{drivers:,} drivers, period "
        f"{run.period_label}, {run.units_total} units of {unit_drivers} drivers, {lanes} lanes, "
        f"{WORKERS} worker processes",
        f"invoices issued          {run.invoice_count:,} ({run.statement_count:,} statements)",
        f"billing run              {seconds:.2f} s  {sessions_per_s:,.0f} sessions/s",
        f"  worker tasks           {worker_line}; Σ advance {sum(advance):.1f} s "
        f"(+ {len(idle)} lanes that found nothing left)",
        f"floor (INSERT…SELECT, GROUP BY, UPDATE) {floor_seconds:.2f} s  "
        f"{floor_per_s:,.0f} sessions/s",
        f"  floor statements       {floor_line}",
        f"ratio                    {ratio:.1f}x the floor",
    ]
    for line in [*profile_lines, *figures]:
        print(line)
    print(
        json.dumps(
            {
                "bench": "billing",
                "sessions": run.session_count,
                "seeded_sessions": options.sessions,
                "seconds": round(seconds, 2),
                "floor_seconds": round(floor_seconds, 2),
                "ratio": round(ratio, 2),
                "sessions_per_s": round(sessions_per_s),
                "drivers": drivers,
                "invoices": run.invoice_count,
                "units": run.units_total,
                "unit_drivers": unit_drivers,
                "parallel_units": lanes,
                "workers": WORKERS,
            }
        )
    )


if __name__ == "__main__":
    main()
