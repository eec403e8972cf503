"""The fleet picker: a user of several fleets picks the one the admin works on; a fleet not
theirs is refused and changes nothing; the admin's zone follows the pick."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Membership
from apps.fleets.tenancy import CURRENT_FLEET_SESSION_KEY
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db

PICK_URL = reverse("admin_fleet_pick")


@pytest.fixture
def fleets():
    return {
        "amsterdam": FleetFactory(name="Amsterdam buses", time_zone="Europe/Amsterdam"),
        "new_york": FleetFactory(name="New York vans", time_zone="America/New_York"),
        "lisbon": FleetFactory(name="Lisbon taxis", time_zone="Europe/Lisbon"),
    }


@pytest.fixture
def manager(fleets):
    """A manager in Amsterdam and a viewer in New York; nothing in Lisbon."""
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleets["amsterdam"], role=MembershipRole.MANAGER)
    MembershipFactory(user=user, fleet=fleets["new_york"], role=MembershipRole.VIEWER)
    return user


def dashboard(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response


def shown_fleet(response):
    return response.context["dashboard"]["fleet"] if response.context["dashboard"] else None


def test_a_user_of_several_fleets_sees_the_picker_and_no_fleet_until_they_pick(client, manager):
    client.force_login(manager)

    response = dashboard(client)

    assert shown_fleet(response) is None
    picker = response.context["fleet_picker"]
    assert [fleet.name for fleet in picker["fleets"]] == ["Amsterdam buses", "New York vans"]
    assert b"Pick a fleet" in response.content
    assert response.context["TIME_ZONE"] == "UTC"


def test_picking_a_fleet_shows_its_dashboard_in_its_zone(client, manager, fleets):
    client.force_login(manager)

    response = client.post(PICK_URL, {"fleet": fleets["new_york"].pk})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert client.session[CURRENT_FLEET_SESSION_KEY] == fleets["new_york"].pk
    response = dashboard(client)
    assert shown_fleet(response) == fleets["new_york"]
    assert response.context["TIME_ZONE"] == "America/New_York"

    client.post(PICK_URL, {"fleet": fleets["amsterdam"].pk})

    response = client.get(reverse("admin:charging_chargingsession_changelist"))
    assert response.context["TIME_ZONE"] == "Europe/Amsterdam"


@pytest.mark.parametrize("posted", ["lisbon", "missing", "not a number", ""])
def test_picking_a_fleet_not_theirs_is_refused_and_changes_nothing(client, manager, fleets, posted):
    client.force_login(manager)
    client.post(PICK_URL, {"fleet": fleets["amsterdam"].pk}, follow=True)
    fleet_id = {
        "lisbon": fleets["lisbon"].pk,
        "missing": max(fleet.pk for fleet in fleets.values()) + 1,
    }.get(posted, posted)

    response = client.post(PICK_URL, {"fleet": fleet_id}, follow=True)

    assert [str(message) for message in response.context["messages"]] == [
        "You have no access to this fleet."
    ]
    assert client.session[CURRENT_FLEET_SESSION_KEY] == fleets["amsterdam"].pk
    assert shown_fleet(response) == fleets["amsterdam"]
    assert response.context["TIME_ZONE"] == "Europe/Amsterdam"


def test_a_fleet_picked_before_the_membership_ended_is_no_longer_current(client, manager, fleets):
    client.force_login(manager)
    client.post(PICK_URL, {"fleet": fleets["new_york"].pk})

    Membership.objects.filter(user=manager, fleet=fleets["new_york"]).delete()

    response = dashboard(client)
    assert shown_fleet(response) == fleets["amsterdam"]
    assert response.context["fleet_picker"] is None
    assert response.context["TIME_ZONE"] == "Europe/Amsterdam"


def test_a_user_of_one_fleet_works_on_it_without_a_picker(client, fleets):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleets["lisbon"])
    client.force_login(user)

    response = dashboard(client)

    assert shown_fleet(response) == fleets["lisbon"]
    assert response.context["fleet_picker"] is None
    assert b"voltop-fleet-picker" not in response.content


def test_a_superuser_may_pick_any_fleet(client, fleets):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    client.post(PICK_URL, {"fleet": fleets["lisbon"].pk})

    response = dashboard(client)
    assert shown_fleet(response) == fleets["lisbon"]
    assert response.context["TIME_ZONE"] == "Europe/Lisbon"


def test_the_picker_takes_a_post_with_its_csrf_token_only(manager, fleets):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)

    assert client.post(PICK_URL, {"fleet": fleets["amsterdam"].pk}).status_code == 403
    assert client.get(PICK_URL, {"fleet": fleets["amsterdam"].pk}).status_code == 405
    assert CURRENT_FLEET_SESSION_KEY not in client.session


def test_the_picker_refuses_anonymous_users_and_non_staff(client, fleets):
    response = client.post(PICK_URL, {"fleet": fleets["lisbon"].pk})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))

    client.force_login(UserFactory())
    response = client.post(PICK_URL, {"fleet": fleets["lisbon"].pk})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert CURRENT_FLEET_SESSION_KEY not in client.session


def test_the_picker_returns_to_a_page_of_this_site_only(client, manager, fleets):
    client.force_login(manager)
    sessions = reverse("admin:charging_chargingsession_changelist")

    response = client.post(PICK_URL, {"fleet": fleets["amsterdam"].pk, "next": sessions})
    assert response["Location"] == sessions

    response = client.post(
        PICK_URL, {"fleet": fleets["amsterdam"].pk, "next": "https://elsewhere.example/"}
    )
    assert response["Location"] == reverse("admin:index")
