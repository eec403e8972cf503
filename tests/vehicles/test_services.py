"""Writes of the vehicles app: assigning drivers to vehicles without overlap, and odometer
readings that never go back."""

import datetime as dt
import threading
import time

import psycopg
import pytest
import time_machine
from django.db import connection

from apps.drivers.choices import DriverStatus
from apps.drivers.models import Driver
from apps.vehicles import services
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
from apps.vehicles.services import (
    odometer_reading_correct,
    odometer_reading_delete,
    odometer_reading_record,
    vehicle_assign,
    vehicle_assignment_delete,
    vehicle_assignment_end,
    vehicle_assignment_update,
    vehicle_assignments_end_for_driver,
    vehicle_delete,
    vehicle_update,
)
from tests.celery_workers import current_database_url
from tests.factories import (
    ChargingSessionFactory,
    DriverFactory,
    FleetFactory,
    OdometerReadingFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)
from tests.locks import wait_until_blocked_by
from tests.races import taken_after_the_checks
from voltop.core.errors import FieldFixed, NotFound
from voltop.core.timeutils import NaiveDatetime

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MAR_1 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MAR_2 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MAR_3 = dt.datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
MAR_4 = dt.datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


@pytest.fixture
def vehicle() -> Vehicle:
    return VehicleFactory(plate="EV-001-X", make="Volkswagen", model="ID.4 Pro")


@pytest.fixture
def driver(vehicle) -> Driver:
    return DriverFactory(fleet=vehicle.fleet, first_name="Sanne", last_name="de Vries")


@pytest.fixture
def colleague(vehicle) -> Driver:
    return DriverFactory(fleet=vehicle.fleet, first_name="Noor", last_name="Jansen")


def _assignments() -> list[tuple]:
    return list(
        VehicleAssignment.objects.order_by("starts_at", "pk").values_list(
            "vehicle_id", "driver_id", "starts_at", "ends_at"
        )
    )


# vehicle_assign


def test_assigning_a_driver_stores_the_period(vehicle, driver):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_2)

    assert assignment.pk is not None
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, MAR_2)]


def test_assignment_starting_when_the_previous_one_ends_is_allowed(vehicle, driver, colleague):
    vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_2)

    vehicle_assign(vehicle=vehicle, driver=colleague, starts_at=MAR_2)

    assert _assignments() == [
        (vehicle.pk, driver.pk, MAR_1, MAR_2),
        (vehicle.pk, colleague.pk, MAR_2, None),
    ]


def test_the_same_period_on_another_vehicle_is_allowed(vehicle, driver, colleague):
    vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_3)
    other_vehicle = VehicleFactory(fleet=vehicle.fleet)

    vehicle_assign(vehicle=other_vehicle, driver=colleague, starts_at=MAR_1, ends_at=MAR_3)

    assert VehicleAssignment.objects.count() == 2


@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [
        (MAR_2, MAR_3),
        (MAR_1 - dt.timedelta(days=1), MAR_4),
        (MAR_1 - dt.timedelta(days=1), MAR_1 + dt.timedelta(minutes=1)),
        (MAR_3 - dt.timedelta(minutes=1), MAR_4),
        (MAR_2, None),
        (MAR_1 - dt.timedelta(days=1), None),
    ],
    ids=["inside", "around", "across-start", "across-end", "open-inside", "open-before"],
)
def test_assignment_overlapping_another_is_refused_and_saves_nothing(
    vehicle, driver, colleague, starts_at, ends_at
):
    vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_3)

    with pytest.raises(AssignmentOverlaps) as excinfo:
        vehicle_assign(vehicle=vehicle, driver=colleague, starts_at=starts_at, ends_at=ends_at)

    assert (excinfo.value.code, excinfo.value.field) == (
        "vehicles.assignment_overlaps",
        "starts_at",
    )
    assert excinfo.value.message == (
        "EV-001-X (Volkswagen ID.4 Pro) is already assigned to Sanne de Vries "
        "from 2026-03-01 09:00 CET until 2026-03-03 09:00 CET."
    )
    assert excinfo.value.status == 409
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, MAR_3)]


def test_assignment_after_the_start_of_an_open_ended_one_is_refused(vehicle, driver, colleague):
    vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)

    with pytest.raises(AssignmentOverlaps) as excinfo:
        vehicle_assign(
            vehicle=vehicle,
            driver=colleague,
            starts_at=dt.datetime(2027, 1, 1, tzinfo=UTC),
            ends_at=dt.datetime(2027, 2, 1, tzinfo=UTC),
        )

    assert excinfo.value.message == (
        "EV-001-X (Volkswagen ID.4 Pro) is already assigned to Sanne de Vries "
        "from 2026-03-01 09:00 CET until open end."
    )
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, None)]


