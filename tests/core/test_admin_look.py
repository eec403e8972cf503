"""What a fleet manager reads in the admin: times in the fleet's zone with its offset from UTC,
money with its currency, energy in kWh, durations as h:mm; the columns of the vehicle and
session lists; the vehicle's and the driver's pages; and list pages that never count or
de-duplicate the whole sessions or meter-values table, in a fixed number of queries."""

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from unfold.templatetags import unfold_list

from apps.charging.choices import LocationKind
from apps.fleets.choices import MembershipRole
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DepotFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    MeterValueFactory,
    OdometerReadingFactory,
    StaffUserFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
    fleet_rows_create,
)
from voltop.core.templatetags.voltop_admin import periods_between

UTC = dt.UTC
SESSIONS = reverse("admin:charging_chargingsession_changelist")
INVOICES = reverse("admin:payments_invoice_changelist")
VEHICLES = reverse("admin:vehicles_vehicle_changelist")
METER_VALUES = reverse("admin:charging_metervalue_changelist")
FULL_TABLE_WORK = re.compile(
    r"(COUNT\(|DISTINCT).*FROM \"(charging_chargingsession|charging_metervalue)\"", re.DOTALL
)
# The list's banner counts the sessions left without a price: few rows, read through the
# partial index that holds only them (status completed, not billed, no price).
UNPRICED_ONLY = re.compile(
    r'"billed_at" IS NULL AND "charging_chargingsession"\."price_incl_vat" IS NULL'
)


@pytest.fixture
def fleet(db):
    return FleetFactory(name="Fleet A", time_zone="Europe/Berlin")


def manager_of(client, fleet):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.MANAGER)
    client.force_login(user)
    return client


@pytest.fixture
def manager_client(client, fleet):
    return manager_of(client, fleet)


def page_queries(client, url: str) -> tuple[str, list[str]]:
    """The page and its queries, on a second request: the first fills the process's caches
    (content types, …), which would count once."""
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in queries.captured_queries]


def full_table_work(statements: list[str]) -> list[str]:
    return [
        sql for sql in statements if FULL_TABLE_WORK.search(sql) and not UNPRICED_ONLY.search(sql)
    ]


# Times, money, energy, durations ---------------------------------------------------------------


def test_a_sessions_title_names_its_driver_and_its_local_start(fleet):
    driver = DriverFactory(fleet=fleet, first_name="Anna", last_name="Weber")
    session = ChargingSessionFactory(
        fleet=fleet,
        driver=driver,
        started_at=dt.datetime(2026, 12, 2, 7, 37, tzinfo=UTC),
        ended_at=dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
    )

    with timezone.override(ZoneInfo("Europe/Berlin")):
        title = str(session)

    assert title == f"Session {session.pk} · Anna Weber · 2 Dec 2026 08:37 +0100"


def test_the_session_list_reads_local_times_money_kwh_and_hmm(fleet, manager_client):
    ChargingSessionFactory(
        fleet=fleet,
        driver=DriverFactory(fleet=fleet, first_name="Anna", last_name="Weber"),
        started_at=dt.datetime(2026, 7, 2, 6, 15, tzinfo=UTC),
        ended_at=dt.datetime(2026, 7, 2, 8, 20, 59, tzinfo=UTC),
        price_currency="EUR",
        price_excl_vat=Decimal("10.20"),
        price_vat=Decimal("2.14"),
        price_incl_vat=Decimal("12.34"),
    )

    page = manager_client.get(SESSIONS).content.decode()

    for text in ("2 Jul 2026 08:15 +0200", "Anna Weber", "20.500 kWh", "2:05", "12.34 EUR"):
        assert text in page
    assert "+00:00" not in page


def result_rows(page: bytes) -> list[str]:
    return re.findall(r"<tr class=\"data-row.*?</tr>", page.decode(), re.DOTALL)


