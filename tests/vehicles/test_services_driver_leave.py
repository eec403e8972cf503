"""A driver leaving the company (apps.vehicles.services.driver_leave): tokens off, the vehicle
assignments they hold ended at that moment, refused while one has not started yet."""

import datetime as dt

import pytest

from apps.charging.choices import SessionStatus
from apps.charging.services import charging_session_stop
from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.models import ChargeToken, Driver
from apps.vehicles.choices import VehicleStatus
from apps.vehicles.exceptions import AssignmentNotStarted
from apps.vehicles.models import VehicleAssignment
from apps.vehicles.services import driver_leave, driver_set_status_or_leave
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    DriverFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)
from voltop.core.timeutils import NaiveDatetime

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MAR_1 = dt.datetime(2026, 3, 1, 8, tzinfo=UTC)
LEFT_AT = dt.datetime(2026, 6, 15, 17, 0, tzinfo=UTC)


@pytest.fixture
def driver() -> Driver:
    return DriverFactory(
        first_name="Sanne", last_name="de Vries", employee_number="E00042", email="s@example.com"
    )


@pytest.fixture
def vehicle(driver):
    return VehicleFactory(fleet=driver.fleet, plate="EV-901-Q", make="Volkswagen", model="ID.3")


def _assignment_rows(driver: Driver) -> list[tuple]:
    return list(
        VehicleAssignment.objects.filter(driver=driver)
        .order_by("starts_at", "pk")
        .values_list("vehicle_id", "starts_at", "ends_at")
    )


# driver_leave, driver_set_status_or_leave


def test_leaving_deactivates_the_tokens_and_ends_the_running_assignments_at_that_moment(
    driver, vehicle
):
    tokens = ChargeTokenFactory.create_batch(2, driver=driver)
    colleague = DriverFactory(fleet=driver.fleet)
    colleague_token = ChargeTokenFactory(driver=colleague)
    ended_before = VehicleAssignmentFactory(
        vehicle=vehicle, driver=driver, starts_at=MAR_1, ends_at=MAR_1 + dt.timedelta(days=30)
    )
    running = VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=driver.fleet), driver=driver, starts_at=MAR_1
    )
    running_past_it = VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=driver.fleet),
        driver=driver,
        starts_at=LEFT_AT - dt.timedelta(days=1),
        ends_at=LEFT_AT + dt.timedelta(days=10),
    )
    colleague_assignment = VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=driver.fleet), driver=colleague, starts_at=MAR_1
    )

    returned = driver_leave(driver=driver, now=LEFT_AT)

    assert returned.status == DriverStatus.LEFT
    assert Driver.objects.get(pk=driver.pk).status == DriverStatus.LEFT
    assert not ChargeToken.objects.filter(pk__in=[t.pk for t in tokens], is_active=True).exists()
    assert ChargeToken.objects.get(pk=colleague_token.pk).is_active is True
    assert _assignment_rows(driver) == [
        (vehicle.pk, MAR_1, MAR_1 + dt.timedelta(days=30)),
        (running.vehicle_id, MAR_1, LEFT_AT),
        (running_past_it.vehicle_id, LEFT_AT - dt.timedelta(days=1), LEFT_AT),
    ]
    assert ended_before.pk in VehicleAssignment.objects.values_list("pk", flat=True)
    colleague_assignment.refresh_from_db()
    assert colleague_assignment.ends_at is None