@pytest.mark.parametrize("ends_at", [MAR_1, MAR_1 - dt.timedelta(hours=1)], ids=["same", "before"])
def test_assignment_ending_when_or_before_it_starts_is_refused(vehicle, driver, ends_at):
    with pytest.raises(InvalidAssignmentPeriod) as excinfo:
        vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=ends_at)

    assert (excinfo.value.code, excinfo.value.field) == (
        "vehicles.invalid_assignment_period",
        "ends_at",
    )
    assert excinfo.value.message == "The assignment must end after it starts."
    assert VehicleAssignment.objects.count() == 0


def test_assigning_a_driver_of_another_fleet_is_refused(vehicle):
    with pytest.raises(OtherFleet) as excinfo:
        vehicle_assign(vehicle=vehicle, driver=DriverFactory(), starts_at=MAR_1)

    assert (excinfo.value.code, excinfo.value.field) == ("vehicles.other_fleet", "driver")
    assert VehicleAssignment.objects.count() == 0


def test_assigning_a_retired_vehicle_is_refused(driver):
    retired = VehicleFactory(
        fleet=driver.fleet, status=VehicleStatus.RETIRED, plate="EV-009-Z", model="e-Golf"
    )

    with pytest.raises(VehicleRetired) as excinfo:
        vehicle_assign(vehicle=retired, driver=driver, starts_at=MAR_1)

    assert (excinfo.value.code, excinfo.value.field) == ("vehicles.vehicle_retired", "vehicle")
    assert excinfo.value.message == "Vehicle EV-009-Z (Volkswagen e-Golf) is retired."
    assert VehicleAssignment.objects.count() == 0


def test_assigning_a_vehicle_retired_since_it_was_loaded_is_refused(vehicle, driver):
    Vehicle.objects.filter(pk=vehicle.pk).update(status=VehicleStatus.RETIRED)

    with pytest.raises(VehicleRetired):
        vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)

    assert VehicleAssignment.objects.count() == 0


@pytest.mark.parametrize(
    ("status", "label"), [(DriverStatus.SUSPENDED, "suspended"), (DriverStatus.LEFT, "left")]
)
def test_assigning_an_inactive_driver_is_refused(vehicle, status, label):
    inactive = DriverFactory(
        fleet=vehicle.fleet,
        first_name="Sanne",
        last_name="de Vries",
        employee_number="E00042",
        status=status,
    )

    with pytest.raises(DriverNotActive) as excinfo:
        vehicle_assign(vehicle=vehicle, driver=inactive, starts_at=MAR_1)

    assert (excinfo.value.code, excinfo.value.field) == ("vehicles.driver_not_active", "driver")
    assert excinfo.value.message == (
        f"Driver Sanne de Vries (E00042) is not active ({inactive.get_status_display().lower()})."
    )
    assert label in excinfo.value.message
    assert VehicleAssignment.objects.count() == 0


def test_assigning_a_driver_suspended_since_they_were_loaded_is_refused(vehicle, driver):
    Driver.objects.filter(pk=driver.pk).update(status=DriverStatus.SUSPENDED)

    with pytest.raises(DriverNotActive):
        vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)

    assert VehicleAssignment.objects.count() == 0


def test_assignment_with_a_naive_start_is_refused(vehicle, driver):
    with pytest.raises(NaiveDatetime) as excinfo:
        vehicle_assign(
            vehicle=vehicle,
            driver=driver,
            starts_at=dt.datetime(2026, 3, 1, 8, 0),  # noqa: DTZ001 - the naive value under test
        )

    assert excinfo.value.field == "starts_at"
    assert VehicleAssignment.objects.count() == 0


