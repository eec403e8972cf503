"""Suspending and reactivating a driver, and blocking a token: a suspension blocks the
driver's active tokens and records which; reactivating unblocks exactly those, so a card
blocked as lost stays blocked."""

import threading

import psycopg
import pytest
from django.db import connection

from apps.drivers.choices import DriverStatus
from apps.drivers.exceptions import DriverStatusRefused, ReasonMissing
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.services import (
    charge_token_block,
    charge_token_deactivate,
    driver_reactivate,
    driver_suspend,
)
from tests.celery_workers import current_database_url
from tests.factories import ChargeTokenFactory, DriverFactory
from tests.locks import wait_until_blocked_by

pytestmark = pytest.mark.django_db


def token_rows(driver: Driver) -> list[tuple]:
    return list(
        ChargeToken.objects.filter(driver=driver)
        .order_by("uid")
        .values_list("uid", "is_active", "blocked_by_suspension", "blocked_reason")
    )


def driver_row(driver: Driver) -> tuple:
    return Driver.objects.values_list("status", "suspension_reason").get(pk=driver.pk)


def test_suspending_blocks_the_active_tokens_and_records_them_as_blocked_by_it():
    driver = DriverFactory()
    ChargeTokenFactory(driver=driver, uid="CARD1")
    ChargeTokenFactory(driver=driver, uid="APP1")
    ChargeTokenFactory(driver=driver, uid="OLD1", is_active=False, blocked_reason="Expired")
    colleague_card = ChargeTokenFactory(uid="CARD2")

    returned = driver_suspend(driver=driver, reason="  Licence withdrawn  ")

    assert (returned.status, returned.suspension_reason) == (
        DriverStatus.SUSPENDED,
        "Licence withdrawn",
    )
    assert driver_row(driver) == (DriverStatus.SUSPENDED, "Licence withdrawn")
    assert token_rows(driver) == [
        ("APP1", False, True, "Driver suspended: Licence withdrawn"),
        ("CARD1", False, True, "Driver suspended: Licence withdrawn"),
        ("OLD1", False, False, "Expired"),
    ]
    assert ChargeToken.objects.get(pk=colleague_card.pk).is_active is True


def test_reactivating_unblocks_exactly_the_tokens_the_suspension_blocked():
    driver = DriverFactory()
    ChargeTokenFactory(driver=driver, uid="CARD1")
    ChargeTokenFactory(driver=driver, uid="OLD1", is_active=False, blocked_reason="Expired")
    driver_suspend(driver=driver, reason="Licence withdrawn")

    returned = driver_reactivate(driver=driver)

    assert (returned.status, returned.suspension_reason) == (DriverStatus.ACTIVE, "")
    assert driver_row(driver) == (DriverStatus.ACTIVE, "")
    assert token_rows(driver) == [
        ("CARD1", True, False, ""),
        ("OLD1", False, False, "Expired"),
    ]


@pytest.mark.parametrize(
    "block",
    [
        lambda token: charge_token_block(token=token, reason="Card lost"),
        lambda token: charge_token_deactivate(token=token),
    ],
    ids=["blocked", "deactivated"],
)
def test_a_card_blocked_as_lost_during_the_suspension_stays_blocked_on_reactivation(block):
    driver = DriverFactory()
    lost = ChargeTokenFactory(driver=driver, uid="CARD1")
    ChargeTokenFactory(driver=driver, uid="APP1")
    driver_suspend(driver=driver, reason="Licence withdrawn")

    block(lost)
    driver_reactivate(driver=driver)

    rows = {
        uid: (is_active, by_suspension) for uid, is_active, by_suspension, _ in token_rows(driver)
    }
    assert rows == {"APP1": (True, False), "CARD1": (False, False)}


def test_a_card_blocked_as_lost_before_the_suspension_stays_blocked_on_reactivation():
    driver = DriverFactory()
    lost = ChargeTokenFactory(driver=driver, uid="CARD1")
    charge_token_block(token=lost, reason="Card lost")

    driver_suspend(driver=driver, reason="Licence withdrawn")
    driver_reactivate(driver=driver)

    assert token_rows(driver) == [("CARD1", False, False, "Card lost")]


