"""Benchmark: the fleet manager's admin pages on a load fleet (the dashboard, the session list's
first page plain and with a depot filter and a driver filter, the invoice list's first page),
next to the floor measured in the same run: a plain Django view rendering the same 100 rows
as the session list from one .values() query into a bare HTML table.

    .venv/bin/python bench/admin.py [--database-url URL] [--sessions 1000000] [--rounds 5]
                                    [--requests 10] [--bill-last-month]

Data: a database seeded with `manage.py seed_demo --sessions N --fleets 1` (default
postgres://postgres@127.0.0.1:5432/voltop_bench_admin; migrated and seeded once when its
fleet load-1 is missing, then reused). The bench adds one staff user, a manager of load-1.
The seeded sessions are not billed: with --bill-last-month the fleet's last whole month is
billed once first (in this process, as bench/export.py does), so the invoice list has its
invoices; otherwise it lists whatever invoices the fleet has. Before timing, the sessions and
invoices are VACUUMed and ANALYZEd, as autovacuum would on a server (it is off here).

Load: Django's test Client in this process, DEBUG off, logged in as that manager (a session
in the database, as in production), through every middleware (tenancy, time zone, OTP,
history context). One request at a time, so each figure is the server's own time for a page
with no network in between. The pages and the floor are measured in turns, `--rounds`
times, `--requests` requests each after a warm-up; a page's figure is the median of its
rounds' p50s, the ratio the median of each round's session list p50 over its floor p50.

Queries: each page is requested once more with its SQL captured (untimed): the count per page,
and a check that no statement counts or de-duplicates the whole sessions or meter-values table.
Each COUNT or DISTINCT over charging_chargingsession or charging_metervalue is EXPLAINed; it
is whole-table work when its plan reads that table by a sequential scan, or through an index
that is neither partial (the few sessions active, awaiting approval, suspect or without a
price) nor bounded by a range of started_at (a month, thirty days). The last line printed is
one JSON object with the figures.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[1]
ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "voltop-bench-only-" + "a" * 40,
    "ALLOWED_HOSTS": "testserver",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "CONN_MAX_AGE": "600",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "bench.admin_settings",
}
MANAGER_EMAIL = "bench-admin-manager@bench.voltop.example"
LARGE_TABLES = ("charging_chargingsession", "charging_metervalue")
COUNTS_OR_DISTINCTS = re.compile(
    r"(COUNT\(|DISTINCT).*FROM \"(charging_chargingsession|charging_metervalue)\"", re.DOTALL
)
INDEX_SCANS = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def database_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_ready(url: str, sessions: int) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    environment = {**os.environ, **ENVIRONMENT, "DATABASE_URL": url}
    environment["DJANGO_SETTINGS_MODULE"] = "voltop.settings"

    def manage(*arguments: str) -> None:
        subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "manage.py", *arguments], cwd=BASE_DIR, env=environment, check=True
        )

    manage("migrate", "--no-input", "-v", "0")
    with psycopg.connect(url) as connection:
        seeded = connection.execute("SELECT 1 FROM fleets_fleet WHERE slug = 'load-1'").fetchone()
    if not seeded:
        log(f"seeding {sessions:,} sessions (once; the database is kept for the next run)")
        manage("seed_demo", "--sessions", str(sessions), "--fleets", "1")


def manager_of_load_fleet():
    """A staff user with a manager's membership of load-1 (made once), and the fleet."""
    from django.contrib.auth import get_user_model

    from apps.fleets.choices import MembershipRole
    from apps.fleets.models import Fleet, Membership

    fleet = Fleet.objects.get(slug="load-1")
    user, _ = get_user_model().objects.get_or_create(
        username=MANAGER_EMAIL,
        defaults={"email": MANAGER_EMAIL, "is_staff": True},
    )
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    Membership.objects.get_or_create(
        user=user, fleet=fleet, defaults={"role": MembershipRole.MANAGER}
    )
    return user, fleet


def last_month_billed(fleet) -> float | None:
    """Bill the fleet's last whole month in this process unless it is billed, so the invoice
    list has a month of invoices; the seconds it took, None if it was billed already."""
    import datetime as dt

    from django.utils import timezone

    from apps.payments import services
    from apps.payments.choices import BillingRunStatus
    from apps.payments.models import BillingRun

    today = timezone.localdate(timezone.now(), fleet.zone)
    month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    period = services.billing_period_for(fleet=fleet, label=month)
    run = BillingRun.objects.filter(fleet=fleet, period_start=period.start).first()
    if run is not None and run.status == BillingRunStatus.COMPLETED:
        return None
    issued = period.end + dt.timedelta(hours=1)
    services._enqueue_after_commit = lambda task, *args: None
    started = time.perf_counter()
    run, _ = services.billing_run_start(fleet=fleet, period=period, now=issued)
    run = services.billing_run_plan(run=run, now=issued)
    while services.billing_run_advance(run_id=run.pk, now=issued):
        pass
    services.billing_run_finalize(run=BillingRun.objects.get(pk=run.pk), now=issued)
    return time.perf_counter() - started