@pytest.mark.postgres
def test_overlap_the_check_misses_is_still_refused_by_the_exclusion_constraint(
    vehicle, driver, colleague, monkeypatch
):
    vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_3)
    monkeypatch.setattr(
        services,
        "vehicle_assignments_overlapping",
        lambda **kwargs: VehicleAssignment.objects.none(),
    )

    with pytest.raises(AssignmentOverlaps) as excinfo:
        vehicle_assign(vehicle=vehicle, driver=colleague, starts_at=MAR_2, ends_at=MAR_4)

    assert excinfo.value.field == "starts_at"
    assert excinfo.value.message == (
        "EV-001-X (Volkswagen ID.4 Pro) is already assigned in that period."
    )
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, MAR_3)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_assignments_of_one_vehicle_for_overlapping_periods_let_exactly_one_in(
    monkeypatch,
):
    """Two requests race to assign one vehicle: each thread has its own connection, both pass
    a barrier together, and the overlap query is slowed down so both are inside the service at
    once. The vehicle row lock makes the second wait and then see the first one's row."""
    vehicle = VehicleFactory(plate="EV-001-X", make="Volkswagen", model="ID.4 Pro")
    drivers = [
        DriverFactory(fleet=vehicle.fleet, first_name="Sanne", last_name="de Vries"),
        DriverFactory(fleet=vehicle.fleet, first_name="Noor", last_name="Jansen"),
    ]
    periods = [(MAR_1, MAR_3), (MAR_2, MAR_4)]
    overlapping = services.vehicle_assignments_overlapping

    def slow_overlapping(**kwargs):
        time.sleep(0.3)
        return overlapping(**kwargs)

    monkeypatch.setattr(services, "vehicle_assignments_overlapping", slow_overlapping)
    barrier = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def assign(index: int) -> None:
        try:
            connection.ensure_connection()  # connect first, so both start the service together
            barrier.wait(timeout=10)
            starts_at, ends_at = periods[index]
            outcomes[index] = vehicle_assign(
                vehicle=vehicle, driver=drivers[index], starts_at=starts_at, ends_at=ends_at
            )
        except Exception as error:  # kept for the assertions below, whatever it is
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=assign, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    winners = {i: o for i, o in outcomes.items() if isinstance(o, VehicleAssignment)}
    losers = {i: o for i, o in outcomes.items() if isinstance(o, AssignmentOverlaps)}
    assert (len(winners), len(losers)) == (1, 1), outcomes
    ((winner_index, winner),) = winners.items()
    ((_, refusal),) = losers.items()
    assert refusal.message == (
        f"EV-001-X (Volkswagen ID.4 Pro) is already assigned to "
        f"{drivers[winner_index].full_name} from "
        f"{periods[winner_index][0].astimezone(vehicle.fleet.zone):%Y-%m-%d %H:%M %Z} "
        f"until {periods[winner_index][1].astimezone(vehicle.fleet.zone):%Y-%m-%d %H:%M %Z}."
    )
    assert _assignments() == [
        (vehicle.pk, drivers[winner_index].pk, *periods[winner_index]),
    ]
    assert winner.pk == VehicleAssignment.objects.get().pk


# vehicle_assignment_update and vehicle_assignment_end


def test_moving_an_assignment_onto_another_is_refused_and_changes_nothing(
    vehicle, driver, colleague
):
    vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_2)
    later = vehicle_assign(vehicle=vehicle, driver=colleague, starts_at=MAR_3, ends_at=MAR_4)

    with pytest.raises(AssignmentOverlaps) as excinfo:
        vehicle_assignment_update(
            assignment=later,
            changes={"driver": colleague, "starts_at": MAR_1, "ends_at": MAR_4},
        )

    assert excinfo.value.field == "starts_at"
    assert _assignments() == [
        (vehicle.pk, driver.pk, MAR_1, MAR_2),
        (vehicle.pk, colleague.pk, MAR_3, MAR_4),
    ]
    assert (later.starts_at, later.ends_at) == (MAR_3, MAR_4)


def test_an_assignment_may_grow_over_its_own_period(vehicle, driver):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_2, ends_at=MAR_3)

    vehicle_assignment_update(
        assignment=assignment,
        changes={"driver": driver, "starts_at": MAR_1, "ends_at": MAR_4},
    )

    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, MAR_4)]


def test_handing_an_assignment_to_a_suspended_driver_is_refused(vehicle, driver):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    suspended = DriverFactory(fleet=vehicle.fleet, status=DriverStatus.SUSPENDED)

    with pytest.raises(DriverNotActive) as excinfo:
        vehicle_assignment_update(
            assignment=assignment,
            changes={"driver": suspended, "starts_at": MAR_1, "ends_at": None},
        )

    assert excinfo.value.field == "driver"
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, None)]


def test_the_assignment_of_a_driver_suspended_since_can_still_be_ended(vehicle, driver):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    Driver.objects.filter(pk=driver.pk).update(status=DriverStatus.SUSPENDED)

    vehicle_assignment_end(assignment=assignment, ends_at=MAR_2)

    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, MAR_2)]


