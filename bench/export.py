"""Benchmark: export every session of a load-test fleet as CSV (and XLSX) through the service
the admin, the API and the command use, next to the floor of PostgreSQL's COPY of the same
rows' raw columns, measured in the same run.

    .venv/bin/python bench/export.py [--sessions 1000000] [--runs 3] [--skip-xlsx] [--skip-ledger]
                                     [--profile]

Data. The database DATABASE_URL names (PostgreSQL only), holding the load-test fleet `load-1`
of `manage.py seed_demo --sessions N` (N sessions over the three months up to today). When the
fleet is not there it is seeded (migrating first), and the time that took is printed; when it
is there with another number of sessions, the database is dropped and made again first, which
the bench does only to a database whose name contains "bench". The tables the export reads are
then vacuumed and analyzed (a freshly seeded database has no statistics yet, and PostgreSQL
would join its million rows one by one).

Export. `export_write` of the sessions export, CSV in the fleet's dialect, over the days from
the fleet's first session to its last (every session of the fleet, checked), to a file in a
temporary directory: the control totals' aggregate, the header, the COPY whose SELECT formats
every cell (times in the fleet's zone, rounded amounts, formula escaping), the SHA-256 of the
bytes and the manifest. Rows per second are rows / the call's wall time.

Floor. One `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` written to a file, on the same
connection settings: the same sessions, in the same order, with the same joins as the export's
query (driver, vehicle, cost center, tariff version and tariff, invoice line and invoice, cost
allocation and its cost center, reimbursement line), each column the export reads as stored,
the price breakdown as its whole JSON, nothing formatted or computed.

XLSX. The same export written as XLSX (`--skip-xlsx` leaves it out; its figures are null).

Journal and DATEV. The last whole month of the fleet is billed first when it is not (in a
process of its own, the run's plan, units and finalize called in turn, its invoices issued
at 01:00 of the month's next day; nothing is enqueued, so no invoice is mailed), the fleet is
given DATEV numbers and ledger accounts for each VAT rate of its documents where it has none
(SKR03 accounts, as finance would set them), and the accounting journal (CSV) and the DATEV
batch are exported through `export_write` over the days from the month's first day to the
day its invoices were issued; the sessions CSV of the same days is exported in the same run,
and each figure's ratio is its rows per second over the sessions CSV's. `--skip-ledger`
leaves all this out (its figures are null).

First byte. `export_stream` of the CSV export, from the call to its first chunk (the header,
which comes after the control totals), and to its first chunk of rows; the stream is then
closed, which leaves no manifest.

Every phase runs in a process of its own (this script with --phase), so the peak RSS
(ru_maxrss) is that phase's alone; the CSV export and the floor take turns, `--runs` times
each, and the best time of each counts. --profile also runs the CSV export once more under
cProfile and prints its top functions. DEBUG is off in every process, as in production.

The last line printed is one JSON object with the figures.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

FLEET_SLUG = "load-1"
REQUESTED_BY = "bench/export.py"
PROCESS_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "voltop-bench-only-" + "e" * 40,
    "EMAIL_URL": "dummymail://",
    "DJANGO_SETTINGS_MODULE": "voltop.settings",
}

EXPORT_TABLES = (
    "charging_chargingsession",
    "drivers_driver",
    "vehicles_vehicle",
    "fleets_costcenter",
    "charging_tariffversion",
    "charging_tariff",
    "payments_invoiceline",
    "payments_invoice",
    "payments_costallocation",
    "payments_reimbursementline",
)
# The export's rows as stored: the sessions of the fleet in the period, in file order, with
# the joins of apps/exports/selectors.py _session_rows and each column it reads, unformatted.
FLOOR_SELECT = """
SELECT s.id, d.employee_number, d.first_name, d.last_name, v.make, v.model, v.plate,
       session_center.code, s.location_kind, s.purpose, s.status, s.started_at, s.ended_at,
       s.energy_wh, tariff.name, version.number, s.price_basis, s.price_currency,
       s.price_breakdown, s.price_excl_vat, s.price_vat, s.price_incl_vat,
       line.id, invoice.number, line.net, line.vat, line.gross,
       allocation.id, allocation_center.code, allocation.amount, allocation.vat,
       refund.id, refund.reimbursement_id, refund.amount
