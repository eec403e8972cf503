"""The dashboard page: the current fleet's figures with their currency and in kWh, its charts
drawn by unfold's bundled Chart.js from static files, its work to do, nothing of another
fleet, and as many queries for a large fleet as for a small one."""

import datetime as dt
import json
import re
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.charging.choices import SessionStatus
from apps.dashboard.views import change_text, energy_text, money_text
from apps.fleets.choices import MembershipRole
from apps.payments.choices import LeftOutReason
from tests.dashboard.charging_rows import NOW, billing_run_create, fleet_charging_create
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def manager_of(fleet, username: str):
    user = StaffUserFactory(username=username)
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.MANAGER)
    return user


def figure(content: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', content)
    assert match, name
    return unescape(match.group(1)).strip()


def charts(content: str) -> list[dict]:
    return [
        json.loads(unescape(value))
        for value in re.findall(r'<canvas class="chart"[^>]*data-value="([^"]*)"', content)
    ]


def test_figures_are_written_with_their_currency_and_in_kwh():
    assert money_text(Decimal("1234.50"), "EUR") == "1,234.50 EUR"
    assert money_text(Decimal("49.6500000000000"), "EUR") == "49.65 EUR"
    assert money_text(Decimal("0"), "EUR") == "0.00 EUR"
    assert money_text(Decimal("1234.5"), "JPY") == "1,235 JPY"
    assert energy_text(1_234_567) == "1,234.6 kWh"
    assert change_text(Decimal("12.00"), Decimal("10.00")) == "+20 %"
    assert change_text(90, 100) == "-10 %"
    assert change_text(5, 0) == "new"
    assert change_text(0, 0) == "±0 %"


def test_the_manager_sees_the_fleets_figures_and_charts(client):
    charging = fleet_charging_create(FleetFactory(name="Amsterdam buses", currency="EUR"))
    fleet_charging_create(FleetFactory(name="Other fleet"), scale=2)
    client.force_login(manager_of(charging.fleet, "manager"))

    response = client.get(reverse("admin:index"))

    content = response.content.decode()
    this_month = [
        s
        for s in charging.sessions
        if s.status != SessionStatus.INVALID
        and s.started_at.astimezone(charging.fleet.zone).strftime("%Y-%m") == "2026-12"
    ]
    energy_wh = sum(s.energy_wh or 0 for s in this_month)
    cost = sum(
        s.price_incl_vat
        for s in this_month
        if s.price_incl_vat is not None and s.price_currency == "EUR"
    )
    active = [s for s in charging.sessions if s.status == SessionStatus.ACTIVE]
    assert figure(content, "energy-month") == f"{Decimal(energy_wh) / 1000:,.1f} kWh"
    assert figure(content, "cost-month") == f"{cost:,} EUR"
    assert figure(content, "vehicles-charging") == str(len({s.vehicle_id for s in active}))
    assert figure(content, "last-run") == "No billing run yet."
    drawn = charts(content)
    assert len(drawn) == 4
    assert all(chart["datasets"][0]["data"] for chart in drawn)
    assert "Other fleet" not in content
    assert "unfold/js/chart/chart.js" in content
    assert not re.search(r'<script[^>]+src="(https?:)?//', content)


def test_a_manager_of_another_fleet_sees_none_of_the_first_fleets_figures(client):
    first = fleet_charging_create(FleetFactory(name="Amsterdam buses"), scale=2)
    second = FleetFactory(name="Rotterdam vans")
    client.force_login(manager_of(first.fleet, "first"))
    first_page = client.get(reverse("admin:index")).content.decode()

    client.force_login(manager_of(second, "second"))
    second_page = client.get(reverse("admin:index")).content.decode()

    assert figure(second_page, "energy-month") == "0.0 kWh"
    assert figure(second_page, "cost-month") == "0.00 EUR"
    assert figure(second_page, "vehicles-charging") == "0"
    assert figure(first_page, "energy-month") != "0.0 kWh"
    assert "Amsterdam buses" not in second_page
    for depot in first.depots:
        assert depot.name in first_page
        assert depot.name not in second_page
    for center in first.cost_centers:
        assert center.code not in second_page


def test_a_user_without_a_fleet_sees_no_figures(client):
    fleet_charging_create(FleetFactory(name="Amsterdam buses"))
    client.force_login(StaffUserFactory())

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["dashboard"] is None
    assert "data-figure" not in response.content.decode()
    assert "Amsterdam buses" not in response.content.decode()


@pytest.mark.parametrize("scale", [1, 5])
def test_the_page_reads_as_many_queries_for_a_large_fleet_as_for_a_small_one(client, scale):
    """Measured against the same page of a fleet with one row of each kind, so the count is
    the page's whatever it is, and must not grow with the rows."""
    small = fleet_charging_create(FleetFactory(), scale=1).fleet
    measured = fleet_charging_create(FleetFactory(), scale=scale).fleet
    counts = []
    for index, fleet in enumerate((small, measured)):
        client.force_login(manager_of(fleet, f"manager-{index}"))
        client.get(reverse("admin:index"))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("admin:index")).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_the_last_billing_run_shows_its_status_and_what_it_left_out_by_why(client):
    fleet = FleetFactory()
    billing_run_create(
        fleet,
        "2026-10",
        dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    run = billing_run_create(
        fleet,
        "2026-11",
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        left_out_count=4,
        left_out_reasons={LeftOutReason.COST_PENDING: 3, LeftOutReason.STILL_CHARGING: 1},
    )
    client.force_login(manager_of(fleet, "manager"))

    content = client.get(reverse("admin:index")).content.decode()

    assert figure(content, "last-run") == "2026-11"
    assert figure(content, "last-run-status").startswith("Completed")
    assert reverse("admin:payments_billingrun_change", args=[run.pk]) in content
    assert "4 sessions left out" in content
    assert f"{LeftOutReason.COST_PENDING.label}: 3" in unescape(content)
    assert f"{LeftOutReason.STILL_CHARGING.label}: 1" in unescape(content)