def test_updating_with_an_end_before_the_start_is_refused_and_changes_nothing(vehicle, driver):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_2)

    with pytest.raises(InvalidAssignmentPeriod):
        vehicle_assignment_update(
            assignment=assignment,
            changes={"driver": driver, "starts_at": MAR_2, "ends_at": MAR_1},
        )

    assert _assignments() == [(vehicle.pk, driver.pk, MAR_2, None)]
    assert assignment.ends_at is None


def test_ending_an_open_assignment_closes_it_with_its_stored_driver_and_start(
    vehicle, driver, colleague
):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    stale_copy = VehicleAssignment.objects.get(pk=assignment.pk)
    vehicle_assignment_update(
        assignment=assignment,
        changes={"driver": colleague, "starts_at": MAR_2, "ends_at": None},
    )

    vehicle_assignment_end(assignment=stale_copy, ends_at=MAR_3)

    assert _assignments() == [(vehicle.pk, colleague.pk, MAR_2, MAR_3)]


def test_ending_an_assignment_before_it_starts_is_refused(vehicle, driver):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_2)

    with pytest.raises(InvalidAssignmentPeriod) as excinfo:
        vehicle_assignment_end(assignment=assignment, ends_at=MAR_1)

    assert excinfo.value.field == "ends_at"
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_2, None)]


def test_an_update_changes_only_the_fields_given_on_the_row_as_stored(vehicle, driver, colleague):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    stale_copy = VehicleAssignment.objects.get(pk=assignment.pk)
    vehicle_assignment_update(assignment=assignment, changes={"ends_at": MAR_4})

    returned = vehicle_assignment_update(assignment=stale_copy, changes={"driver": colleague})

    assert _assignments() == [(vehicle.pk, colleague.pk, MAR_1, MAR_4)]
    assert (returned.driver_id, returned.ends_at) == (colleague.pk, MAR_4)
    assert (stale_copy.driver_id, stale_copy.ends_at) == (driver.pk, None)


@pytest.mark.parametrize("field", ["vehicle", "id", "created_at"])
def test_updating_an_assignment_field_other_than_driver_start_or_end_is_a_programming_error(
    vehicle, driver, field
):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)

    with pytest.raises(ValueError, match=field):
        vehicle_assignment_update(assignment=assignment, changes={"ends_at": MAR_2, field: 1})

    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, None)]


def test_handing_an_assignment_to_a_driver_deleted_meanwhile_is_refused_as_not_found(
    vehicle, driver
):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    gone = DriverFactory(fleet=vehicle.fleet)
    Driver.objects.filter(pk=gone.pk).delete()

    with pytest.raises(NotFound) as excinfo:
        vehicle_assignment_update(assignment=assignment, changes={"driver": gone})

    assert (excinfo.value.code, excinfo.value.field) == ("voltop.not_found", "driver")
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, None)]


@pytest.mark.parametrize("status", [DriverStatus.LEFT, DriverStatus.SUSPENDED])
@pytest.mark.parametrize(
    ("changes", "field", "change"),
    [
        ({"ends_at": None}, "ends_at", "reopened"),
        ({"ends_at": MAR_4}, "ends_at", "ended later"),
        ({"starts_at": MAR_1}, "starts_at", "started earlier"),
    ],
    ids=["reopened", "ended-later", "started-earlier"],
)
def test_the_assignment_of_an_inactive_driver_is_not_reopened_or_lengthened(
    vehicle, driver, status, changes, field, change
):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_2, ends_at=MAR_3)
    Driver.objects.filter(pk=driver.pk).update(status=status)

    with pytest.raises(DriverNotActive) as excinfo:
        vehicle_assignment_update(assignment=assignment, changes=changes)

    assert excinfo.value.field == field
    assert excinfo.value.message == (
        f"Driver {driver} is not active ({status.label.lower()}): their assignment can be "
        f"ended or shortened, not {change}."
    )
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_2, MAR_3)]


def test_the_assignment_of_an_inactive_driver_can_be_kept_or_shortened(vehicle, driver):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    Driver.objects.filter(pk=driver.pk).update(status=DriverStatus.LEFT)

    vehicle_assignment_update(assignment=assignment, changes={"ends_at": None})
    vehicle_assignment_update(assignment=assignment, changes={"ends_at": MAR_4})
    vehicle_assignment_update(assignment=assignment, changes={"starts_at": MAR_2, "ends_at": MAR_3})

    assert _assignments() == [(vehicle.pk, driver.pk, MAR_2, MAR_3)]


