"""Writes of the drivers app: status changes deactivate tokens; issuing and editing tokens."""

import datetime as dt
import threading

import psycopg
import pytest
from django.db import connection

from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.exceptions import (
    DriverNotActive,
    InvalidTokenPeriod,
    InvalidTokenUid,
    TokenChangedMeanwhile,
    TokenOtherFleet,
    TokenUidInUse,
)
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.services import (
    charge_token_deactivate,
    charge_token_issue,
    charge_token_save,
    charge_token_update,
    driver_phone_set,
    driver_set_status,
    driver_update,
)
from tests.celery_workers import current_database_url
from tests.factories import ChargeTokenFactory, DriverFactory, FleetFactory
from tests.locks import wait_until_blocked_by
from voltop.core.errors import FieldFixed
from voltop.core.timeutils import NaiveDatetime

pytestmark = pytest.mark.django_db

UTC = dt.UTC
JAN_1 = dt.datetime(2026, 1, 1, tzinfo=UTC)
DEC_31 = dt.datetime(2026, 12, 31, tzinfo=UTC)


def _token_rows() -> list[tuple]:
    return list(ChargeToken.objects.order_by("pk").values_list("driver_id", "uid", "is_active"))


# driver_set_status


def test_suspending_a_driver_deactivates_all_their_tokens_only():
    driver = DriverFactory(status=DriverStatus.ACTIVE)
    card = ChargeTokenFactory(driver=driver, uid="CARD1", is_active=True)
    app = ChargeTokenFactory(driver=driver, uid="APP1", kind=TokenKind.APP_USER, is_active=True)
    colleague_card = ChargeTokenFactory(uid="CARD2", is_active=True)

    returned = driver_set_status(driver=driver, status=DriverStatus.SUSPENDED)

    assert returned.status == DriverStatus.SUSPENDED
    assert Driver.objects.get(pk=driver.pk).status == DriverStatus.SUSPENDED
    assert ChargeToken.objects.get(pk=card.pk).is_active is False
    assert ChargeToken.objects.get(pk=app.pk).is_active is False
    assert ChargeToken.objects.get(pk=colleague_card.pk).is_active is True


def test_setting_the_status_to_left_is_refused_here_and_changes_nothing():
    driver = DriverFactory(status=DriverStatus.ACTIVE)
    token = ChargeTokenFactory(driver=driver, is_active=True)

    with pytest.raises(ValueError, match=r"apps\.vehicles\.services\.driver_leave does"):
        driver_set_status(driver=driver, status=DriverStatus.LEFT)

    assert Driver.objects.get(pk=driver.pk).status == DriverStatus.ACTIVE
    assert ChargeToken.objects.get(pk=token.pk).is_active is True


def test_setting_status_of_an_already_suspended_driver_deactivates_a_token_left_active():
    driver = DriverFactory(status=DriverStatus.SUSPENDED)
    token = ChargeTokenFactory(driver=driver, is_active=True)

    driver_set_status(driver=driver, status=DriverStatus.SUSPENDED)

    assert ChargeToken.objects.get(pk=token.pk).is_active is False


def test_reactivating_a_driver_leaves_their_tokens_inactive():
    driver = DriverFactory(status=DriverStatus.SUSPENDED)
    token = ChargeTokenFactory(driver=driver, is_active=False)

    driver_set_status(driver=driver, status=DriverStatus.ACTIVE)

    assert Driver.objects.get(pk=driver.pk).status == DriverStatus.ACTIVE
    assert ChargeToken.objects.get(pk=token.pk).is_active is False


def test_status_change_works_on_the_stored_driver_not_a_stale_copy():
    driver = DriverFactory(status=DriverStatus.ACTIVE, first_name="Sanne")
    Driver.objects.filter(pk=driver.pk).update(first_name="Noor")

    driver_set_status(driver=driver, status=DriverStatus.SUSPENDED)

    stored = Driver.objects.get(pk=driver.pk)
    assert (stored.first_name, stored.status) == ("Noor", DriverStatus.SUSPENDED)


# charge_token_issue


