"""Writes of the drivers app that see a driver off: deleting a driver without history, with
their tokens (refused, keeping everything, with any). A driver leaving ends their vehicle
assignments, so that service and its tests are the vehicles app's."""

import datetime as dt
import threading
import time

import pytest
from django.db import connection

from apps.drivers import services
from apps.drivers.exceptions import DriverHasHistory
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.services import driver_delete
from apps.vehicles.models import VehicleAssignment
from apps.vehicles.services import vehicle_assign
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    DriverFactory,
    DriverUserFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MAR_1 = dt.datetime(2026, 3, 1, 8, tzinfo=UTC)


@pytest.fixture
def driver() -> Driver:
    return DriverFactory(
        first_name="Sanne", last_name="de Vries", employee_number="E00042", email="s@example.com"
    )


# driver_delete


def test_a_driver_without_history_is_deleted_with_their_tokens_and_their_login_stays():
    login = DriverUserFactory()
    newcomer = DriverFactory(user=login)
    tokens = ChargeTokenFactory.create_batch(2, driver=newcomer, is_active=False)
    colleague_token = ChargeTokenFactory(driver=DriverFactory(fleet=newcomer.fleet))

    driver_delete(driver=newcomer)

    assert not Driver.objects.filter(pk=newcomer.pk).exists()
    assert not ChargeToken.objects.filter(pk__in=[t.pk for t in tokens]).exists()
    assert list(ChargeToken.objects.values_list("pk", flat=True)) == [colleague_token.pk]
    login.refresh_from_db()
    assert login.is_active is True


@pytest.mark.parametrize(
    ("history_make", "what"),
    [
        (
            lambda driver: VehicleAssignmentFactory(
                vehicle=VehicleFactory(fleet=driver.fleet), driver=driver
            ),
            "1 vehicle assignment",
        ),
        (
            lambda driver: ChargingSessionFactory.create_batch(
                2, fleet=driver.fleet, driver=driver
            ),
            "2 charging sessions",
        ),
        (
            lambda driver: ChargingSessionFactory(
                fleet=driver.fleet,
                driver=DriverFactory(fleet=driver.fleet),
                token=driver.tokens.get(),
            ),
            "1 charging session",
        ),
    ],
    ids=["assignment", "sessions", "session-of-another-driver-with-their-token"],
)
def test_a_driver_with_history_is_refused_and_nothing_is_deleted(driver, history_make, what):
    token = ChargeTokenFactory(driver=driver)
    history_make(driver)

    with pytest.raises(DriverHasHistory) as excinfo:
        driver_delete(driver=driver)

    assert (excinfo.value.code, excinfo.value.status) == ("drivers.driver_has_history", 409)
    assert excinfo.value.message == (
        f"Driver Sanne de Vries (E00042) cannot be deleted: their history is still referred to "
        f"by {what}. Mark the driver as left instead."
    )
    assert Driver.objects.filter(pk=driver.pk).exists()
    assert ChargeToken.objects.filter(pk=token.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_assignment_made_while_the_driver_is_being_deleted_waits_and_finds_no_driver(
    monkeypatch,
):
    """A delete and an assignment of the same driver race: each thread has its own connection,
    both pass a barrier together, the delete's check is slowed down after it has looked, and
    the assignment starts while the delete is inside it. The driver row lock makes the
    assignment wait until the delete has committed; without it, the assignment would slip in
    after the check and the delete would fail with a ProtectedError."""
    driver = DriverFactory(first_name="Sanne", last_name="de Vries", employee_number="E00042")
    ChargeTokenFactory(driver=driver)
    vehicle = VehicleFactory(fleet=driver.fleet)
    referring = services.rows_referring_to

    def slow_referring(*args, **kwargs):
        counts = referring(*args, **kwargs)
        time.sleep(0.3)
        return counts

    monkeypatch.setattr(services, "rows_referring_to", slow_referring)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def delete() -> None:
        driver_delete(driver=driver)

    def assign() -> VehicleAssignment:
        time.sleep(0.1)
        return vehicle_assign(vehicle=vehicle, driver=driver, starts_at=MAR_1)

    def run(name: str, work) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=10)
            outcomes[name] = work()
        except Exception as error:  # kept for the assertions below, whatever it is
            outcomes[name] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("delete", delete)),
        threading.Thread(target=run, args=("assign", assign)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    assert outcomes["delete"] is None, outcomes
    assert isinstance(outcomes["assign"], Driver.DoesNotExist), outcomes
    assert not Driver.objects.filter(pk=driver.pk).exists()
    assert not ChargeToken.objects.exists()
    assert not VehicleAssignment.objects.exists()


# charge_token_delete


def test_a_token_sessions_refer_to_is_not_deleted(driver):
    token = ChargeTokenFactory(driver=driver, uid="04AABBCC")
    ChargingSessionFactory(fleet=driver.fleet, driver=driver, token=token)

    with pytest.raises(services.TokenInUse) as refused:
        services.charge_token_delete(token=token)

    assert refused.value.code == "drivers.token_in_use"
    assert refused.value.message == (
        "Token 04AABBCC cannot be deleted: it is still referred to by 1 charging session. "
        "Deactivate it instead."
    )
    assert ChargeToken.objects.filter(pk=token.pk).exists()


def test_a_token_nothing_refers_to_is_deleted(driver):
    kept = ChargeTokenFactory(driver=driver)
    token = ChargeTokenFactory(driver=driver)

    services.charge_token_delete(token=token)

    assert list(ChargeToken.objects.values_list("pk", flat=True)) == [kept.pk]