def test_a_plate_taken_at_the_same_moment_is_refused_naming_it_and_changes_nothing(
    vehicle, monkeypatch
):
    """Two requests at once: both pass the checks, the database's unique index refuses the
    second; that is PlateInUse on "plate", not an IntegrityError (a 500)."""
    taken_after_the_checks(
        monkeypatch, Vehicle, lambda: VehicleFactory(fleet=vehicle.fleet, plate="ev-002-x")
    )

    with pytest.raises(PlateInUse) as refused:
        services.vehicle_update(vehicle=vehicle, changes={"plate": "EV-002-X"})

    assert (refused.value.code, refused.value.field) == ("vehicles.plate_in_use", "plate")
    assert list(Vehicle.objects.order_by("id").values_list("id", "plate")) == [
        (vehicle.pk, "EV-001-X")
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("moves", [1, 2], ids=["given-away-once", "given-away-twice"])
def test_an_assignment_given_to_another_driver_while_the_update_waits_is_locked_again_once(
    moves,
):
    """The update reads the assignment's driver (Sanne) and waits for her row, which a first
    transaction holds while it gives the assignment to Noor. The update must then let go of
    its locks and wait for Noor's row, which a second transaction holds; when that one gives
    the assignment to Ella as well, the update is refused and changes nothing."""
    vehicle = VehicleFactory(plate="EV-001-X", make="Volkswagen", model="ID.4 Pro")
    sanne, noor, ella = (DriverFactory(fleet=vehicle.fleet) for _ in range(3))
    assignment = vehicle_assign(vehicle=vehicle, driver=sanne, starts_at=MAR_1)
    outcome: dict[str, object] = {}

    def update() -> None:
        try:
            outcome["update"] = vehicle_assignment_update(
                assignment=assignment, changes={"ends_at": MAR_3}
            )
        except Exception as error:  # kept for the assertions below, whatever it is
            outcome["update"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=update)
    move = "UPDATE vehicles_vehicleassignment SET driver_id = %s WHERE id = %s"
    url = current_database_url()
    with psycopg.connect(url) as first, psycopg.connect(url) as second:
        second.execute("SELECT id FROM drivers_driver WHERE id = %s FOR NO KEY UPDATE", [noor.pk])
        first.execute("SELECT id FROM drivers_driver WHERE id = %s FOR UPDATE", [sanne.pk])
        thread.start()
        wait_until_blocked_by(first, outcome)
        first.execute(move, [noor.pk, assignment.pk])
        first.commit()
        wait_until_blocked_by(second, outcome)
        if moves == 2:
            second.execute(move, [ella.pk, assignment.pk])
        second.commit()
    thread.join(timeout=30)

    assert not thread.is_alive()
    if moves == 1:
        assert isinstance(outcome["update"], VehicleAssignment), outcome
        assert _assignments() == [(vehicle.pk, noor.pk, MAR_1, MAR_3)]
    else:
        refusal = outcome["update"]
        assert isinstance(refusal, AssignmentChangedMeanwhile), outcome
        assert (refusal.code, refusal.status, refusal.field, refusal.message) == (
            "vehicles.assignment_changed_meanwhile",
            409,
            "driver",
            "The assignment of EV-001-X (Volkswagen ID.4 Pro) was given to another driver "
            "while this change was made; load it again and retry.",
        )
        assert _assignments() == [(vehicle.pk, ella.pk, MAR_1, None)]


# Odometer


def _readings(vehicle) -> list[tuple]:
    return list(vehicle.odometer_readings.order_by("recorded_at").values_list("recorded_at", "km"))


def test_recording_readings_that_rise_or_stay_equal_is_allowed(vehicle):
    odometer_reading_record(vehicle=vehicle, km=1_000, recorded_at=MAR_1)
    odometer_reading_record(vehicle=vehicle, km=1_000, recorded_at=MAR_2)
    odometer_reading_record(vehicle=vehicle, km=1_250, recorded_at=MAR_3)

    assert _readings(vehicle) == [(MAR_1, 1_000), (MAR_2, 1_000), (MAR_3, 1_250)]


def test_recording_a_reading_between_two_others_that_fits_is_allowed(vehicle):
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_3, km=3_000)

    odometer_reading_record(vehicle=vehicle, km=2_000, recorded_at=MAR_2)

    assert _readings(vehicle) == [(MAR_1, 1_000), (MAR_2, 2_000), (MAR_3, 3_000)]


