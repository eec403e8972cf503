"""Writes of the vehicles app: vehicles, assignments of drivers to them, and odometer
readings."""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction

from apps.drivers.choices import DriverStatus
from apps.drivers.models import Driver
from apps.fleets.selectors import referring_rows_text, rows_referring_to
from apps.vehicles.choices import VehicleStatus
from apps.vehicles.exceptions import (
    AssignmentNotStarted,
    AssignmentOverlaps,
    DriverNotActive,
    InvalidAssignmentPeriod,
    OdometerReadingExists,
    OdometerWentBackwards,
    OtherFleet,
    VehicleHasHistory,
    VehicleRetired,
)
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from apps.vehicles.selectors import (
    odometer_neighbours,
    vehicle_assignment_first_starting_for_driver,
    vehicle_assignments_overlapping,
    vehicle_assignments_running_for_driver,
)
from voltop.core.timeutils import local_time_text, require_aware

logger = logging.getLogger(__name__)


def vehicle_assignment_check(
    *,
    vehicle: Vehicle,
    driver: Driver,
    starts_at: datetime,
    ends_at: datetime | None,
    exclude_pk: int | None = None,
) -> None:
    """Raise the first rule an assignment with these values would break. A retired vehicle or
    an inactive driver gets no new assignment; one already made (`exclude_pk`) can still be
    ended or moved."""
    require_aware(starts_at, field="starts_at")
    require_aware(ends_at, field="ends_at")
    if driver.fleet_id != vehicle.fleet_id:
        raise OtherFleet("The driver belongs to another fleet than the vehicle.", field="driver")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidAssignmentPeriod("The assignment must end after it starts.", field="ends_at")
    if vehicle.status == VehicleStatus.RETIRED and exclude_pk is None:
        raise VehicleRetired(f"Vehicle {vehicle} is retired.", field="vehicle")
    if driver.status != DriverStatus.ACTIVE and not _keeps_its_driver(
        assignment_pk=exclude_pk, driver=driver
    ):
        raise DriverNotActive(
            f"Driver {driver} is not active ({driver.get_status_display().lower()}).",
            field="driver",
        )
    clash = (
        vehicle_assignments_overlapping(
            vehicle=vehicle, starts_at=starts_at, ends_at=ends_at, exclude_pk=exclude_pk
        )
        .select_related("driver")
        .first()
    )
    if clash is not None:
        zone = vehicle.fleet.zone
        until = local_time_text(clash.ends_at, zone) if clash.ends_at else "open end"
        raise AssignmentOverlaps(
            f"{vehicle} is already assigned to {clash.driver.full_name} from "
            f"{local_time_text(clash.starts_at, zone)} until {until}.",
            field="starts_at",
        )


def _keeps_its_driver(*, assignment_pk: int | None, driver: Driver) -> bool:
    """True when assignment `assignment_pk` already has `driver`: the assignment of a driver
    suspended since can still be ended or moved, but no inactive driver gets a new one."""
    if assignment_pk is None:
        return False
    return VehicleAssignment.objects.filter(pk=assignment_pk, driver=driver).exists()


def _assignment_save(
    *,
    assignment: VehicleAssignment,
    vehicle_pk: int,
    driver_pk: int,
    starts_at: datetime,
    ends_at: datetime | None,
) -> VehicleAssignment:
    """Lock driver then vehicle, check the rules against their current rows, then save."""
    driver = Driver.objects.select_for_update().get(pk=driver_pk)
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle_pk)
    vehicle_assignment_check(
        vehicle=vehicle,
        driver=driver,
        starts_at=starts_at,
        ends_at=ends_at,
        exclude_pk=assignment.pk,
    )
    assignment.vehicle = vehicle
    assignment.driver = driver
    assignment.starts_at = starts_at
    assignment.ends_at = ends_at
    try:
        with transaction.atomic():
            if assignment.pk is None:
                assignment.save()
            else:
                assignment.save(update_fields=["driver", "starts_at", "ends_at", "updated_at"])
    except IntegrityError as error:
        raise AssignmentOverlaps(
            f"{vehicle} is already assigned in that period.", field="starts_at"
        ) from error
    return assignment


