"""Reads of the fleets app: which fleets a user may see, by membership and role."""

import pytest
from django.contrib.auth.models import AnonymousUser

from apps.fleets.choices import MembershipRole
from apps.fleets.selectors import fleet_ids_for_user, fleet_list_for_user
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory, UserFactory

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
