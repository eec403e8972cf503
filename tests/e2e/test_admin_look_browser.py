"""The session list at a 1,366 px wide screen: price and status in view, no sideways
scrolling; the vehicle page's odometer chart drawn."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from apps.fleets.choices import MembershipRole
from tests.factories import (
    ChargingSessionFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    OdometerReadingFactory,
    StaffUserFactory,
    VehicleFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UTC = dt.UTC
PASSWORD = "correct horse battery staple"


@pytest.fixture
def fleet_with_sessions():
    fleet = FleetFactory(name="Berlin vans", time_zone="Europe/Berlin")
    MembershipFactory(
        user=StaffUserFactory(username="manager"), fleet=fleet, role=MembershipRole.MANAGER
    )
    vehicle = VehicleFactory(fleet=fleet, plate="B-EV-1234")
    driver = DriverFactory(fleet=fleet, first_name="Maximiliane", last_name="Schwarzenberger")
    for day in range(1, 13):
        ChargingSessionFactory(
            fleet=fleet,
            driver=driver,
            vehicle=vehicle,
            started_at=dt.datetime(2026, 3, day, 8, 0, tzinfo=UTC),
            ended_at=dt.datetime(2026, 3, day, 10, 5, tzinfo=UTC),
            price_currency="EUR",
            price_excl_vat=Decimal("1019.83"),
            price_vat=Decimal("214.16"),
            price_incl_vat=Decimal("1233.99"),
        )
    for number in range(3):
        OdometerReadingFactory(
            vehicle=vehicle,
            km=10_000 + 150 * number,
            recorded_at=dt.datetime(2026, 3, 1 + 5 * number, 6, 0, tzinfo=UTC),
        )
    return vehicle


def log_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_the_session_list_shows_price_and_status_at_1366_px_without_scrolling_sideways(
    browser, live_server, fleet_with_sessions, screenshot_dir
):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    log_in(page, live_server.url)

    page.goto(live_server.url + reverse("admin:charging_chargingsession_changelist"))

    expect(page.locator("#result_list")).to_be_visible()
    page.screenshot(path=screenshot_dir / "sessions-1366.png", full_page=True)
    widths = page.evaluate(
        """() => {
            const table = document.querySelector('#result_list');
            const scroller = table.parentElement.closest('[data-simplebar]') || table.parentElement;
            const right = (selector) =>
                document.querySelector(selector).getBoundingClientRect().right;
            return {
                page: document.documentElement.scrollWidth,
                table: table.scrollWidth,
                box: scroller.clientWidth,
                price: right('#result_list tbody tr td.field-price'),
                status: right('#result_list tbody tr td.field-status_text'),
            };
        }"""
    )
    assert widths["page"] <= 1366
    assert widths["table"] <= widths["box"]
    assert widths["price"] <= 1366
    assert widths["status"] <= 1366
    expect(page.locator("td.field-price").first).to_have_text("1233.99 EUR")
    expect(page.locator("td.field-status_text").first).to_have_text("Completed")
    context.close()


def test_the_vehicle_page_draws_its_odometer_chart(
    page, live_server, fleet_with_sessions, screenshot_dir
):
    log_in(page, live_server.url)

    page.goto(
        live_server.url + reverse("admin:vehicles_vehicle_change", args=[fleet_with_sessions.pk])
    )

    chart = page.locator(".voltop-odometer-chart canvas")
    expect(chart).to_be_visible()
    page.wait_for_function(
        """() => {
            const canvas = document.querySelector('.voltop-odometer-chart canvas');
            const pixels = canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data;
            return pixels.some((value, index) => index % 4 === 3 && value !== 0);
        }"""
    )
    page.screenshot(path=screenshot_dir / "vehicle-odometer.png", full_page=True)
