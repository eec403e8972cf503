"""Benchmark: import a provider's CSV of public sessions on PostgreSQL, next to the floor of
writing the same rows with one COPY, measured in the same run.

    .venv/bin/python bench/import_sessions.py [--rows 5000] [--cards 1000] [--runs 3]
        [--database-url URL] [--keep]

Data. A database of the bench's own (default postgres://postgres@127.0.0.1:5432/
voltop_bench_imports; its name must contain "bench": the bench drops and recreates it),
migrated, with one fleet of `--cards` drivers, each with a charge card and a vehicle
assigned, and a CSV of `--rows` one-hour sessions spread over those cards, none overlapping
another on its card, all in the past.

Import. `public_sessions_import` as the command and the admin call it: the file is read and
checked, then, under the fleet's lock, checked against what is stored (cards, CDR ids,
overlaps, assigned vehicles) and written. Timed from the file's bytes to the commit, best of
`--runs`, each run starting with none of the file's sessions stored; the queries of the last
run are counted.

Floor. The same rows as the sessions the import made (every column), written in one
transaction with one COPY into a table like charging_chargingsession with its indexes (no
foreign keys, no checks): the least any import of the file must write.

The last line printed is one JSON object with the figures.
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

FIRST_START = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)
PROCESS_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "voltop-bench-only-" + "i" * 40,
    "EMAIL_URL": "dummymail://",
}


def log(message: str) -> None:
    """Progress, on stderr: stdout holds the figures."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def database_recreate(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"the database name must contain 'bench', got {name!r}")
    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def database_drop(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fleet_seed(cards: int):
    """A fleet whose drivers each hold a card and drive a vehicle of their own."""
    from apps.drivers.models import ChargeToken, Driver
    from apps.fleets.models import Fleet
    from apps.vehicles.models import Vehicle, VehicleAssignment

    fleet = Fleet.objects.create(
        name="Import bench",
        slug="import-bench",
        currency="EUR",
        time_zone="Europe/Amsterdam",
        country="NL",
        default_vat_rate=21,
    )
    drivers = Driver.objects.bulk_create(
        Driver(
            fleet=fleet,
            first_name="Driver",
            last_name=f"{number:05d}",
            email=f"driver{number}@bench.voltop.example",
            employee_number=f"B{number:05d}",
        )
        for number in range(cards)
    )
    valid_from = FIRST_START - dt.timedelta(days=1)
    ChargeToken.objects.bulk_create(
        ChargeToken(driver=driver, uid=f"04B{number:05X}", valid_from=valid_from)
        for number, driver in enumerate(drivers)
    )
    vehicles = Vehicle.objects.bulk_create(
        Vehicle(
            fleet=fleet,
            vin=f"WVWZZZE1ZBN{number:06d}",
            plate=f"BN-{number:05d}",
            make="Volkswagen",
            model="ID.3",
            model_year=2023,
            usable_battery_kwh=77,
            max_ac_kw=11,
            max_dc_kw=135,
        )
        for number in range(cards)
    )
    VehicleAssignment.objects.bulk_create(
        VehicleAssignment(vehicle=vehicle, driver=driver, starts_at=valid_from)
        for vehicle, driver in zip(vehicles, drivers, strict=True)
    )
    return fleet


def csv_of(rows: int, cards: int) -> bytes:
    """`rows` one-hour sessions of 18.25 kWh, card after card; a card's next one is a day on."""
    lines = ["cdr_id,token_uid,start,end,energy_kwh,cost_excl_vat,cost_incl_vat,currency"]
    for number in range(rows):
        start = FIRST_START + dt.timedelta(days=number // cards)
        lines.append(
            f"BENCH-{number},04B{number % cards:05X},{start.isoformat()},"
            f"{(start + dt.timedelta(hours=1)).isoformat()},18.25,7.30,8.83,EUR"
        )
    return ("\n".join(lines) + "\n").encode()


def import_timed(fleet, content: bytes) -> tuple[float, int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.charging.services import public_sessions_import

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        report = public_sessions_import(fleet=fleet, content=content, file_format="csv")
        seconds = time.perf_counter() - started
    return seconds, len(queries), report


def floor_timed(fleet) -> float:
    """One COPY of the imported sessions' rows into a copy of the sessions table."""
    from django.db import connection, transaction

    from apps.charging.models import ChargingSession

    table = ChargingSession._meta.db_table
    columns = [field.column for field in ChargingSession._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE fleet_id = %s", [fleet.pk])
        rows = cursor.fetchall()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_sessions")
        cursor.execute(f"CREATE TABLE bench_sessions (LIKE {table} INCLUDING ALL)")
    raw = connection.connection
    started = time.perf_counter()
    copy_sql = f"COPY bench_sessions ({', '.join(columns)}) FROM STDIN"
    with raw.transaction(), raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(value) if isinstance(value, dict) else value for value in row]
            )
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_sessions")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--cards", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/voltop_bench_imports"
    )
    parser.add_argument("--keep", action="store_true", help="Keep the bench's database.")
    options = parser.parse_args()

    database_recreate(options.database_url)
    os.environ.update(PROCESS_ENVIRONMENT, DATABASE_URL=options.database_url)
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voltop.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from apps.charging.models import ChargingSession

    try:
        log("migrating")
        call_command("migrate", verbosity=0, skip_checks=True)
        log(f"seeding a fleet of {options.cards} cards and a file of {options.rows} rows")
        fleet = fleet_seed(options.cards)
        content = csv_of(options.rows, options.cards)
        import_seconds = []
        for run in range(options.runs):
            ChargingSession.objects.filter(fleet=fleet).delete()
            seconds, queries, report = import_timed(fleet, content)
            if report.imported != options.rows or report.errors:
                sys.exit(f"the import did not import every row: {report}")
            import_seconds.append(seconds)
            log(f"run {run + 1}: {seconds:.3f} s, {queries} queries")
        floor_seconds = min(floor_timed(fleet) for _ in range(options.runs))
    finally:
        from django.db import connections

        connections.close_all()
        if not options.keep:
            database_drop(options.database_url)

    best = min(import_seconds)
    figures = {
        "rows": options.rows,
        "cards": options.cards,
        "import_seconds_best": round(best, 3),
        "import_seconds_runs": [round(seconds, 3) for seconds in import_seconds],
        "import_rows_per_second": round(options.rows / best),
        "import_queries": queries,
        "floor_copy_seconds_best": round(floor_seconds, 3),
        "floor_rows_per_second": round(options.rows / floor_seconds),
        "ratio_to_floor": round(best / floor_seconds, 1),
    }
    print(
        f"import of {options.rows} rows on {options.cards} cards: best {best:.3f} s of "
        f"{options.runs} ({figures['import_rows_per_second']} rows/s), {queries} queries"
    )
    print(
        f"floor, one COPY of the same sessions: {floor_seconds:.3f} s "
        f"({figures['floor_rows_per_second']} rows/s); ratio {figures['ratio_to_floor']}x"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
