"""`manage.py import_sessions --fleet SLUG FILE`: import a provider's public charging sessions
from OCPI CDR JSON or the documented CSV, and print what happened to every row."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.charging.management.command_input import file_bytes, fleet_by_slug
from apps.charging.services import public_sessions_import

FORMATS = {".csv": "csv", ".json": "json"}


class Command(BaseCommand):
    help = (
        "Import public charging sessions from a .json file (OCPI 2.2.1 CDRs: one, a list, or "
        "an OCPI response whose data holds them) or a .csv file (the documented columns). "
        "With any bad row nothing is imported, unless --only-valid-rows is given. CDRs "
        "already imported are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet", required=True, metavar="SLUG", help="The fleet's slug.")
        parser.add_argument("file", metavar="FILE", help="A .json or .csv file.")
        parser.add_argument(
            "--only-valid-rows",
            action="store_true",
            dest="only_valid_rows",
            help="Import the valid rows even when others are bad.",
        )

    def handle(self, *args, **options) -> None:
        path = options["file"]
        file_format = FORMATS.get(Path(path).suffix.lower())
        if file_format is None:
            raise CommandError(f"{path}: the file name must end in .json or .csv.")
        fleet = fleet_by_slug(options["fleet"])
        report = public_sessions_import(
            fleet=fleet,
            content=file_bytes(path),
            file_format=file_format,
            only_valid_rows=options["only_valid_rows"],
        )
        self.stdout.write(f"Rows:             {report.rows}")
        self.stdout.write(f"Imported:         {report.imported}")
        self.stdout.write(f"Already imported: {report.already_imported}")
        where = "line" if file_format == "csv" else "CDR"
        for error in report.errors:
            place = "file" if error.line == 0 else f"{where} {error.line}"
            self.stdout.write(f"{place}: {error.reason}")
        if report.refused:
            advice = (
                ""
                if options["only_valid_rows"]
                else " Fix them, or pass --only-valid-rows to import the valid rows."
            )
            raise CommandError(
                f"Nothing imported: {len(report.errors)} error(s) in {path}.{advice}"
            )
        self.stdout.write(self.style.SUCCESS(f"Imported {report.imported} session(s)."))
