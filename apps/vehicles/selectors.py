"""Reads of the vehicles app."""

from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Concat

from apps.drivers.models import Driver
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment


def vehicle_assignments_overlapping(
    *,
    vehicle: Vehicle,
    starts_at: datetime,
    ends_at: datetime | None,
    exclude_pk: int | None = None,
) -> QuerySet[VehicleAssignment]:
    """Assignments of `vehicle` whose [start, end) range meets [starts_at, ends_at)."""
    overlapping = VehicleAssignment.objects.filter(vehicle=vehicle).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=starts_at)
    )
    if ends_at is not None:
        overlapping = overlapping.filter(starts_at__lt=ends_at)
    return overlapping.exclude(pk=exclude_pk)


def vehicle_assignment_for_driver_at(
    *, driver: Driver, moment: datetime
) -> VehicleAssignment | None:
    """The assignment that gives `driver` a vehicle at `moment`, if any: the one that started
    last, and of two that started together, the one made last."""
    return (
        VehicleAssignment.objects.filter(driver=driver, starts_at__lte=moment)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=moment))
        .select_related("vehicle")
        .order_by("-starts_at", "-pk")
        .first()
    )


def vehicle_assignments_at_for_drivers(
    *, moments_by_driver: dict[int, list[datetime]]
) -> dict[tuple[int, datetime], VehicleAssignment | None]:
    """`vehicle_assignment_for_driver_at` for many drivers and moments in one query: for each
    (driver id, moment), the assignment that gives the driver a vehicle then, or None."""
    moments = [moment for driver_moments in moments_by_driver.values() for moment in driver_moments]
    if not moments:
        return {}
    assignments: dict[int, list[VehicleAssignment]] = {}
    for assignment in (
        VehicleAssignment.objects.filter(
            driver_id__in=moments_by_driver.keys(), starts_at__lte=max(moments)
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=min(moments)))
        .select_related("vehicle")
        .order_by("-starts_at", "-pk")
    ):
        assignments.setdefault(assignment.driver_id, []).append(assignment)
    return {
        (driver_id, moment): next(
            (
                assignment
                for assignment in assignments.get(driver_id, [])
                if assignment.starts_at <= moment
                and (assignment.ends_at is None or assignment.ends_at > moment)
            ),
            None,
        )
        for driver_id, driver_moments in moments_by_driver.items()
        for moment in driver_moments
    }


def vehicle_assignments_running_for_driver(
    *, driver: Driver, moment: datetime
) -> QuerySet[VehicleAssignment]:
    """Assignments of `driver` that started before `moment` and have not ended by then."""
    return VehicleAssignment.objects.filter(driver=driver, starts_at__lt=moment).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=moment)
    )


def vehicle_assignment_running_at(
    *, vehicle: Vehicle, moment: datetime
) -> VehicleAssignment | None:
    """The assignment of `vehicle` that started at or before `moment` and has not ended by
    then, if any (assignments of a vehicle never overlap)."""
    return (
        VehicleAssignment.objects.filter(vehicle=vehicle, starts_at__lte=moment)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=moment))
        .order_by("-starts_at", "-pk")
        .first()
    )


def vehicle_assignment_first_starting_for_driver(
    *, driver: Driver, moment: datetime
) -> VehicleAssignment | None:
    """The first assignment of `driver` that starts at or after `moment`, with its vehicle."""
    return (
        VehicleAssignment.objects.filter(driver=driver, starts_at__gte=moment)
        .select_related("vehicle__fleet")
        .order_by("starts_at", "pk")
        .first()
    )


def odometer_neighbours(
    *, vehicle: Vehicle, recorded_at: datetime, exclude_pk: int | None = None
) -> tuple[OdometerReading | None, OdometerReading | None]:
    """The readings of `vehicle` just before and just after `recorded_at`."""
    readings = OdometerReading.objects.filter(vehicle=vehicle).exclude(pk=exclude_pk)
    before = readings.filter(recorded_at__lt=recorded_at).order_by("-recorded_at").first()
    after = readings.filter(recorded_at__gt=recorded_at).order_by("recorded_at").first()
    return before, after


def vehicle_list_with_driver_and_odometer(
    vehicles: QuerySet[Vehicle], *, now: datetime
) -> QuerySet[Vehicle]:
    """`vehicles` (already scoped to a fleet by the caller), each annotated, in the same query,
    with who drives it at `now` (`current_driver_id`, `current_driver_name`) and its latest
    odometer reading (`last_odometer_km`, `last_odometer_at`); None where there is none."""
    current = (
        VehicleAssignment.objects.filter(vehicle=OuterRef("pk"), starts_at__lte=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("-starts_at", "-pk")
    )
    latest_reading = OdometerReading.objects.filter(vehicle=OuterRef("pk")).order_by("-recorded_at")
    return vehicles.annotate(
        current_driver_id=Subquery(current.values("driver_id")[:1]),
        current_driver_name=Subquery(
            current.annotate(
                name=Concat("driver__first_name", Value(" "), "driver__last_name")
            ).values("name")[:1]
        ),
        last_odometer_km=Subquery(latest_reading.values("km")[:1]),
        last_odometer_at=Subquery(latest_reading.values("recorded_at")[:1]),
    )
