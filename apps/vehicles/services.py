"""Writes of the vehicles app: vehicles, assignments of drivers to them, and odometer
readings; and a driver leaving the company, which ends the assignments they hold."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.drivers import services as drivers_services
from apps.drivers.choices import DriverStatus
from apps.drivers.models import Driver
from apps.fleets.selectors import referring_rows_text, rows_referring_to
from apps.vehicles.choices import VehicleStatus
from apps.vehicles.exceptions import (
    AssignmentChangedMeanwhile,
    AssignmentNotStarted,
    AssignmentOverlaps,
    AssignmentStarted,
    DriverNotActive,
    InvalidAssignmentPeriod,
    OdometerReadingExists,
    OdometerWentBackwards,
    OtherFleet,
    PlateInUse,
    VehicleHasHistory,
    VehicleRetired,
)
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from apps.vehicles.selectors import (
    odometer_neighbours,
    vehicle_assignment_first_starting_for_driver,
    vehicle_assignment_running_at,
    vehicle_assignments_overlapping,
    vehicle_assignments_running_for_driver,
)
from voltop.core.errors import NotFound
from voltop.core.models import fields_save_checked, fixed_fields_check
from voltop.core.timeutils import local_time_text, require_aware

logger = logging.getLogger(__name__)


ASSIGNMENT_EDITABLE_FIELDS = frozenset({"driver", "starts_at", "ends_at"})
READING_EDITABLE_FIELDS = frozenset({"km", "recorded_at"})


def vehicle_assignment_check(
    *,
    vehicle: Vehicle,
    driver: Driver,
    starts_at: datetime,
    ends_at: datetime | None,
    stored: VehicleAssignment | None = None,
) -> None:
    """Raise the first rule an assignment with these values would break; `stored` is the
    assignment as saved when these values would change it. A retired vehicle or an inactive
    driver gets no new assignment, and one they already have can be kept, ended or shortened,
    never reopened or lengthened; a retired vehicle's assignment also keeps its driver."""
    require_aware(starts_at, field="starts_at")
    require_aware(ends_at, field="ends_at")
    if driver.fleet_id != vehicle.fleet_id:
        raise OtherFleet("The driver belongs to another fleet than the vehicle.", field="driver")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidAssignmentPeriod("The assignment must end after it starts.", field="ends_at")
    if vehicle.status == VehicleStatus.RETIRED:
        retired = f"Vehicle {vehicle} is retired"
        if stored is None:
            raise VehicleRetired(f"{retired}.", field="vehicle")
        if stored.driver_id != driver.pk:
            raise VehicleRetired(f"{retired}: its assignment keeps its driver.", field="driver")
        longer = _assignment_lengthening(stored=stored, starts_at=starts_at, ends_at=ends_at)
        if longer is not None:
            field, change = longer
            raise VehicleRetired(
                f"{retired}: its assignment can be ended or shortened, not {change}.",
                field=field,
            )
    if driver.status != DriverStatus.ACTIVE:
        not_active = f"Driver {driver} is not active ({driver.get_status_display().lower()})"
        if stored is None or stored.driver_id != driver.pk:
            raise DriverNotActive(f"{not_active}.", field="driver")
        longer = _assignment_lengthening(stored=stored, starts_at=starts_at, ends_at=ends_at)
        if longer is not None:
            field, change = longer
            raise DriverNotActive(
                f"{not_active}: their assignment can be ended or shortened, not {change}.",
                field=field,
            )
    clash = (
        vehicle_assignments_overlapping(
            vehicle=vehicle,
            starts_at=starts_at,
            ends_at=ends_at,
            exclude_pk=stored.pk if stored is not None else None,
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


def _assignment_lengthening(
    *, stored: VehicleAssignment, starts_at: datetime, ends_at: datetime | None
) -> tuple[str, str] | None:
    """The field by which [starts_at, ends_at) reaches beyond the stored period, and how (an
    earlier start, no end where there was one, a later end); None when it keeps or shortens
    it."""
    if starts_at < stored.starts_at:
        return "starts_at", "started earlier"
    if stored.ends_at is not None and ends_at is None:
        return "ends_at", "reopened"
    if stored.ends_at is not None and ends_at is not None and ends_at > stored.ends_at:
        return "ends_at", "ended later"
    return None


def _assignment_save(
    *,
    assignment: VehicleAssignment,
    vehicle: Vehicle,
    driver: Driver,
    starts_at: datetime,
    ends_at: datetime | None,
    changed: Iterable[str] = (),
) -> VehicleAssignment:
    """Check the rules against the locked `vehicle` and `driver`, then save `assignment`: a new
    one whole, a stored one (locked, not yet changed) with only the `changed` fields."""
    vehicle_assignment_check(
        vehicle=vehicle,
        driver=driver,
        starts_at=starts_at,
        ends_at=ends_at,
        stored=assignment if assignment.pk is not None else None,
    )
    assignment.vehicle = vehicle
    assignment.driver = driver
    assignment.starts_at = starts_at
    assignment.ends_at = ends_at
    try:
        with transaction.atomic():
            if assignment.pk is None:
                assignment.save()
            elif changed:
                assignment.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as error:
        raise AssignmentOverlaps(
            f"{vehicle} is already assigned in that period.", field="starts_at"
        ) from error
    return assignment


@transaction.atomic
def vehicle_assign(
    *, vehicle: Vehicle, driver: Driver, starts_at: datetime, ends_at: datetime | None = None
) -> VehicleAssignment:
    """Assign `driver` to `vehicle` from `starts_at` (until `ends_at`, or open-ended). The
    driver, then the vehicle, are locked and the rules checked against their current rows."""
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    return _assignment_save(
        assignment=VehicleAssignment(),
        vehicle=vehicle,
        driver=driver,
        starts_at=starts_at,
        ends_at=ends_at,
    )


@transaction.atomic
def vehicle_assignment_update(*, assignment: VehicleAssignment, changes: dict) -> VehicleAssignment:
    """Change who (`driver`), from when (`starts_at`) or until when (`ends_at`, None opens it)
    with `changes`; the fields left out keep their stored values, and the rules are checked
    again. Its drivers, old and new, are locked in id order, then its vehicle, then the
    assignment itself, and `changes` apply to the row read under that lock. When it was given
    to another driver before its old driver's lock was held, the locks are let go and taken
    again once with the driver it has now; given away a second time, it is refused (409).
    Works on the stored row, so `assignment` stays as the caller passed it."""
    refused = set(changes) - ASSIGNMENT_EDITABLE_FIELDS
    if refused:
        raise ValueError(f"vehicle_assignment_update does not change {', '.join(sorted(refused))}.")
    try:
        with transaction.atomic():  # a savepoint: rolling back to it lets go of its row locks
            return _assignment_update_locked(assignment_pk=assignment.pk, changes=changes)
    except AssignmentChangedMeanwhile:
        return _assignment_update_locked(assignment_pk=assignment.pk, changes=changes)


def _assignment_update_locked(*, assignment_pk: int, changes: dict) -> VehicleAssignment:
    """Lock the assignment's drivers (its stored one and the one in `changes`, in id order),
    its vehicle and itself, then apply `changes` to it; raise AssignmentChangedMeanwhile when
    its driver is no longer the one locked."""
    stored_driver_id, vehicle_id = VehicleAssignment.objects.values_list(
        "driver_id", "vehicle_id"
    ).get(pk=assignment_pk)
    driver_ids = {stored_driver_id}
    if "driver" in changes:
        driver_ids.add(changes["driver"].pk)
    drivers = drivers_services.drivers_lock(driver_ids=driver_ids)
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle_id)
    stored = VehicleAssignment.objects.select_for_update().get(pk=assignment_pk)
    if stored.driver_id not in drivers:
        raise AssignmentChangedMeanwhile(
            f"The assignment of {vehicle} was given to another driver while this change was "
            "made; load it again and retry.",
            field="driver",
        )
    driver_id = changes["driver"].pk if "driver" in changes else stored.driver_id
    if driver_id not in drivers:
        raise NotFound("The driver no longer exists.", field="driver")
    return _assignment_save(
        assignment=stored,
        vehicle=vehicle,
        driver=drivers[driver_id],
        starts_at=changes.get("starts_at", stored.starts_at),
        ends_at=changes.get("ends_at", stored.ends_at),
        changed=changes,
    )


@transaction.atomic
def vehicle_assignment_end(
    *, assignment: VehicleAssignment, ends_at: datetime
) -> VehicleAssignment:
    """Close an assignment at `ends_at`, keeping its stored driver and start."""
    return vehicle_assignment_update(assignment=assignment, changes={"ends_at": ends_at})


@transaction.atomic
def vehicle_reassign(*, vehicle: Vehicle, driver: Driver, starts_at: datetime) -> VehicleAssignment:
    """Give `vehicle` to `driver` from `starts_at`, open-ended, in one step: the assignment
    running at that moment ends then, and the new one begins. Both drivers are locked in id
    order, then the vehicle and the running assignment; the rules of vehicle_assign apply to
    the new assignment, and any refusal changes nothing, the running assignment included. A
    vehicle already with `driver` at that moment is refused, as is a moment at which the
    running assignment only starts (change its driver instead)."""
    require_aware(starts_at, field="starts_at")
    running = vehicle_assignment_running_at(vehicle=vehicle, moment=starts_at)
    driver_ids = {driver.pk} | ({running.driver_id} if running is not None else set())
    drivers = drivers_services.drivers_lock(driver_ids=driver_ids)
    if driver.pk not in drivers:
        raise NotFound("The driver no longer exists.", field="driver")
    vehicle = Vehicle.objects.select_for_update().select_related("fleet").get(pk=vehicle.pk)
    if running is not None:
        running = VehicleAssignment.objects.select_for_update().get(pk=running.pk)
    if running != vehicle_assignment_running_at(vehicle=vehicle, moment=starts_at) or (
        running is not None and running.driver_id not in drivers
    ):
        raise AssignmentChangedMeanwhile(
            f"The assignments of {vehicle} changed while this one was made; load it again and "
            "retry.",
            field="driver",
        )
    new_driver = drivers[driver.pk]
    if running is not None:
        if running.driver_id == new_driver.pk:
            raise AssignmentOverlaps(
                f"{vehicle} is already assigned to {new_driver.full_name} at that moment.",
                field="driver",
            )
        if running.starts_at == starts_at:
            raise InvalidAssignmentPeriod(
                f"The assignment of {vehicle} to {drivers[running.driver_id].full_name} starts "
                "at that very moment; change its driver instead.",
                field="starts_at",
            )
        _assignment_save(
            assignment=running,
            vehicle=vehicle,
            driver=drivers[running.driver_id],
            starts_at=running.starts_at,
            ends_at=starts_at,
            changed=["ends_at"],
        )
    assignment = _assignment_save(
        assignment=VehicleAssignment(),
        vehicle=vehicle,
        driver=new_driver,
        starts_at=starts_at,
        ends_at=None,
    )
    logger.info(
        "vehicles.vehicle_reassigned",
        extra={
            "vehicle_id": vehicle.pk,
            "assignment_id": assignment.pk,
            "ended_assignment_id": running.pk if running is not None else None,
        },
    )
    return assignment


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


def driver_leave_check(*, driver: Driver, now: datetime) -> None:
    """Raise the first rule that keeps `driver` from leaving at `now`: an assignment of theirs
    that has not started by then cannot end then (give it to another driver first)."""
    vehicle_assignments_end_check(driver=driver, ends_at=now)


@transaction.atomic
def driver_leave(*, driver: Driver, now: datetime | None = None) -> Driver:
    """Mark a driver as having left the company at `now` (the present when left out): their
    tokens are deactivated, the vehicle assignments they hold end at that moment, and their
    login is refused from the next request on. Their history stays. A session they started
    still runs to its end and is billed as usual: stopping a session does not depend on the
    driver's status, as for a suspended driver. Refused, changing nothing, while an assignment
    of theirs starts at or after `now`. Leaving again changes nothing."""
    now = now or timezone.now()
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    ended = vehicle_assignments_end_for_driver(driver=driver, ends_at=now)
    driver = drivers_services.driver_departure_record(driver=driver)
    logger.info(
        "drivers.driver_left",
        extra={"driver_id": driver.pk, "assignments_ended": len(ended)},
    )
    return driver


@transaction.atomic
def driver_set_status_or_leave(*, driver: Driver, status: DriverStatus, reason: str = "") -> Driver:
    """Give a driver any status, as the admin's status field does: a driver who leaves goes
    through driver_leave, which also ends their vehicle assignments; suspending (for `reason`)
    through apps.drivers.services.driver_suspend, reactivating a suspended driver through
    driver_reactivate, and taking back a driver who had left through driver_set_status."""
    if status == DriverStatus.LEFT:
        return driver_leave(driver=driver)
    if status == DriverStatus.SUSPENDED:
        return drivers_services.driver_suspend(driver=driver, reason=reason)
    stored_status = Driver.objects.values_list("status", flat=True).get(pk=driver.pk)
    if stored_status == DriverStatus.SUSPENDED:
        return drivers_services.driver_reactivate(driver=driver)
    return drivers_services.driver_set_status(driver=driver, status=status)


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
def odometer_reading_correct(*, reading: OdometerReading, changes: dict) -> OdometerReading:
    """Correct a reading's `km` or `recorded_at` with `changes`; the fields left out keep
    their stored values, and it must still fit between its neighbours. Its vehicle (which a
    reading never changes) is locked, then the reading, and `changes` apply to the row read
    under that lock. Works on the stored row, so `reading` stays as the caller passed it."""
    refused = set(changes) - READING_EDITABLE_FIELDS
    if refused:
        raise ValueError(f"odometer_reading_correct does not change {', '.join(sorted(refused))}.")
    vehicle = Vehicle.objects.select_for_update().get(pk=reading.vehicle_id)
    stored = OdometerReading.objects.select_for_update().get(pk=reading.pk)
    odometer_reading_check(
        vehicle=vehicle,
        km=changes.get("km", stored.km),
        recorded_at=changes.get("recorded_at", stored.recorded_at),
        exclude_pk=stored.pk,
    )
    for name, value in changes.items():
        setattr(stored, name, value)
    if changes:
        stored.save(update_fields=[*changes, "updated_at"])
    return stored


def vehicle_plate_check(*, fleet_id: int, plate: str, exclude_pk: int | None = None) -> None:
    """Refuse a licence plate that another vehicle of the fleet has, whatever its case (the
    database holds the same rule)."""
    plate = (plate or "").strip()
    if not plate:
        return
    clash = Vehicle.objects.filter(fleet_id=fleet_id, plate__iexact=plate).exclude(pk=exclude_pk)
    if clash.exists():
        raise PlateInUse(
            f"Another vehicle of this fleet already has the licence plate {plate.upper()} "
            "(case does not matter).",
            field="plate",
        )


def _vehicle_save_checked(vehicle: Vehicle, changes: dict) -> None:
    """fields_save_checked() with the plate check; a plate taken meanwhile by another
    request is refused the same way, not as a database error."""
    fields_save_checked(
        vehicle,
        changes,
        clash_check=lambda: vehicle_plate_check(
            fleet_id=vehicle.fleet_id, plate=vehicle.plate, exclude_pk=vehicle.pk
        ),
    )


@transaction.atomic
def vehicle_create(*, fleet, **fields) -> Vehicle:
    """Add a vehicle to `fleet` after the model's checks (VIN unique and well-formed, plate
    unique in the fleet whatever its case, depot and cost center of the same fleet)."""
    vehicle = Vehicle(fleet=fleet)
    _vehicle_save_checked(vehicle, fields)
    return vehicle


@transaction.atomic
def vehicle_update(*, vehicle: Vehicle, changes: dict) -> Vehicle:
    """Change a vehicle's details or status after the model's checks. Its fleet stays: a change
    of fleet is refused (FieldFixed) and nothing changes."""
    fixed_fields_check(
        Vehicle,
        changes,
        {"fleet": "A vehicle stays in the fleet it was made in; its fleet cannot be changed."},
    )
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    _vehicle_save_checked(vehicle, changes)
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


def vehicle_assignment_delete_check(*, assignment: VehicleAssignment, now: datetime) -> None:
    """Refuse to delete an assignment that has started: who drove the vehicle then is history
    (its sessions were booked to it). One that has not started yet, made by mistake, may go;
    one that has started is ended instead."""
    if assignment.starts_at <= now:
        starts = local_time_text(assignment.starts_at, assignment.vehicle.fleet.zone)
        raise AssignmentStarted(
            f"The assignment of {assignment.vehicle} to {assignment.driver.full_name} started "
            f"on {starts} and cannot be deleted; end it instead.",
            field="ends_at",
        )


@transaction.atomic
def vehicle_assignment_delete(*, assignment: VehicleAssignment) -> None:
    """Delete an assignment that has not started yet; one that has is refused and kept. Its
    driver is locked, then the assignment."""
    drivers_services.drivers_lock(driver_ids=[assignment.driver_id])
    assignment = (
        VehicleAssignment.objects.select_for_update(of=("self",))
        .select_related("vehicle__fleet", "driver")
        .get(pk=assignment.pk)
    )
    vehicle_assignment_delete_check(assignment=assignment, now=timezone.now())
    assignment_id = assignment.pk
    assignment.delete()
    logger.info(
        "vehicles.assignment_deleted",
        extra={"vehicle_id": assignment.vehicle_id, "assignment_id": assignment_id},
    )


@transaction.atomic
def odometer_reading_delete(*, reading: OdometerReading) -> None:
    """Delete a reading entered by mistake; the readings left still go up, as they did with
    it. Its vehicle is locked first, as when readings are recorded."""
    Vehicle.objects.select_for_update().get(pk=reading.vehicle_id)
    reading_id = reading.pk
    OdometerReading.objects.filter(pk=reading_id).delete()
    logger.info(
        "vehicles.odometer_reading_deleted",
        extra={"vehicle_id": reading.vehicle_id, "odometer_reading_id": reading_id},
    )
