"""`manage.py billing_run --fleet SLUG --period 2026-10 [--wait]`: bill a fleet's period in the
background, through the same service the beat schedule and the admin use."""

import json
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.fleets.models import Fleet
from apps.payments.choices import BillingRunStatus
from apps.payments.models import BillingRun
from apps.payments.selectors import billing_run_left_out
from apps.payments.services import billing_period_for, billing_run_start
from voltop.core.errors import DomainError

FINISHED = (BillingRunStatus.COMPLETED, BillingRunStatus.FAILED)


class Command(BaseCommand):
    help = (
        "Start the billing run of a fleet's period (a month such as 2026-10, or an ISO week "
        "such as 2026-W44 for weekly fleets). A run that exists already is returned, and "
        "resumed if it has not completed. With --wait, return once it has finished and print "
        "its counts and totals as JSON, with the sessions of the period it left out, by reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet", required=True, metavar="SLUG")
        parser.add_argument("--period", required=True, metavar="PERIOD")
        parser.add_argument("--wait", action="store_true", help="Wait until the run finishes.")
        parser.add_argument(
            "--timeout", type=float, default=3600, help="Seconds --wait waits (default 3600)."
        )

    def handle(self, *args, **options) -> None:
        fleet = Fleet.objects.filter(slug=options["fleet"]).first()
        if fleet is None:
            raise CommandError(f"--fleet: no fleet with the slug {options['fleet']!r}.")
        try:
            run, _ = billing_run_start(
                fleet=fleet, period=billing_period_for(fleet=fleet, label=options["period"])
            )
        except DomainError as error:
            raise CommandError(f"--{error.field or 'period'}: {error.message}") from error
        self.stdout.write(f"Billing run {run.pk} for {fleet.slug} {run.period_label}: {run.status}")
        if not options["wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        while run.status not in FINISHED:
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Run {run.pk} had not finished after {options['timeout']:.0f} s "
                    f"({run.progress_text} units done); it goes on in the background."
                )
            time.sleep(0.5)
            run = BillingRun.objects.get(pk=run.pk)
        self.stdout.write(json.dumps(_run_figures(run)))
        if run.status == BillingRunStatus.FAILED:
            raise CommandError(f"Run {run.pk} failed: {run.error}")


def _run_figures(run: BillingRun) -> dict:
    return {
        "run": run.pk,
        "fleet": run.fleet.slug,
        "period": run.period_label,
        "status": run.status,
        "units": run.units_total,
        "sessions": run.session_count,
        "sessions_invoiced": run.invoiced_session_count,
        "sessions_allocated": run.allocated_session_count,
        "sessions_reimbursed": run.reimbursed_session_count,
        "sessions_of_earlier_periods": run.earlier_session_count,
        "sessions_left_out": run.left_out_count,
        "left_out": dict(billing_run_left_out(run)),
        "statements": run.statement_count,
        "invoices": run.invoice_count,
        "invoiced_total": str(run.invoiced_total),
        "allocated_total": str(run.allocated_total),
        "reimbursed_total": str(run.reimbursed_total),
        "currency": run.currency,
    }