@transaction.atomic
def vehicle_assign(
    *, vehicle: Vehicle, driver: Driver, starts_at: datetime, ends_at: datetime | None = None
) -> VehicleAssignment:
    """Assign `driver` to `vehicle` from `starts_at` (until `ends_at`, or open-ended)."""
    return _assignment_save(
        assignment=VehicleAssignment(),
        vehicle_pk=vehicle.pk,
        driver_pk=driver.pk,
        starts_at=starts_at,
        ends_at=ends_at,
    )


@transaction.atomic
def vehicle_assignment_update(
    *,
    assignment: VehicleAssignment,
    driver: Driver,
    starts_at: datetime,
    ends_at: datetime | None,
) -> VehicleAssignment:
    """Change who, from when or until when; the overlap rules are checked again.

    Works on the stored row, so a refused change leaves `assignment` as the caller passed it.
    """
    stored = VehicleAssignment.objects.get(pk=assignment.pk)
    return _assignment_save(
        assignment=stored,
        vehicle_pk=stored.vehicle_id,
        driver_pk=driver.pk,
        starts_at=starts_at,
        ends_at=ends_at,
    )


@transaction.atomic
def vehicle_assignment_end(
    *, assignment: VehicleAssignment, ends_at: datetime
) -> VehicleAssignment:
    """Close an open assignment at `ends_at`, keeping its stored driver and start."""
    stored = VehicleAssignment.objects.get(pk=assignment.pk)
    return vehicle_assignment_update(
        assignment=stored, driver=stored.driver, starts_at=stored.starts_at, ends_at=ends_at
    )


def vehicle_assignments_end_check(*, driver: Driver, ends_at: datetime) -> None:
    """Raise if an assignment of `driver` starts at or after `ends_at`: it cannot end then."""
    require_aware(ends_at, field="ends_at")
    later = vehicle_assignment_first_starting_for_driver(driver=driver, moment=ends_at)
    if later is not None:
        starts = local_time_text(later.starts_at, later.vehicle.fleet.zone)
        raise AssignmentNotStarted(
            f"{driver.full_name} is assigned {later.vehicle} from {starts}, which has not "
            "started yet; give that assignment to another driver first."
        )


@transaction.atomic
def vehicle_assignments_end_for_driver(
    *, driver: Driver, ends_at: datetime
) -> list[VehicleAssignment]:
    """End at `ends_at` every assignment `driver` holds then, e.g. when the driver leaves.
    Refused, ending none, while an assignment of theirs starts at or after `ends_at`."""
    vehicle_assignments_end_check(driver=driver, ends_at=ends_at)
    running = vehicle_assignments_running_for_driver(driver=driver, moment=ends_at)
    return [
        vehicle_assignment_end(assignment=assignment, ends_at=ends_at)
        for assignment in running.order_by("starts_at", "pk")
    ]


def odometer_reading_check(
    *, vehicle: Vehicle, km: int, recorded_at: datetime, exclude_pk: int | None = None
) -> None:
    """Raise if `km` at `recorded_at` is below an earlier reading or above a later one."""
    require_aware(recorded_at, field="recorded_at")
    if km < 0:
        raise OdometerWentBackwards("The odometer cannot be negative.", field="km")
    before, after = odometer_neighbours(
        vehicle=vehicle, recorded_at=recorded_at, exclude_pk=exclude_pk
    )
    if before is not None and km < before.km:
        recorded = local_time_text(before.recorded_at, vehicle.fleet.zone)
        raise OdometerWentBackwards(
            f"{km} km is lower than the {before.km} km recorded on {recorded}; "
            "an odometer never goes back.",
            field="km",
        )
    if after is not None and km > after.km:
        raise OdometerWentBackwards(
            f"{km} km is higher than the {after.km} km recorded later, on "
            f"{local_time_text(after.recorded_at, vehicle.fleet.zone)}.",
            field="km",
        )
    same_moment = OdometerReading.objects.filter(vehicle=vehicle, recorded_at=recorded_at)
    if same_moment.exclude(pk=exclude_pk).exists():
        raise OdometerReadingExists(
            f"{vehicle} already has a reading at "
            f"{local_time_text(recorded_at, vehicle.fleet.zone, seconds=True)}.",
            field="recorded_at",
        )


