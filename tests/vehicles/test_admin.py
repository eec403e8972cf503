"""Admin of the vehicles app: the add forms run the services' checks, the vehicle form edits
connector standards as checkboxes, and a vehicle is deleted through its service."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django import forms
from django.urls import reverse

from apps.drivers.choices import DriverStatus
from apps.fleets.choices import MembershipRole
from apps.vehicles import admin as vehicles_admin
from apps.vehicles.choices import ConnectorStandard
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from tests.factories import (
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    OdometerReadingFactory,
    StaffUserFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)

UTC = dt.UTC
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ADD_ASSIGNMENT = reverse("admin:vehicles_vehicleassignment_add")
ADD_READING = reverse("admin:vehicles_odometerreading_add")


@pytest.fixture
def fleet(db):
    return FleetFactory(name="Fleet A")


@pytest.fixture
def manager_client(client, fleet):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.MANAGER)
    client.force_login(user)
    return client


def split(name: str, moment: dt.datetime | None) -> dict:
    """The two inputs of the admin's date and time widget, as a manager of the Amsterdam fleet
    types them: in the fleet's zone."""
    if moment is None:
        return {f"{name}_0": "", f"{name}_1": ""}
    local = moment.astimezone(AMSTERDAM)
    return {f"{name}_0": f"{local:%Y-%m-%d}", f"{name}_1": f"{local:%H:%M:%S}"}


def assignment_payload(vehicle, driver, starts_at, ends_at=None) -> dict:
    return {
        "vehicle": str(vehicle.pk),
        "driver": str(driver.pk),
        **split("starts_at", starts_at),
        **split("ends_at", ends_at),
    }


def vehicle_payload(vehicle, connector_standards: list[str]) -> dict:
    return {
        "fleet": str(vehicle.fleet_id),
        "vin": vehicle.vin,
        "plate": vehicle.plate,
        "make": vehicle.make,
        "model": vehicle.model,
        "model_year": str(vehicle.model_year),
        "usable_battery_kwh": str(vehicle.usable_battery_kwh),
        "max_ac_kw": str(vehicle.max_ac_kw),
        "max_dc_kw": str(vehicle.max_dc_kw),
        "connector_standards": connector_standards,
        "status": vehicle.status,
        "home_depot": "",
        "cost_center": "",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
    }


def test_overlapping_assignment_shows_the_services_error_and_saves_nothing(manager_client, fleet):
    existing = VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet), starts_at=dt.datetime(2026, 1, 1, tzinfo=UTC)
    )
    driver = DriverFactory(fleet=fleet)

    response = manager_client.post(
        ADD_ASSIGNMENT,
        assignment_payload(existing.vehicle, driver, dt.datetime(2026, 2, 1, 8, tzinfo=UTC)),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "starts_at": [
            f"{existing.vehicle} is already assigned to {existing.driver.full_name} "
            "from 2026-01-01 01:00 CET until open end."
        ]
    }
    assert VehicleAssignment.objects.count() == 1


def test_assignment_of_a_suspended_driver_shows_the_services_error_and_saves_nothing(
    manager_client, fleet
):
    vehicle = VehicleFactory(fleet=fleet)
    driver = DriverFactory(fleet=fleet, status=DriverStatus.SUSPENDED)

    response = manager_client.post(
        ADD_ASSIGNMENT, assignment_payload(vehicle, driver, dt.datetime(2026, 2, 1, tzinfo=UTC))
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "driver": [f"Driver {driver} is not active (suspended)."]
    }
    assert not VehicleAssignment.objects.exists()


def test_assignment_added_in_the_admin_is_saved_by_the_service(manager_client, fleet):
    vehicle = VehicleFactory(fleet=fleet)
    driver = DriverFactory(fleet=fleet)
    starts_at = dt.datetime(2026, 2, 1, 8, tzinfo=UTC)

    response = manager_client.post(ADD_ASSIGNMENT, assignment_payload(vehicle, driver, starts_at))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assignment = VehicleAssignment.objects.get()
    assert (assignment.vehicle, assignment.driver, assignment.starts_at) == (
        vehicle,
        driver,
        starts_at,
    )
    assert assignment.ends_at is None


def test_assignment_change_keeps_the_vehicle_read_only_and_ends_the_assignment(
    manager_client, fleet
):
    assignment = VehicleAssignmentFactory(vehicle=VehicleFactory(fleet=fleet))
    other_vehicle = VehicleFactory(fleet=fleet)
    change = reverse("admin:vehicles_vehicleassignment_change", args=[assignment.pk])
    ends_at = dt.datetime(2026, 3, 1, tzinfo=UTC)

    page = manager_client.get(change)
    response = manager_client.post(
        change,
        assignment_payload(other_vehicle, assignment.driver, assignment.starts_at, ends_at),
    )

    assert "vehicle" not in page.context["adminform"].form.fields
    assert response.status_code == 302, response.context["adminform"].form.errors
    assignment.refresh_from_db()
    assert assignment.vehicle_id != other_vehicle.pk
    assert assignment.ends_at == ends_at


