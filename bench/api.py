"""Benchmark: GET my sessions (a page of 50, as a driver with a real JWT) from gunicorn with 2
workers on PostgreSQL, next to the floor measured in the same run: a plain Django view (no DRF,
no authentication) answering the same 50 rows as JSON from one .values() query.

    .venv/bin/python bench/api.py [--sessions 1000000] [--database-url URL] [--seconds 10]
                                  [--rounds 5]

Data: a database of its own (default postgres://postgres@127.0.0.1:5432/voltop_bench_api),
migrated and seeded once with `manage.py seed_demo --sessions N --fleets 1`, then reused. The
driver with the most sessions gets a login. Load: wrk (Debian package `wrk`) on 8 connections
and 2 threads, after a warm-up, against gunicorn (2 sync workers) on loopback, DEBUG off.

The API and the floor are measured in turns, `--rounds` times each, so that a slower spell of
the machine falls on both; the figures are the medians of the rounds, and the ratio is the
median of each round's API p50 over that round's floor p50. The last line printed is
one JSON object with the figures.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = secrets.token_urlsafe(16)
ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "voltop-bench-only-" + "a" * 40,
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "CONN_MAX_AGE": "600",
    "LOG_LEVEL": "WARNING",
    "API_LOGIN_RATE": "1000/min",
}
LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def database_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def manage(environment: dict, *arguments: str) -> str:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *arguments],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def database_ready(url: str, sessions: int, environment: dict) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    manage(environment, "migrate", "--no-input")
    with psycopg.connect(url) as connection:
        seeded = connection.execute(
            "SELECT count(*) FROM charging_chargingsession s JOIN fleets_fleet f "
            "ON f.id = s.fleet_id WHERE f.slug = 'load-1'"
        ).fetchone()[0]
    if seeded == 0:
        log(f"seeding {sessions:,} sessions (once; the database is kept for the next run)")
        manage(environment, "seed_demo", "--sessions", str(sessions), "--fleets", "1")


DRIVER_LOGIN = """
from django.contrib.auth import get_user_model
from django.db.models import Count
from apps.drivers.models import Driver
driver = (
    Driver.objects.filter(fleet__slug="load-1")
    .annotate(n=Count("sessions")).order_by("-n", "pk").first()
)
User = get_user_model()
user = driver.user or User(username=f"bench-driver-{driver.pk}")
user.email = f"bench-driver-{driver.pk}@bench.voltop.example"
user.set_password("%s")
user.save()
if driver.user_id != user.pk:
    driver.user = user
    driver.save(update_fields=["user"])
print(driver.pk, user.email, driver.n)
"""


def driver_with_login(environment: dict) -> tuple[int, str, int]:
    output = manage(environment, "shell", "-c", DRIVER_LOGIN % PASSWORD).splitlines()[-1].split()
    return int(output[0]), output[1], int(output[2])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_start(environment: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            str(BIN / "gunicorn"),
            "voltop.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env={**environment, "DJANGO_SETTINGS_MODULE": "bench.api_settings"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start within 60 s")


def access_token(port: int, email: str) -> str:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/login/",
        data=json.dumps({"email": email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback
        return json.load(response)["access"]


def milliseconds(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: int, headers: list[str]) -> dict:
    arguments = ["wrk", "--threads", "2", "--connections", "8", "--latency"]
    for header in headers:
        arguments += ["--header", header]
    subprocess.run([*arguments, "--duration", "2s", url], capture_output=True, check=True)  # noqa: S603
    output = subprocess.run(  # noqa: S603 - fixed arguments
        [*arguments, "--duration", f"{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"wrk saw error responses from {url}:\n{output}")
    latencies = {p: milliseconds(v, u) for p, v, u in LATENCY.findall(output)}
    return {
        "rps": float(RATE.search(output)[1]),
        "p50_ms": latencies["50"],
        "p99_ms": latencies["99"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_API_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voltop_bench_api"
        ),
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/api.py needs wrk: apt install wrk")
    environment = {**os.environ, **ENVIRONMENT, "DATABASE_URL": options.database_url}
    environment.pop("REDIS_URL", None)
    database_ready(options.database_url, options.sessions, environment)
    driver_id, email, driver_sessions = driver_with_login(environment)
    port = free_port()
    server = gunicorn_start(environment, port)
    rounds = []
    try:
        token = access_token(port, email)
        for number in range(1, options.rounds + 1):
            api = wrk(
                f"http://127.0.0.1:{port}/api/v1/me/sessions/?page_size=50",
                options.seconds,
                [f"Authorization: Bearer {token}"],
            )
            floor = wrk(
                f"http://127.0.0.1:{port}/bench/floor/sessions/?driver={driver_id}",
                options.seconds,
                [],
            )
            rounds.append((api, floor))
            print(
                f"round {number}: API {api['rps']:,.0f}/s p50 {api['p50_ms']:.2f} ms; "
                f"floor {floor['rps']:,.0f}/s p50 {floor['p50_ms']:.2f} ms; "
                f"ratio {api['p50_ms'] / floor['p50_ms']:.2f}x"
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    def median(side: int, figure: str) -> float:
        return statistics.median(measured[side][figure] for measured in rounds)

    api = {figure: median(0, figure) for figure in ("rps", "p50_ms", "p99_ms")}
    floor = {figure: median(1, figure) for figure in ("rps", "p50_ms", "p99_ms")}
    round_ratios = [
        api_round["p50_ms"] / floor_round["p50_ms"] for api_round, floor_round in rounds
    ]
    ratio = statistics.median(round_ratios)
    print(
        f"data                     {options.sessions:,} sessions; the driver has {driver_sessions}"
    )
    print(
        f"GET /api/v1/me/sessions/ {api['rps']:,.0f} requests/s, "
        f"p50 {api['p50_ms']:.2f} ms, p99 {api['p99_ms']:.2f} ms (JWT, page of 50; "
        f"medians of {len(rounds)} rounds)"
    )
    print(
        f"floor (plain view)       {floor['rps']:,.0f} requests/s, "
        f"p50 {floor['p50_ms']:.2f} ms, p99 {floor['p99_ms']:.2f} ms"
    )
    print(f"ratio                    {ratio:.2f}x the floor's p50 (median of the rounds' ratios)")
    print(
        json.dumps(
            {
                "bench": "api",
                "rps": round(api["rps"]),
                "p50_ms": api["p50_ms"],
                "p99_ms": api["p99_ms"],
                "floor_rps": round(floor["rps"]),
                "floor_p50_ms": floor["p50_ms"],
                "floor_p99_ms": floor["p99_ms"],
                "ratio": round(ratio, 2),
                "round_ratios": [round(value, 2) for value in round_ratios],
                "sessions": options.sessions,
                "connections": 8,
                "workers": 2,
            }
        )
    )


if __name__ == "__main__":
    main()
