"""The fleet manager's admin in a real browser: log in, preview a tariff's price, read a
session's price breakdown."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from apps.charging.services import charging_session_price, tariff_publish
from apps.fleets.choices import MembershipRole
from tests.e2e.admin_pages import admin_log_in, sidebar_link
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    FleetFactory,
    MembershipFactory,
    MeterValueFactory,
    StaffUserFactory,
    TariffElementFactory,
    TariffFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UTC = dt.UTC
PASSWORD = "correct horse battery staple"


@pytest.fixture
def amsterdam_fleet():
    """A fleet in Europe/Amsterdam with a night tariff (0.20 per kWh from 22:00, else 0.30 and
    1.00 per session; 21 % VAT), a manager, and a session priced with that tariff."""
    fleet = FleetFactory(name="Amsterdam buses", time_zone="Europe/Amsterdam")
    manager = StaffUserFactory(username="manager")
    MembershipFactory(user=manager, fleet=fleet, role=MembershipRole.MANAGER)
    tariff = TariffFactory(fleet=fleet, name="Night tariff")
    TariffElementFactory(
        tariff=tariff,
        position=0,
        energy_price=Decimal("0.20"),
        start_time=dt.time(22, 0),
        end_time=dt.time(6, 0),
        flat_price=None,
        flat_vat_rate=None,
    )
    TariffElementFactory(tariff=tariff, position=1, flat_price=Decimal("1.00"))
    tariff_publish(tariff=tariff, effective_from=dt.datetime(2026, 1, 1, tzinfo=UTC))
    connector = ConnectorFactory(station=ChargingStationFactory(fleet=fleet))
    session = ChargingSessionFactory(
        fleet=fleet,
        connector=connector,
        started_at=dt.datetime(2026, 3, 2, 20, 0, tzinfo=UTC),  # 21:00-23:00 in Amsterdam
        ended_at=dt.datetime(2026, 3, 2, 22, 0, tzinfo=UTC),
        meter_start_wh=0,
        meter_stop_wh=20_000,
        energy_wh=20_000,
    )
    MeterValueFactory(
        session=session,
        measured_at=dt.datetime(2026, 3, 2, 21, 0, tzinfo=UTC),
        energy_wh=10_000,
    )
    return {"tariff": tariff, "session": charging_session_price(session=session)}


def log_in(page: Page, base_url: str) -> None:
    admin_log_in(page, base_url, "manager", PASSWORD)


def total_row(page: Page) -> list[str]:
    return page.locator("table.voltop-breakdown tfoot tr").last.locator("th").all_inner_texts()


def test_manager_previews_a_night_price_from_the_tariff_page(
    live_server, page, amsterdam_fleet, screenshot_dir
):
    log_in(page, live_server.url)

    sidebar_link(page, "Tariffs").first.click()
    page.get_by_role("link", name="Night tariff").click()
    page.get_by_role("link", name="Preview a price").click()
    page.get_by_label("Energy (kWh)").fill("20")
    page.get_by_label("Started at").fill("2026-03-02T21:00")
    page.get_by_label("Ended at").fill("2026-03-02T23:00")
    page.get_by_label("Parking minutes").fill("0")
    page.get_by_role("button", name="Preview").click()

    # 10 kWh at 0.30 + 1.00 flat before 22:00, 10 kWh at 0.20 after: 6.00 excl., 7.26 incl. VAT.
    expect(page.locator("table.voltop-breakdown")).to_be_visible()
    page.screenshot(path=screenshot_dir / "tariff-preview.png", full_page=True)
    assert total_row(page) == ["Total (EUR, rounded once)", "6.00", "", "7.26"]
    assert page.locator("table.voltop-breakdown tbody tr").count() == 3


def test_manager_reads_the_price_breakdown_on_a_session_page(
    live_server, page, amsterdam_fleet, screenshot_dir
):
    session = amsterdam_fleet["session"]
    log_in(page, live_server.url)

    page.goto(live_server.url + reverse("admin:charging_chargingsession_change", args=[session.pk]))

    breakdown = page.locator("table.voltop-breakdown")
    expect(breakdown).to_be_visible()
    page.screenshot(path=screenshot_dir / "session-change.png", full_page=True)
    breakdown.screenshot(path=screenshot_dir / "session-breakdown.png")
    first_period = breakdown.locator("tbody tr").first.locator("td").first
    assert first_period.inner_text() == "2026-03-02 21:00:00 → 22:00:00 charging, 10000 Wh"
    assert total_row(page) == ["Total (EUR, rounded once)", "6.00", "", "7.26"]