def test_reopening_the_ended_assignment_of_a_driver_who_left_shows_the_error_and_saves_nothing(
    manager_client, fleet
):
    driver = DriverFactory(fleet=fleet, status=DriverStatus.LEFT)
    starts_at, ends_at = dt.datetime(2026, 2, 1, tzinfo=UTC), dt.datetime(2026, 3, 1, tzinfo=UTC)
    assignment = VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet), driver=driver, starts_at=starts_at, ends_at=ends_at
    )
    change = reverse("admin:vehicles_vehicleassignment_change", args=[assignment.pk])

    response = manager_client.post(
        change, assignment_payload(assignment.vehicle, driver, starts_at, None)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "ends_at": [
            f"Driver {driver} is not active (left the company): their assignment can be ended "
            "or shortened, not reopened."
        ]
    }
    assignment.refresh_from_db()
    assert (assignment.starts_at, assignment.ends_at) == (starts_at, ends_at)


def test_odometer_reading_below_an_earlier_one_shows_the_services_error_and_saves_nothing(
    manager_client, fleet
):
    earlier = OdometerReadingFactory(
        vehicle=VehicleFactory(fleet=fleet),
        km=12_000,
        recorded_at=dt.datetime(2026, 1, 1, 8, tzinfo=UTC),
    )

    response = manager_client.post(
        ADD_READING,
        {
            "vehicle": str(earlier.vehicle_id),
            "km": "11999",
            **split("recorded_at", dt.datetime(2026, 1, 2, 8, tzinfo=UTC)),
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "km": [
            "11999 km is lower than the 12000 km recorded on 2026-01-01 09:00 CET; "
            "an odometer never goes back."
        ]
    }
    assert OdometerReading.objects.count() == 1


def test_a_correction_the_service_refuses_after_the_forms_check_is_shown_and_saves_nothing(
    manager_client, fleet, monkeypatch
):
    """The form's check passed (another correction was committed in between, here the check
    left out); the service's refusal, raised in the page's transaction, is shown instead of a
    server error."""
    vehicle = VehicleFactory(fleet=fleet)
    OdometerReadingFactory(
        vehicle=vehicle, km=12_000, recorded_at=dt.datetime(2026, 1, 1, 8, tzinfo=UTC)
    )
    later = OdometerReadingFactory(
        vehicle=vehicle, km=13_000, recorded_at=dt.datetime(2026, 1, 2, 8, tzinfo=UTC)
    )
    before = list(OdometerReading.objects.order_by("pk").values_list("pk", "km", "recorded_at"))
    monkeypatch.setattr(vehicles_admin, "odometer_reading_check", lambda **check: None)

    response = manager_client.post(
        reverse("admin:vehicles_odometerreading_change", args=[later.pk]),
        {"km": "11999", **split("recorded_at", later.recorded_at)},
        follow=True,
    )

    assert [str(message) for message in response.context["messages"]] == [
        "Nothing was saved. 11999 km is lower than the 12000 km recorded on 2026-01-01 09:00 "
        "CET; an odometer never goes back."
    ]
    assert (
        list(OdometerReading.objects.order_by("pk").values_list("pk", "km", "recorded_at"))
        == before
    )


def test_second_odometer_reading_at_the_same_moment_shows_the_services_error(manager_client, fleet):
    existing = OdometerReadingFactory(vehicle=VehicleFactory(fleet=fleet), km=12_000)

    response = manager_client.post(
        ADD_READING,
        {
            "vehicle": str(existing.vehicle_id),
            "km": "12000",
            **split("recorded_at", existing.recorded_at),
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "recorded_at": [f"{existing.vehicle} already has a reading at 2026-01-01 09:00:00 CET."]
    }
    assert OdometerReading.objects.count() == 1


def test_odometer_reading_added_in_the_admin_is_recorded(manager_client, fleet):
    vehicle = VehicleFactory(fleet=fleet)
    recorded_at = dt.datetime(2026, 1, 2, 8, tzinfo=UTC)

    response = manager_client.post(
        ADD_READING,
        {"vehicle": str(vehicle.pk), "km": "15000", **split("recorded_at", recorded_at)},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    reading = OdometerReading.objects.get()
    assert (reading.vehicle, reading.km, reading.recorded_at) == (vehicle, 15_000, recorded_at)


def test_vehicle_form_shows_connector_standards_as_checkboxes_with_the_vehicles_checked(
    manager_client, fleet
):
    vehicle = VehicleFactory(
        fleet=fleet, connector_standards=[ConnectorStandard.IEC_62196_T2, ConnectorStandard.NACS]
    )

    response = manager_client.get(reverse("admin:vehicles_vehicle_change", args=[vehicle.pk]))

    bound_field = response.context["adminform"].form["connector_standards"]
    assert isinstance(bound_field.field.widget, forms.CheckboxSelectMultiple)
    options = {option.data["value"]: option.data["selected"] for option in bound_field.subwidgets}
    assert options == {
        standard: standard in {"IEC_62196_T2", "NACS"} for standard in ConnectorStandard.values
    }
    rendered = response.content.decode().count('type="checkbox" name="connector_standards"')
    assert rendered == len(ConnectorStandard)


def test_vehicle_form_saves_the_checked_connector_standards_as_a_list(manager_client, fleet):
    vehicle = VehicleFactory(fleet=fleet, connector_standards=[ConnectorStandard.IEC_62196_T2])
    checked = [ConnectorStandard.IEC_62196_T2_COMBO, ConnectorStandard.CHADEMO]

    response = manager_client.post(
        reverse("admin:vehicles_vehicle_change", args=[vehicle.pk]),
        vehicle_payload(vehicle, checked),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    vehicle.refresh_from_db()
    assert vehicle.connector_standards == ["IEC_62196_T2_COMBO", "CHADEMO"]


def test_vehicle_form_refuses_an_unknown_connector_standard_and_changes_nothing(
    manager_client, fleet
):
    vehicle = VehicleFactory(fleet=fleet, connector_standards=[ConnectorStandard.IEC_62196_T2])

    response = manager_client.post(
        reverse("admin:vehicles_vehicle_change", args=[vehicle.pk]),
        vehicle_payload(vehicle, ["IEC_62196_T2", "SCHUKO_PLUS"]),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "connector_standards": [
            "Select a valid choice. SCHUKO_PLUS is not one of the available choices."
        ]
    }
    vehicle.refresh_from_db()
    assert vehicle.connector_standards == ["IEC_62196_T2"]


def test_a_vehicle_with_odometer_readings_is_not_deleted_in_the_admin_nor_its_readings(
    manager_client, fleet
):
    vehicle = VehicleFactory(fleet=fleet, plate="EV-900-Q", model="ID.3")
    reading = OdometerReadingFactory(vehicle=vehicle)
    url = reverse("admin:vehicles_vehicle_delete", args=[vehicle.pk])

    response = manager_client.post(url, {"post": "yes"})

    assert response.status_code == 200
    assert response.context["protected"] == [
        "Vehicle EV-900-Q (Volkswagen ID.3) cannot be deleted: its history is still referred "
        "to by 1 odometer reading. Retire it instead."
    ]
    assert OdometerReading.objects.filter(pk=reading.pk).exists()
    assert Vehicle.objects.filter(pk=vehicle.pk).exists()


def test_a_vehicle_without_history_is_deleted_in_the_admin(manager_client, fleet):
    vehicle = VehicleFactory(fleet=fleet)

    response = manager_client.post(
        reverse("admin:vehicles_vehicle_delete", args=[vehicle.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Vehicle.objects.filter(pk=vehicle.pk).exists()


def test_vehicle_form_refuses_a_plate_of_the_fleet_in_another_case_on_its_field(
    manager_client, fleet
):
    VehicleFactory(fleet=fleet, plate="EV-001-X")
    vehicle = VehicleFactory(fleet=fleet, plate="EV-002-X")

    response = manager_client.post(
        reverse("admin:vehicles_vehicle_change", args=[vehicle.pk]),
        {**vehicle_payload(vehicle, []), "plate": "ev-001-x"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "plate": [
            "Another vehicle of this fleet already has the licence plate EV-001-X (case does not "
            "matter)."
        ]
    }
    vehicle.refresh_from_db()
    assert vehicle.plate == "EV-002-X"


# assignments and odometer readings are deleted through the services


@time_machine.travel(dt.datetime(2026, 3, 10, 12, tzinfo=UTC), tick=False)
def test_the_delete_action_refuses_an_assignment_that_has_started(manager_client, fleet):
    vehicle = VehicleFactory(fleet=fleet, plate="AB-123-C")
    driver = DriverFactory(fleet=fleet, first_name="Sanne", last_name="de Vries")
    started = VehicleAssignmentFactory(
        vehicle=vehicle, driver=driver, starts_at=dt.datetime(2026, 3, 1, 8, tzinfo=UTC)
    )

    response = manager_client.post(
        reverse("admin:vehicles_vehicleassignment_changelist"),
        {"action": "delete_selected", "_selected_action": [started.pk], "post": "yes"},
    )

    assert response.context["protected"] == [
        "The assignment of AB-123-C (Volkswagen ID.4 Pro) to Sanne de Vries started on "
        "2026-03-01 09:00 CET and cannot be deleted; end it instead."
    ]
    assert list(VehicleAssignment.objects.values_list("pk", flat=True)) == [started.pk]


def test_an_odometer_reading_is_deleted_through_the_service(manager_client, fleet):
    reading = OdometerReadingFactory(vehicle=VehicleFactory(fleet=fleet))

    response = manager_client.post(
        reverse("admin:vehicles_odometerreading_delete", args=[reading.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not OdometerReading.objects.exists()
