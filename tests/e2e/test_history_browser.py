"""The audit trail in a real browser: a manager changes a vehicle and finds the change, with
their login, on its history page; a manager of another fleet opening that page finds nothing.
History is recorded by PostgreSQL triggers, so these need PostgreSQL."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from apps.fleets.choices import MembershipRole
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory, VehicleFactory

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
MOMENT_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d")


@pytest.fixture
def vehicle():
    fleet = FleetFactory(name="Amsterdam buses", time_zone="Europe/Amsterdam")
    MembershipFactory(
        user=StaffUserFactory(username="anna.manager"), fleet=fleet, role=MembershipRole.MANAGER
    )
    other_fleet = FleetFactory(name="Rotterdam vans")
    MembershipFactory(
        user=StaffUserFactory(username="rob.other"), fleet=other_fleet, role=MembershipRole.MANAGER
    )
    return VehicleFactory(fleet=fleet, plate="EV-100-A")


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("admin:index")) + "$"))
    expect(page.get_by_role("link", name=re.compile("Dashboard"))).to_be_visible()


def test_managers_change_is_on_the_history_and_another_fleets_manager_sees_none_of_it(
    live_server, browser: Browser, page: Page, vehicle, screenshot_dir
):
    log_in(page, live_server.url, "anna.manager")
    page.goto(f"{live_server.url}{reverse('admin:vehicles_vehicle_changelist')}")
    page.get_by_role("link", name="EV-100-A", exact=True).click()
    page.get_by_label("Licence plate").fill("EV-200-B")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("link", name="EV-200-B", exact=True)).to_be_visible()

    page.get_by_role("link", name="EV-200-B", exact=True).click()
    page.get_by_role("link", name="History").click()

    rows = page.locator("table.voltop-history tbody tr")
    expect(rows).to_have_count(2)
    changed = rows.first
    expect(changed).to_contain_text("changed")
    expect(changed).to_contain_text("Licence plate: EV-100-A → EV-200-B")
    expect(changed).to_contain_text("anna.manager")
    expect(changed).to_contain_text(
        f"POST {reverse('admin:vehicles_vehicle_change', args=[vehicle.pk])}"
    )
    expect(changed.locator("td").first).to_have_text(
        re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d")
    )
    history_url = page.url
    page.screenshot(path=screenshot_dir / "history-vehicle.png", full_page=True)

    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    other_page = other.new_page()
    log_in(other_page, live_server.url, "rob.other")
    response = other_page.goto(history_url)

    assert response is not None
    assert other_page.url == f"{live_server.url}{reverse('admin:index')}"
    expect(other_page.get_by_text(re.compile("exist. Perhaps it was deleted"))).to_be_visible()
    content = other_page.content()
    assert "EV-200-B" not in content
    assert "EV-100-A" not in content
    assert "anna.manager" not in content
    other_page.screenshot(path=screenshot_dir / "history-other-fleet.png", full_page=True)
    other.close()
