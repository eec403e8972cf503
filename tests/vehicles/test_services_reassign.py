"""Reassigning a vehicle (apps.vehicles.services.vehicle_reassign): the running assignment
ends and the new one begins in one step; any refusal leaves both as they were."""

import datetime as dt

import pytest

from apps.drivers.choices import DriverStatus
from apps.vehicles.choices import VehicleStatus
from apps.vehicles.exceptions import (
    AssignmentOverlaps,
    DriverNotActive,
    InvalidAssignmentPeriod,
    OtherFleet,
    VehicleRetired,
)
from apps.vehicles.models import Vehicle, VehicleAssignment
from apps.vehicles.services import vehicle_reassign
from tests.factories import DriverFactory, VehicleAssignmentFactory, VehicleFactory
from voltop.core.timeutils import NaiveDatetime

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MAR_1 = dt.datetime(2026, 3, 1, 8, tzinfo=UTC)
JUN_15 = dt.datetime(2026, 6, 15, 17, tzinfo=UTC)
SEP_1 = dt.datetime(2026, 9, 1, 8, tzinfo=UTC)


@pytest.fixture
def vehicle() -> Vehicle:
    return VehicleFactory(plate="EV-901-Q")


@pytest.fixture
def sanne(vehicle):
    return DriverFactory(fleet=vehicle.fleet, first_name="Sanne", last_name="de Vries")


@pytest.fixture
def noor(vehicle):
    return DriverFactory(fleet=vehicle.fleet, first_name="Noor", last_name="Bakker")


def assignment_rows(vehicle: Vehicle) -> list[tuple]:
    return list(
        VehicleAssignment.objects.filter(vehicle=vehicle)
        .order_by("starts_at", "pk")
        .values_list("driver_id", "starts_at", "ends_at")
    )


def test_reassigning_ends_the_running_assignment_and_opens_the_new_one(vehicle, sanne, noor):
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1)

    assignment = vehicle_reassign(vehicle=vehicle, driver=noor, starts_at=JUN_15)

    assert (assignment.driver_id, assignment.starts_at, assignment.ends_at) == (
        noor.pk,
        JUN_15,
        None,
    )
    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, JUN_15), (noor.pk, JUN_15, None)]


def test_reassigning_a_vehicle_nobody_drives_just_assigns_it(vehicle, noor):
    vehicle_reassign(vehicle=vehicle, driver=noor, starts_at=JUN_15)

    assert assignment_rows(vehicle) == [(noor.pk, JUN_15, None)]


def test_reassigning_within_an_assignment_with_an_end_ends_it_earlier(vehicle, sanne, noor):
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1, ends_at=SEP_1)

    vehicle_reassign(vehicle=vehicle, driver=noor, starts_at=JUN_15)

    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, JUN_15), (noor.pk, JUN_15, None)]


def test_the_running_assignment_of_a_suspended_driver_can_be_ended_by_reassigning(
    vehicle, sanne, noor
):
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1)
    sanne.status = DriverStatus.SUSPENDED
    sanne.save(update_fields=["status"])

    vehicle_reassign(vehicle=vehicle, driver=noor, starts_at=JUN_15)

    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, JUN_15), (noor.pk, JUN_15, None)]


def refused(vehicle, driver, starts_at, error_class) -> Exception:
    with pytest.raises(error_class) as refusal:
        vehicle_reassign(vehicle=vehicle, driver=driver, starts_at=starts_at)
    return refusal.value


def test_reassigning_to_an_inactive_driver_is_refused_and_the_running_one_keeps_going(
    vehicle, sanne, noor
):
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1)
    noor.status = DriverStatus.SUSPENDED
    noor.save(update_fields=["status"])

    refusal = refused(vehicle, noor, JUN_15, DriverNotActive)

    assert refusal.field == "driver"
    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, None)]


def test_reassigning_a_retired_vehicle_is_refused_and_changes_nothing(vehicle, sanne, noor):
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1)
    Vehicle.objects.filter(pk=vehicle.pk).update(status=VehicleStatus.RETIRED)

    refused(vehicle, noor, JUN_15, VehicleRetired)

    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, None)]


def test_reassigning_over_a_later_assignment_is_refused_and_changes_nothing(vehicle, sanne, noor):
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1, ends_at=JUN_15)
    later = DriverFactory(fleet=vehicle.fleet)
    VehicleAssignmentFactory(vehicle=vehicle, driver=later, starts_at=SEP_1)
    before = assignment_rows(vehicle)

    refusal = refused(vehicle, noor, MAR_1 + dt.timedelta(days=30), AssignmentOverlaps)

    assert refusal.field == "starts_at"
    assert assignment_rows(vehicle) == before


def test_reassigning_to_the_driver_who_has_it_is_refused(vehicle, sanne):
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1)

    refusal = refused(vehicle, sanne, JUN_15, AssignmentOverlaps)

    assert refusal.message == f"{vehicle} is already assigned to {sanne.full_name} at that moment."
    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, None)]


def test_reassigning_at_the_very_start_of_the_running_assignment_is_refused(vehicle, sanne, noor):
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1)

    refusal = refused(vehicle, noor, MAR_1, InvalidAssignmentPeriod)

    assert refusal.field == "starts_at"
    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, None)]


def test_reassigning_to_a_driver_of_another_fleet_is_refused(vehicle, sanne):
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1)

    refused(vehicle, DriverFactory(), JUN_15, OtherFleet)

    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, None)]


def test_a_naive_moment_is_refused(vehicle, noor):
    with pytest.raises(NaiveDatetime):
        vehicle_reassign(vehicle=vehicle, driver=noor, starts_at=dt.datetime(2026, 6, 15, 17))  # noqa: DTZ001

    assert assignment_rows(vehicle) == []