def test_issuing_a_token_stores_an_active_token_with_a_normalized_uid():
    driver = DriverFactory()

    token = charge_token_issue(
        driver=driver, uid=" 04a1b2c3d4 ", valid_from=JAN_1, valid_until=DEC_31
    )

    stored = ChargeToken.objects.get(pk=token.pk)
    assert (stored.driver_id, stored.uid, stored.kind, stored.is_active) == (
        driver.pk,
        "04A1B2C3D4",
        TokenKind.RFID,
        True,
    )
    assert (stored.valid_from, stored.valid_until) == (JAN_1, DEC_31)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            DriverStatus.SUSPENDED,
            "Driver Sanne de Vries (E00042) is not active (suspended); "
            "only active drivers get active tokens.",
        ),
        (
            DriverStatus.LEFT,
            "Driver Sanne de Vries (E00042) is not active (left the company); "
            "only active drivers get active tokens.",
        ),
    ],
)
def test_issuing_a_token_to_an_inactive_driver_is_refused_and_saves_nothing(status, message):
    driver = DriverFactory(
        first_name="Sanne", last_name="de Vries", employee_number="E00042", status=status
    )

    with pytest.raises(DriverNotActive) as excinfo:
        charge_token_issue(driver=driver, uid="04A1B2C3D4", valid_from=JAN_1)

    assert (excinfo.value.code, excinfo.value.field) == ("drivers.driver_not_active", "is_active")
    assert excinfo.value.message == message
    assert ChargeToken.objects.count() == 0


def test_issuing_a_token_to_a_driver_suspended_since_it_was_loaded_is_refused():
    driver = DriverFactory(status=DriverStatus.ACTIVE)
    Driver.objects.filter(pk=driver.pk).update(status=DriverStatus.SUSPENDED)

    with pytest.raises(DriverNotActive):
        charge_token_issue(driver=driver, uid="04A1B2C3D4", valid_from=JAN_1)

    assert ChargeToken.objects.count() == 0


@pytest.mark.parametrize("uid", ["04A1B2C3D4", " 04a1b2c3d4 "])
def test_issuing_a_uid_that_is_active_elsewhere_is_refused_and_saves_nothing(uid):
    existing = ChargeTokenFactory(uid="04A1B2C3D4", is_active=True)

    with pytest.raises(TokenUidInUse) as excinfo:
        charge_token_issue(driver=DriverFactory(), uid=uid, valid_from=JAN_1)

    assert (excinfo.value.code, excinfo.value.field) == ("drivers.token_uid_in_use", "uid")
    assert excinfo.value.message == "An active token with UID 04A1B2C3D4 already exists."
    assert excinfo.value.status == 409
    assert _token_rows() == [(existing.driver_id, "04A1B2C3D4", True)]


def test_issuing_the_uid_of_a_deactivated_token_is_allowed():
    lost_card = ChargeTokenFactory(uid="04A1B2C3D4", is_active=False)
    driver = DriverFactory()

    token = charge_token_issue(driver=driver, uid="04A1B2C3D4", valid_from=JAN_1)

    assert _token_rows() == [
        (lost_card.driver_id, "04A1B2C3D4", False),
        (driver.pk, "04A1B2C3D4", True),
    ]
    assert token.is_active is True


@pytest.mark.parametrize("valid_until", [JAN_1, JAN_1 - dt.timedelta(hours=1)])
def test_issuing_a_token_valid_until_not_after_valid_from_is_refused(valid_until):
    with pytest.raises(InvalidTokenPeriod) as excinfo:
        charge_token_issue(
            driver=DriverFactory(), uid="04A1B2C3D4", valid_from=JAN_1, valid_until=valid_until
        )

    assert (excinfo.value.code, excinfo.value.field) == (
        "drivers.invalid_token_period",
        "valid_until",
    )
    assert excinfo.value.message == "Valid until must be after valid from."
    assert ChargeToken.objects.count() == 0


def test_issuing_a_token_with_a_naive_valid_from_is_refused():
    with pytest.raises(NaiveDatetime) as excinfo:
        charge_token_issue(
            driver=DriverFactory(),
            uid="04A1B2C3D4",
            valid_from=dt.datetime(2026, 1, 1),  # noqa: DTZ001 - the naive value under test
        )

    assert (excinfo.value.code, excinfo.value.field) == ("voltop.naive_datetime", "valid_from")
    assert ChargeToken.objects.count() == 0


@pytest.mark.parametrize(
    ("uid", "message"),
    [
        ("", "A token needs a UID."),
        ("   ", "A token needs a UID."),
        ("A" * 37, f"A token UID has at most 36 characters; {'A' * 37} has 37."),
    ],
    ids=["empty", "blank", "too-long"],
)
def test_issuing_a_token_without_a_usable_uid_is_refused(uid, message):
    with pytest.raises(InvalidTokenUid) as excinfo:
        charge_token_issue(driver=DriverFactory(), uid=uid, valid_from=JAN_1)

    assert (excinfo.value.code, excinfo.value.field) == ("drivers.invalid_token_uid", "uid")
    assert excinfo.value.message == message
    assert ChargeToken.objects.count() == 0


def test_issuing_a_uid_of_exactly_36_characters_is_allowed():
    uid = "0123456789ABCDEF0123456789ABCDEF0123"

    token = charge_token_issue(driver=DriverFactory(), uid=uid, valid_from=JAN_1)

    assert ChargeToken.objects.get(pk=token.pk).uid == uid