def test_a_token_whose_uid_was_reissued_meanwhile_stays_blocked_and_says_why():
    driver = DriverFactory()
    ChargeTokenFactory(driver=driver, uid="CARD1")
    driver_suspend(driver=driver, reason="Licence withdrawn")
    ChargeTokenFactory(uid="CARD1")

    driver_reactivate(driver=driver)

    assert driver_row(driver) == (DriverStatus.ACTIVE, "")
    assert token_rows(driver) == [
        ("CARD1", False, False, "Its UID was given to another active token meanwhile.")
    ]


@pytest.mark.parametrize("reason", ["", "   "])
def test_suspending_without_a_reason_is_refused_on_the_reason_and_changes_nothing(reason):
    driver = DriverFactory()
    ChargeTokenFactory(driver=driver, uid="CARD1")

    with pytest.raises(ReasonMissing) as refusal:
        driver_suspend(driver=driver, reason=reason)

    assert (refusal.value.code, refusal.value.field) == ("drivers.reason_missing", "reason")
    assert driver_row(driver) == (DriverStatus.ACTIVE, "")
    assert token_rows(driver) == [("CARD1", True, False, "")]


@pytest.mark.parametrize("status", [DriverStatus.LEFT, DriverStatus.SUSPENDED])
def test_suspending_a_driver_who_is_not_active_is_refused_and_changes_nothing(status):
    driver = DriverFactory(status=status, suspension_reason="")
    ChargeTokenFactory(driver=driver, uid="CARD1", is_active=False)

    with pytest.raises(DriverStatusRefused) as refusal:
        driver_suspend(driver=driver, reason="Licence withdrawn")

    assert (refusal.value.code, refusal.value.status, refusal.value.field) == (
        "drivers.driver_status_refused",
        409,
        "status",
    )
    assert refusal.value.message == (
        f"Driver {driver} is not active ({status.label.lower()}); only an active driver can be "
        "suspended."
    )
    assert driver_row(driver) == (status, "")
    assert token_rows(driver) == [("CARD1", False, False, "")]


@pytest.mark.parametrize("status", [DriverStatus.ACTIVE, DriverStatus.LEFT])
def test_reactivating_a_driver_who_is_not_suspended_is_refused_and_changes_nothing(status):
    driver = DriverFactory(status=status)
    ChargeTokenFactory(driver=driver, uid="CARD1", is_active=False, blocked_by_suspension=True)

    with pytest.raises(DriverStatusRefused) as refusal:
        driver_reactivate(driver=driver)

    assert refusal.value.message == (
        f"Driver {driver} is not suspended ({status.label.lower()}); only a suspended driver "
        "can be reactivated."
    )
    assert driver_row(driver) == (status, "")
    assert token_rows(driver) == [("CARD1", False, True, "")]


def test_blocking_a_token_records_why_and_a_missing_reason_is_refused_changing_nothing():
    token = ChargeTokenFactory(uid="CARD1")

    with pytest.raises(ReasonMissing) as refusal:
        charge_token_block(token=token, reason=" ")
    unchanged = token_rows(token.driver)
    charge_token_block(token=token, reason="Stolen")

    assert refusal.value.field == "reason"
    assert unchanged == [("CARD1", True, False, "")]
    assert token_rows(token.driver) == [("CARD1", False, False, "Stolen")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_token_issued_while_the_suspension_waits_for_the_driver_is_blocked_too():
    """Another transaction holds the driver's row while it issues a token; the suspension
    waits for that row and then blocks the new token with the others."""
    driver = DriverFactory()
    ChargeTokenFactory(driver=driver, uid="CARD1")
    outcome: dict[str, object] = {}

    def suspend() -> None:
        try:
            outcome["suspend"] = driver_suspend(driver=driver, reason="Licence withdrawn")
        except Exception as error:  # kept for the assertions below, whatever it is
            outcome["suspend"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=suspend)
    with psycopg.connect(current_database_url()) as other:
        other.execute("SELECT id FROM drivers_driver WHERE id = %s FOR UPDATE", [driver.pk])
        thread.start()
        wait_until_blocked_by(other, outcome)
        other.execute(
            "INSERT INTO drivers_chargetoken (driver_id, uid, kind, valid_from, is_active, "
            "blocked_reason, blocked_by_suspension, created_at, updated_at) "
            "VALUES (%s, 'CARD2', 'RFID', now(), true, '', false, now(), now())",
            [driver.pk],
        )
        other.commit()
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert isinstance(outcome["suspend"], Driver), outcome
    assert [row[:3] for row in token_rows(driver)] == [
        ("CARD1", False, True),
        ("CARD2", False, True),
    ]
