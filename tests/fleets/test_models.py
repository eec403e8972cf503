"""Rules of the fleets tables, each refused by full_clean() on its field and by the database."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.fleets.choices import MembershipRole
from apps.fleets.models import CostCenter, Depot, Fleet, Membership
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
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db


def _fleet(**overrides) -> Fleet:
    values = {
        "name": "Amsterdam Taxi",
        "slug": "amsterdam-taxi",
        "currency": "EUR",
        "time_zone": "Europe/Amsterdam",
        "country": "NL",
        "default_vat_rate": Decimal("21.00"),
    }
    return Fleet(**(values | overrides))


# Fleet


@pytest.mark.parametrize("vat_rate", [Decimal("0.00"), Decimal("21.00"), Decimal("100.00")])
def test_fleet_with_iso_currency_iana_zone_and_vat_from_0_to_100_is_valid_and_saved(vat_rate):
    fleet = _fleet(default_vat_rate=vat_rate)

    fleet.full_clean()
    fleet.save()

    stored = Fleet.objects.get(pk=fleet.pk)
    assert (stored.currency, stored.time_zone, stored.country.code) == (
        "EUR",
        "Europe/Amsterdam",
        "NL",
    )
    assert stored.default_vat_rate == vat_rate


def test_fleet_with_a_currency_that_is_not_iso_4217_is_refused_on_currency():
    fleet = _fleet(currency="XYZ")

    error = full_clean_errors(fleet)

    assert error.message_dict == {"currency": ["XYZ is not an ISO 4217 currency code."]}
    assert error_codes(error) == {"currency": ["invalid_currency"]}
    assert Fleet.objects.count() == 0


@pytest.mark.parametrize("currency", ["eur", "EU1", "E"])
def test_fleet_currency_not_three_capital_letters_is_refused_by_the_database(currency):
    fleet = FleetFactory(currency="EUR")

    with refused_by_database("fleet_currency_iso_4217"):
        Fleet.objects.filter(pk=fleet.pk).update(currency=currency)

    assert Fleet.objects.get(pk=fleet.pk).currency == "EUR"


def test_fleet_with_a_time_zone_that_is_not_iana_is_refused_on_time_zone():
    fleet = _fleet(time_zone="Europe/Atlantis")

    error = full_clean_errors(fleet)

    assert error.message_dict == {
        "time_zone": ["Europe/Atlantis is not an IANA time zone (e.g. Europe/Amsterdam)."]
    }
    assert error_codes(error) == {"time_zone": ["invalid_time_zone"]}


def test_fleet_with_an_unknown_country_is_refused_on_country():
    fleet = _fleet(country="XX")

    error = full_clean_errors(fleet)

    assert error_codes(error) == {"country": ["invalid_choice"]}
    assert error.message_dict == {"country": ["Value 'XX' is not a valid choice."]}


@pytest.mark.parametrize(
    ("vat_rate", "code"), [(Decimal("-0.01"), "min_value"), (Decimal("100.01"), "max_value")]
)
def test_fleet_vat_rate_outside_0_to_100_is_refused_on_default_vat_rate(vat_rate, code):
    fleet = _fleet(default_vat_rate=vat_rate)

    error = full_clean_errors(fleet)

    assert error_codes(error) == {"default_vat_rate": [code]}
    assert Fleet.objects.count() == 0


@pytest.mark.parametrize("vat_rate", [Decimal("-0.01"), Decimal("100.01")])
def test_fleet_vat_rate_outside_0_to_100_is_refused_by_the_database(vat_rate):
    fleet = FleetFactory(default_vat_rate=Decimal("21.00"))
    fleet.default_vat_rate = vat_rate

    with refused_by_database("fleet_vat_rate_between_0_and_100"):
        fleet.save()

    assert Fleet.objects.get(pk=fleet.pk).default_vat_rate == Decimal("21.00")


def test_fleet_vat_constraint_names_the_rule_when_the_form_leaves_the_field_out():
    fleet = _fleet(default_vat_rate=Decimal("100.01"))

    with pytest.raises(ValidationError) as excinfo:
        fleet.validate_constraints()

    assert excinfo.value.message_dict == {
        NON_FIELD: ["The default VAT rate must be between 0 and 100 percent."]
    }
    assert error_codes(excinfo.value) == {NON_FIELD: ["fleet_vat_rate_between_0_and_100"]}


@pytest.mark.parametrize("constraint", constraints_needing_a_message("fleets"))
def test_constraint_tells_the_user_which_rule_was_broken(constraint):
    message = constraint.get_violation_error_message()

    assert constraint.name not in message
    assert message.endswith(".")
    assert constraint.violation_error_code is not None


# Depot


def test_depot_with_a_positive_grid_limit_is_valid():
    depot = Depot(
        fleet=FleetFactory(), name="Noord", grid_connection_limit_kw=Decimal("0.1"), address=""
    )

    depot.full_clean()
    depot.save()

    assert Depot.objects.get(pk=depot.pk).grid_connection_limit_kw == Decimal("0.1")


@pytest.mark.parametrize("limit", [Decimal("0.0"), Decimal("-5.0")])
def test_depot_grid_limit_not_above_zero_is_refused_on_the_field(limit):
    depot = Depot(fleet=FleetFactory(), name="Noord", grid_connection_limit_kw=limit)

    error = full_clean_errors(depot)

    assert error_codes(error) == {"grid_connection_limit_kw": ["min_value"]}
    assert error.message_dict == {
        "grid_connection_limit_kw": ["Ensure this value is greater than or equal to 0.1."]
    }
    assert Depot.objects.count() == 0


@pytest.mark.parametrize("limit", [Decimal("0.0"), Decimal("-5.0")])
def test_depot_grid_limit_not_above_zero_is_refused_by_the_database(limit):
    depot = DepotFactory(grid_connection_limit_kw=Decimal("250.0"))
    depot.grid_connection_limit_kw = limit

    with refused_by_database("depot_grid_limit_positive"):
        depot.save()

    assert Depot.objects.get(pk=depot.pk).grid_connection_limit_kw == Decimal("250.0")


def test_depot_name_taken_in_the_same_fleet_is_refused_by_full_clean():
    existing = DepotFactory(name="Noord")
    duplicate = Depot(fleet=existing.fleet, name="Noord", grid_connection_limit_kw=Decimal("50"))

    error = full_clean_errors(duplicate)

    assert error.message_dict == {NON_FIELD: ["Depot with this Fleet and Name already exists."]}
    assert error_codes(error) == {NON_FIELD: ["unique_together"]}
    assert Depot.objects.count() == 1


def test_depot_name_taken_in_the_same_fleet_is_refused_by_the_database_whole():
    existing = DepotFactory(name="Noord")
    fleet = existing.fleet

    with refused_by_database("depot_name_unique_per_fleet"):
        Depot.objects.bulk_create(
            [
                Depot(fleet=fleet, name="Zuid", grid_connection_limit_kw=Decimal("50")),
                Depot(fleet=fleet, name="Noord", grid_connection_limit_kw=Decimal("50")),
            ]
        )

    assert list(Depot.objects.values_list("name", flat=True)) == ["Noord"]


def test_depot_name_used_in_another_fleet_is_valid():
    DepotFactory(name="Noord")
    depot = Depot(fleet=FleetFactory(), name="Noord", grid_connection_limit_kw=Decimal("50"))

    depot.full_clean()
    depot.save()

    assert Depot.objects.filter(name="Noord").count() == 2


# Cost center


def test_cost_center_code_taken_in_the_same_fleet_is_refused_by_full_clean():
    existing = CostCenterFactory(code="SALES")
    duplicate = CostCenter(fleet=existing.fleet, code="SALES", name="Sales again")

    error = full_clean_errors(duplicate)

    assert error.message_dict == {
        NON_FIELD: ["Cost center with this Fleet and Code already exists."]
    }
    assert error_codes(error) == {NON_FIELD: ["unique_together"]}


def test_cost_center_code_taken_in_the_same_fleet_is_refused_by_the_database():
    existing = CostCenterFactory(code="SALES", name="Sales")

    with refused_by_database("cost_center_code_unique_per_fleet"):
        CostCenter.objects.create(fleet=existing.fleet, code="SALES", name="Sales again")

    assert list(CostCenter.objects.values_list("code", "name")) == [("SALES", "Sales")]


def test_cost_center_code_used_in_another_fleet_is_valid():
    CostCenterFactory(code="SALES")
    cost_center = CostCenter(fleet=FleetFactory(), code="SALES", name="Sales")

    cost_center.full_clean()
    cost_center.save()

    assert CostCenter.objects.filter(code="SALES").count() == 2


def test_cost_center_code_with_a_space_is_refused_on_code():
    cost_center = CostCenter(fleet=FleetFactory(), code="SALES NL", name="Sales")

    error = full_clean_errors(cost_center)

    assert error.message_dict == {"code": ["Letters, digits, '.', '_' or '-'."]}


# Membership


def test_second_membership_of_a_user_in_the_same_fleet_is_refused_by_full_clean():
    existing = MembershipFactory(role=MembershipRole.VIEWER)
    duplicate = Membership(user=existing.user, fleet=existing.fleet, role=MembershipRole.ADMIN)

    error = full_clean_errors(duplicate)

    assert error.message_dict == {
        NON_FIELD: ["Membership with this User and Fleet already exists."]
    }
    assert Membership.objects.get().role == MembershipRole.VIEWER


def test_second_membership_of_a_user_in_the_same_fleet_is_refused_by_the_database():
    existing = MembershipFactory(role=MembershipRole.VIEWER)

    with refused_by_database("membership_unique_per_fleet"):
        Membership.objects.create(
            user=existing.user, fleet=existing.fleet, role=MembershipRole.ADMIN
        )

    assert list(Membership.objects.values_list("role", flat=True)) == [MembershipRole.VIEWER]


def test_a_user_may_be_member_of_several_fleets():
    user = StaffUserFactory()
    MembershipFactory(user=user, role=MembershipRole.ADMIN)
    membership = Membership(user=user, fleet=FleetFactory(), role=MembershipRole.FINANCE)

    membership.full_clean()
    membership.save()

    assert sorted(user.memberships.values_list("role", flat=True)) == ["admin", "finance"]


def test_membership_with_an_unknown_role_is_refused_on_role():
    membership = Membership(user=StaffUserFactory(), fleet=FleetFactory(), role="owner")

    error = full_clean_errors(membership)

    assert error.message_dict == {"role": ["Value 'owner' is not a valid choice."]}
    assert error_codes(error) == {"role": ["invalid_choice"]}


def test_membership_with_an_unknown_role_is_refused_by_the_database():
    membership = MembershipFactory(role=MembershipRole.VIEWER)

    with refused_by_database("membership_role_valid"):
        Membership.objects.filter(pk=membership.pk).update(role="owner")

    assert Membership.objects.get(pk=membership.pk).role == MembershipRole.VIEWER