FROM charging_chargingsession s
JOIN drivers_driver d ON d.id = s.driver_id
LEFT JOIN vehicles_vehicle v ON v.id = s.vehicle_id
LEFT JOIN payments_invoiceline line ON line.session_id = s.id
LEFT JOIN payments_costallocation allocation ON allocation.session_id = s.id
LEFT JOIN payments_reimbursementline refund ON refund.session_id = s.id
LEFT JOIN payments_invoice invoice ON invoice.id = line.invoice_id
LEFT JOIN fleets_costcenter allocation_center ON allocation_center.id = allocation.cost_center_id
LEFT JOIN fleets_costcenter session_center ON session_center.id = s.cost_center_id
LEFT JOIN charging_tariffversion version ON version.id = s.tariff_version_id
LEFT JOIN charging_tariff tariff ON tariff.id = version.tariff_id
WHERE s.fleet_id = %(fleet)s
  AND ((s.ended_at >= %(start)s AND s.ended_at < %(end)s)
       OR (s.ended_at IS NULL AND s.started_at >= %(start)s AND s.started_at < %(end)s))
ORDER BY s.started_at, s.id
"""


def log(message: str) -> None:
    """Progress, on stderr: stdout holds the figures."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports it in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def django_setup() -> None:
    os.environ.update(PROCESS_ENVIRONMENT)
    import django

    django.setup()


# The phases, each run in a process of its own ------------------------------------------------


def export_request(file_format: str, first_day: str, last_day: str, kind: str = "sessions"):
    """An export of `kind` (the sessions by default) of the load fleet over the given days,
    as finance asks for it."""
    from django.utils import timezone

    from apps.exports.periods import export_period_of_days
    from apps.exports.services import export_fleet_get, export_request_check
    from apps.fleets.choices import MembershipRole

    fleet = export_fleet_get(slug=FLEET_SLUG)
    period = export_period_of_days(first_day=first_day, last_day=last_day, zone=fleet.zone)
    return export_request_check(
        fleet=fleet,
        kind=kind,
        file_format=file_format,
        role=MembershipRole.FINANCE,
        first_day=first_day,
        last_day=last_day,
        now=max(timezone.now(), period.end),
    )


def phase_export(options) -> dict:
    """`export_write` of the whole fleet to a file, timed; rows from its manifest."""
    from apps.exports.services import export_write

    kind, file_format = LEDGER_PHASES.get(options.phase, ("sessions", options.phase))
    request = export_request(file_format, options.first_day, options.last_day, kind)
    with open(options.out, "wb") as out:
        profiler = cProfile.Profile() if options.profile else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        manifest = export_write(request=request, out=out, requested_by_name=REQUESTED_BY)
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - started
    if profiler is not None:
        profile_print(profiler)
    return {
        "rows": manifest.row_count,
        "seconds": seconds,
        "bytes": manifest.size_bytes,
        "peak_rss_mb": peak_rss_mb(),
    }


def profile_print(profiler: cProfile.Profile) -> None:
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(25)
        log(f"cProfile of the CSV export, by {order}:\n{text.getvalue()}")


def phase_first_byte(options) -> dict:
    """`export_stream` of the CSV export: milliseconds to its first chunk and to its first
    chunk of rows; then closed, as when a client goes away."""
    from apps.exports.services import export_stream

    request = export_request("csv", options.first_day, options.last_day)
    started = time.perf_counter()
    chunks = export_stream(request=request, requested_by_name=REQUESTED_BY)
    header = next(chunks)
    first_byte = time.perf_counter() - started
    first_rows = next(chunks)
    rows_seconds = time.perf_counter() - started
    chunks.close()
    if not header or not first_rows:
        sys.exit("export_stream yielded an empty chunk")
    return {"first_byte_ms": first_byte * 1000, "first_rows_ms": rows_seconds * 1000}


