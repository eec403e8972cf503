"""`manage.py export_tariff --fleet SLUG OCPI_ID`: a tariff's latest published version as
OCPI 2.2.1 Tariff JSON."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.charging.management.command_input import fleet_by_slug, json_write
from apps.charging.models import Tariff
from apps.charging.selectors import tariff_latest_version


class Command(BaseCommand):
    help = (
        "Print (or write with -o) the latest published version of the fleet's tariff with "
        "this OCPI id as an OCPI 2.2.1 Tariff object."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet", required=True, metavar="SLUG", help="The fleet's slug.")
        parser.add_argument("ocpi_id", metavar="OCPI_ID", help="The tariff's OCPI id.")
        parser.add_argument("-o", "--output", metavar="FILE", help="Write to FILE.")

    def handle(self, *args, **options) -> None:
        fleet = fleet_by_slug(options["fleet"])
        tariff = Tariff.objects.filter(fleet=fleet, ocpi_id=options["ocpi_id"]).first()
        if tariff is None:
            raise CommandError(
                f"OCPI_ID: fleet {fleet.slug} has no tariff with OCPI id {options['ocpi_id']!r}."
            )
        version = tariff_latest_version(tariff)
        if version is None:
            raise CommandError(f"Tariff {tariff.ocpi_id} of fleet {fleet.slug} is not published.")
        json_write(
            version.terms,
            output=options["output"],
            stdout=self.stdout,
            what=f"tariff {tariff.ocpi_id} version {version.number}",
        )
