"""Errors of the vehicles app, each with a stable code."""

from voltop.core.errors import Conflict, DomainError


class AssignmentOverlaps(Conflict):
    code = "vehicles.assignment_overlaps"


class InvalidAssignmentPeriod(DomainError):
    code = "vehicles.invalid_assignment_period"


class OtherFleet(DomainError):
    code = "vehicles.other_fleet"


class VehicleRetired(DomainError):
    code = "vehicles.vehicle_retired"


class DriverNotActive(DomainError):
    code = "vehicles.driver_not_active"


class OdometerWentBackwards(DomainError):
    code = "vehicles.odometer_went_backwards"


class OdometerReadingExists(Conflict):
    code = "vehicles.odometer_reading_exists"


class AssignmentChangedMeanwhile(Conflict):
    code = "vehicles.assignment_changed_meanwhile"


class AssignmentNotStarted(Conflict):
    code = "vehicles.assignment_not_started"


class VehicleHasHistory(Conflict):
    code = "vehicles.vehicle_has_history"


class PlateInUse(Conflict):
    code = "vehicles.plate_in_use"


class AssignmentStarted(Conflict):
    code = "vehicles.assignment_started"