def phase_floor(options) -> dict:
    """One COPY of the same rows' raw columns to a file, on Django's own connection."""
    from django.db import connection

    from apps.exports.services import export_fleet_get

    fleet = export_fleet_get(slug=FLEET_SLUG)
    request = export_request("csv", options.first_day, options.last_day)
    parameters = {"fleet": fleet.pk, "start": request.period.start, "end": request.period.end}
    connection.ensure_connection()
    raw = connection.connection
    statement = f"COPY ({FLOOR_SELECT}) TO STDOUT WITH (FORMAT csv)"
    with open(options.out, "wb") as out:
        started = time.perf_counter()
        with raw.cursor() as cursor:
            with cursor.copy(statement, parameters) as copy:
                for data in copy:
                    out.write(data)
            rows = cursor.rowcount
        seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def phase_bill(options) -> dict:
    """Bill the fleet's last whole month unless it is billed, give the fleet DATEV numbers
    and ledger accounts for its VAT rates where it has none; returns the days to export."""
    import datetime as dt

    from django.utils import timezone

    from apps.fleets.models import Fleet, VatRateAccounts
    from apps.payments import services
    from apps.payments.choices import BillingRunStatus
    from apps.payments.models import BillingRun, InvoiceLine

    fleet = Fleet.objects.get(slug=FLEET_SLUG)
    today = timezone.localdate(timezone.now(), fleet.zone)
    month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    period = services.billing_period_for(fleet=fleet, label=month)
    issued = period.end + dt.timedelta(hours=1)
    seconds = None
    run = BillingRun.objects.filter(fleet=fleet, period_start=period.start).first()
    if run is None or run.status != BillingRunStatus.COMPLETED:
        services._enqueue_after_commit = lambda task, *args: None
        started = time.perf_counter()
        run, _ = services.billing_run_start(fleet=fleet, period=period, now=issued)
        run = services.billing_run_plan(run=run, now=issued)
        while services.billing_run_advance(run_id=run.pk, now=issued):
            pass
        services.billing_run_finalize(run=BillingRun.objects.get(pk=run.pk), now=issued)
        seconds = time.perf_counter() - started
    run = BillingRun.objects.get(pk=run.pk)
    if fleet.datev_consultant_number is None or fleet.datev_client_number is None:
        Fleet.objects.filter(pk=fleet.pk).update(
            datev_consultant_number=29098, datev_client_number=55003
        )
    rates = {fleet.default_vat_rate} | set(
        InvoiceLine.objects.filter(invoice__fleet=fleet)
        .order_by()
        .values_list("vat_rate", flat=True)
        .distinct()
    )
    for rate in sorted(rates):
        accounts = SKR03_ACCOUNTS.get(int(rate), SKR03_ACCOUNTS[0])
        VatRateAccounts.objects.get_or_create(fleet=fleet, vat_rate=rate, defaults=accounts)
    last_day = timezone.localdate(run.finished_at or issued, fleet.zone)
    return {
        "first_day": period.first_day.isoformat(),
        "last_day": max(last_day, period.last_day + dt.timedelta(days=1)).isoformat(),
        "billing_seconds": seconds,
        "rates": [str(rate) for rate in sorted(rates)],
    }


# SKR03 accounts per VAT rate, as a German fleet's finance sets them (0: any other rate).
SKR03_ACCOUNTS = {
    19: {"revenue_account": "8400", "vat_account": "1776", "input_vat_account": "1576",
         "input_tax_code": "9"},
    7: {"revenue_account": "8300", "vat_account": "1771", "input_vat_account": "1571",
        "input_tax_code": "8"},
    0: {"revenue_account": "8200", "vat_account": "1770", "input_vat_account": "1570",
        "input_tax_code": ""},
}  # fmt: skip
# The ledger's phases: the export kind and format each writes.
LEDGER_PHASES = {
    "journal": ("journal", "csv"),
    "datev": ("datev", "datev"),
    "ledger-sessions": ("sessions", "csv"),
}

PHASES = {
    "csv": phase_export,
    "xlsx": phase_export,
    "floor": phase_floor,
    "first-byte": phase_first_byte,
    "bill": phase_bill,
    **dict.fromkeys(LEDGER_PHASES, phase_export),
}


