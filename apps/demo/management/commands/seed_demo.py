"""`manage.py seed_demo`: build the demo fleet, or with --sessions large load-test fleets."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.demo.seed import SeedReport, demo_fleet_seed, load_fleets_seed
from voltop.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Build the demo fleet 'demo' with logins for each role and priced sessions (DEBUG=true "
        "only). With --sessions N, build load-test fleets load-1 … load-F sharing N priced "
        "charging sessions (N/100 drivers) instead. Fleets that exist already are left as they "
        "are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sessions",
            type=int,
            help="Build load-test fleets with this many charging sessions in total.",
        )
        parser.add_argument(
            "--fleets",
            type=int,
            help="How many load-test fleets share the sessions (default 1).",
        )
        parser.add_argument(
            "--meter-values",
            type=int,
            dest="meter_values",
            help="Meter values per load-test session (default 0).",
        )

    def handle(self, *args, **options) -> None:
        sessions, fleets, meter_values = (
            options["sessions"],
            options["fleets"],
            options["meter_values"],
        )
        if sessions is None and (fleets is not None or meter_values is not None):
            raise CommandError("--fleets and --meter-values go with --sessions.")
        try:
            if sessions is None:
                report = demo_fleet_seed()
            else:
                report = load_fleets_seed(
                    sessions=sessions,
                    fleets=1 if fleets is None else fleets,
                    meter_values_per_session=0 if meter_values is None else meter_values,
                )
        except DomainError as error:
            raise CommandError(error.message) from error
        self._write_report(report)

    def _write_report(self, report: SeedReport) -> None:
        for slug in report.fleets_skipped:
            self.stdout.write(f"Fleet '{slug}' is present; left unchanged.")
        if report.fleets_created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Built fleet(s) {', '.join(report.fleets_created)} in {report.seconds:.1f} s:"
                )
            )
            width = max(map(len, report.rows_created))
            for model_name, count in report.rows_created.items():
                self.stdout.write(f"  {model_name:<{width}}  {count:>12,}")
        if report.logins:
            self.stdout.write(
                self.style.WARNING(
                    f"Demo logins, all with password '{report.password}' (local demo only):"
                )
            )
            for login in report.logins:
                self.stdout.write(f"  {login.role:<14} {login.username}")
            self.stdout.write("  Every demo driver logs in with their email address.")
