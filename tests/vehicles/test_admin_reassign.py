"""The vehicle page's Reassign button and the list's reassign action: one step through
vehicle_reassign, a refusal shown on the form with nothing changed, and only for the fleets
the user manages."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.drivers.choices import DriverStatus
from apps.fleets.choices import MembershipRole
from apps.vehicles.models import VehicleAssignment
from tests.factories import (
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)
from tests.vehicles.test_admin import split

MAR_1 = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
JUN_15 = dt.datetime(2026, 6, 15, 17, tzinfo=dt.UTC)


@pytest.fixture
def fleet(db):
    return FleetFactory(name="Fleet A", time_zone="Europe/Amsterdam")


def logged_in(client, fleet, role):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=role)
    client.force_login(user)
    return client


def reassign_url(vehicle) -> str:
    return reverse("admin:vehicles_vehicle_reassign_driver", args=[vehicle.pk])


def assignment_rows(vehicle) -> list[tuple]:
    return list(
        VehicleAssignment.objects.filter(vehicle=vehicle)
        .order_by("starts_at")
        .values_list("driver_id", "starts_at", "ends_at")
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_vehicle_page_offers_reassign_and_the_page_reassigns_in_one_step(client, fleet):
    logged_in(client, fleet, MembershipRole.MANAGER)
    vehicle = VehicleFactory(fleet=fleet, plate="EV-901-Q")
    sanne = DriverFactory(fleet=fleet, first_name="Sanne", last_name="de Vries")
    noor = DriverFactory(fleet=fleet, first_name="Noor", last_name="Bakker")
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1)

    page = client.get(reverse("admin:vehicles_vehicle_change", args=[vehicle.pk]))
    form_page = client.get(reassign_url(vehicle))
    response = client.post(
        reassign_url(vehicle), {"driver": str(noor.pk), **split("starts_at", JUN_15)}, follow=True
    )

    assert reassign_url(vehicle) in page.content.decode()
    assert "is assigned to Sanne de Vries now" in form_page.content.decode()
    assert response.redirect_chain[-1][0] == reverse(
        "admin:vehicles_vehicle_change", args=[vehicle.pk]
    )
    assert messages_of(response) == [
        f"{vehicle} is assigned to Noor Bakker from 2026-06-15 19:00 CEST; the assignment it "
        "had then ended at that moment."
    ]
    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, JUN_15), (noor.pk, JUN_15, None)]


def test_a_refusal_is_shown_on_the_form_and_changes_nothing(client, fleet):
    logged_in(client, fleet, MembershipRole.MANAGER)
    vehicle = VehicleFactory(fleet=fleet)
    sanne = DriverFactory(fleet=fleet, first_name="Sanne", last_name="de Vries")
    VehicleAssignmentFactory(vehicle=vehicle, driver=sanne, starts_at=MAR_1)

    response = client.post(
        reassign_url(vehicle), {"driver": str(sanne.pk), **split("starts_at", JUN_15)}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "driver": [f"{vehicle} is already assigned to Sanne de Vries at that moment."]
    }
    assert assignment_rows(vehicle) == [(sanne.pk, MAR_1, None)]


def test_only_active_drivers_of_the_vehicles_fleet_are_offered(client, fleet):
    logged_in(client, fleet, MembershipRole.MANAGER)
    vehicle = VehicleFactory(fleet=fleet)
    active = DriverFactory(fleet=fleet)
    DriverFactory(fleet=fleet, status=DriverStatus.SUSPENDED)
    DriverFactory()

    response = client.get(reassign_url(vehicle))

    assert list(response.context["form"].fields["driver"].queryset) == [active]


def test_a_viewer_or_another_fleets_manager_cannot_reassign(client, fleet):
    vehicle = VehicleFactory(fleet=fleet)
    noor = DriverFactory(fleet=fleet)
    payload = {"driver": str(noor.pk), **split("starts_at", JUN_15)}

    logged_in(client, fleet, MembershipRole.VIEWER)
    by_viewer = client.post(reassign_url(vehicle), payload)
    page = client.get(reverse("admin:vehicles_vehicle_change", args=[vehicle.pk]))
    logged_in(client, FleetFactory(), MembershipRole.MANAGER)
    by_other_fleet = client.post(reassign_url(vehicle), payload)

    assert (by_viewer.status_code, by_other_fleet.status_code) == (403, 404)
    assert reassign_url(vehicle) not in page.content.decode()
    assert assignment_rows(vehicle) == []


def test_the_list_action_opens_the_reassign_page_of_the_one_vehicle_selected(client, fleet):
    logged_in(client, fleet, MembershipRole.MANAGER)
    first, second = VehicleFactory.create_batch(2, fleet=fleet)
    changelist = reverse("admin:vehicles_vehicle_changelist")

    one = client.post(changelist, {"action": "reassign", "_selected_action": [str(first.pk)]})
    two = client.post(
        changelist,
        {"action": "reassign", "_selected_action": [str(first.pk), str(second.pk)]},
        follow=True,
    )

    assert (one.status_code, one["Location"]) == (302, reassign_url(first))
    assert messages_of(two) == ["Select one vehicle of a fleet you manage to reassign it."]
