"""`manage.py import_tariff --fleet SLUG FILE.json`: create or update a fleet's tariff from an
OCPI 2.2.1 Tariff object and publish it."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.charging.management.command_input import fleet_by_slug, json_file
from apps.charging.selectors import tariff_latest_version
from apps.charging.services import tariff_import_ocpi
from voltop.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create or update the fleet's tariff with the file's OCPI id from an OCPI 2.2.1 Tariff "
        "object, and publish it as a new version in force from now (the same terms again "
        "publish nothing)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet", required=True, metavar="SLUG", help="The fleet's slug.")
        parser.add_argument("file", metavar="FILE.json", help="An OCPI Tariff object.")
        parser.add_argument("--name", default="", help="The tariff's name in Voltop.")

    def handle(self, *args, **options) -> None:
        fleet = fleet_by_slug(options["fleet"])
        document = json_file(options["file"])
        if not isinstance(document, dict):
            raise CommandError(f"{options['file']}: a tariff must be a JSON object.")
        try:
            tariff, _ = tariff_import_ocpi(fleet=fleet, document=document, name=options["name"])
        except DomainError as error:
            raise CommandError(f"{options['file']}: {error.message}") from error
        version = tariff_latest_version(tariff)
        self.stdout.write(
            self.style.SUCCESS(
                f"Tariff {tariff.ocpi_id} '{tariff.name}' of fleet {fleet.slug}: version "
                f"{version.number}, in force from {version.effective_from:%Y-%m-%d %H:%M:%S %Z}."
            )
        )
