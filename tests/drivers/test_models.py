"""Rules of the drivers tables, each refused by full_clean() on its field and by the database."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from tests.constraints import (
    NON_FIELD,
    constraints_needing_a_message,
    error_codes,
    full_clean_errors,
    refused_by_database,
)
from tests.factories import ChargeTokenFactory, CostCenterFactory, DriverFactory, FleetFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
JAN_1 = dt.datetime(2026, 1, 1, tzinfo=UTC)


def _driver(fleet, **overrides) -> Driver:
    values = {
        "fleet": fleet,
        "employee_number": "E00042",
        "first_name": "Sanne",
        "last_name": "de Vries",
        "email": "sanne@example.com",
        "iban": "NL91ABNA0417164300",
    }
    return Driver(**(values | overrides))


@pytest.mark.parametrize("constraint", constraints_needing_a_message("drivers"))
def test_constraint_tells_the_user_which_rule_was_broken(constraint):
    message = constraint.get_violation_error_message()

    assert constraint.name not in message
    assert message.endswith(".")
    assert constraint.violation_error_code is not None


# Driver: IBAN and email


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("nl91 abna 0417 1643 00", "NL91ABNA0417164300"),
        ("NL91ABNA0417164300", "NL91ABNA0417164300"),
        # 31 characters compact, 38 as printed: longer than the column until normalized.
        ("MT84 MALT 0110 0001 2345 MTLC AST0 01S", "MT84MALT011000012345MTLCAST001S"),
    ],
)
def test_valid_iban_is_stored_in_its_compact_form(typed, stored):
    driver = _driver(FleetFactory(), iban=typed)

    driver.full_clean()
    driver.save()

    assert Driver.objects.get(pk=driver.pk).iban == stored


def test_driver_without_iban_is_valid():
    driver = _driver(FleetFactory(), iban="")

    driver.full_clean()
    driver.save()

    assert Driver.objects.get(pk=driver.pk).iban == ""


@pytest.mark.parametrize(
    ("iban", "message"),
    [
        (
            "NL91ABNA0417164301",
            "NL91ABNA0417164301 is not a valid IBAN: Invalid checksum digits.",
        ),
        ("NL91ABNA04", "NL91ABNA04 is not a valid IBAN: Invalid IBAN length."),
    ],
)
def test_invalid_iban_is_refused_on_the_iban_field_only(iban, message):
    driver = _driver(FleetFactory(), iban=iban)

    error = full_clean_errors(driver)

    assert error.message_dict == {"iban": [message]}
    assert error_codes(error) == {"iban": ["invalid_iban"]}
    assert Driver.objects.count() == 0


def test_email_is_stored_trimmed_and_in_lower_case():
    driver = _driver(FleetFactory(), email="  Sanne.de.Vries@Example.COM ")

    driver.full_clean()
    driver.save()

    assert Driver.objects.get(pk=driver.pk).email == "sanne.de.vries@example.com"


# Driver: unique per fleet


def test_employee_number_taken_in_the_same_fleet_is_refused_by_full_clean():
    existing = DriverFactory(employee_number="E00042")
    duplicate = _driver(existing.fleet, employee_number="E00042", email="other@example.com")

    error = full_clean_errors(duplicate)

    assert error.message_dict == {
        NON_FIELD: ["Driver with this Fleet and Employee number already exists."]
    }
    assert error_codes(error) == {NON_FIELD: ["unique_together"]}
    assert Driver.objects.count() == 1


def test_employee_number_taken_in_the_same_fleet_is_refused_by_the_database():
    existing = DriverFactory(employee_number="E00042", email="first@example.com")

    with refused_by_database("driver_employee_number_unique_per_fleet"):
        _driver(existing.fleet, employee_number="E00042", email="other@example.com").save()

    assert list(Driver.objects.values_list("employee_number", "email")) == [
        ("E00042", "first@example.com")
    ]


def test_employee_number_used_in_another_fleet_is_valid():
    DriverFactory(employee_number="E00042")
    driver = _driver(FleetFactory(), employee_number="E00042")

    driver.full_clean()
    driver.save()

    assert Driver.objects.filter(employee_number="E00042").count() == 2


def test_email_taken_in_the_same_fleet_in_other_case_is_refused_by_full_clean():
    existing = DriverFactory(email="sanne@example.com")
    duplicate = _driver(existing.fleet, employee_number="E00099", email="Sanne@Example.com")

    error = full_clean_errors(duplicate)

    assert error.message_dict == {NON_FIELD: ["Driver with this Fleet and Email already exists."]}
    assert Driver.objects.count() == 1


def test_email_taken_in_the_same_fleet_is_refused_by_the_database():
    existing = DriverFactory(employee_number="E00001", email="sanne@example.com")

    with refused_by_database("driver_email_unique_per_fleet"):
        Driver.objects.bulk_create(
            [
                _driver(existing.fleet, employee_number="E00002", email="noor@example.com"),
                _driver(existing.fleet, employee_number="E00003", email="sanne@example.com"),
            ]
        )

    assert list(Driver.objects.values_list("employee_number", flat=True)) == ["E00001"]


def test_email_used_in_another_fleet_is_valid():
    DriverFactory(email="sanne@example.com")
    driver = _driver(FleetFactory(), email="sanne@example.com")

    driver.full_clean()
    driver.save()

    assert Driver.objects.filter(email="sanne@example.com").count() == 2


# Driver: cost center, status, home rate


def test_cost_center_of_the_drivers_fleet_is_valid():
    cost_center = CostCenterFactory()
    driver = _driver(cost_center.fleet, cost_center=cost_center)

    driver.full_clean()


def test_cost_center_of_another_fleet_is_refused_on_cost_center():
    driver = _driver(FleetFactory(), cost_center=CostCenterFactory())

    error = full_clean_errors(driver)

    assert error.message_dict == {"cost_center": ["The cost center belongs to another fleet."]}
    assert error_codes(error) == {"cost_center": ["other_fleet"]}
    assert Driver.objects.count() == 0


def test_unknown_status_is_refused_on_status():
    driver = _driver(FleetFactory(), status="retired")

    error = full_clean_errors(driver)

    assert error.message_dict == {"status": ["Value 'retired' is not a valid choice."]}


def test_unknown_status_is_refused_by_the_database():
    driver = DriverFactory(status=DriverStatus.ACTIVE)

    with refused_by_database("driver_status_valid"):
        Driver.objects.filter(pk=driver.pk).update(status="retired")

    assert Driver.objects.get(pk=driver.pk).status == DriverStatus.ACTIVE


def test_negative_home_rate_is_refused_on_the_field_and_by_the_database():
    driver = DriverFactory(home_rate_per_kwh=Decimal("0.25000"))
    driver.home_rate_per_kwh = Decimal("-0.01000")

    assert error_codes(full_clean_errors(driver)) == {"home_rate_per_kwh": ["min_value"]}
    with refused_by_database("driver_home_rate_not_negative"):
        driver.save()
    assert Driver.objects.get(pk=driver.pk).home_rate_per_kwh == Decimal("0.25000")


# Charge token


def test_token_uid_is_stored_trimmed_and_in_upper_case():
    token = ChargeToken(driver=DriverFactory(), uid=" 04a1b2c3d4 ", valid_from=JAN_1)

    token.full_clean()
    token.save()

    assert ChargeToken.objects.get(pk=token.pk).uid == "04A1B2C3D4"


def test_uid_of_an_active_token_is_refused_for_another_active_token_on_uid():
    ChargeTokenFactory(uid="04A1B2C3D4", is_active=True)
    token = ChargeToken(driver=DriverFactory(), uid=" 04a1b2c3d4", valid_from=JAN_1)

    error = full_clean_errors(token)

    assert error.message_dict == {
        NON_FIELD: ["An active token with this UID already exists (case does not matter)."]
    }
    assert error_codes(error) == {NON_FIELD: ["token_uid_unique_among_active"]}
    assert ChargeToken.objects.count() == 1


def test_uid_of_an_active_token_is_refused_by_the_database():
    existing = ChargeTokenFactory(uid="04A1B2C3D4", is_active=True)

    with refused_by_database("token_uid_unique_among_active"):
        ChargeToken.objects.create(driver=DriverFactory(), uid="04A1B2C3D4", valid_from=JAN_1)

    assert list(ChargeToken.objects.values_list("pk", flat=True)) == [existing.pk]


def test_uid_of_an_active_token_in_another_case_is_refused_by_the_database():
    existing = ChargeTokenFactory(uid="04A1B2C3D4", is_active=True)

    with refused_by_database("token_uid_unique_among_active"):
        ChargeToken.objects.create(driver=DriverFactory(), uid="04a1b2c3d4", valid_from=JAN_1)

    assert list(ChargeToken.objects.values_list("pk", "uid")) == [(existing.pk, "04A1B2C3D4")]


def test_uid_of_an_inactive_token_in_another_case_is_accepted_by_the_database():
    ChargeTokenFactory(uid="04A1B2C3D4", is_active=True)

    ChargeToken.objects.create(
        driver=DriverFactory(), uid="04a1b2c3d4", valid_from=JAN_1, is_active=False
    )

    assert ChargeToken.objects.count() == 2


def test_reactivating_a_token_whose_uid_is_active_elsewhere_is_refused_by_the_database():
    ChargeTokenFactory(uid="04A1B2C3D4", is_active=True)
    old_card = ChargeTokenFactory(uid="04A1B2C3D4", is_active=False)

    with refused_by_database("token_uid_unique_among_active"):
        ChargeToken.objects.filter(pk=old_card.pk).update(is_active=True)

    assert ChargeToken.objects.get(pk=old_card.pk).is_active is False


@pytest.mark.parametrize(("first_active", "second_active"), [(False, True), (False, False)])
def test_uid_may_repeat_when_at_most_one_token_is_active(first_active, second_active):
    ChargeTokenFactory(uid="04A1B2C3D4", is_active=first_active)
    token = ChargeToken(
        driver=DriverFactory(), uid="04A1B2C3D4", valid_from=JAN_1, is_active=second_active
    )

    token.full_clean()
    token.save()

    assert ChargeToken.objects.filter(uid="04A1B2C3D4").count() == 2


@pytest.mark.parametrize(
    "valid_until", [JAN_1, JAN_1 - dt.timedelta(seconds=1)], ids=["same", "before"]
)
def test_token_valid_until_not_after_valid_from_is_refused_on_valid_until(valid_until):
    token = ChargeToken(
        driver=DriverFactory(), uid="04A1B2C3D4", valid_from=JAN_1, valid_until=valid_until
    )

    error = full_clean_errors(token)

    assert error.message_dict == {"valid_until": ["Valid until must be after valid from."]}
    assert error_codes(error) == {"valid_until": ["valid_until_before_valid_from"]}
    assert ChargeToken.objects.count() == 0


@pytest.mark.parametrize(
    "valid_until", [JAN_1, JAN_1 - dt.timedelta(seconds=1)], ids=["same", "before"]
)
def test_token_valid_until_not_after_valid_from_is_refused_by_the_database(valid_until):
    token = ChargeTokenFactory(valid_from=JAN_1, valid_until=None)

    with refused_by_database("token_valid_until_after_valid_from"):
        ChargeToken.objects.filter(pk=token.pk).update(valid_until=valid_until)

    assert ChargeToken.objects.get(pk=token.pk).valid_until is None


def test_token_valid_until_after_valid_from_or_open_ended_is_valid():
    driver = DriverFactory()
    one_second_later = ChargeToken(
        driver=driver, uid="A1", valid_from=JAN_1, valid_until=JAN_1 + dt.timedelta(seconds=1)
    )
    open_ended = ChargeToken(driver=driver, uid="A2", valid_from=JAN_1, valid_until=None)

    for token in (one_second_later, open_ended):
        token.full_clean()
        token.save()

    assert driver.tokens.count() == 2
