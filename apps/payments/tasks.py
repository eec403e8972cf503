"""Celery tasks of the payments app: thin, they take ids and call one service. Every task is
idempotent, acknowledged late (a killed worker's task is delivered again) and retried with
backoff when the database connection fails."""

import logging
from smtplib import SMTPException

from celery import shared_task
from django.utils import timezone

from apps.payments import services
from apps.payments.models import BillingRun, Invoice

logger = logging.getLogger(__name__)

TRANSIENT = {
    "acks_late": True,
    "autoretry_for": services.TRANSIENT_DATABASE_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 8,
}


@shared_task(**TRANSIENT)
def plan_billing_run(run_id: int) -> None:
    """Split a run into units and start its lanes."""
    run = BillingRun.objects.filter(pk=run_id).first()
    if run is not None:
        services.billing_run_plan(run=run)


@shared_task(**TRANSIENT)
def advance_billing_run(run_id: int) -> bool:
    """Bill the run's next pending unit; the lane re-queues itself while work remains."""
    return services.billing_run_advance(run_id=run_id)


@shared_task(**TRANSIENT)
def finalize_billing_run(run_id: int) -> None:
    """Issue the run's invoices and complete it once its last unit is done."""
    run = BillingRun.objects.filter(pk=run_id).first()
    if run is not None:
        services.billing_run_finalize(run=run)


@shared_task(**TRANSIENT)
def start_due_billing_runs() -> int:
    """The beat's hourly call: start each fleet's run for the period that last ended in its
    zone, once the fleet's first day after it has begun. Returns how many runs it started."""
    return services.billing_runs_start_due(now=timezone.now())


@shared_task(
    **{
        **TRANSIENT,
        "autoretry_for": (*services.TRANSIENT_DATABASE_ERRORS, SMTPException, OSError),
    }
)
def send_invoice_email(invoice_id: int) -> None:
    """E-mail one issued invoice to its driver, once."""
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is not None:
        services.invoice_email_send(invoice=invoice)


@shared_task(**TRANSIENT)
def send_billing_run_invoices(run_id: int) -> int:
    """Enqueue the e-mails of the run's issued invoices that have not been sent yet."""
    return services.billing_run_invoices_email(run_id=run_id)


@shared_task(**TRANSIENT)
def send_unsent_invoice_emails() -> int:
    """The beat's hourly sweep for issued invoices whose e-mail never went out."""
    return services.invoices_unsent_email(now=timezone.now())