@pytest.mark.parametrize("query", ["", "?status__exact=completed&o=-1"])
def test_the_session_list_writes_its_cells_from_a_plan_exactly_as_unfold_would(
    fleet, manager_client, monkeypatch, query
):
    for number in range(3):
        ChargingSessionFactory(
            fleet=fleet,
            started_at=dt.datetime(2026, 7, 2 + number, 6, 15, tzinfo=UTC),
            ended_at=dt.datetime(2026, 7, 2 + number, 8, tzinfo=UTC),
            price_incl_vat=None if number == 0 else Decimal(f"{number}.50"),
            price_currency="" if number == 0 else "EUR",
        )
    ChargingSessionFactory(
        fleet=fleet,
        started_at=dt.datetime(2026, 7, 9, 6, 15, tzinfo=UTC),
        ended_at=dt.datetime(2026, 7, 9, 8, tzinfo=UTC),
        is_suspect=True,
        location_kind=LocationKind.HOME,
    )

    planned = result_rows(manager_client.get(SESSIONS + query).content)
    monkeypatch.setattr(unfold_list, "items_for_result", unfold_list.items_for_result.__wrapped__)
    written_by_unfold = result_rows(manager_client.get(SESSIONS + query).content)

    assert len(planned) == 4
    assert planned == written_by_unfold
    assert all(("_changelist_filters" in row) == bool(query) for row in planned)


def test_the_session_page_gives_the_exact_wh_and_seconds(fleet, manager_client):
    session = ChargingSessionFactory(
        fleet=fleet,
        started_at=dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
        ended_at=dt.datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC),
    )

    page = manager_client.get(
        reverse("admin:charging_chargingsession_change", args=[session.pk])
    ).content.decode()

    assert "20.500 kWh = 20,500 Wh" in page
    assert "2:00 h:mm = 7,230 s" in page
    assert "2 Mar 2026 09:00 +0100" in page


def test_a_reimbursements_lines_start_in_the_fleets_zone(db, client):
    rows = fleet_rows_create(time_zone="Europe/Berlin")
    manager_of(client, rows.fleet)

    page = client.get(
        reverse("admin:payments_reimbursement_change", args=[rows.reimbursement.pk])
    ).content.decode()

    local_start = (
        f"{rows.session.started_at.astimezone(ZoneInfo('Europe/Berlin')):%-d %b %Y %H:%M} +0100"
    )
    assert local_start in page
    assert "+00:00" not in page


# The vehicle list and page --------------------------------------------------------------------


def vehicle_with_history(fleet, *, sessions: int, readings: int, plate: str = "EV-100-X"):
    vehicle = VehicleFactory(fleet=fleet, plate=plate)
    driver = DriverFactory(fleet=fleet, first_name="Anna", last_name="Weber")
    VehicleAssignmentFactory(
        vehicle=vehicle,
        driver=DriverFactory(fleet=fleet, first_name="Old", last_name="Driver"),
        starts_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
        ends_at=dt.datetime(2026, 2, 1, tzinfo=UTC),
    )
    VehicleAssignmentFactory(
        vehicle=vehicle, driver=driver, starts_at=dt.datetime(2026, 2, 1, tzinfo=UTC)
    )
    for number in range(readings):
        OdometerReadingFactory(
            vehicle=vehicle,
            km=10_000 + 200 * number,
            recorded_at=dt.datetime(2026, 3, 1 + 2 * number, 6, 0, tzinfo=UTC),
        )
    for number in range(sessions):
        ChargingSessionFactory(
            fleet=fleet,
            driver=driver,
            vehicle=vehicle,
            started_at=dt.datetime(2026, 3, 2 + number, 8, 0, tzinfo=UTC),
            ended_at=dt.datetime(2026, 3, 2 + number, 10, 0, tzinfo=UTC),
        )
    return vehicle


@time_machine.travel(dt.datetime(2026, 4, 1, 12, 0, tzinfo=UTC), tick=False)
def test_the_vehicle_list_shows_current_driver_last_odometer_and_last_charge(fleet, manager_client):
    vehicle_with_history(fleet, sessions=2, readings=2)
    VehicleFactory(fleet=fleet, plate="EV-200-X")

    page = manager_client.get(VEHICLES).content.decode()

    assert "Anna Weber" in page
    assert "Old Driver" not in page
    assert "10,200 km · 3 Mar 2026 07:00 +0100" in page
    assert "3 Mar 2026 09:00 +0100" in page


@time_machine.travel(dt.datetime(2026, 4, 1, 12, 0, tzinfo=UTC), tick=False)
def test_the_vehicle_list_runs_the_same_queries_for_many_vehicles(fleet, manager_client):
    vehicle_with_history(fleet, sessions=1, readings=1)
    _, one = page_queries(manager_client, VEHICLES)
    for _ in range(4):
        vehicle = VehicleFactory(fleet=fleet)
        VehicleAssignmentFactory(vehicle=vehicle)
        OdometerReadingFactory(vehicle=vehicle)
        ChargingSessionFactory(fleet=fleet, vehicle=vehicle)

    _, five = page_queries(manager_client, VEHICLES)

    assert len(five) == len(one)


