"""Rules of the vehicles tables: each one refused by full_clean() on its field, and by the database
(on PostgreSQL also the exclusion constraint on assignments and the odometer trigger)."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from tests.constraints import (
    NON_FIELD,
    constraints_needing_a_message,
    error_codes,
    full_clean_errors,
    refused_by_database,
)
from tests.factories import (
    CostCenterFactory,
    DepotFactory,
    DriverFactory,
    FleetFactory,
    OdometerReadingFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
VIN = "WVWZZZ1KZAW000123"
MAR_1 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MAR_2 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MAR_3 = dt.datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
MAR_4 = dt.datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def _vehicle(fleet, **overrides) -> Vehicle:
    values = {
        "fleet": fleet,
        "vin": VIN,
        "plate": "EV-001-X",
        "make": "Volkswagen",
        "model": "ID.4 Pro",
        "model_year": 2024,
        "usable_battery_kwh": Decimal("77.0"),
        "max_ac_kw": Decimal("11.0"),
        "max_dc_kw": Decimal("135.0"),
        "connector_standards": ["IEC_62196_T2", "IEC_62196_T2_COMBO"],
    }
    return Vehicle(**(values | overrides))


@pytest.mark.parametrize("constraint", constraints_needing_a_message("vehicles"))
def test_constraint_tells_the_user_which_rule_was_broken(constraint):
    message = constraint.get_violation_error_message()

    assert constraint.name not in message
    assert message.endswith(".")
    assert constraint.violation_error_code is not None


# Vehicle: VIN


def test_vin_typed_in_lower_case_with_spaces_is_stored_normalized():
    vehicle = _vehicle(FleetFactory(), vin=" wvwzzz1kzaw000123 ", plate=" ev-001-x ")

    vehicle.full_clean()
    vehicle.save()

    stored = Vehicle.objects.get(pk=vehicle.pk)
    assert (stored.vin, stored.plate) == (VIN, "EV-001-X")


@pytest.mark.parametrize(
    ("vin", "code", "message"),
    [
        ("WVWZZZ1KZAW00012", "vin_length", "A VIN has 17 characters; this one has 16."),
        (
            "WVWZZZ1KZIW00O123",
            "vin_alphabet",
            "A VIN uses digits and the letters A-Z without I, O and Q; found I, O.",
        ),
        (
            "QVWZZZ1KZAW000123",
            "vin_alphabet",
            "A VIN uses digits and the letters A-Z without I, O and Q; found Q.",
        ),
        (
            "WVW-ZZ1KZAW000123",
            "vin_alphabet",
            "A VIN uses digits and the letters A-Z without I, O and Q; found -.",
        ),
    ],
    ids=["16-characters", "I-and-O", "Q", "dash"],
)
def test_vin_not_iso_3779_is_refused_on_vin(vin, code, message):
    vehicle = _vehicle(FleetFactory(), vin=vin)

    error = full_clean_errors(vehicle)

    assert error.message_dict == {"vin": [message]}
    assert error_codes(error) == {"vin": [code]}
    assert Vehicle.objects.count() == 0


@pytest.mark.parametrize(
    "vin", ["WVWZZZ1KZAW00012", "WVWZZZ1KZIW000123", "wvwzzz1kzaw000123", "WVWZZZ1KZAW0 123"]
)
def test_vin_not_iso_3779_is_refused_by_the_database(vin):
    vehicle = VehicleFactory(vin=VIN)

    with refused_by_database("vehicle_vin_iso_3779"):
        Vehicle.objects.filter(pk=vehicle.pk).update(vin=vin)

    assert Vehicle.objects.get(pk=vehicle.pk).vin == VIN


def test_vin_of_another_vehicle_is_refused_on_vin_even_in_another_fleet():
    VehicleFactory(vin=VIN)
    vehicle = _vehicle(FleetFactory(), vin=VIN.lower())

    error = full_clean_errors(vehicle)

    assert error.message_dict == {"vin": ["Vehicle with this VIN already exists."]}
    assert error_codes(error) == {"vin": ["unique"]}
    assert Vehicle.objects.count() == 1


def test_vin_of_another_vehicle_is_refused_by_the_database():
    existing = VehicleFactory(vin=VIN)

    with refused_by_database("vehicles_vehicle_vin_key"):
        _vehicle(FleetFactory(), vin=VIN, plate="EV-999-Z").save()

    assert list(Vehicle.objects.values_list("pk", flat=True)) == [existing.pk]


# Vehicle: plate, depot, cost center, figures


def test_plate_taken_in_the_same_fleet_is_refused_by_full_clean_whatever_the_case():
    existing = VehicleFactory(plate="EV-001-X")
    vehicle = _vehicle(existing.fleet, plate="ev-001-x ")

    error = full_clean_errors(vehicle)

    assert error.message_dict == {
        NON_FIELD: [
            "A vehicle of this fleet already has this licence plate (case does not matter)."
        ]
    }
    assert error_codes(error) == {NON_FIELD: ["vehicle_plate_unique_per_fleet"]}
    assert Vehicle.objects.count() == 1


def test_plate_taken_in_the_same_fleet_is_refused_by_the_database():
    existing = VehicleFactory(plate="EV-001-X")

    with refused_by_database("vehicle_plate_unique_per_fleet"):
        Vehicle.objects.bulk_create(
            [
                _vehicle(existing.fleet, vin="WVWZZZ1KZAW000201", plate="EV-002-X"),
                _vehicle(existing.fleet, vin="WVWZZZ1KZAW000202", plate="EV-001-X"),
            ]
        )

    assert list(Vehicle.objects.values_list("plate", flat=True)) == ["EV-001-X"]


def test_plate_taken_in_the_same_fleet_in_another_case_is_refused_by_the_database():
    existing = VehicleFactory(plate="EV-001-X")

    with refused_by_database("vehicle_plate_unique_per_fleet"):
        _vehicle(existing.fleet, vin="WVWZZZ1KZAW000202", plate="ev-001-x").save()

    assert list(Vehicle.objects.values_list("pk", "plate")) == [(existing.pk, "EV-001-X")]


def test_plate_used_in_another_fleet_is_valid():
    VehicleFactory(plate="EV-001-X")
    vehicle = _vehicle(FleetFactory(), plate="EV-001-X")

    vehicle.full_clean()
    vehicle.save()

    assert Vehicle.objects.filter(plate="EV-001-X").count() == 2


@pytest.mark.parametrize(
    ("field", "factory"), [("home_depot", DepotFactory), ("cost_center", CostCenterFactory)]
)
def test_depot_or_cost_center_of_another_fleet_is_refused_on_its_field(field, factory):
    vehicle = _vehicle(FleetFactory(), **{field: factory()})

    error = full_clean_errors(vehicle)

    assert error.message_dict == {field: ["Belongs to another fleet."]}
    assert error_codes(error) == {field: ["other_fleet"]}


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"usable_battery_kwh": Decimal("0.0")}, "vehicle_battery_and_ac_power_positive"),
        ({"max_ac_kw": Decimal("-1.0")}, "vehicle_battery_and_ac_power_positive"),
        ({"max_dc_kw": Decimal("0.0")}, "vehicle_dc_power_positive"),
        ({"model_year": 1989}, "vehicle_model_year_plausible"),
        ({"status": "scrapped"}, "vehicle_status_valid"),
    ],
    ids=["battery", "ac", "dc", "model-year", "status"],
)
def test_implausible_vehicle_figures_are_refused_on_the_field_and_by_the_database(
    changes, constraint
):
    vehicle = VehicleFactory()
    (field,) = changes

    for name, value in changes.items():
        setattr(vehicle, name, value)
    assert list(error_codes(full_clean_errors(vehicle))) == [field]
    with refused_by_database(constraint):
        vehicle.save()

    assert Vehicle.objects.get(pk=vehicle.pk).usable_battery_kwh == Decimal("77.0")
    assert Vehicle.objects.get(pk=vehicle.pk).status == "active"


# Assignment: period


@pytest.mark.parametrize(
    "ends_at", [MAR_1, MAR_1 - dt.timedelta(minutes=1)], ids=["same", "before"]
)
def test_assignment_ending_when_or_before_it_starts_is_refused_on_ends_at(ends_at):
    vehicle = VehicleFactory()
    assignment = VehicleAssignment(
        vehicle=vehicle, driver=DriverFactory(fleet=vehicle.fleet), starts_at=MAR_1, ends_at=ends_at
    )

    error = full_clean_errors(assignment)

    assert error.message_dict == {"ends_at": ["The assignment must end after it starts."]}
    assert error_codes(error) == {"ends_at": ["ends_before_start"]}
    assert VehicleAssignment.objects.count() == 0


@pytest.mark.parametrize(
    "ends_at", [MAR_1, MAR_1 - dt.timedelta(minutes=1)], ids=["same", "before"]
)
def test_assignment_ending_when_or_before_it_starts_is_refused_by_the_database(ends_at):
    assignment = VehicleAssignmentFactory(starts_at=MAR_1, ends_at=MAR_2)

    with refused_by_database("assignment_ends_after_it_starts"):
        VehicleAssignment.objects.filter(pk=assignment.pk).update(ends_at=ends_at)

    assert VehicleAssignment.objects.get(pk=assignment.pk).ends_at == MAR_2


def test_assignment_with_a_driver_of_another_fleet_is_refused_on_driver():
    assignment = VehicleAssignment(
        vehicle=VehicleFactory(), driver=DriverFactory(), starts_at=MAR_1
    )

    error = full_clean_errors(assignment)

    assert error.message_dict == {
        "driver": ["The driver belongs to another fleet than the vehicle."]
    }
    assert error_codes(error) == {"driver": ["other_fleet"]}


@pytest.mark.parametrize("ends_at", [None, MAR_1 + dt.timedelta(seconds=1)], ids=["open", "1s"])
def test_assignment_open_ended_or_ending_after_its_start_is_valid(ends_at):
    vehicle = VehicleFactory()
    assignment = VehicleAssignment(
        vehicle=vehicle, driver=DriverFactory(fleet=vehicle.fleet), starts_at=MAR_1, ends_at=ends_at
    )

    assignment.full_clean()
    assignment.save()

    assert VehicleAssignment.objects.get(pk=assignment.pk).ends_at == ends_at


# Assignment: no overlap (PostgreSQL exclusion constraint)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [
        (MAR_2, MAR_3),  # inside
        (MAR_1 - dt.timedelta(days=1), MAR_4),  # around
        (MAR_1 - dt.timedelta(days=1), MAR_2),  # across the start
        (MAR_2, None),  # open-ended, starting inside
        (MAR_1 - dt.timedelta(days=1), None),  # open-ended, starting before
    ],
    ids=["inside", "around", "across-start", "open-inside", "open-before"],
)
def test_overlapping_assignment_inserted_past_the_services_is_refused_by_the_database(
    starts_at, ends_at
):
    existing = VehicleAssignmentFactory(starts_at=MAR_1, ends_at=MAR_3)
    other_driver = DriverFactory(fleet=existing.vehicle.fleet)

    with refused_by_database("assignment_no_overlap_per_vehicle"):
        VehicleAssignment.objects.create(
            vehicle=existing.vehicle, driver=other_driver, starts_at=starts_at, ends_at=ends_at
        )

    assert list(VehicleAssignment.objects.values_list("pk", "starts_at", "ends_at")) == [
        (existing.pk, MAR_1, MAR_3)
    ]


@pytest.mark.postgres
def test_assignment_overlapping_an_open_ended_one_is_refused_by_the_database():
    existing = VehicleAssignmentFactory(starts_at=MAR_1, ends_at=None)

    with refused_by_database("assignment_no_overlap_per_vehicle"):
        VehicleAssignment.objects.create(
            vehicle=existing.vehicle,
            driver=DriverFactory(fleet=existing.vehicle.fleet),
            starts_at=dt.datetime(2027, 1, 1, tzinfo=UTC),
            ends_at=dt.datetime(2027, 2, 1, tzinfo=UTC),
        )

    assert VehicleAssignment.objects.count() == 1


@pytest.mark.postgres
def test_moving_an_assignment_onto_another_is_refused_by_the_database():
    first = VehicleAssignmentFactory(starts_at=MAR_1, ends_at=MAR_2)
    second = VehicleAssignmentFactory(
        vehicle=first.vehicle,
        driver=DriverFactory(fleet=first.vehicle.fleet),
        starts_at=MAR_3,
        ends_at=MAR_4,
    )

    with refused_by_database("assignment_no_overlap_per_vehicle"):
        VehicleAssignment.objects.filter(pk=second.pk).update(starts_at=MAR_1)

    assert VehicleAssignment.objects.get(pk=second.pk).starts_at == MAR_3


@pytest.mark.postgres
def test_bulk_insert_with_two_overlapping_assignments_saves_neither():
    vehicle = VehicleFactory()
    driver = DriverFactory(fleet=vehicle.fleet)

    with refused_by_database("assignment_no_overlap_per_vehicle"):
        VehicleAssignment.objects.bulk_create(
            [
                VehicleAssignment(vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_3),
                VehicleAssignment(vehicle=vehicle, driver=driver, starts_at=MAR_2, ends_at=MAR_4),
            ]
        )

    assert VehicleAssignment.objects.count() == 0


@pytest.mark.postgres
def test_back_to_back_assignments_and_other_vehicles_pass_the_database():
    existing = VehicleAssignmentFactory(starts_at=MAR_1, ends_at=MAR_2)
    fleet = existing.vehicle.fleet

    VehicleAssignment.objects.bulk_create(
        [
            VehicleAssignment(
                vehicle=existing.vehicle,
                driver=DriverFactory(fleet=fleet),
                starts_at=MAR_2,
                ends_at=None,
            ),
            VehicleAssignment(
                vehicle=VehicleFactory(fleet=fleet),
                driver=existing.driver,
                starts_at=MAR_1,
                ends_at=MAR_2,
            ),
        ]
    )

    assert VehicleAssignment.objects.count() == 3


# Odometer


def test_odometer_reading_at_a_moment_already_recorded_is_refused_by_full_clean():
    existing = OdometerReadingFactory(recorded_at=MAR_1, km=1_000)
    reading = OdometerReading(vehicle=existing.vehicle, km=1_000, recorded_at=MAR_1)

    error = full_clean_errors(reading)

    assert error.message_dict == {
        NON_FIELD: ["Odometer reading with this Vehicle and Recorded at already exists."]
    }
    assert OdometerReading.objects.count() == 1


def test_odometer_reading_at_a_moment_already_recorded_is_refused_by_the_database():
    existing = OdometerReadingFactory(recorded_at=MAR_1, km=1_000)

    with refused_by_database("odometer_one_reading_per_moment"):
        OdometerReading.objects.create(vehicle=existing.vehicle, km=1_000, recorded_at=MAR_1)

    assert OdometerReading.objects.count() == 1


def test_negative_odometer_is_refused_on_km():
    reading = OdometerReading(vehicle=VehicleFactory(), km=-1, recorded_at=MAR_1)

    error = full_clean_errors(reading)

    assert error.message_dict == {"km": ["Ensure this value is greater than or equal to 0."]}


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("km", "recorded_at"),
    [(999, MAR_3), (3_001, MAR_3)],
    ids=["below-an-earlier-reading", "above-a-later-reading"],
)
def test_odometer_reading_out_of_order_inserted_past_the_services_is_refused_by_the_trigger(
    km, recorded_at
):
    vehicle = VehicleFactory()
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_2, km=1_000)
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_4, km=3_000)

    with refused_by_database("odometer_monotonic_per_vehicle"):
        OdometerReading.objects.create(vehicle=vehicle, km=km, recorded_at=recorded_at)

    assert list(vehicle.odometer_readings.values_list("recorded_at", "km")) == [
        (MAR_4, 3_000),
        (MAR_2, 1_000),
    ]


@pytest.mark.postgres
def test_odometer_reading_corrected_backwards_past_the_services_is_refused_by_the_trigger():
    vehicle = VehicleFactory()
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_1, km=1_000)
    later = OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_2, km=2_000)

    with refused_by_database("odometer_monotonic_per_vehicle"):
        OdometerReading.objects.filter(pk=later.pk).update(km=999)

    assert OdometerReading.objects.get(pk=later.pk).km == 2_000


@pytest.mark.postgres
def test_odometer_bulk_insert_going_backwards_saves_nothing():
    vehicle = VehicleFactory()

    with refused_by_database("odometer_monotonic_per_vehicle"):
        OdometerReading.objects.bulk_create(
            [
                OdometerReading(vehicle=vehicle, km=2_000, recorded_at=MAR_1),
                OdometerReading(vehicle=vehicle, km=1_000, recorded_at=MAR_2),
            ]
        )

    assert OdometerReading.objects.count() == 0


@pytest.mark.postgres
def test_odometer_trigger_lets_equal_and_rising_readings_and_other_vehicles_pass():
    vehicle = VehicleFactory()
    OdometerReadingFactory(vehicle=vehicle, recorded_at=MAR_2, km=2_000)
    OdometerReadingFactory(vehicle=VehicleFactory(), recorded_at=MAR_1, km=50_000)

    OdometerReading.objects.bulk_create(
        [
            OdometerReading(vehicle=vehicle, km=2_000, recorded_at=MAR_3),
            OdometerReading(vehicle=vehicle, km=2_500, recorded_at=MAR_4),
            OdometerReading(vehicle=vehicle, km=10, recorded_at=MAR_1),
        ]
    )

    assert list(vehicle.odometer_readings.values_list("km", flat=True)) == [2_500, 2_000, 2_000, 10]
