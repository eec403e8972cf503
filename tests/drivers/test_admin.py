"""Admin of the drivers app: status actions, token actions and the token form's service checks;
leaving and deleting through the services."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.choices import MembershipRole
from tests.core.test_admin_tenancy import form_payload
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)

DRIVERS = reverse("admin:drivers_driver_changelist")
TOKENS = reverse("admin:drivers_chargetoken_changelist")
ADD_TOKEN = reverse("admin:drivers_chargetoken_add")


@pytest.fixture
def fleet(db):
    return FleetFactory(name="Fleet A")


@pytest.fixture
def other_fleet(db):
    return FleetFactory(name="Fleet B")


def staff_member(*fleet_roles) -> StaffUserFactory:
    user = StaffUserFactory()
    for fleet, role in fleet_roles:
        MembershipFactory(user=user, fleet=fleet, role=role)
    return user


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def token_payload(driver: Driver, uid: str, *, is_active: bool = True) -> dict:
    payload = {
        "driver": str(driver.pk),
        "uid": uid,
        "kind": "RFID",
        "valid_from_0": "2026-02-01",
        "valid_from_1": "08:00:00",
        "valid_until_0": "",
        "valid_until_1": "",
    }
    if is_active:
        payload["is_active"] = "on"
    return payload


def suspend_payload(*drivers: Driver, reason: str = "Licence withdrawn") -> dict:
    return {
        "action": "suspend",
        "_selected_action": [driver.pk for driver in drivers],
        "post": "yes",
        "reason": reason,
    }


def test_suspend_action_asks_why_first_and_changes_nothing_until_told(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver)

    asked = client.post(DRIVERS, {"action": "suspend", "_selected_action": [driver.pk]})
    refused = client.post(DRIVERS, suspend_payload(driver, reason=""))

    assert asked.status_code == refused.status_code == 200
    assert asked.templates[0].name == "admin/voltop/reason_action.html"
    assert str(driver) in asked.content.decode()
    assert refused.context["form"].errors == {"reason": ["This field is required."]}
    driver.refresh_from_db()
    token.refresh_from_db()
    assert (driver.status, token.is_active) == (DriverStatus.ACTIVE, True)


def test_suspend_action_suspends_the_drivers_and_blocks_their_tokens(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet)
    tokens = ChargeTokenFactory.create_batch(2, driver=driver)
    bystander_token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet))

    response = client.post(DRIVERS, suspend_payload(driver), follow=True)

    assert response.status_code == 200
    assert messages_of(response) == ["1 driver suspended."]
    driver.refresh_from_db()
    assert (driver.status, driver.suspension_reason) == (
        DriverStatus.SUSPENDED,
        "Licence withdrawn",
    )
    assert (
        sorted(
            ChargeToken.objects.filter(pk__in=[t.pk for t in tokens]).values_list(
                "is_active", "blocked_by_suspension", "blocked_reason"
            )
        )
        == [(False, True, "Driver suspended: Licence withdrawn")] * 2
    )
    bystander_token.refresh_from_db()
    assert bystander_token.is_active is True


def test_suspend_action_reports_a_driver_who_is_not_active_as_refused(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    active = DriverFactory(fleet=fleet)
    gone = DriverFactory(fleet=fleet, status=DriverStatus.LEFT)

    response = client.post(DRIVERS, suspend_payload(active, gone), follow=True)

    assert messages_of(response) == [
        f"1 driver suspended, 1 refused: {gone}: Driver {gone} is not active (left the "
        "company); only an active driver can be suspended."
    ]
    gone.refresh_from_db()
    assert (gone.status, gone.suspension_reason) == (DriverStatus.LEFT, "")


def test_reactivate_action_unblocks_what_the_suspension_blocked_and_not_a_lost_card(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet)
    card, lost = ChargeTokenFactory.create_batch(2, driver=driver)
    client.post(DRIVERS, suspend_payload(driver), follow=True)
    client.post(
        TOKENS,
        {"action": "block", "_selected_action": [lost.pk], "post": "yes", "reason": "Lost"},
        follow=True,
    )

    response = client.post(
        DRIVERS, {"action": "reactivate", "_selected_action": [driver.pk]}, follow=True
    )

    assert messages_of(response) == ["1 driver reactivated."]
    card.refresh_from_db()
    lost.refresh_from_db()
    assert (card.is_active, card.blocked_reason) == (True, "")
    assert (lost.is_active, lost.blocked_reason) == (False, "Lost")


def test_mark_left_action_deactivates_tokens_and_reactivate_refuses_a_driver_who_left(
    client, fleet
):
    client.force_login(staff_member((fleet, MembershipRole.ADMIN)))
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver)

    client.post(DRIVERS, {"action": "mark_left", "_selected_action": [driver.pk]}, follow=True)
    response = client.post(
        DRIVERS, {"action": "reactivate", "_selected_action": [driver.pk]}, follow=True
    )

    assert messages_of(response) == [
        f"0 drivers reactivated, 1 refused: {driver}: Driver {driver} is not suspended (left "
        "the company); only a suspended driver can be reactivated."
    ]
    driver.refresh_from_db()
    token.refresh_from_db()
    assert driver.status == DriverStatus.LEFT
    assert token.is_active is False


def test_suspend_action_leaves_drivers_of_a_fleet_the_user_only_views_unchanged(
    client, fleet, other_fleet
):
    client.force_login(
        staff_member((fleet, MembershipRole.MANAGER), (other_fleet, MembershipRole.VIEWER))
    )
    own_driver = DriverFactory(fleet=fleet)
    viewed_driver = DriverFactory(fleet=other_fleet)
    viewed_token = ChargeTokenFactory(driver=viewed_driver)

    response = client.post(DRIVERS, suspend_payload(own_driver, viewed_driver), follow=True)

    assert messages_of(response) == [
        "1 driver suspended.",
        "1 driver left unchanged: your role in their fleet does not allow this.",
    ]
    own_driver.refresh_from_db()
    viewed_driver.refresh_from_db()
    viewed_token.refresh_from_db()
    assert own_driver.status == DriverStatus.SUSPENDED
    assert viewed_driver.status == DriverStatus.ACTIVE
    assert viewed_token.is_active is True


def test_viewer_cannot_run_the_suspend_action(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.VIEWER)))
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver)

    response = client.post(DRIVERS, suspend_payload(driver))

    assert response.status_code == 200  # Django re-shows the list: the action is unknown to them
    driver.refresh_from_db()
    token.refresh_from_db()
    assert driver.status == DriverStatus.ACTIVE
    assert token.is_active is True


def test_suspending_in_the_change_form_without_a_reason_is_refused_on_it(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver)

    response = client.post(
        reverse("admin:drivers_driver_change", args=[driver.pk]),
        driver_payload(driver, status=DriverStatus.SUSPENDED, suspension_reason=""),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "suspension_reason": ["Say why the driver is suspended."]
    }
    driver.refresh_from_db()
    token.refresh_from_db()
    assert (driver.status, token.is_active) == (DriverStatus.ACTIVE, True)


def driver_payload(driver: Driver, **changes) -> dict:
    return {
        "fleet": str(driver.fleet_id),
        "employee_number": driver.employee_number,
        "first_name": driver.first_name,
        "last_name": driver.last_name,
        "status": driver.status,
        "suspension_reason": "",
        "email": driver.email,
        "phone": "",
        "user": "",
        "licence_number": "",
        "licence_expires_on": "",
        "cost_center": "",
        "home_rate_per_kwh": "0.25000",
        "iban": driver.iban,
        "tokens-TOTAL_FORMS": "0",
        "tokens-INITIAL_FORMS": "0",
        **changes,
    }


def test_suspending_in_the_change_form_blocks_the_drivers_tokens(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver)
    payload = {
        "fleet": str(fleet.pk),
        "employee_number": driver.employee_number,
        "first_name": driver.first_name,
        "last_name": driver.last_name,
        "status": DriverStatus.SUSPENDED,
        "suspension_reason": "Licence withdrawn",
        "email": driver.email,
        "phone": "",
        "user": "",
        "licence_number": "",
        "licence_expires_on": "",
        "cost_center": "",
        "home_rate_per_kwh": "0.25000",
        "iban": driver.iban,
        "tokens-TOTAL_FORMS": "0",
        "tokens-INITIAL_FORMS": "0",
    }

    response = client.post(reverse("admin:drivers_driver_change", args=[driver.pk]), payload)

    assert response.status_code == 302, response.context["adminform"].form.errors
    driver.refresh_from_db()
    token.refresh_from_db()
    assert (driver.status, driver.suspension_reason) == (
        DriverStatus.SUSPENDED,
        "Licence withdrawn",
    )
    assert (token.is_active, token.blocked_by_suspension) == (False, True)


def test_deactivate_action_deactivates_the_selected_tokens_only(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    lost, kept = ChargeTokenFactory.create_batch(2, driver=DriverFactory(fleet=fleet))

    response = client.post(
        TOKENS, {"action": "deactivate", "_selected_action": [lost.pk]}, follow=True
    )

    assert messages_of(response) == ["1 charge token deactivated."]
    lost.refresh_from_db()
    kept.refresh_from_db()
    assert lost.is_active is False
    assert kept.is_active is True


def test_deactivate_action_leaves_tokens_of_a_fleet_the_user_only_views_active(
    client, fleet, other_fleet
):
    client.force_login(
        staff_member((fleet, MembershipRole.MANAGER), (other_fleet, MembershipRole.VIEWER))
    )
    viewed_token = ChargeTokenFactory(driver=DriverFactory(fleet=other_fleet))

    response = client.post(
        TOKENS, {"action": "deactivate", "_selected_action": [viewed_token.pk]}, follow=True
    )

    assert messages_of(response) == [
        "0 charge tokens deactivated.",
        "1 charge token left unchanged: your role in their fleet does not allow this.",
    ]
    viewed_token.refresh_from_db()
    assert viewed_token.is_active is True


def test_block_action_asks_why_then_blocks_the_selected_tokens_of_fleets_the_user_manages(
    client, fleet, other_fleet
):
    client.force_login(
        staff_member((fleet, MembershipRole.MANAGER), (other_fleet, MembershipRole.VIEWER))
    )
    lost, kept = ChargeTokenFactory.create_batch(2, driver=DriverFactory(fleet=fleet))
    viewed_token = ChargeTokenFactory(driver=DriverFactory(fleet=other_fleet))
    selected = [lost.pk, viewed_token.pk]

    asked = client.post(TOKENS, {"action": "block", "_selected_action": selected})
    response = client.post(
        TOKENS,
        {"action": "block", "_selected_action": selected, "post": "yes", "reason": "Card lost"},
        follow=True,
    )

    assert asked.templates[0].name == "admin/voltop/reason_action.html"
    assert messages_of(response) == [
        "1 charge token blocked.",
        "1 charge token left unchanged: your role in their fleet does not allow this.",
    ]
    rows = dict(ChargeToken.objects.values_list("pk", "is_active"))
    assert rows == {lost.pk: False, kept.pk: True, viewed_token.pk: True}
    assert ChargeToken.objects.get(pk=lost.pk).blocked_reason == "Card lost"


def test_viewer_cannot_run_the_deactivate_action(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.VIEWER)))
    token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet))

    client.post(TOKENS, {"action": "deactivate", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.is_active is True


def test_token_with_the_uid_of_an_active_token_shows_the_services_error_and_saves_nothing(
    client, fleet
):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    existing = ChargeTokenFactory(driver=DriverFactory(fleet=fleet), uid="04A1B2C3D4")
    driver = DriverFactory(fleet=fleet)

    response = client.post(ADD_TOKEN, token_payload(driver, " 04a1b2c3d4 "))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "uid": [f"An active token with UID {existing.uid} already exists."]
    }
    assert ChargeToken.objects.count() == 1


def test_active_token_for_a_suspended_driver_shows_the_services_error_and_saves_nothing(
    client, fleet
):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet, status=DriverStatus.SUSPENDED)

    response = client.post(ADD_TOKEN, token_payload(driver, "04FFEE"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "is_active": [
            f"Driver {driver} is not active (suspended); only active drivers get active tokens."
        ]
    }
    assert not ChargeToken.objects.exists()


def test_token_added_in_the_admin_is_saved_with_its_uid_normalised(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet)

    response = client.post(ADD_TOKEN, token_payload(driver, " 04a1ff "))

    assert response.status_code == 302, response.context["adminform"].form.errors
    token = ChargeToken.objects.get()
    assert (token.driver, token.uid, token.is_active) == (driver, "04A1FF", True)


def test_driver_user_is_an_autocomplete_for_superusers_and_a_short_select_for_fleet_staff(
    client, admin_client, fleet, other_fleet
):
    own_login = DriverFactory(fleet=fleet, user=StaffUserFactory(is_staff=False)).user
    DriverFactory(fleet=other_fleet, user=StaffUserFactory(is_staff=False))
    manager = staff_member((fleet, MembershipRole.MANAGER))
    client.force_login(manager)
    add_driver = reverse("admin:drivers_driver_add")

    superuser_field = admin_client.get(add_driver).context["adminform"].form.fields["user"]
    manager_field = client.get(add_driver).context["adminform"].form.fields["user"]

    assert type(superuser_field.widget.widget).__name__ == "AutocompleteSelect"
    assert type(manager_field.widget.widget).__name__ == "UnfoldAdminSelectWidget"
    assert set(manager_field.queryset) == {own_login, manager}


# leaving and deleting go through the services


def test_mark_left_action_ends_assignments_and_reports_a_driver_who_cannot_leave(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    leaving = DriverFactory(fleet=fleet)
    running = VehicleAssignmentFactory(vehicle=VehicleFactory(fleet=fleet), driver=leaving)
    planned_for = DriverFactory(fleet=fleet, first_name="Noor", last_name="Visser")
    VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet, plate="EV-900-Q", model="ID.3"),
        driver=planned_for,
        starts_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
    )

    response = client.post(
        DRIVERS,
        {"action": "mark_left", "_selected_action": [leaving.pk, planned_for.pk]},
        follow=True,
    )

    assert messages_of(response) == [
        f"1 driver marked as left, 1 refused: {planned_for}: Noor Visser is assigned EV-900-Q "
        "(Volkswagen ID.3) from 2099-01-01 01:00 CET, which has not started yet; give that "
        "assignment to another driver first."
    ]
    leaving.refresh_from_db()
    planned_for.refresh_from_db()
    running.refresh_from_db()
    assert (leaving.status, planned_for.status) == (DriverStatus.LEFT, DriverStatus.ACTIVE)
    assert running.ends_at is not None


def test_leaving_in_the_change_form_is_refused_on_the_form_while_an_assignment_is_planned(
    client, fleet
):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet, first_name="Noor", last_name="Visser")
    VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet, plate="EV-900-Q", model="ID.3"),
        driver=driver,
        starts_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
    )
    payload = {
        "fleet": str(fleet.pk),
        "employee_number": driver.employee_number,
        "first_name": driver.first_name,
        "last_name": driver.last_name,
        "status": DriverStatus.LEFT,
        "email": driver.email,
        "phone": "",
        "user": "",
        "licence_number": "",
        "licence_expires_on": "",
        "cost_center": "",
        "home_rate_per_kwh": "0.25000",
        "iban": driver.iban,
        "tokens-TOTAL_FORMS": "0",
        "tokens-INITIAL_FORMS": "0",
    }

    response = client.post(reverse("admin:drivers_driver_change", args=[driver.pk]), payload)

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Noor Visser is assigned EV-900-Q (Volkswagen ID.3) from 2099-01-01 01:00 CET, which "
        "has not started yet; give that assignment to another driver first."
    ]
    driver.refresh_from_db()
    assert driver.status == DriverStatus.ACTIVE


def test_a_driver_without_history_is_deleted_in_the_admin_with_their_tokens(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet)
    ChargeTokenFactory.create_batch(2, driver=driver)
    url = reverse("admin:drivers_driver_delete", args=[driver.pk])

    page = client.get(url)
    response = client.post(url, {"post": "yes"})

    assert page.context["protected"] == []
    assert response.status_code == 302
    assert not Driver.objects.filter(pk=driver.pk).exists()
    assert not ChargeToken.objects.exists()


def test_a_driver_with_history_shows_the_services_refusal_and_is_not_deleted(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(
        fleet=fleet, first_name="Noor", last_name="Visser", employee_number="E00900"
    )
    token = ChargeTokenFactory(driver=driver)
    ChargingSessionFactory(fleet=fleet, driver=driver, token=token)

    response = client.post(
        DRIVERS, {"action": "delete_selected", "_selected_action": [driver.pk], "post": "yes"}
    )

    assert response.context["protected"] == [
        "Driver Noor Visser (E00900) cannot be deleted: their history is still referred to by "
        "1 charging session. Mark the driver as left instead."
    ]
    assert Driver.objects.filter(pk=driver.pk).exists()
    assert ChargeToken.objects.filter(pk=token.pk).exists()


# tokens are deleted through the service


TOKEN_IN_USE = (
    "Token 04AABBCC cannot be deleted: it is still referred to by 1 charging session. "
    "Deactivate it instead."
)


def test_a_token_with_sessions_is_not_deleted_on_its_delete_page(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver, uid="04AABBCC")
    ChargingSessionFactory(fleet=fleet, driver=driver, token=token)
    delete_url = reverse("admin:drivers_chargetoken_delete", args=[token.pk])

    response = client.post(delete_url, {"post": "yes"})

    assert response.context["protected"] == [TOKEN_IN_USE]
    assert ChargeToken.objects.filter(pk=token.pk).exists()


def test_a_token_ticked_for_deletion_on_the_drivers_page_goes_through_the_service(client, fleet):
    client.force_login(staff_member((fleet, MembershipRole.MANAGER)))
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver, uid="04AABBCC")
    ChargingSessionFactory(fleet=fleet, driver=driver, token=token)
    change_url = reverse("admin:drivers_driver_change", args=[driver.pk])
    payload = {
        **form_payload(client.get(change_url)),
        "tokens-TOTAL_FORMS": "1",
        "tokens-INITIAL_FORMS": "1",
        "tokens-0-id": str(token.pk),
        "tokens-0-driver": str(driver.pk),
        "tokens-0-DELETE": "on",
    }

    response = client.post(change_url, payload)

    (tokens,) = (
        formset
        for formset in response.context["inline_admin_formsets"]
        if formset.opts.model is ChargeToken
    )
    assert tokens.formset.non_form_errors() == [TOKEN_IN_USE]
    assert ChargeToken.objects.filter(pk=token.pk).exists()
