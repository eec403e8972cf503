"""Billing in a real browser: a finance user watches a run's progress move without reloading,
and the page shows the completed run once the last unit is done."""

import datetime as dt

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from apps.fleets.choices import MembershipRole
from apps.payments.choices import BillingRunStatus
from apps.payments.models import BillingRun
from tests.e2e.admin_pages import admin_log_in
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def log_in(page: Page, base_url: str) -> None:
    admin_log_in(page, base_url, "finance", PASSWORD)


@pytest.fixture
def running_run() -> BillingRun:
    fleet = FleetFactory(name="Amsterdam buses")
    MembershipFactory(
        user=StaffUserFactory(username="finance"), fleet=fleet, role=MembershipRole.FINANCE
    )
    return BillingRun.objects.create(
        fleet=fleet,
        period_kind="monthly",
        period_label="2026-10",
        period_start=dt.datetime(2026, 9, 30, 22, tzinfo=dt.UTC),
        period_end=dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC),
        currency="EUR",
        status=BillingRunStatus.RUNNING,
        units_total=3,
        units_done=1,
    )


def test_the_run_list_follows_a_runs_progress_until_it_completes(
    live_server, page, running_run, screenshot_dir
):
    log_in(page, live_server.url)
    page.goto(live_server.url + reverse("admin:payments_billingrun_changelist"))
    progress = page.locator(".billing-run-progress")
    expect(progress).to_have_text("1/3")

    BillingRun.objects.filter(pk=running_run.pk).update(units_done=2)
    expect(progress).to_have_text("2/3", timeout=8_000)

    BillingRun.objects.filter(pk=running_run.pk).update(
        units_done=3, status=BillingRunStatus.COMPLETED
    )
    expect(page.locator("#result_list")).to_contain_text("Completed", timeout=8_000)
    expect(progress).to_have_text("3/3")
    page.screenshot(path=screenshot_dir / "billing-run-list.png", full_page=True)