def tables_vacuumed(connection) -> None:
    """VACUUM ANALYZE the sessions and invoices, as autovacuum would on a server after the
    seed's load and a billing run: this machine's PostgreSQL runs with autovacuum off, which
    would leave the billing run's dead rows, and no visibility map for index-only counts."""
    with connection.cursor() as cursor:
        for table in ("charging_chargingsession", "payments_invoice"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def pages_of(fleet) -> dict[str, str]:
    """The pages timed, by name: the depot with the most stations and the driver with the
    most sessions make the filters' cases."""
    from django.db.models import Count

    from apps.drivers.models import Driver
    from apps.fleets.models import Depot

    depot = (
        Depot.objects.filter(fleet=fleet)
        .annotate(station_count=Count("stations"))
        .order_by("-station_count", "pk")
        .first()
    )
    driver = (
        Driver.objects.filter(fleet=fleet)
        .annotate(n=Count("sessions"))
        .order_by("-n", "pk")
        .only("pk", "employee_number")
        .first()
    )
    sessions = "/admin/charging/chargingsession/"
    return {
        "dashboard": "/admin/",
        "sessions_list": sessions,
        "sessions_list_depot": f"{sessions}?connector__station__depot__id__exact={depot.pk}",
        "sessions_list_driver": f"{sessions}?driver_number={driver.employee_number}",
        "invoices_list": "/admin/payments/invoice/",
        "floor": f"/bench/floor/sessions/?fleet={fleet.pk}",
    }


def timed(client, url: str, requests: int) -> float:
    """The p50 of `requests` GETs of `url`, in ms."""
    durations = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        durations.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return statistics.median(durations)


def plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def reads_whole_table(sql: str, partial_indexes: set[str]) -> bool:
    """Whether the plan of `sql` reads the sessions or meter values by a sequential scan, or
    through an index that is not partial and is not bounded by a range of started_at."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
    for node in plan_nodes(plan[0]["Plan"]):
        if node.get("Relation Name") in LARGE_TABLES and "Seq Scan" in node["Node Type"]:
            return True
        if node["Node Type"] in INDEX_SCANS and node.get("Index Name") not in partial_indexes:
            table = node.get("Relation Name") or index_table(node["Index Name"])
            if table in LARGE_TABLES and "started_at" not in node.get("Index Cond", ""):
                return True
    return False


def index_table(index_name: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_indexes WHERE indexname = %s", [index_name])
        return cursor.fetchone()[0]


def partial_indexes_of_large_tables() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s) AND indexdef LIKE %s",
            [list(LARGE_TABLES), "% WHERE %"],
        )
        return {name for (name,) in cursor.fetchall()}


def captured(client, url: str, partial_indexes: set[str]) -> tuple[int, list[str], int]:
    """The queries of one GET of `url`: their count, those doing whole-table work on the
    sessions or meter values, and the page's size in bytes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    statements = [query["sql"] for query in queries.captured_queries]
    offending = [
        sql
        for sql in statements
        if COUNTS_OR_DISTINCTS.search(sql) and reads_whole_table(sql, partial_indexes)
    ]
    return len(statements), offending, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voltop_bench_admin"
        ),
    )
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument(
        "--bill-last-month",
        action="store_true",
        help="Bill the fleet's last whole month first (once), so the invoice list has a "
        "month of invoices. It changes the database: its sessions of that month are billed.",
    )
    options = parser.parse_args()
    database_ready(options.database_url, options.sessions)

    os.environ.update(ENVIRONMENT)
    os.environ["DATABASE_URL"] = options.database_url
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    user, fleet = manager_of_load_fleet()
    if options.bill_last_month:
        seconds = last_month_billed(fleet)
        if seconds is not None:
            log(f"billed the fleet's last whole month in {seconds:.1f} s")
    tables_vacuumed(connection)
    sessions_total = fleet.sessions.count()
    invoices_total = fleet.invoices.count()
    pages = pages_of(fleet)
    client = Client()
    client.force_login(user)

    queries, offending, sizes = {}, {}, {}
    partial_indexes = partial_indexes_of_large_tables()
    for name, url in pages.items():
        timed(client, url, 3)
        queries[name], offending[name], sizes[name] = captured(client, url, partial_indexes)

    rounds = []
    for number in range(1, options.rounds + 1):
        figures = {name: timed(client, url, options.requests) for name, url in pages.items()}
        rounds.append(figures)
        print(
            f"round {number}: "
            + "; ".join(f"{name} {p50:.1f} ms" for name, p50 in figures.items())
            + f"; ratio {figures['sessions_list'] / figures['floor']:.2f}x"
        )
    connection.close()

    p50 = {name: statistics.median(figures[name] for figures in rounds) for name in pages}
    ratio = statistics.median(figures["sessions_list"] / figures["floor"] for figures in rounds)
    print(
        f"data                      {sessions_total:,} sessions and {invoices_total:,} invoices "
        f"in fleet {fleet.slug}; Django test Client, DEBUG off, one request at a time"
    )
    for name, url in pages.items():
        print(
            f"{name:<25} p50 {p50[name]:7.1f} ms  {queries[name]:>2} queries  "
            f"{sizes[name] / 1024:6.1f} KiB  {url}"
        )
    print(f"ratio                     {ratio:.2f}x the floor's p50 (session list, first page)")
    full_table = {name: found for name, found in offending.items() if found}
    if full_table:
        print("whole-table COUNT/DISTINCT over sessions or meter values:")
        for name, statements in full_table.items():
            for sql in statements:
                print(f"  {name}: {sql[:300]}")
    else:
        print("no page counts or de-duplicates the whole sessions or meter-values table")
    print(
        json.dumps(
            {
                "bench": "admin",
                "dashboard_p50_ms": round(p50["dashboard"], 2),
                "sessions_list_p50_ms": round(p50["sessions_list"], 2),
                "sessions_list_depot_p50_ms": round(p50["sessions_list_depot"], 2),
                "sessions_list_driver_p50_ms": round(p50["sessions_list_driver"], 2),
                "invoices_list_p50_ms": round(p50["invoices_list"], 2),
                "floor_p50_ms": round(p50["floor"], 2),
                "ratio": round(ratio, 2),
                "queries": queries,
                "full_table_work": sorted(full_table),
                "sessions": sessions_total,
                "invoices": invoices_total,
                "rounds": options.rounds,
                "requests": options.requests,
            }
        )
    )


if __name__ == "__main__":
    main()
