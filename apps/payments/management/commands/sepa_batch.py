"""`manage.py sepa_batch --fleet SLUG -o FILE.xml [--execution-date YYYY-MM-DD]`: make a SEPA
payout batch of a fleet's approved, unpaid reimbursements and owed refunds, and write its
pain.001.001.09 file; a refusal leaves no file and no batch."""

import datetime as dt
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.fleets.models import Fleet
from apps.payments.payouts import payout_batch_create, payout_batch_xml
from voltop.core.errors import DomainError


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--execution-date: {value!r} is not a date YYYY-MM-DD.") from error


class Command(BaseCommand):
    help = (
        "Make a SEPA payout batch (pain.001.001.09) of all approved, unpaid reimbursements of "
        "a fleet and, when the fleet pays refunds out, its owed refunds, and write its file. "
        "Prints what it pays and which payees it left out and why. A refusal leaves no file "
        "and no batch."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet", required=True, metavar="SLUG")
        parser.add_argument("-o", "--output", required=True, metavar="FILE.xml")
        parser.add_argument(
            "--execution-date",
            type=_date,
            default=None,
            metavar="YYYY-MM-DD",
            help="When the bank is to pay (default: today in the fleet's zone).",
        )

    def handle(self, *args, **options) -> None:
        fleet = Fleet.objects.filter(slug=options["fleet"]).first()
        if fleet is None:
            raise CommandError(f"--fleet: no fleet with the slug {options['fleet']!r}.")
        target = Path(options["output"])
        if target.exists():
            raise CommandError(f"-o: {target} exists; name a new file.")
        if not target.parent.is_dir():
            raise CommandError(f"-o: the folder {target.parent} does not exist.")
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        try:
            with os.fdopen(descriptor, "wb") as file, transaction.atomic():
                created = payout_batch_create(
                    fleet=fleet, created_by=None, execution_date=options["execution_date"]
                )
                file.write(payout_batch_xml(created.batch))
                file.flush()
                os.fsync(file.fileno())
        except DomainError as error:
            Path(temporary).unlink(missing_ok=True)
            raise CommandError(f"--{error.field or 'fleet'}: {error.message}") from error
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        os.replace(temporary, target)
        self._report(created, target)

    def _report(self, created, target: Path) -> None:
        batch = created.batch
        self.stdout.write(
            f"Payout batch {batch.message_id}: {batch.item_count} transfers, {batch.total} "
            f"{batch.currency}, to be executed on {batch.requested_execution_date.isoformat()}; "
            f"written to {target} (SHA-256 {batch.sha256})."
        )
        for item in batch.items.select_related("driver").order_by("pk"):
            self.stdout.write(
                f"  paid: {item.end_to_end_id} {item.amount} {batch.currency} to "
                f"{item.creditor_name} ({item.driver.employee_number}): {item.remittance}"
            )
        for left_out in created.left_out:
            self.stdout.write(f"  left out: {left_out}")