# charge_token_save


def test_saving_an_active_token_with_its_own_uid_is_allowed():
    token = ChargeTokenFactory(uid="04A1B2C3D4", is_active=True, valid_until=None)
    token.valid_until = DEC_31

    charge_token_save(token=token)

    assert ChargeToken.objects.get(pk=token.pk).valid_until == DEC_31


def test_reactivating_a_token_whose_uid_is_now_active_elsewhere_is_refused():
    ChargeTokenFactory(uid="04A1B2C3D4", is_active=True)
    old_card = ChargeTokenFactory(uid="04A1B2C3D4", is_active=False)
    old_card.is_active = True

    with pytest.raises(TokenUidInUse) as excinfo:
        charge_token_save(token=old_card)

    assert excinfo.value.field == "uid"
    assert ChargeToken.objects.get(pk=old_card.pk).is_active is False


def test_reactivating_a_token_of_a_suspended_driver_is_refused():
    driver = DriverFactory(status=DriverStatus.SUSPENDED)
    token = ChargeTokenFactory(driver=driver, is_active=False)
    token.is_active = True

    with pytest.raises(DriverNotActive) as excinfo:
        charge_token_save(token=token)

    assert excinfo.value.field == "is_active"
    assert ChargeToken.objects.get(pk=token.pk).is_active is False


def test_editing_an_inactive_token_of_a_suspended_driver_is_allowed():
    driver = DriverFactory(status=DriverStatus.SUSPENDED)
    token = ChargeTokenFactory(driver=driver, is_active=False, valid_until=None)
    token.valid_until = DEC_31

    charge_token_save(token=token)

    stored = ChargeToken.objects.get(pk=token.pk)
    assert (stored.valid_until, stored.is_active) == (DEC_31, False)


def test_saving_a_token_with_a_period_ending_before_it_starts_is_refused():
    token = ChargeTokenFactory(valid_from=JAN_1, valid_until=None)
    token.valid_until = JAN_1 - dt.timedelta(days=1)

    with pytest.raises(InvalidTokenPeriod):
        charge_token_save(token=token)

    assert ChargeToken.objects.get(pk=token.pk).valid_until is None


def test_moving_a_token_to_a_driver_of_another_fleet_is_refused():
    token = ChargeTokenFactory(uid="04A1B2C3D4")
    stranger = DriverFactory(first_name="Olaf", last_name="Berg", employee_number="E00777")
    token.driver = stranger

    with pytest.raises(TokenOtherFleet) as excinfo:
        charge_token_save(token=token)

    assert (excinfo.value.code, excinfo.value.field) == ("drivers.token_other_fleet", "driver")
    assert excinfo.value.message == (
        "Driver Olaf Berg (E00777) belongs to another fleet; a token stays in its fleet, so "
        "issue them a new one there."
    )
    assert ChargeToken.objects.get(pk=token.pk).driver_id != stranger.pk


# charge_token_update


def test_updating_a_token_changes_only_the_given_fields_with_the_uid_normalised():
    token = ChargeTokenFactory(uid="04A1B2C3D4", valid_from=JAN_1, valid_until=None)
    colleague = DriverFactory(fleet=token.driver.fleet)

    returned = charge_token_update(
        token=token, changes={"uid": " 04a1b2c3ff ", "valid_until": DEC_31, "driver": colleague}
    )

    stored = ChargeToken.objects.get(pk=token.pk)
    assert (stored.driver_id, stored.uid, stored.kind, stored.valid_from, stored.valid_until) == (
        colleague.pk,
        "04A1B2C3FF",
        TokenKind.RFID,
        JAN_1,
        DEC_31,
    )
    assert stored.is_active is True
    assert returned.uid == "04A1B2C3FF"


def test_updating_a_token_deactivated_since_it_was_loaded_keeps_it_deactivated():
    token = ChargeTokenFactory(uid="04A1B2C3D4", is_active=True)
    stale = ChargeToken.objects.get(pk=token.pk)
    charge_token_deactivate(token=token)

    charge_token_update(token=stale, changes={"valid_until": DEC_31})

    stored = ChargeToken.objects.get(pk=token.pk)
    assert (stored.is_active, stored.valid_until) == (False, DEC_31)


def test_updating_a_token_to_a_uid_active_elsewhere_is_refused_and_changes_nothing():
    ChargeTokenFactory(uid="BBBB01")
    token = ChargeTokenFactory(uid="AAAA01")
    before = _token_rows()

    with pytest.raises(TokenUidInUse) as excinfo:
        charge_token_update(token=token, changes={"uid": "bbbb01", "kind": TokenKind.OTHER})

    assert excinfo.value.field == "uid"
    assert _token_rows() == before
    assert ChargeToken.objects.get(pk=token.pk).kind == TokenKind.RFID