@transaction.atomic
def odometer_reading_record(*, vehicle: Vehicle, km: int, recorded_at: datetime) -> OdometerReading:
    """Record the odometer of `vehicle` at `recorded_at`."""
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    odometer_reading_check(vehicle=vehicle, km=km, recorded_at=recorded_at)
    return OdometerReading.objects.create(vehicle=vehicle, km=km, recorded_at=recorded_at)


@transaction.atomic
def odometer_reading_correct(
    *, reading: OdometerReading, km: int, recorded_at: datetime
) -> OdometerReading:
    """Correct a reading; it must still fit between its neighbours."""
    Vehicle.objects.select_for_update().filter(pk=reading.vehicle_id).first()
    odometer_reading_check(
        vehicle=reading.vehicle, km=km, recorded_at=recorded_at, exclude_pk=reading.pk
    )
    reading.km = km
    reading.recorded_at = recorded_at
    reading.save(update_fields=["km", "recorded_at", "updated_at"])
    return reading


def _vehicle_fields_save_checked(vehicle: Vehicle, changes: dict) -> None:
    """Apply `changes`, run the model's full_clean() and save only what changed; a refusal
    raises Django's ValidationError naming the field, and nothing is saved."""
    for name, value in changes.items():
        setattr(vehicle, name, value)
    vehicle.full_clean()
    if vehicle.pk is None:
        vehicle.save()
    elif changes:
        vehicle.save(update_fields=[*changes, "updated_at"])


@transaction.atomic
def vehicle_create(*, fleet, **fields) -> Vehicle:
    """Add a vehicle to `fleet` after the model's checks (VIN unique and well-formed, plate
    unique in the fleet, depot and cost center of the same fleet)."""
    vehicle = Vehicle(fleet=fleet)
    _vehicle_fields_save_checked(vehicle, fields)
    return vehicle


@transaction.atomic
def vehicle_update(*, vehicle: Vehicle, changes: dict) -> Vehicle:
    """Change a vehicle's details or status after the model's checks; its fleet stays."""
    if {"fleet", "fleet_id"} & set(changes):
        raise ValueError("vehicle_update does not move a vehicle to another fleet.")
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    _vehicle_fields_save_checked(vehicle, changes)
    return vehicle


def vehicle_delete_check(*, vehicle: Vehicle) -> None:
    """Refuse to delete a vehicle anything refers to (assignments, odometer readings,
    sessions): its history stays, and retiring it is the way to take it out of service."""
    references = rows_referring_to(Vehicle.objects.filter(pk=vehicle.pk))
    if references:
        raise VehicleHasHistory(
            f"Vehicle {vehicle} cannot be deleted: its history is still referred to by "
            f"{referring_rows_text(references)}. Retire it instead."
        )


@transaction.atomic
def vehicle_delete(*, vehicle: Vehicle) -> None:
    """Delete a vehicle without history; one with history is refused and kept. The row is
    locked first, so nothing can come to refer to it while it is judged."""
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    vehicle_delete_check(vehicle=vehicle)
    vehicle_id = vehicle.pk
    vehicle.delete()
    logger.info(
        "vehicles.vehicle_deleted", extra={"fleet_id": vehicle.fleet_id, "vehicle_id": vehicle_id}
    )
