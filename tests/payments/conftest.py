"""Fixtures of the payments tests."""

import pytest

from apps.payments import services
from apps.payments.models import BillingRun


@pytest.fixture
def run_billing(django_capture_on_commit_callbacks):
    """Bill a fleet's period as the beat, the admin and the command do; the work enqueued on
    commit runs as the transaction ends (Celery is eager in these tests)."""

    def run(fleet, label: str) -> BillingRun:
        with django_capture_on_commit_callbacks(execute=True):
            run, _ = services.billing_run_start(
                fleet=fleet, period=services.billing_period_for(fleet=fleet, label=label)
            )
        run.refresh_from_db()
        return run

    return run