def phase_main(options) -> None:
    django_setup()
    print(json.dumps(PHASES[options.phase](options)), flush=True)


def phase_run(phase: str, days: tuple[str, str], out: Path | None, profile: bool = False) -> dict:
    """Run one phase in a new process and read its figures from its last line."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase",
        phase,
        "--first-day",
        days[0],
        "--last-day",
        days[1],
    ]
    if out is not None:
        command += ["--out", str(out)]
    if profile:
        command.append("--profile")
    finished = subprocess.run(  # noqa: S603 - this script, with arguments of its own
        command,
        env=os.environ | PROCESS_ENVIRONMENT,
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        sys.exit(f"the {phase} phase failed (exit {finished.returncode}); its errors are above")
    if out is not None:
        out.unlink(missing_ok=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


# The data ----------------------------------------------------------------------------------


def manage(*arguments: str) -> float:
    """Run manage.py in a new process; returns its wall seconds."""
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - manage.py, with arguments of this script's own
        [sys.executable, str(BASE_DIR / "manage.py"), *arguments],
        env=os.environ | PROCESS_ENVIRONMENT,
        cwd=BASE_DIR,
        check=True,
    )
    return time.perf_counter() - started


def fleet_sessions() -> int | None:
    """How many sessions the load fleet has, or None when there is no such fleet (or no
    tables yet)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('fleets_fleet') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT id FROM fleets_fleet WHERE slug = %s", [FLEET_SLUG])
        found = cursor.fetchone()
        if found is None:
            return None
        cursor.execute("SELECT count(*) FROM charging_chargingsession WHERE fleet_id = %s", found)
        return cursor.fetchone()[0]


def database_recreate() -> None:
    """Drop and make again the bench's database, whose name must say it is a bench's."""
    from django.db import connection

    url = os.environ.get("DATABASE_URL") or ""
    name = connection.settings_dict["NAME"]
    if "bench" not in name or urlsplit(url).path.lstrip("/") != name:
        sys.exit(
            f"fleet {FLEET_SLUG!r} in database {name!r} has another number of sessions; "
            "export DATABASE_URL naming a database whose name contains 'bench' (the bench "
            "drops and makes it again), or one without the fleet"
        )
    connection.close()
    import psycopg

    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def fleet_prepare(sessions: int) -> float | None:
    """Make sure the load fleet holds `sessions` sessions; returns the seconds seeding took,
    or None when the fleet was there already."""
    found = fleet_sessions()
    if found == sessions:
        log(f"fleet {FLEET_SLUG} is there with {sessions:,} sessions")
        return None
    if found is not None:
        database_recreate()
        log(f"fleet {FLEET_SLUG} had {found:,} sessions, not {sessions:,}: database made again")
    log("migrating")
    manage("migrate", "--verbosity", "0")
    log(f"seeding {sessions:,} sessions: manage.py seed_demo --sessions {sessions}")
    seconds = manage("seed_demo", "--sessions", str(sessions))
    log(f"seeded {sessions:,} sessions in {seconds:.1f} s")
    if fleet_sessions() != sessions:
        sys.exit(f"seed_demo did not leave fleet {FLEET_SLUG} with {sessions:,} sessions")
    return seconds


