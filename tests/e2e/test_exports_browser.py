"""Exports in a real browser: finance opens the Exports page from the admin, asks for
October's sessions as CSV, and the browser saves the file, headed by the columns."""

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from apps.exports.models import ExportManifest
from apps.fleets.choices import MembershipRole
from tests.exports import conftest as exports_fixtures
from tests.factories import MembershipFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The exports tests' fleet billed for October 2026, with the clock on 3 November.
billed_fleet = exports_fixtures.billed_fleet
frozen_after_october = exports_fixtures.frozen_after_october

PASSWORD = "correct horse battery staple"


def log_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.get_by_label("Username").fill("finance")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_finance_downloads_octobers_sessions_as_csv_from_the_exports_page(
    live_server, page, billed_fleet, screenshot_dir
):
    MembershipFactory(
        user=StaffUserFactory(username="finance"), fleet=billed_fleet, role=MembershipRole.FINANCE
    )
    log_in(page, live_server.url)

    page.get_by_role("link", name="Exports", exact=True).click()
    page.get_by_role("link", name="New export").click()
    page.get_by_label("Kind").select_option("sessions")
    page.get_by_label("Period").fill("2026-10")
    page.get_by_label("Format").select_option("csv")
    page.screenshot(path=screenshot_dir / "exports-page.png", full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export").click()
    download = download_info.value

    assert download.suggested_filename == f"{billed_fleet.slug}-sessions-2026-10.csv"
    first_line = Path(download.path()).read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("session_id,employee_number,driver,vehicle,plate,")
    assert ExportManifest.objects.get().row_count == 23
