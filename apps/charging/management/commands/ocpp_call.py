"""`manage.py ocpp_call --identity ID ACTION 'JSON'`: send an OCPP 1.6 central-system call to a
connected station through the gateway and print the charger's answer as JSON."""

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.charging.charger_calls import CENTRAL_SYSTEM_ACTIONS, charger_call_request
from apps.charging.choices import ChargerCallStatus
from apps.charging.models import ChargerCall, ChargingStation
from voltop.core.errors import DomainError

# How long past the gateway's own call timeout to wait for the gateway to record the outcome.
RECORDING_MARGIN_SECONDS = 10
LOOK_EVERY_SECONDS = 0.2


class Command(BaseCommand):
    help = (
        "Send an OCPP 1.6 call to a connected station through the running gateway and print "
        "the charger's answer as JSON. ACTION is one of: "
        + ", ".join(sorted(CENTRAL_SYSTEM_ACTIONS))
        + "."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--identity", required=True, metavar="ID", help="The station's OCPP identity."
        )
        parser.add_argument("action", metavar="ACTION", help="The OCPP 1.6 action, e.g. Reset.")
        parser.add_argument(
            "payload",
            metavar="JSON",
            nargs="?",
            default="{}",
            help='The payload as OCPP writes it, e.g. \'{"type": "Soft"}\'.',
        )

    def handle(self, *args, **options) -> None:
        station = ChargingStation.objects.filter(ocpp_identity=options["identity"]).first()
        if station is None:
            raise CommandError(f"--identity: no station connects as {options['identity']!r}.")
        try:
            payload = json.loads(options["payload"])
        except json.JSONDecodeError as error:
            raise CommandError(f"JSON: not valid JSON ({error.msg}).") from error
        try:
            call = charger_call_request(
                station=station, action=options["action"], payload=payload, now=timezone.now()
            )
        except DomainError as error:
            raise CommandError(f"{(error.field or 'ACTION').upper()}: {error.message}") from error
        call = self._outcome(call)
        if call.status == ChargerCallStatus.ANSWERED:
            self.stdout.write(json.dumps(call.answer, indent=2, sort_keys=True))
            return
        if call.status == ChargerCallStatus.FAILED:
            raise CommandError(f"{call.action} to {station.ocpp_identity} failed: {call.error}")
        state = call.get_status_display().lower()
        raise CommandError(
            f"{call.action} to {station.ocpp_identity}: {state} and no answer recorded; is the "
            "gateway (manage.py ocpp_gateway) running?"
        )

    @staticmethod
    def _outcome(call: ChargerCall) -> ChargerCall:
        """The call once the gateway recorded its outcome, or as it is when the wait ends."""
        deadline = time.monotonic() + settings.OCPP_CALL_TIMEOUT_SECONDS + RECORDING_MARGIN_SECONDS
        while True:
            call.refresh_from_db()
            if call.status in (ChargerCallStatus.ANSWERED, ChargerCallStatus.FAILED):
                return call
            if time.monotonic() >= deadline:
                return call
            time.sleep(LOOK_EVERY_SECONDS)