def test_reading_lower_than_an_earlier_one_is_refused_and_saves_nothing(vehicle):
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=12_000)

    with pytest.raises(OdometerWentBackwards) as excinfo:
        odometer_reading_record(vehicle=vehicle, km=11_999, recorded_at=MAR_2)

    assert (excinfo.value.code, excinfo.value.field) == ("vehicles.odometer_went_backwards", "km")
    assert excinfo.value.message == (
        "11999 km is lower than the 12000 km recorded on 2026-03-01 09:00 CET; "
        "an odometer never goes back."
    )
    assert _readings(vehicle) == [(MAR_1, 12_000)]


def test_reading_higher_than_a_later_one_is_refused_and_saves_nothing(vehicle):
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_3, km=3_000)

    with pytest.raises(OdometerWentBackwards) as excinfo:
        odometer_reading_record(vehicle=vehicle, km=3_001, recorded_at=MAR_2)

    assert (excinfo.value.code, excinfo.value.field) == ("vehicles.odometer_went_backwards", "km")
    assert excinfo.value.message == (
        "3001 km is higher than the 3000 km recorded later, on 2026-03-03 09:00 CET."
    )
    assert _readings(vehicle) == [(MAR_1, 1_000), (MAR_3, 3_000)]


def test_readings_of_another_vehicle_do_not_count(vehicle):
    OdometerReadingFactory(
        vehicle=VehicleFactory(fleet=vehicle.fleet), recorded_at=MAR_1, km=90_000
    )

    odometer_reading_record(vehicle=vehicle, km=10, recorded_at=MAR_2)

    assert _readings(vehicle) == [(MAR_2, 10)]


def test_second_reading_at_the_same_moment_is_refused(vehicle):
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)

    with pytest.raises(OdometerReadingExists) as excinfo:
        odometer_reading_record(vehicle=vehicle, km=1_000, recorded_at=MAR_1)

    assert (excinfo.value.code, excinfo.value.field) == (
        "vehicles.odometer_reading_exists",
        "recorded_at",
    )
    assert excinfo.value.message == (
        "EV-001-X (Volkswagen ID.4 Pro) already has a reading at 2026-03-01 09:00:00 CET."
    )
    assert _readings(vehicle) == [(MAR_1, 1_000)]


def test_negative_reading_is_refused(vehicle):
    with pytest.raises(OdometerWentBackwards) as excinfo:
        odometer_reading_record(vehicle=vehicle, km=-1, recorded_at=MAR_1)

    assert excinfo.value.field == "km"
    assert excinfo.value.message == "The odometer cannot be negative."
    assert OdometerReading.objects.count() == 0


def test_reading_with_a_naive_time_is_refused(vehicle):
    with pytest.raises(NaiveDatetime) as excinfo:
        odometer_reading_record(
            vehicle=vehicle,
            km=1_000,
            recorded_at=dt.datetime(2026, 3, 1, 8, 0),  # noqa: DTZ001 - the naive value under test
        )

    assert excinfo.value.field == "recorded_at"
    assert OdometerReading.objects.count() == 0


def test_a_mistyped_reading_blocks_the_next_one_until_it_is_corrected(vehicle):
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)
    typo = OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_2, km=20_000)
    with pytest.raises(OdometerWentBackwards):
        odometer_reading_record(vehicle=vehicle, km=3_000, recorded_at=MAR_3)

    odometer_reading_correct(reading=typo, changes={"km": 2_000, "recorded_at": MAR_2})
    odometer_reading_record(vehicle=vehicle, km=3_000, recorded_at=MAR_3)

    assert _readings(vehicle) == [(MAR_1, 1_000), (MAR_2, 2_000), (MAR_3, 3_000)]


def test_correcting_a_reading_above_a_later_one_is_refused_and_changes_nothing(vehicle):
    reading = OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_2, km=2_000)

    with pytest.raises(OdometerWentBackwards) as excinfo:
        odometer_reading_correct(reading=reading, changes={"km": 2_001, "recorded_at": MAR_1})

    assert excinfo.value.field == "km"
    assert _readings(vehicle) == [(MAR_1, 1_000), (MAR_2, 2_000)]


def test_correcting_a_reading_below_an_earlier_one_is_refused_and_changes_nothing(vehicle):
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)
    reading = OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_2, km=2_000)

    with pytest.raises(OdometerWentBackwards) as excinfo:
        odometer_reading_correct(reading=reading, changes={"km": 900, "recorded_at": MAR_2})

    assert excinfo.value.field == "km"
    assert _readings(vehicle) == [(MAR_1, 1_000), (MAR_2, 2_000)]
    assert reading.km == 2_000