def test_the_vehicle_page_shows_assignments_odometer_chart_energy_per_100_km_and_sessions(
    fleet, manager_client
):
    vehicle = vehicle_with_history(fleet, sessions=2, readings=3)
    url = reverse("admin:vehicles_vehicle_change", args=[vehicle.pk])

    page, _ = page_queries(manager_client, url)

    assert "Old Driver" in page
    assert "Anna Weber" in page
    assert 'class="chart"' in page
    assert "[10000, 10200, 10400]" in page
    # 2 sessions of 20.500 kWh between the first and the last reading, 400 km apart.
    assert "10.250 kWh / 100 km: 41.000 kWh charged over 400 km" in page
    assert f"?vehicle__id__exact={vehicle.pk}" in page


def test_the_vehicle_page_runs_the_same_queries_whatever_its_history(fleet, manager_client):
    small = vehicle_with_history(fleet, sessions=1, readings=2)
    large = vehicle_with_history(fleet, sessions=6, readings=5, plate="EV-300-X")
    for month in (5, 6, 7):
        VehicleAssignmentFactory(
            vehicle=large,
            driver=DriverFactory(fleet=fleet),
            starts_at=dt.datetime(2025, month, 1, tzinfo=UTC),
            ends_at=dt.datetime(2025, month, 20, tzinfo=UTC),
        )

    _, few = page_queries(manager_client, reverse("admin:vehicles_vehicle_change", args=[small.pk]))
    _, many = page_queries(
        manager_client, reverse("admin:vehicles_vehicle_change", args=[large.pk])
    )

    assert len(many) == len(few)


# The driver's page ----------------------------------------------------------------------------


def test_the_driver_page_shows_tokens_sessions_statements_invoices_and_reimbursements(db, client):
    rows = fleet_rows_create(time_zone="Europe/Berlin")
    manager_of(client, rows.fleet)

    page = client.get(
        reverse("admin:drivers_driver_change", args=[rows.driver.pk])
    ).content.decode()

    assert rows.token.uid in page
    assert reverse("admin:charging_chargingsession_change", args=[rows.session.pk]) in page
    assert reverse("admin:payments_statement_change", args=[rows.statement.pk]) in page
    assert reverse("admin:payments_invoice_change", args=[rows.invoice.pk]) in page
    assert rows.invoice.number in page
    assert reverse("admin:payments_reimbursement_change", args=[rows.reimbursement.pk]) in page
    for listing in ("chargingsession", "statement", "invoice", "reimbursement"):
        assert f"{listing}/?driver__id__exact={rows.driver.pk}" in page


def test_the_driver_page_runs_the_same_queries_whatever_their_history(db, client):
    rows = fleet_rows_create(time_zone="Europe/Berlin")
    manager_of(client, rows.fleet)
    url = reverse("admin:drivers_driver_change", args=[rows.driver.pk])
    _, before = page_queries(client, url)
    for day in range(3, 9):
        ChargingSessionFactory(
            fleet=rows.fleet,
            driver=rows.driver,
            vehicle=rows.vehicle,
            started_at=dt.datetime(2026, 5, day, 8, 0, tzinfo=UTC),
            ended_at=dt.datetime(2026, 5, day, 9, 0, tzinfo=UTC),
        )

    _, after = page_queries(client, url)

    assert len(after) == len(before)


# List pages without full-table work ------------------------------------------------------------


def sessions_at_two_depots(fleet):
    depots = []
    for name in ("North", "South"):
        depot = DepotFactory(fleet=fleet, name=f"Depot {name}")
        connector = ConnectorFactory(station=ChargingStationFactory(fleet=fleet, depot=depot))
        depots.append((depot, connector))
    driver = DriverFactory(
        fleet=fleet, employee_number="E-42", first_name="Anna", last_name="Weber"
    )
    for (depot, connector), day in ((depots[0], 2), (depots[1], 3)):
        session = ChargingSessionFactory(
            fleet=fleet,
            driver=driver if depot.name == "Depot North" else DriverFactory(fleet=fleet),
            connector=connector,
            location_kind=LocationKind.DEPOT,
            started_at=dt.datetime(2026, 3, day, 8, 0, tzinfo=UTC),
            ended_at=dt.datetime(2026, 3, day, 9, 0, tzinfo=UTC),
        )
        MeterValueFactory(session=session, measured_at=session.started_at)
    return depots[0][0]


