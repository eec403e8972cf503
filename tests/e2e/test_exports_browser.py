"""Exports in a real browser: finance opens the Exports page from the admin, asks for
October's sessions as CSV, and the browser saves the file, headed by the columns."""

from pathlib import Path

import pytest
from playwright.sync_api import Page

from apps.exports.models import ExportManifest
from apps.fleets.choices import MembershipRole
from tests.e2e.admin_pages import admin_log_in, sidebar_link
from tests.exports import conftest as exports_fixtures
from tests.factories import MembershipFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The exports tests' fleet billed for October 2026, with the clock on 3 November.
billed_fleet = exports_fixtures.billed_fleet
frozen_after_october = exports_fixtures.frozen_after_october

PASSWORD = "correct horse battery staple"


def log_in(page: Page, base_url: str) -> None:
    admin_log_in(page, base_url, "finance", PASSWORD)


def test_finance_downloads_octobers_sessions_as_csv_from_the_exports_page(
    live_server, page, billed_fleet, screenshot_dir
):
    MembershipFactory(
        user=StaffUserFactory(username="finance"), fleet=billed_fleet, role=MembershipRole.FINANCE
    )
    log_in(page, live_server.url)

    sidebar_link(page, "Exports").first.click()
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
