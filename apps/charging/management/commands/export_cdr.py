"""`manage.py export_cdr SESSION_ID`: a charging session as an OCPI 2.2.1 CDR."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.charging.management.command_input import json_write
from apps.charging.models import ChargingSession
from apps.charging.selectors import charging_session_as_cdr


class Command(BaseCommand):
    help = "Print (or write with -o) a charging session as an OCPI 2.2.1 CDR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("session_id", metavar="SESSION_ID", help="The session's id.")
        parser.add_argument("-o", "--output", metavar="FILE", help="Write to FILE.")

    def handle(self, *args, **options) -> None:
        session_id = str(options["session_id"])
        session = (
            ChargingSession.objects.select_related(
                "fleet", "driver", "token", "tariff_version", "connector__station__depot"
            )
            .filter(pk=int(session_id))
            .first()
            if session_id.isdigit()
            else None
        )
        if session is None:
            raise CommandError(f"SESSION_ID: no charging session has the id {session_id!r}.")
        cdr = charging_session_as_cdr(session)
        json_write(cdr, output=options["output"], stdout=self.stdout, what=f"CDR {cdr['id']}")