def test_moving_a_reading_onto_another_moment_already_recorded_is_refused(vehicle):
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)
    reading = OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_2, km=1_000)

    with pytest.raises(OdometerReadingExists):
        odometer_reading_correct(reading=reading, changes={"km": 1_000, "recorded_at": MAR_1})

    assert _readings(vehicle) == [(MAR_1, 1_000), (MAR_2, 1_000)]


def test_a_correction_changes_only_the_fields_given_on_the_row_as_stored(vehicle):
    reading = OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)
    stale_copy = OdometerReading.objects.get(pk=reading.pk)
    odometer_reading_correct(reading=reading, changes={"km": 1_500})

    returned = odometer_reading_correct(reading=stale_copy, changes={"recorded_at": MAR_2})

    assert _readings(vehicle) == [(MAR_2, 1_500)]
    assert (returned.km, returned.recorded_at) == (1_500, MAR_2)
    assert (stale_copy.km, stale_copy.recorded_at) == (1_000, MAR_1)


@pytest.mark.parametrize("field", ["vehicle", "id", "created_at"])
def test_correcting_a_field_other_than_km_or_time_is_a_programming_error(vehicle, field):
    reading = OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)

    with pytest.raises(ValueError, match=field):
        odometer_reading_correct(reading=reading, changes={"km": 1_100, field: 1})

    assert _readings(vehicle) == [(MAR_1, 1_000)]


# a retired vehicle keeps the assignments it had


def test_an_assignment_of_a_vehicle_retired_since_can_still_be_ended(vehicle, driver):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    Vehicle.objects.filter(pk=vehicle.pk).update(status=VehicleStatus.RETIRED)

    vehicle_assignment_end(assignment=assignment, ends_at=MAR_3)

    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, MAR_3)]


@pytest.mark.parametrize(
    ("changes", "field", "change"),
    [
        ({"ends_at": None}, "ends_at", "reopened"),
        ({"ends_at": MAR_4}, "ends_at", "ended later"),
        ({"starts_at": MAR_1}, "starts_at", "started earlier"),
    ],
    ids=["reopened", "ended-later", "started-earlier"],
)
def test_an_assignment_of_a_vehicle_retired_since_is_not_reopened_or_lengthened(
    vehicle, driver, changes, field, change
):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_2, ends_at=MAR_3)
    Vehicle.objects.filter(pk=vehicle.pk).update(status=VehicleStatus.RETIRED)

    with pytest.raises(VehicleRetired) as excinfo:
        vehicle_assignment_update(assignment=assignment, changes=changes)

    assert excinfo.value.field == field
    assert excinfo.value.message == (
        "Vehicle EV-001-X (Volkswagen ID.4 Pro) is retired: its assignment can be ended or "
        f"shortened, not {change}."
    )
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_2, MAR_3)]


def test_an_assignment_of_a_vehicle_retired_since_keeps_its_driver(vehicle, driver, colleague):
    assignment = vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_2)
    Vehicle.objects.filter(pk=vehicle.pk).update(status=VehicleStatus.RETIRED)

    with pytest.raises(VehicleRetired) as excinfo:
        vehicle_assignment_update(assignment=assignment, changes={"driver": colleague})

    assert (excinfo.value.field, excinfo.value.message) == (
        "driver",
        "Vehicle EV-001-X (Volkswagen ID.4 Pro) is retired: its assignment keeps its driver.",
    )
    assert _assignments() == [(vehicle.pk, driver.pk, MAR_1, MAR_2)]


# vehicle_assignments_end_for_driver


def test_ending_a_drivers_assignments_ends_only_those_running_then(vehicle, driver, colleague):
    vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_2)
    running = vehicle_assign(
        vehicle=VehicleFactory(fleet=vehicle.fleet), driver=driver, starts_at=MAR_1
    )
    vehicle_assign(vehicle=vehicle, driver=colleague, starts_at=MAR_2)

    ended = vehicle_assignments_end_for_driver(driver=driver, ends_at=MAR_3)

    assert [assignment.pk for assignment in ended] == [running.pk]
    assert set(_assignments()) == {
        (vehicle.pk, driver.pk, MAR_1, MAR_2),
        (running.vehicle_id, driver.pk, MAR_1, MAR_3),
        (vehicle.pk, colleague.pk, MAR_2, None),
    }


