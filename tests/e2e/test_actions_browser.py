"""The daily actions in a real browser, as a fleet manager and a finance user do them: filter
the sessions by depot and approve a home session from the list; start a billing run from the
admin and watch it complete."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from apps.charging.choices import HomeApproval, LocationKind
from apps.charging.models import ChargingSession
from apps.fleets.choices import MembershipRole
from apps.payments.choices import BillingRunStatus
from apps.payments.models import BillingRun
from tests.factories import (
    ChargingSessionFactory,
    ConnectorFactory,
    DepotFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
)
from tests.payments.builders import priced_session_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UTC = dt.UTC
PASSWORD = "correct horse battery staple"
SESSIONS = reverse("admin:charging_chargingsession_changelist")


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base_url + reverse("admin:index"))


def session_link(page: Page, session: ChargingSession):
    return page.locator(f'#result_list a[href*="/chargingsession/{session.pk}/change/"]')


@pytest.fixture
def depots_fleet() -> dict:
    """A fleet with a manager, two depots with a session each, and a home session waiting
    for approval."""
    fleet = FleetFactory(name="Amsterdam buses", time_zone="Europe/Amsterdam")
    MembershipFactory(
        user=StaffUserFactory(username="manager"), fleet=fleet, role=MembershipRole.MANAGER
    )
    north = DepotFactory(fleet=fleet, name="North depot")
    south = DepotFactory(fleet=fleet, name="South depot")
    at_north, at_south = (
        ChargingSessionFactory(
            fleet=fleet,
            connector=ConnectorFactory(station__fleet=fleet, station__depot=depot),
            started_at=dt.datetime(2026, 11, day, 7, tzinfo=UTC),
            ended_at=dt.datetime(2026, 11, day, 9, tzinfo=UTC),
        )
        for day, depot in ((2, north), (3, south))
    )
    home = ChargingSessionFactory(
        fleet=fleet,
        driver=DriverFactory(fleet=fleet, first_name="Noor", last_name="Bakker"),
        location_kind=LocationKind.HOME,
        home_approval=HomeApproval.PENDING,
        connector=None,
        started_at=dt.datetime(2026, 11, 4, 18, tzinfo=UTC),
        ended_at=dt.datetime(2026, 11, 4, 21, tzinfo=UTC),
    )
    return {"north": north, "at_north": at_north, "at_south": at_south, "home": home}


def test_manager_filters_sessions_by_depot_and_approves_a_home_session_from_the_list(
    live_server, page, depots_fleet, screenshot_dir
):
    log_in(page, live_server.url, "manager")
    page.goto(live_server.url + SESSIONS)
    expect(session_link(page, depots_fleet["at_south"])).to_be_visible()

    page.locator(":text('Filters')").first.click()
    page.get_by_role("link", name="North depot").click()

    expect(page).to_have_url(
        re.compile(rf"connector__station__depot__id__exact={depots_fleet['north'].pk}$")
    )
    expect(session_link(page, depots_fleet["at_north"])).to_be_visible()
    expect(session_link(page, depots_fleet["at_south"])).to_have_count(0)
    expect(session_link(page, depots_fleet["home"])).to_have_count(0)
    page.screenshot(path=screenshot_dir / "sessions-by-depot.png", full_page=True)

    page.goto(f"{live_server.url}{SESSIONS}?home_approval__exact={HomeApproval.PENDING}")
    home = depots_fleet["home"]
    expect(session_link(page, home)).to_be_visible()
    page.locator(f'input.action-select[value="{home.pk}"]').check()
    page.locator('select[name="action"]').select_option("approve_home_sessions")
    page.locator('button[name="index"], input[name="index"]').first.click()

    expect(page.get_by_text("1 charging session approved.")).to_be_visible()
    page.screenshot(path=screenshot_dir / "home-session-approved.png", full_page=True)
    home.refresh_from_db()
    assert home.home_approval == HomeApproval.APPROVED
    assert home.reviewed_by.username == "manager"


@pytest.fixture
def october_fleet():
    """A fleet with a finance user and a driver who charged privately at a depot in October."""
    fleet = FleetFactory(name="Rotterdam vans", time_zone="Europe/Amsterdam")
    MembershipFactory(
        user=StaffUserFactory(username="finance"), fleet=fleet, role=MembershipRole.FINANCE
    )
    driver = DriverFactory(fleet=fleet, first_name="Sanne", last_name="Visser")
    for day in (5, 6):
        priced_session_create(driver=driver, started_at=dt.datetime(2026, 10, day, 7, tzinfo=UTC))
    return fleet


def test_finance_starts_a_billing_run_from_the_admin_and_watches_it_complete(
    live_server, page, october_fleet, screenshot_dir
):
    log_in(page, live_server.url, "finance")
    page.goto(live_server.url + reverse("admin:payments_billingrun_changelist"))
    page.get_by_role("link", name="Start a billing run").click()
    expect(page).to_have_url(live_server.url + reverse("admin:payments_billingrun_add"))

    page.get_by_label("Period").fill("2026-10")
    page.get_by_role("button", name="Start billing").click()

    expect(page).to_have_url(re.compile(r"/admin/payments/billingrun/\d+/change/$"))
    run = BillingRun.objects.get(fleet=october_fleet)
    assert page.url == live_server.url + reverse("admin:payments_billingrun_change", args=[run.pk])
    expect(page.locator("#billingrun_form")).to_contain_text("Completed", timeout=15_000)
    page.screenshot(path=screenshot_dir / "billing-run-completed.png", full_page=True)
    page.screenshot(path=screenshot_dir / "billing-run-started.png", full_page=True)
    run.refresh_from_db()
    assert (run.status, run.period_label, run.invoice_count) == (
        BillingRunStatus.COMPLETED,
        "2026-10",
        1,
    )
