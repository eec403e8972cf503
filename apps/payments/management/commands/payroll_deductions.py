"""`manage.py payroll_deductions --fleet SLUG --period P prepare | record --idempotency-key K
[--received-at T] | cancel`: a fleet's payroll deduction of a period, through the services the
admin and the API use."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.fleets.models import Fleet
from apps.payments.documents import money_text
from apps.payments.models import PayrollDeduction
from apps.payments.payroll import (
    payroll_deduction_cancel,
    payroll_deduction_of_period,
    payroll_deduction_prepare,
    payroll_deduction_record,
)
from apps.payments.services import billing_period_for
from voltop.core.errors import DomainError


def _aware_time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise CommandError(f"--received-at: {text!r} is not an ISO 8601 time.") from error
    if moment.tzinfo is None:
        raise CommandError("--received-at: give the time with its offset, e.g. +01:00.")
    return moment


class Command(BaseCommand):
    help = (
        "Prepare a fleet's payroll deduction of a billed period (its open invoices, held for "
        "the payroll), record the payroll run that deducted it (each invoice settled once by a "
        "payroll payment; the same key again changes nothing), or cancel it (its invoices "
        "freed). The file for the payroll: manage.py export payroll-deductions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet", required=True, metavar="SLUG")
        parser.add_argument("--period", required=True, metavar="PERIOD")
        steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")
        steps.add_parser("prepare", help="Prepare the period's deduction.")
        record = steps.add_parser("record", help="Record that the payroll deducted it.")
        record.add_argument("--idempotency-key", required=True, metavar="KEY")
        record.add_argument(
            "--received-at",
            type=_aware_time,
            metavar="TIME",
            help="When the payroll deducted it, ISO 8601 with offset; now by default.",
        )
        steps.add_parser("cancel", help="Cancel the prepared deduction, freeing its invoices.")

    def handle(self, *args, **options) -> None:
        fleet = Fleet.objects.filter(slug=options["fleet"]).first()
        if fleet is None:
            raise CommandError(f"--fleet: no fleet with the slug {options['fleet']!r}.")
        try:
            deduction = self._step(fleet, options)
        except DomainError as error:
            field = (error.field or "period").replace("_", "-")
            raise CommandError(f"--{field}: {error.message}") from error
        self.stdout.write(_summary(deduction))

    def _step(self, fleet: Fleet, options: dict) -> PayrollDeduction:
        if options["step"] == "prepare":
            deduction, _ = payroll_deduction_prepare(fleet=fleet, period_label=options["period"])
            return deduction
        period = billing_period_for(fleet=fleet, label=options["period"])
        deduction = payroll_deduction_of_period(
            fleet=fleet, period_start=period.start, period_end=period.end
        )
        if deduction is None:
            raise CommandError(
                f"--period: {fleet.slug} has no payroll deduction for {period.label}; "
                "prepare it first."
            )
        if options["step"] == "cancel":
            return payroll_deduction_cancel(deduction=deduction)
        return payroll_deduction_record(
            deduction=deduction,
            idempotency_key=options["idempotency_key"],
            received_at=options["received_at"],
        )


def _summary(deduction: PayrollDeduction) -> str:
    text = (
        f"Payroll deduction {deduction.pk} of {deduction.fleet.slug} {deduction.period_label}: "
        f"{deduction.status}, {deduction.item_count} invoices of {deduction.driver_count} "
        f"drivers, {money_text(deduction.total, deduction.currency)} to deduct"
    )
    if deduction.settled_total is not None:
        text += f", {money_text(deduction.settled_total, deduction.currency)} settled"
    return text
