"""`manage.py ocpp_station --fleet SLUG --identity ID --password PW`: create a charging station,
or update its password, for chargers set up by automation."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.charging.chargers import charging_station_password_set
from apps.charging.models import ChargingStation
from apps.charging.services import charging_station_create
from apps.fleets.models import Fleet
from voltop.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create the station with this OCPP identity in the fleet, or update its password, so "
        "its charger can connect to the OCPP gateway."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet", required=True, metavar="SLUG", help="The fleet's slug.")
        parser.add_argument(
            "--identity", required=True, metavar="ID", help="The charge point identity."
        )
        parser.add_argument(
            "--password", required=True, metavar="PW", help="16 to 40 printable characters."
        )
        parser.add_argument("--vendor", default="", help="For a new station (default: unknown).")
        parser.add_argument("--model", default="", help="For a new station (default: unknown).")

    def handle(self, *args, **options) -> None:
        fleet = Fleet.objects.filter(slug=options["fleet"]).first()
        if fleet is None:
            raise CommandError(f"--fleet: no fleet has the slug {options['fleet']!r}.")
        identity = options["identity"].strip()
        try:
            with transaction.atomic():
                station = ChargingStation.objects.filter(ocpp_identity=identity).first()
                created = station is None
                if created:
                    station = charging_station_create(
                        fleet=fleet,
                        ocpp_identity=identity,
                        vendor=options["vendor"] or "unknown",
                        model=options["model"] or "unknown",
                    )
                elif station.fleet_id != fleet.pk:
                    raise CommandError(f"--identity: station {identity} belongs to another fleet.")
                charging_station_password_set(station=station, password=options["password"])
        except DomainError as error:
            raise CommandError(f"--{error.field or 'identity'}: {error.message}") from error
        self.stdout.write(
            f"{'Created' if created else 'Updated'} station {identity} in {fleet.slug}."
        )
