"""What a row keeps from when it was made is read-only on its admin page once it exists, as
its update service refuses it: the fleet of a depot, cost center, vehicle, driver or charging
station, and a fleet's slug, currency, time zone and country. A page posted with another value
saves the rest and leaves those as they were; before, the admin moved the row to the other
fleet, answered with a server error, or dropped the change while reporting success."""

import pytest
from django.urls import reverse

from apps.charging.models import ChargingStation
from apps.drivers.models import Driver
from apps.fleets.choices import MembershipRole
from apps.fleets.models import CostCenter, Depot, Fleet
from apps.vehicles.models import Vehicle
from tests.factories import (
    ChargingStationFactory,
    CostCenterFactory,
    DepotFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    VehicleFactory,
)
from tests.fleets.accounting_form import accounting_form_fields

pytestmark = pytest.mark.django_db


def depot_payload(depot: Depot, fleet_pk: int) -> dict:
    return {
        "fleet": str(fleet_pk),
        "name": "Renamed",
        "address": depot.address,
        "grid_connection_limit_kw": str(depot.grid_connection_limit_kw),
    }


def cost_center_payload(cost_center: CostCenter, fleet_pk: int) -> dict:
    return {"fleet": str(fleet_pk), "code": cost_center.code, "name": "Renamed", "is_active": "on"}


def vehicle_payload(vehicle: Vehicle, fleet_pk: int) -> dict:
    return {
        "fleet": str(fleet_pk),
        "vin": vehicle.vin,
        "plate": vehicle.plate,
        "make": vehicle.make,
        "model": "Renamed",
        "model_year": str(vehicle.model_year),
        "usable_battery_kwh": str(vehicle.usable_battery_kwh),
        "max_ac_kw": str(vehicle.max_ac_kw),
        "max_dc_kw": str(vehicle.max_dc_kw),
        "connector_standards": vehicle.connector_standards,
        "status": vehicle.status,
        "home_depot": "",
        "cost_center": "",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
    }


def driver_payload(driver: Driver, fleet_pk: int) -> dict:
    return {
        "fleet": str(fleet_pk),
        "employee_number": driver.employee_number,
        "first_name": "Renamed",
        "last_name": driver.last_name,
        "status": driver.status,
        "email": driver.email,
        "phone": "",
        "user": "",
        "licence_number": "",
        "licence_expires_on": "",
        "cost_center": "",
        "home_rate_per_kwh": str(driver.home_rate_per_kwh),
        "iban": driver.iban,
        "tokens-TOTAL_FORMS": "0",
        "tokens-INITIAL_FORMS": "0",
    }


def station_payload(station: ChargingStation, fleet_pk: int) -> dict:
    return {
        "fleet": str(fleet_pk),
        "depot": "",
        "ocpp_identity": station.ocpp_identity,
        "vendor": station.vendor,
        "model": "Renamed",
        "serial_number": station.serial_number,
        "firmware_version": "",
        "status": station.status,
        "connectors-TOTAL_FORMS": "0",
        "connectors-INITIAL_FORMS": "0",
    }


ROWS = {
    "depot": (lambda fleet: DepotFactory(fleet=fleet), depot_payload, "name"),
    "cost center": (lambda fleet: CostCenterFactory(fleet=fleet), cost_center_payload, "name"),
    "vehicle": (lambda fleet: VehicleFactory(fleet=fleet), vehicle_payload, "model"),
    "driver": (lambda fleet: DriverFactory(fleet=fleet), driver_payload, "first_name"),
    "station": (
        lambda fleet: ChargingStationFactory(fleet=fleet, depot=None),
        station_payload,
        "model",
    ),
}


@pytest.mark.parametrize("kind", list(ROWS))
def test_a_rows_fleet_is_read_only_on_its_page_and_a_posted_one_changes_nothing(client, kind):
    """A manager of both fleets could pick the other one: the page no longer offers it."""
    make, payload, renamed_field = ROWS[kind]
    fleet, other_fleet = FleetFactory(name="Fleet A"), FleetFactory(name="Fleet B")
    user = StaffUserFactory()
    for each in (fleet, other_fleet):
        MembershipFactory(user=user, fleet=each, role=MembershipRole.MANAGER)
    client.force_login(user)
    row = make(fleet)
    opts = row._meta
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])

    page = client.get(change)
    response = client.post(change, payload(row, other_fleet.pk))

    assert "fleet" in page.context["adminform"].readonly_fields
    assert response.status_code == 302, response.context["adminform"].form.errors
    row.refresh_from_db()
    assert (row.fleet_id, getattr(row, renamed_field)) == (fleet.pk, "Renamed")


def test_a_fleets_slug_currency_time_zone_and_country_are_read_only_for_its_admin(client):
    fleet = FleetFactory(name="Fleet A", slug="fleet-a")
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.ADMIN)
    client.force_login(user)
    change = reverse("admin:fleets_fleet_change", args=[fleet.pk])
    before = list(Fleet.objects.values_list("slug", "currency", "time_zone", "country"))

    page = client.get(change)
    response = client.post(
        change,
        {
            "name": "Renamed",
            "slug": "renamed",
            "currency": "USD",
            "time_zone": "America/New_York",
            "country": "US",
            "default_vat_rate": str(fleet.default_vat_rate),
            "billing_period": fleet.billing_period,
            "payment_terms_days": str(fleet.payment_terms_days),
            "csv_delimiter": fleet.csv_delimiter,
            "csv_decimal_separator": fleet.csv_decimal_separator,
            "depots-TOTAL_FORMS": "0",
            "depots-INITIAL_FORMS": "0",
            "cost_centers-TOTAL_FORMS": "0",
            "cost_centers-INITIAL_FORMS": "0",
            **accounting_form_fields(fleet),
        },
    )

    assert {"slug", "currency", "time_zone", "country"} <= set(
        page.context["adminform"].readonly_fields
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(Fleet.objects.values_list("slug", "currency", "time_zone", "country")) == before
    assert Fleet.objects.get().name == "Renamed"


def test_a_superuser_still_sets_them_when_making_a_fleet(admin_client):
    page = admin_client.get(reverse("admin:fleets_fleet_add"))

    assert not {"slug", "currency", "time_zone", "country"} & set(
        page.context["adminform"].readonly_fields
    )
    assert page.context["adminform"].prepopulated_fields[0]["field"].name == "slug"
