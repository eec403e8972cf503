"""`manage.py export KIND --fleet SLUG (--period P | --from D --to D) --format F -o FILE`:
a finance export written to a file (or standard output), with its manifest recorded."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.exports.choices import ExportFormat, ExportKind
from apps.exports.services import (
    export_default_format,
    export_fleet_get,
    export_request_check,
    export_write,
)
from apps.fleets.choices import MembershipRole
from voltop.core.errors import DomainError


class Command(BaseCommand):
    help = "Export a fleet's sessions, invoices, VAT, allocations, reimbursements or payments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", help=f"One of: {', '.join(ExportKind.values)}.")
        parser.add_argument("--fleet", required=True, help="The fleet's slug.")
        parser.add_argument(
            "--period", default="", help='A billing period: "2026-10" or "2026-W44".'
        )
        parser.add_argument("--from", dest="first_day", help="The first day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="last_day", help="The last day, YYYY-MM-DD (included).")
        parser.add_argument(
            "--format",
            dest="file_format",
            default="",
            help=f"One of: {', '.join(ExportFormat.values)}; by default the kind's first "
            "(csv, or datev for the DATEV batch).",
        )
        parser.add_argument(
            "-o", "--output", required=True, help='The file to write; "-" for standard output.'
        )

    def handle(self, *args, **options) -> None:
        try:
            fleet = export_fleet_get(slug=options["fleet"])
            request = export_request_check(
                fleet=fleet,
                kind=options["kind"],
                file_format=options["file_format"] or export_default_format(options["kind"]),
                role=MembershipRole.ADMIN,
                period=options["period"],
                first_day=options["first_day"],
                last_day=options["last_day"],
            )
        except DomainError as error:
            raise CommandError(
                f"{error.field}: {error.message}" if error.field else error.message
            ) from error
        output = options["output"]
        if output != "-":
            _output_check(Path(output))
        try:
            manifest = self._write(request, output)
        except DomainError as error:
            raise CommandError(
                f"{error.field}: {error.message}" if error.field else error.message
            ) from error
        self.stderr.write(
            f"{manifest.file_name}: {manifest.row_count} rows, {manifest.size_bytes} bytes, "
            f"SHA-256 {manifest.sha256} (manifest {manifest.pk})"
        )

    @staticmethod
    def _write(request, output: str):
        """Write the file to `output` (or standard output): under a `.partial` name renamed
        once complete, removed if the writing fails or is refused."""
        if output == "-":
            return export_write(
                request=request, out=sys.stdout.buffer, requested_by_name="command line"
            )
        path = Path(output)
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as out:
                manifest = export_write(request=request, out=out, requested_by_name="command line")
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(path)
        return manifest


def _output_check(path: Path) -> None:
    """Refuse, before anything is written, a file that cannot be put where it is asked."""
    if path.is_dir():
        raise CommandError(f"output: {path} is a directory; name a file in it.")
    if not path.parent.is_dir():
        raise CommandError(f"output: there is no directory {path.parent}.")