@pytest.mark.parametrize("filtered", ["plain", "depot", "driver"])
def test_the_session_list_never_counts_or_deduplicates_the_sessions(
    fleet, manager_client, filtered
):
    north = sessions_at_two_depots(fleet)
    query = {
        "plain": "",
        "depot": f"?connector__station__depot__id__exact={north.pk}",
        "driver": "?driver_number=E-42",
    }[filtered]

    page, statements = page_queries(manager_client, SESSIONS + query)

    assert full_table_work(statements) == []
    assert "2 Mar 2026 09:00 +0100" in page
    assert ("3 Mar 2026 09:00 +0100" in page) is (filtered == "plain")


def test_the_invoice_and_meter_value_lists_never_count_or_deduplicate_sessions(db, client):
    rows = fleet_rows_create()
    manager_of(client, rows.fleet)

    _, invoice_statements = page_queries(client, INVOICES)
    _, meter_statements = page_queries(client, METER_VALUES)

    assert full_table_work(invoice_statements) == []
    assert full_table_work(meter_statements) == []


def test_the_session_list_runs_the_same_queries_for_many_rows(fleet, manager_client):
    sessions_at_two_depots(fleet)
    _, few = page_queries(manager_client, SESSIONS)
    for day in range(4, 12):
        ChargingSessionFactory(
            fleet=fleet,
            driver=DriverFactory(fleet=fleet),
            started_at=dt.datetime(2026, 3, day, 8, 0, tzinfo=UTC),
            ended_at=dt.datetime(2026, 3, day, 9, 0, tzinfo=UTC),
        )

    _, many = page_queries(manager_client, SESSIONS)

    assert len(many) == len(few)


def test_the_session_list_reads_only_the_columns_its_cells_show(fleet, manager_client):
    sessions_at_two_depots(fleet)

    page, statements = page_queries(manager_client, SESSIONS)

    (rows,) = [sql for sql in statements if '"charging_chargingsession"."energy_wh"' in sql]
    assert '"charging_chargingsession"."meter_start_wh"' not in rows
    assert '"drivers_driver"."iban"' not in rows
    assert '"drivers_driver"."last_name"' in rows
    assert "Anna Weber" in page


def test_the_depot_filter_offers_only_the_managers_fleets_depots(fleet, manager_client):
    sessions_at_two_depots(fleet)
    DepotFactory(fleet=FleetFactory(), name="Depot Elsewhere")

    page = manager_client.get(SESSIONS).content.decode()

    assert "Depot North" in page
    assert "Depot South" in page
    assert "Depot Elsewhere" not in page


def test_another_fleets_manager_sees_none_of_these_rows(fleet, client):
    vehicle = vehicle_with_history(fleet, sessions=2, readings=2)
    manager_of(client, FleetFactory(time_zone="Europe/Berlin"))

    sessions_page = client.get(SESSIONS).content.decode()
    vehicles_page = client.get(VEHICLES).content.decode()
    vehicle_page = client.get(reverse("admin:vehicles_vehicle_change", args=[vehicle.pk]))

    assert "Anna Weber" not in sessions_page
    assert "EV-100-X" not in vehicles_page
    assert vehicle_page.status_code == 302


def test_the_session_lists_date_drill_down_runs_from_its_first_to_its_last_month(
    fleet, manager_client
):
    for year, month in ((2025, 11), (2026, 2)):
        ChargingSessionFactory(
            fleet=fleet,
            started_at=dt.datetime(year, month, 10, 8, 0, tzinfo=UTC),
            ended_at=dt.datetime(year, month, 10, 9, 0, tzinfo=UTC),
        )

    page, statements = page_queries(manager_client, SESSIONS)
    year_page, year_statements = page_queries(manager_client, SESSIONS + "?started_at__year=2025")

    assert full_table_work(statements + year_statements) == []
    assert "started_at__year=2025" in page
    assert "started_at__year=2026" in page
    assert "started_at__month=11" in year_page
    assert "started_at__month=12" not in year_page


def test_periods_between_give_each_year_month_or_day_from_first_to_last():
    assert periods_between(dt.date(2025, 11, 3), dt.date(2026, 2, 1), "month") == [
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
    ]
    assert periods_between(dt.date(2024, 5, 3), dt.date(2026, 2, 1), "year") == [
        dt.date(2024, 1, 1),
        dt.date(2025, 1, 1),
        dt.date(2026, 1, 1),
    ]
    assert periods_between(dt.date(2026, 2, 27), dt.date(2026, 3, 1), "day") == [
        dt.date(2026, 2, 27),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 1),
    ]
