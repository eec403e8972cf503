"""The admin in the zone of the fleet the user works on: the one picked, else the zone their
fleets share, else UTC."""

import pytest
from django.urls import reverse

from apps.fleets.choices import MembershipRole
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def test_a_manager_of_an_amsterdam_fleet_reads_the_admin_in_amsterdam_time(client):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=FleetFactory(time_zone="Europe/Amsterdam"))
    client.force_login(user)

    response = client.get("/admin/")

    assert response.context["TIME_ZONE"] == "Europe/Amsterdam"


def test_a_user_of_fleets_in_two_zones_reads_utc(client):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=FleetFactory(time_zone="Europe/Amsterdam"))
    MembershipFactory(
        user=user, fleet=FleetFactory(time_zone="Europe/Lisbon"), role=MembershipRole.VIEWER
    )
    client.force_login(user)

    response = client.get("/admin/")

    assert response.context["TIME_ZONE"] == "UTC"


def test_a_user_of_two_fleets_in_one_zone_and_a_third_in_another_reads_utc(client):
    user = StaffUserFactory()
    for name, zone in [
        ("A", "Europe/Amsterdam"),
        ("B", "Europe/Amsterdam"),
        ("C", "Europe/Lisbon"),
    ]:
        MembershipFactory(user=user, fleet=FleetFactory(name=name, time_zone=zone))
    client.force_login(user)

    response = client.get("/admin/")

    assert response.context["TIME_ZONE"] == "UTC"


def test_the_zone_follows_the_fleet_picked(client):
    user = StaffUserFactory()
    lisbon = FleetFactory(time_zone="Europe/Lisbon")
    MembershipFactory(user=user, fleet=FleetFactory(time_zone="Europe/Amsterdam"))
    MembershipFactory(user=user, fleet=lisbon, role=MembershipRole.VIEWER)
    client.force_login(user)

    client.post(reverse("admin_fleet_pick"), {"fleet": lisbon.pk})

    assert client.get("/admin/").context["TIME_ZONE"] == "Europe/Lisbon"


def test_a_refused_pick_leaves_the_zone_as_it_was(client):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=FleetFactory(time_zone="Europe/Amsterdam"))
    not_theirs = FleetFactory(time_zone="Europe/Lisbon")
    client.force_login(user)

    client.post(reverse("admin_fleet_pick"), {"fleet": not_theirs.pk})

    assert client.get("/admin/").context["TIME_ZONE"] == "Europe/Amsterdam"