def statistics_gather() -> None:
    """VACUUM and ANALYZE the tables the export reads, as autovacuum would have by now: a
    freshly seeded database has no statistics, and its plans join row by row."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(EXPORT_TABLES)}")


def fleet_days() -> tuple[str, str]:
    """The first and last day, in the fleet's zone, of the fleet's sessions (by their start,
    and their end or, still charging, their start)."""
    from django.db.models import Max, Min
    from django.db.models.functions import Coalesce

    from apps.charging.models import ChargingSession
    from apps.fleets.models import Fleet

    fleet = Fleet.objects.get(slug=FLEET_SLUG)
    span = ChargingSession.objects.filter(fleet=fleet).aggregate(
        first=Min("started_at"), last=Max(Coalesce("ended_at", "started_at"))
    )
    first = span["first"].astimezone(fleet.zone).date()
    last = span["last"].astimezone(fleet.zone).date()
    return first.isoformat(), last.isoformat()


def machine_load() -> str:
    """The load averages over 1, 5 and 15 minutes, as `uptime` shows them."""
    return "load average: " + ", ".join(f"{load:.2f}" for load in os.getloadavg())


# The journal and DATEV ------------------------------------------------------------------------


def ledger_run(runs: int, folder: Path) -> dict:
    """Bill the last whole month if it is not, then export the sessions CSV, the journal and
    the DATEV batch of its days in turns, `runs` times each; the best time of each."""
    billed = phase_run("bill", ("", ""), None)
    days = (billed["first_day"], billed["last_day"])
    if billed["billing_seconds"] is not None:
        log(f"billed the month in {billed['billing_seconds']:.1f} s")
    log(f"ledger exports of {days[0]} to {days[1]} (VAT rates {', '.join(billed['rates'])})")
    best: dict[str, dict] = {}
    for run in range(runs):
        for phase in LEDGER_PHASES:
            figures = phase_run(phase, days, folder / f"{phase}.out")
            if phase not in best or figures["seconds"] < best[phase]["seconds"]:
                best[phase] = figures
        log(
            f"ledger run {run + 1}: "
            + ", ".join(f"{phase} {best[phase]['seconds']:.2f} s" for phase in LEDGER_PHASES)
        )
    return {"days": days, "billing_seconds": billed["billing_seconds"], **best}


def ledger_figures(ledger: dict | None) -> dict:
    """The journal's and DATEV's rows, rows per second and ratio to the sessions CSV of the
    same days (rows per second over rows per second); null when skipped."""
    names = ("journal", "datev")
    if ledger is None:
        return {
            "ledger_days": None,
            "ledger_sessions_rows_per_s": None,
            **{
                f"{name}_{figure}": None
                for name in names
                for figure in ("rows", "rows_per_s", "ratio")
            },
        }
    sessions = ledger["ledger-sessions"]
    sessions_rate = sessions["rows"] / sessions["seconds"]
    figures = {
        "ledger_days": list(ledger["days"]),
        "ledger_sessions_rows": sessions["rows"],
        "ledger_sessions_rows_per_s": round(sessions_rate),
    }
    for name in names:
        rate_of = ledger[name]["rows"] / ledger[name]["seconds"]
        figures[f"{name}_rows"] = ledger[name]["rows"]
        figures[f"{name}_rows_per_s"] = round(rate_of)
        figures[f"{name}_ratio"] = round(rate_of / sessions_rate, 3)
    return figures


def ledger_table(ledger: dict, runs: int) -> list[tuple[str, str, str, str]]:
    figures = ledger_figures(ledger)
    rows = [
        (
            f"sessions CSV of {ledger['days'][0]} to {ledger['days'][1]}, best of {runs}",
            f"{ledger['ledger-sessions']['seconds']:.2f} s, "
            f"{figures['ledger_sessions_rows_per_s']:,} rows/s",
            "",
            "",
        )
    ]
    for name, label in (("journal", "journal CSV"), ("datev", "DATEV batch")):
        rows.append(
            (
                f"{label}, {figures[f'{name}_rows']:,} rows, best of {runs}",
                f"{ledger[name]['seconds']:.2f} s, {figures[f'{name}_rows_per_s']:,} rows/s",
                "",
                f"{figures[f'{name}_ratio']:.3f} of the sessions CSV's rows/s",
            )
        )
    return rows


# The run -----------------------------------------------------------------------------------


def rate(rows: int, seconds: float | None) -> int | None:
    return None if seconds is None else round(rows / seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-xlsx", action="store_true", help="Leave the XLSX export out.")
    parser.add_argument("--profile", action="store_true", help="Profile the CSV export too.")
    parser.add_argument(
        "--skip-ledger", action="store_true", help="Leave the journal and DATEV out."
    )
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--first-day", help=argparse.SUPPRESS)
    parser.add_argument("--last-day", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.phase:
        phase_main(options)
        return

    django_setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit(
            "bench/export.py measures PostgreSQL's COPY: set DATABASE_URL to a PostgreSQL "
            f"database (this one is {connection.vendor})"
        )
    log(f"before: {machine_load()}")
    seed_seconds = fleet_prepare(options.sessions)
    statistics_gather()
    days = fleet_days()
    connection.close()
    log(f"exporting the sessions of {days[0]} to {days[1]}, {options.runs} run(s) each")

    exports, floors = [], []
    with tempfile.TemporaryDirectory(prefix="voltop-bench-export-") as folder:
        for run in range(options.runs):
            floors.append(phase_run("floor", days, Path(folder) / "floor.csv"))
            exports.append(phase_run("csv", days, Path(folder) / "sessions.csv"))
            log(
                f"run {run + 1}: CSV {exports[-1]['seconds']:.2f} s, "
                f"{exports[-1]['peak_rss_mb']:.0f} MB; floor {floors[-1]['seconds']:.2f} s"
            )
        first_byte = min(
            (phase_run("first-byte", days, None) for _ in range(options.runs)),
            key=lambda figures: figures["first_byte_ms"],
        )
        xlsx = None
        if not options.skip_xlsx:
            xlsx = phase_run("xlsx", days, Path(folder) / "sessions.xlsx")
            log(f"XLSX {xlsx['seconds']:.2f} s, {xlsx['peak_rss_mb']:.0f} MB")
        if options.profile:
            phase_run("csv", days, Path(folder) / "profiled.csv", profile=True)
        ledger = None if options.skip_ledger else ledger_run(options.runs, Path(folder))
    log(f"after: {machine_load()}")

    rows = exports[0]["rows"]
    for figures in (*exports, *floors):
        if figures["rows"] != rows or rows != options.sessions:
            sys.exit(
                f"a phase wrote {figures['rows']:,} rows, not the fleet's {options.sessions:,}"
            )
    csv_seconds = min(figures["seconds"] for figures in exports)
    floor_seconds = min(figures["seconds"] for figures in floors)
    result = {
        "bench": "export",
        "rows": rows,
        "rows_per_s": rate(rows, csv_seconds),
        "copy_rows_per_s": rate(rows, floor_seconds),
        "ratio": round(floor_seconds / csv_seconds, 3),
        "peak_rss_mb": round(max(figures["peak_rss_mb"] for figures in exports), 1),
        "xlsx_rows_per_s": rate(rows, xlsx["seconds"]) if xlsx else None,
        "xlsx_peak_rss_mb": round(xlsx["peak_rss_mb"], 1) if xlsx else None,
        "first_byte_ms": round(first_byte["first_byte_ms"], 1),
        **ledger_figures(ledger),
    }
    table = [
        ("figure", "export", "floor (COPY of raw columns)", "ratio"),
        (
            f"CSV, {rows:,} rows, best of {options.runs}",
            f"{csv_seconds:.2f} s, {result['rows_per_s']:,} rows/s",
            f"{floor_seconds:.2f} s, {result['copy_rows_per_s']:,} rows/s",
            f"{result['ratio']:.2f} (goal >= 0.70)",
        ),
        ("CSV peak RSS", f"{result['peak_rss_mb']:.0f} MB", "", "goal < 150 MB"),
        (
            "XLSX",
            f"{result['xlsx_rows_per_s']:,} rows/s, {result['xlsx_peak_rss_mb']:.0f} MB"
            if xlsx
            else "skipped",
            "",
            "goal < 150 MB",
        ),
        (
            "CSV stream: first byte / first rows",
            f"{first_byte['first_byte_ms']:.0f} ms / {first_byte['first_rows_ms']:.0f} ms",
            "",
            "",
        ),
    ]
    if ledger is not None:
        table.extend(ledger_table(ledger, options.runs))
    if seed_seconds is not None:
        table.append((f"seed_demo --sessions {options.sessions}", f"{seed_seconds:.1f} s", "", ""))
    widths = [max(len(line[column]) for line in table) for column in range(4)]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
