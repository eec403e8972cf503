"""`manage.py price_cdr TARIFF.json CDR.json`: price an OCPI CDR's charging periods with an OCPI
tariff and print the breakdown, to check a provider's invoice."""

import json
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.charging.management.command_input import json_file
from apps.charging.ocpi import OcpiFormatError, cdr_from_ocpi, tariff_terms_from_ocpi
from apps.charging.pricing import price_session


def _ocpi_object(document):
    """An OCPI object, also when it comes wrapped in an OCPI response's `data`."""
    if isinstance(document, dict) and "data" in document:
        return document["data"]
    return document


class Command(BaseCommand):
    help = (
        "Price the charging periods of an OCPI 2.2.1 CDR with an OCPI 2.2.1 tariff and print "
        "the breakdown as JSON: totals under the OCPI CDR field names in 'ocpi', every priced "
        "period and line, the restrictions the CDR lacks the data for in "
        "'unknown_restrictions', and the cost the CDR itself states. Time-of-day restrictions "
        "are read in --timezone (UTC unless given: pass the charger's zone)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tariff", metavar="TARIFF.json", help="An OCPI Tariff object.")
        parser.add_argument("cdr", metavar="CDR.json", help="An OCPI CDR object.")
        parser.add_argument(
            "--timezone",
            default="UTC",
            metavar="ZONE",
            help="IANA zone of the charger, e.g. Europe/Amsterdam (default UTC).",
        )

    def handle(self, *args, **options) -> None:
        try:
            zone = ZoneInfo(options["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise CommandError(
                f"--timezone {options['timezone']!r} is not an IANA time zone."
            ) from error
        try:
            terms = tariff_terms_from_ocpi(_ocpi_object(json_file(options["tariff"])))
        except OcpiFormatError as error:
            raise CommandError(f"{options['tariff']}: {error.message}") from error
        try:
            cdr = cdr_from_ocpi(_ocpi_object(json_file(options["cdr"])))
        except OcpiFormatError as error:
            raise CommandError(f"{options['cdr']}: {error.message}") from error
        if cdr.currency != terms.currency:
            raise CommandError(
                f"cdr.currency {cdr.currency} is not the tariff.currency {terms.currency}."
            )
        if not cdr.periods:
            raise CommandError(f"{options['cdr']}: cdr.charging_periods holds nothing to price.")
        breakdown = price_session(terms=terms, periods=cdr.periods, zone=zone)
        stated = cdr.total_cost
        result = {
            "cdr_id": cdr.cdr_id,
            "cdr_total_cost": None
            if stated is None
            else {
                "excl_vat": str(stated.excl_vat),
                "incl_vat": None if stated.incl_vat is None else str(stated.incl_vat),
            },
            **breakdown.as_dict(),
        }
        self.stdout.write(json.dumps(result, indent=2))
