"""The dashboard in a real browser: a fleet manager sees their fleet's figures and its charts
drawn, follows a work-to-do item to exactly the rows it counts; a manager of another fleet
sees none of the first fleet's figures."""

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from apps.charging.choices import LocationKind, UnpricedReason
from apps.fleets.choices import MembershipRole
from tests.dashboard.charging_rows import NOW, fleet_charging_create
from tests.factories import (
    ChargingSessionFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
COST_PENDING_SESSIONS = 3
CANVAS_DRAWN = """canvas => {
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let alpha = 3; alpha < pixels.length; alpha += 4) {
        if (pixels[alpha] !== 0) return true;
    }
    return false;
}"""


@pytest.fixture
def fleets(time_machine):
    """Amsterdam buses, charging this month and last, with three public sessions entered by
    hand whose provider's cost is pending; Rotterdam vans beside it with twice as much charging;
    a manager of each."""
    time_machine.move_to(NOW, tick=True)
    amsterdam = fleet_charging_create(FleetFactory(name="Amsterdam buses"))
    for _ in range(COST_PENDING_SESSIONS):
        ChargingSessionFactory(
            fleet=amsterdam.fleet,
            location_kind=LocationKind.PUBLIC,
            unpriced_reason=UnpricedReason.COST_PENDING,
            started_at=NOW.replace(day=2),
            ended_at=NOW.replace(day=2, hour=11),
        )
    rotterdam = fleet_charging_create(FleetFactory(name="Rotterdam vans"), scale=2)
    for username, fleet in (("manager", amsterdam.fleet), ("other", rotterdam.fleet)):
        MembershipFactory(
            user=StaffUserFactory(username=username), fleet=fleet, role=MembershipRole.MANAGER
        )
    return {"amsterdam": amsterdam, "rotterdam": rotterdam}


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base_url}{reverse('admin:index')}")
    expect(page.locator(".voltop-dashboard")).to_be_visible()


def figure(page: Page, name: str) -> str:
    return page.locator(f'[data-figure="{name}"]').inner_text().strip()


def test_a_manager_sees_the_charts_drawn_and_follows_a_work_item_to_its_rows(
    live_server, page, fleets, screenshot_dir
):
    log_in(page, live_server.url, "manager")

    canvases = page.locator("canvas.chart")
    expect(canvases).to_have_count(4)
    for index in range(4):
        page.wait_for_function(CANVAS_DRAWN, arg=canvases.nth(index).element_handle())
    blank = page.evaluate(
        "() => { const c = document.createElement('canvas'); c.width = 300; c.height = 150;"
        " return c.toDataURL(); }"
    )
    assert canvases.first.evaluate("canvas => canvas.toDataURL()") != blank
    assert figure(page, "energy-month").endswith(" kWh")
    assert figure(page, "cost-month").endswith(" EUR")
    page.screenshot(path=screenshot_dir / "dashboard.png", full_page=True)

    item = page.locator('[data-work-item="sessions_unpriced_cost_pending"]')
    expect(item.locator(".voltop-count")).to_have_text(str(COST_PENDING_SESSIONS))
    item.click()

    expect(page).to_have_url(
        f"{live_server.url}{reverse('admin:charging_chargingsession_changelist')}"
        f"?fleet__id__exact={fleets['amsterdam'].fleet.pk}&unpriced=cost_pending"
    )
    expect(page.locator("#result_list tbody tr")).to_have_count(COST_PENDING_SESSIONS)
    page.screenshot(path=screenshot_dir / "dashboard-work-item-sessions.png", full_page=True)


def test_a_manager_of_another_fleet_sees_none_of_the_first_fleets_figures(
    live_server, browser: Browser, page, fleets, screenshot_dir
):
    log_in(page, live_server.url, "manager")
    amsterdam_figures = {
        name: figure(page, name) for name in ("energy-month", "cost-month", "energy-last-month")
    }
    expect(page.locator("body")).to_contain_text("Amsterdam buses")

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = context.new_page()
    log_in(other, live_server.url, "other")

    expect(other.locator("canvas.chart")).to_have_count(4)
    body = other.locator("body").inner_text()
    assert "Rotterdam vans" in body
    assert "Amsterdam buses" not in body
    for depot in fleets["amsterdam"].depots:
        assert depot.name not in body
    for center in fleets["amsterdam"].cost_centers:
        assert center.code not in body
    rotterdam_figures = {name: figure(other, name) for name in amsterdam_figures}
    assert rotterdam_figures != amsterdam_figures
    expect(other.locator('[data-work-item="sessions_unpriced_cost_pending"]')).to_have_count(0)
    other.screenshot(path=screenshot_dir / "dashboard-other-fleet.png", full_page=True)
    context.close()