def test_ending_a_drivers_assignments_before_one_starts_is_refused_and_ends_none(vehicle, driver):
    running = vehicle_assign(
        vehicle=VehicleFactory(fleet=vehicle.fleet), driver=driver, starts_at=MAR_1
    )
    vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_3)
    before = _assignments()

    with pytest.raises(AssignmentNotStarted) as excinfo:
        vehicle_assignments_end_for_driver(driver=driver, ends_at=MAR_3)

    assert (excinfo.value.code, excinfo.value.field) == ("vehicles.assignment_not_started", None)
    assert excinfo.value.message == (
        "Sanne de Vries is assigned EV-001-X (Volkswagen ID.4 Pro) from 2026-03-03 09:00 CET, "
        "which has not started yet; give that assignment to another driver first."
    )
    assert _assignments() == before
    assert VehicleAssignment.objects.get(pk=running.pk).ends_at is None


# vehicle_delete


def test_a_vehicle_without_history_is_deleted_and_others_stay(vehicle):
    other = VehicleFactory(fleet=vehicle.fleet)

    vehicle_delete(vehicle=vehicle)

    assert list(Vehicle.objects.values_list("pk", flat=True)) == [other.pk]


@pytest.mark.parametrize(
    ("history_make", "what"),
    [
        (
            lambda vehicle: [
                OdometerReadingFactory(vehicle=vehicle, km=km, recorded_at=moment)
                for km, moment in ((100, MAR_1), (200, MAR_2))
            ],
            "2 odometer readings",
        ),
        (
            lambda vehicle: VehicleAssignmentFactory(vehicle=vehicle),
            "1 vehicle assignment",
        ),
        (
            lambda vehicle: ChargingSessionFactory(fleet=vehicle.fleet, vehicle=vehicle),
            "1 charging session",
        ),
    ],
    ids=["odometer-readings", "assignment", "session"],
)
def test_a_vehicle_with_history_is_refused_and_nothing_is_deleted(vehicle, history_make, what):
    history_make(vehicle)
    readings_before = OdometerReading.objects.count()

    with pytest.raises(VehicleHasHistory) as excinfo:
        vehicle_delete(vehicle=vehicle)

    assert (excinfo.value.code, excinfo.value.status) == ("vehicles.vehicle_has_history", 409)
    assert excinfo.value.message == (
        f"Vehicle EV-001-X (Volkswagen ID.4 Pro) cannot be deleted: its history is still "
        f"referred to by {what}. Retire it instead."
    )
    assert Vehicle.objects.filter(pk=vehicle.pk).exists()
    assert OdometerReading.objects.count() == readings_before


# deletes


@pytest.mark.django_db
@time_machine.travel(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), tick=False)
def test_an_assignment_that_has_started_is_not_deleted_and_one_not_started_yet_is():
    started = VehicleAssignmentFactory(starts_at=dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC))
    planned = VehicleAssignmentFactory(starts_at=dt.datetime(2026, 4, 1, 8, tzinfo=dt.UTC))

    with pytest.raises(AssignmentStarted) as refused:
        vehicle_assignment_delete(assignment=started)
    vehicle_assignment_delete(assignment=planned)

    assert (refused.value.code, refused.value.field) == ("vehicles.assignment_started", "ends_at")
    assert list(VehicleAssignment.objects.values_list("pk", flat=True)) == [started.pk]


@pytest.mark.django_db
def test_deleting_an_odometer_reading_keeps_the_others():
    kept = OdometerReadingFactory(km=1_000, recorded_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    reading = OdometerReadingFactory(
        vehicle=kept.vehicle, km=1_200, recorded_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    )

    odometer_reading_delete(reading=reading)

    assert list(OdometerReading.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.parametrize("key", ["fleet", "fleet_id"])
def test_moving_a_vehicle_to_another_fleet_is_refused_and_changes_nothing(vehicle, key):
    other_fleet = FleetFactory()
    before = list(Vehicle.objects.values_list("pk", "fleet_id", "make"))

    with pytest.raises(FieldFixed) as refused:
        vehicle_update(
            vehicle=vehicle,
            changes={"make": "Renamed", key: other_fleet if key == "fleet" else other_fleet.pk},
        )

    assert (refused.value.field, refused.value.message) == (
        "fleet",
        "A vehicle stays in the fleet it was made in; its fleet cannot be changed.",
    )
    assert list(Vehicle.objects.values_list("pk", "fleet_id", "make")) == before