def test_leaving_while_an_assignment_has_not_started_is_refused_and_changes_nothing(
    driver, vehicle
):
    token = ChargeTokenFactory(driver=driver)
    running = VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=driver.fleet), driver=driver, starts_at=MAR_1
    )
    VehicleAssignmentFactory(vehicle=vehicle, driver=driver, starts_at=LEFT_AT)
    before = _assignment_rows(driver)

    with pytest.raises(AssignmentNotStarted) as excinfo:
        driver_leave(driver=driver, now=LEFT_AT)

    assert (excinfo.value.code, excinfo.value.field, excinfo.value.status) == (
        "vehicles.assignment_not_started",
        None,
        409,
    )
    assert excinfo.value.message == (
        "Sanne de Vries is assigned EV-901-Q (Volkswagen ID.3) from 2026-06-15 19:00 CEST, "
        "which has not started yet; give that assignment to another driver first."
    )
    assert Driver.objects.get(pk=driver.pk).status == DriverStatus.ACTIVE
    assert ChargeToken.objects.get(pk=token.pk).is_active is True
    assert _assignment_rows(driver) == before
    running.refresh_from_db()
    assert running.ends_at is None


def test_leaving_again_changes_nothing(driver, vehicle):
    VehicleAssignmentFactory(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    driver_leave(driver=driver, now=LEFT_AT)
    stored = Driver.objects.filter(pk=driver.pk).values().get()

    driver_leave(driver=driver, now=LEFT_AT + dt.timedelta(days=3))

    assert Driver.objects.filter(pk=driver.pk).values().get() == stored
    assert _assignment_rows(driver) == [(vehicle.pk, MAR_1, LEFT_AT)]


def test_leaving_ends_the_assignment_of_a_vehicle_retired_since(driver, vehicle):
    VehicleAssignmentFactory(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    vehicle.status = VehicleStatus.RETIRED
    vehicle.save()

    driver_leave(driver=driver, now=LEFT_AT)

    assert _assignment_rows(driver) == [(vehicle.pk, MAR_1, LEFT_AT)]


def test_leaving_at_a_naive_moment_is_refused(driver):
    with pytest.raises(NaiveDatetime):
        driver_leave(driver=driver, now=dt.datetime(2026, 6, 15, 17))  # noqa: DTZ001 - under test

    assert Driver.objects.get(pk=driver.pk).status == DriverStatus.ACTIVE


def test_a_session_still_charging_when_the_driver_leaves_can_be_stopped(driver):
    session = ChargingSessionFactory(
        fleet=driver.fleet, driver=driver, active=True, started_at=LEFT_AT - dt.timedelta(hours=1)
    )

    driver_leave(driver=driver, now=LEFT_AT)
    stopped = charging_session_stop(
        session=session, ended_at=LEFT_AT + dt.timedelta(hours=1), meter_stop_wh=1_015_000
    )

    assert (stopped.status, stopped.energy_wh) == (SessionStatus.COMPLETED, 15_000)


@pytest.mark.parametrize("status", [DriverStatus.SUSPENDED, DriverStatus.LEFT])
def test_suspending_or_removing_a_driver_deactivates_all_their_tokens_only(status):
    driver = DriverFactory(status=DriverStatus.ACTIVE)
    card = ChargeTokenFactory(driver=driver, uid="CARD1", is_active=True)
    app = ChargeTokenFactory(driver=driver, uid="APP1", kind=TokenKind.APP_USER, is_active=True)
    colleague_card = ChargeTokenFactory(uid="CARD2", is_active=True)

    returned = driver_set_status_or_leave(driver=driver, status=status, reason="Licence revoked")

    assert returned.status == status
    assert Driver.objects.get(pk=driver.pk).status == status
    assert ChargeToken.objects.get(pk=card.pk).is_active is False
    assert ChargeToken.objects.get(pk=app.pk).is_active is False
    assert ChargeToken.objects.get(pk=colleague_card.pk).is_active is True


def test_setting_the_status_to_left_goes_through_leaving(driver, vehicle):
    VehicleAssignmentFactory(vehicle=vehicle, driver=driver, starts_at=MAR_1)
    before = dt.datetime.now(tz=UTC)

    driver_set_status_or_leave(driver=driver, status=DriverStatus.LEFT)

    ((_, _, ends_at),) = _assignment_rows(driver)
    assert before <= ends_at <= dt.datetime.now(tz=UTC)
    assert Driver.objects.get(pk=driver.pk).status == DriverStatus.LEFT
