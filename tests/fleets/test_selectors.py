"""Reads of the fleets app: which fleets a user may see, by membership and role, and which rows
still refer to a row."""

import pytest
from django.contrib.auth.models import AnonymousUser

from apps.charging.models import ChargingSession
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.choices import MembershipRole
from apps.fleets.selectors import (
    fleet_ids_for_user,
    fleet_list_for_user,
    referring_rows_text,
    rows_referring_to,
)
from apps.payments.models import Invoice
from apps.vehicles.models import VehicleAssignment
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    UserFactory,
    VehicleAssignmentFactory,
)

pytestmark = pytest.mark.django_db


def test_fleet_ids_of_a_user_are_those_of_their_memberships_only():
    user = StaffUserFactory()
    admin_of = MembershipFactory(user=user, role=MembershipRole.ADMIN).fleet
    viewer_of = MembershipFactory(user=user, role=MembershipRole.VIEWER).fleet
    MembershipFactory(role=MembershipRole.ADMIN)  # another user's fleet

    assert fleet_ids_for_user(user) == {admin_of.pk, viewer_of.pk}


def test_fleet_ids_filtered_by_role_keep_only_fleets_where_the_user_holds_it():
    user = StaffUserFactory()
    manager_of = MembershipFactory(user=user, role=MembershipRole.MANAGER).fleet
    MembershipFactory(user=user, role=MembershipRole.VIEWER)

    assert fleet_ids_for_user(user, roles=[MembershipRole.ADMIN, MembershipRole.MANAGER]) == {
        manager_of.pk
    }


def test_anonymous_user_has_no_fleets():
    MembershipFactory()

    assert fleet_ids_for_user(AnonymousUser()) == set()


def test_fleet_list_of_a_member_is_their_fleets():
    user = StaffUserFactory()
    fleet = MembershipFactory(user=user, fleet=FleetFactory(name="Amsterdam Taxi")).fleet
    FleetFactory(name="Rotterdam Vans")

    assert list(fleet_list_for_user(user)) == [fleet]


def test_fleet_list_of_a_superuser_is_every_fleet():
    superuser = UserFactory(is_staff=True, is_superuser=True)
    FleetFactory(name="Rotterdam Vans")
    FleetFactory(name="Amsterdam Taxi")

    assert list(fleet_list_for_user(superuser).values_list("name", flat=True)) == [
        "Amsterdam Taxi",
        "Rotterdam Vans",
    ]


def test_rows_referring_to_counts_each_referring_table_in_declaration_order():
    driver = DriverFactory()
    ChargeTokenFactory.create_batch(2, driver=driver)
    VehicleAssignmentFactory(driver=driver, vehicle__fleet=driver.fleet)
    ChargingSessionFactory.create_batch(3, fleet=driver.fleet, driver=driver)
    ChargingSessionFactory(fleet=driver.fleet)  # another driver's

    counts = rows_referring_to(Driver.objects.filter(pk=driver.pk))

    assert counts == [(ChargeToken, 2), (VehicleAssignment, 1), (ChargingSession, 3)]


def test_rows_referring_to_leaves_out_the_relations_named_and_tables_without_rows():
    driver = DriverFactory()
    ChargeTokenFactory(driver=driver)

    assert rows_referring_to(Driver.objects.filter(pk=driver.pk), except_through={"tokens"}) == []


def test_rows_referring_to_any_of_several_rows_adds_them_up():
    first, second = DriverFactory.create_batch(2)
    ChargeTokenFactory(driver=first)
    ChargeTokenFactory(driver=second)

    counts = rows_referring_to(Driver.objects.filter(pk__in=[first.pk, second.pk]))

    assert counts == [(ChargeToken, 2)]


@pytest.mark.parametrize(
    ("counts", "text"),
    [
        ([(Invoice, 1)], "1 invoice"),
        ([(ChargingSession, 2), (Invoice, 1)], "2 charging sessions and 1 invoice"),
        (
            [(ChargeToken, 1), (VehicleAssignment, 4), (ChargingSession, 1)],
            "1 charge token, 4 vehicle assignments and 1 charging session",
        ),
    ],
)
def test_referring_rows_text_reads_as_a_sentence(counts, text):
    assert referring_rows_text(counts) == text
