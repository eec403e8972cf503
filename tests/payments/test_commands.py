"""`manage.py billing_run`: the same service as the beat and the admin, from a shell."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.charging.choices import SessionStatus
from apps.payments.models import BillingRun, Invoice
from tests.factories import DriverFactory, FleetFactory
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db


def billing_run(*arguments: str) -> str:
    out = StringIO()
    call_command("billing_run", *arguments, stdout=out)
    return out.getvalue()


@pytest.fixture
def fleet():
    fleet = FleetFactory(slug="acme")
    driver = DriverFactory(fleet=fleet)
    priced_session_create(
        driver=driver,
        started_at=dt.datetime(2026, 10, 3, 8, tzinfo=dt.UTC),
        price_excl_vat=Decimal("10.00"),
    )
    return fleet


def test_with_wait_it_returns_when_the_run_has_finished_and_prints_its_figures(
    fleet, django_capture_on_commit_callbacks
):
    priced_session_create(
        driver=fleet.drivers.get(),
        started_at=dt.datetime(2026, 10, 4, 8, tzinfo=dt.UTC),
        status=SessionStatus.INVALID,
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing_run("--fleet", "acme", "--period", "2026-10")

    output = billing_run("--fleet", "acme", "--period", "2026-10", "--wait")

    run = BillingRun.objects.get()
    first_line, figures = output.splitlines()
    assert first_line == f"Billing run {run.pk} for acme 2026-10: completed"
    assert json.loads(figures) == {
        "run": run.pk,
        "fleet": "acme",
        "period": "2026-10",
        "status": "completed",
        "units": 1,
        "sessions": 1,
        "sessions_invoiced": 1,
        "sessions_allocated": 0,
        "sessions_reimbursed": 0,
        "sessions_of_earlier_periods": 0,
        "sessions_left_out": 1,
        "left_out": {"invalid": 1},
        "statements": 1,
        "invoices": 1,
        "invoiced_total": "12.10",
        "allocated_total": "0.00",
        "reimbursed_total": "0.00",
        "currency": "EUR",
    }


def test_without_wait_it_only_starts_the_run(fleet):
    output = billing_run("--fleet", "acme", "--period", "2026-10")

    assert output.strip().endswith("2026-10: pending")
    assert BillingRun.objects.get().status == "pending"
    assert not Invoice.objects.exists()


def test_wait_gives_up_after_its_timeout_and_says_the_run_goes_on(fleet):
    with pytest.raises(CommandError, match=r"had not finished after 0 s \(- units done\)"):
        billing_run("--fleet", "acme", "--period", "2026-10", "--wait", "--timeout", "0")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--fleet", "nope", "--period", "2026-10"], "--fleet: no fleet with the slug 'nope'"),
        (["--fleet", "acme", "--period", "2026-13"], "--period: '2026-13' is not a month"),
        (["--fleet", "acme", "--period", "2999-01"], "--period: The period 2999-01 ends on"),
    ],
)
def test_a_bad_fleet_or_period_is_refused_and_nothing_starts(fleet, arguments, message):
    with pytest.raises(CommandError, match=message):
        billing_run(*arguments)

    assert not BillingRun.objects.exists()
