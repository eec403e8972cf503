"""`manage.py ocpp_simulate --fleet demo --stations 3`: simulated depot chargers of a fleet,
charging its drivers' cars against the local OCPP gateway."""

import argparse
import asyncio
import logging
import signal

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.ocpp.simulator import (
    FRAMES_LOGGER_NAME,
    SimulationOptions,
    SimulationPlan,
    SimulationReport,
    depot_simulate,
    simulation_prepare,
)
from voltop.core.errors import DomainError


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of 1 or more.")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds, 0 or more.")
    return value


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds above 0.")
    return value


async def simulation_run_until_stopped(
    plan: SimulationPlan, options: SimulationOptions
) -> SimulationReport:
    """Run the simulation until its sessions are done or SIGINT or SIGTERM comes; then the
    chargers stop their transactions and close their connections."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop_signal, stopping.set)
    return await depot_simulate(plan, options, stopping=stopping)


class Command(BaseCommand):
    help = (
        "Run simulated OCPP 1.6J chargers for the first N depot stations of a fleet (by OCPP "
        "identity) against the gateway at ws://HOST:PORT/ocpp/. Each station gets a new "
        "password, then its charger boots and charges the fleet's active drivers one session "
        "after another on each connector, until --sessions are done or Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet", required=True, help="Slug of the fleet, e.g. demo.")
        parser.add_argument(
            "--stations", type=_positive_int, default=1, help="How many stations (default 1)."
        )
        parser.add_argument("--host", default="127.0.0.1", help="The gateway's address.")
        parser.add_argument("--port", type=int, default=9000, help="The gateway's port.")
        parser.add_argument(
            "--sessions",
            type=_positive_int,
            help="Sessions per connector, then stop; without it, run until Ctrl-C.",
        )
        parser.add_argument(
            "--meter-seconds",
            type=_positive_seconds,
            default=10.0,
            help="Seconds between meter readings (default 10).",
        )
        parser.add_argument(
            "--session-seconds",
            type=_seconds,
            default=60.0,
            help="Seconds a session lasts (default 60).",
        )
        parser.add_argument(
            "--pause-seconds",
            type=_seconds,
            default=5.0,
            help="Seconds a connector rests between sessions (default 5).",
        )

    def handle(self, *args, **options) -> None:
        try:
            plan = simulation_prepare(
                fleet_slug=options["fleet"], station_count=options["stations"], at=timezone.now()
            )
        except DomainError as error:
            raise CommandError(f"--{error.field}: {error.message}") from error
        if len(plan.stations) < options["stations"]:
            self.stdout.write(
                f"Fleet '{plan.fleet_slug}' has {len(plan.stations)} depot station(s) to "
                "simulate; simulating all of them."
            )
        self.stdout.write(
            f"Simulating {', '.join(station.ocpp_identity for station in plan.stations)} "
            f"against ws://{options['host']}:{options['port']}/ocpp/ "
            + (
                f"for {options['sessions']} session(s) per connector."
                if options["sessions"]
                else "until Ctrl-C."
            )
        )
        logging.getLogger(FRAMES_LOGGER_NAME).setLevel(
            logging.INFO if options["verbosity"] >= 2 else logging.WARNING
        )
        report = asyncio.run(
            simulation_run_until_stopped(
                plan,
                SimulationOptions(
                    host=options["host"],
                    port=options["port"],
                    meter_seconds=options["meter_seconds"],
                    session_seconds=options["session_seconds"],
                    pause_seconds=options["pause_seconds"],
                    sessions_per_connector=options["sessions"],
                ),
            )
        )
        self._write_report(report)

    def _write_report(self, report: SimulationReport) -> None:
        for identity, sessions in report.sessions_by_station.items():
            self.stdout.write(f"  {identity}: {sessions} session(s)")
        self.stdout.write(self.style.SUCCESS(f"Completed {report.sessions} session(s)."))
        if report.failures:
            failures = "; ".join(
                f"{identity}: {error}" for identity, error in report.failures.items()
            )
            raise CommandError(f"Some chargers failed: {failures}")