@pytest.mark.parametrize("field", ["is_active", "id", "created_at"])
def test_updating_a_field_other_than_driver_uid_kind_or_validity_is_a_programming_error(field):
    token = ChargeTokenFactory(is_active=False)
    before = _token_rows()

    with pytest.raises(ValueError, match=field):
        charge_token_update(token=token, changes={"uid": "CHANGED", field: True})

    assert _token_rows() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("moves", [1, 2], ids=["given-away-once", "given-away-twice"])
def test_a_token_given_to_another_driver_while_the_update_waits_is_locked_again_once(moves):
    """The update reads the token's driver (Sanne) and waits for her row, which a first
    transaction holds while it gives the token to Noor. The update must then let go of its
    locks and wait for Noor's row, which a second transaction holds; when that one gives the
    token to Ella as well, the update is refused and changes nothing."""
    sanne = DriverFactory(first_name="Sanne", last_name="de Vries")
    bram, noor, ella = (DriverFactory(fleet=sanne.fleet) for _ in range(3))
    token = ChargeTokenFactory(driver=sanne, uid="04A1B2C3D4")
    outcome: dict[str, object] = {}

    def update() -> None:
        try:
            outcome["update"] = charge_token_update(token=token, changes={"driver": bram})
        except Exception as error:  # kept for the assertions below, whatever it is
            outcome["update"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=update)
    move = "UPDATE drivers_chargetoken SET driver_id = %s WHERE id = %s"
    url = current_database_url()
    with psycopg.connect(url) as first, psycopg.connect(url) as second:
        second.execute("SELECT id FROM drivers_driver WHERE id = %s FOR NO KEY UPDATE", [noor.pk])
        first.execute("SELECT id FROM drivers_driver WHERE id = %s FOR UPDATE", [sanne.pk])
        thread.start()
        wait_until_blocked_by(first, outcome)
        first.execute(move, [noor.pk, token.pk])
        first.commit()
        wait_until_blocked_by(second, outcome)
        if moves == 2:
            second.execute(move, [ella.pk, token.pk])
        second.commit()
    thread.join(timeout=30)

    assert not thread.is_alive()
    if moves == 1:
        assert isinstance(outcome["update"], ChargeToken), outcome
        assert ChargeToken.objects.get(pk=token.pk).driver_id == bram.pk
    else:
        refusal = outcome["update"]
        assert isinstance(refusal, TokenChangedMeanwhile), outcome
        assert (refusal.code, refusal.status, refusal.field, refusal.message) == (
            "drivers.token_changed_meanwhile",
            409,
            "driver",
            "Token 04A1B2C3D4 was given to another driver while this change was made; load "
            "it again and retry.",
        )
        assert ChargeToken.objects.get(pk=token.pk).driver_id == ella.pk


# charge_token_deactivate


def test_deactivating_a_token_blocks_it_and_frees_its_uid():
    token = ChargeTokenFactory(uid="04A1B2C3D4", is_active=True)

    charge_token_deactivate(token=token)
    replacement = charge_token_issue(driver=token.driver, uid="04A1B2C3D4", valid_from=JAN_1)

    assert ChargeToken.objects.get(pk=token.pk).is_active is False
    assert ChargeToken.objects.get(pk=replacement.pk).is_active is True


def test_a_driver_sets_their_phone_and_nothing_else_changes():
    driver = DriverFactory(phone="+31 6 00000000")
    before = Driver.objects.filter(pk=driver.pk).values().get()

    driver_phone_set(driver=driver, phone="  +31 6 12345678 ")

    after = Driver.objects.filter(pk=driver.pk).values().get()
    assert after["phone"] == "+31 6 12345678"
    assert {k: v for k, v in after.items() if k not in ("phone", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("phone", "updated_at")
    }


def test_moving_a_driver_to_another_fleet_is_refused_and_changes_nothing():
    """The driver admin dropped such a change silently; the service refuses it by name."""
    driver = DriverFactory(last_name="Jansen")
    other_fleet = FleetFactory()
    before = list(Driver.objects.values_list("pk", "fleet_id", "last_name"))

    with pytest.raises(FieldFixed) as refused:
        driver_update(driver=driver, changes={"last_name": "de Vries", "fleet": other_fleet})

    assert (refused.value.field, refused.value.message) == (
        "fleet",
        "A driver stays in the fleet they were added to; their fleet cannot be changed.",
    )
    assert list(Driver.objects.values_list("pk", "fleet_id", "last_name")) == before
