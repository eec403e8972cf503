"""Admin of the fleets app: who may change a fleet, its memberships, and add or delete fleets;
depots and cost centers deleted through the services."""

from decimal import Decimal

import pytest
from django.contrib.admin import site
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from apps.fleets import admin as fleets_admin
from apps.fleets.choices import MembershipRole
from apps.fleets.models import CostCenter, Depot, Fleet, Membership
from apps.fleets.services import fleet_api_key_issue
from tests.factories import (
    CostCenterFactory,
    DepotFactory,
    DriverFactory,
    DriverUserFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    VehicleFactory,
)
from tests.fleets.accounting_form import accounting_form_fields

ADD_FLEET = reverse("admin:fleets_fleet_add")
ADD_MEMBERSHIP = reverse("admin:fleets_membership_add")


@pytest.fixture
def fleet(db):
    return FleetFactory(name="Fleet A", slug="fleet-a")


@pytest.fixture
def other_fleet(db):
    return FleetFactory(name="Fleet B", slug="fleet-b")


def login_as(client, *fleet_roles):
    user = StaffUserFactory()
    for fleet, role in fleet_roles:
        MembershipFactory(user=user, fleet=fleet, role=role)
    client.force_login(user)
    return user


def fleet_payload(fleet: Fleet, **changes) -> dict:
    payload = {
        "name": fleet.name,
        "slug": fleet.slug,
        "currency": fleet.currency,
        "time_zone": fleet.time_zone,
        "country": str(fleet.country),
        "default_vat_rate": str(fleet.default_vat_rate),
        "billing_period": fleet.billing_period,
        "payment_terms_days": str(fleet.payment_terms_days),
        "legal_name": fleet.legal_name,
        "street": fleet.street,
        "postal_code": fleet.postal_code,
        "city": fleet.city,
        "vat_id": fleet.vat_id,
        "iban": fleet.iban,
        "bic": fleet.bic,
        "csv_delimiter": fleet.csv_delimiter,
        "csv_decimal_separator": fleet.csv_decimal_separator,
        "depots-TOTAL_FORMS": "0",
        "depots-INITIAL_FORMS": "0",
        "cost_centers-TOTAL_FORMS": "0",
        "cost_centers-INITIAL_FORMS": "0",
        **accounting_form_fields(fleet),
    }
    return {**payload, **changes}


def fleet_change(fleet: Fleet) -> str:
    return reverse("admin:fleets_fleet_change", args=[fleet.pk])


@pytest.mark.parametrize(
    "role", [MembershipRole.MANAGER, MembershipRole.FINANCE, MembershipRole.VIEWER]
)
def test_only_a_fleet_admin_may_change_the_fleet(client, fleet, role):
    login_as(client, (fleet, role))

    page = client.get(fleet_change(fleet))
    response = client.post(fleet_change(fleet), fleet_payload(fleet, name="Renamed"))

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert response.status_code == 403
    fleet.refresh_from_db()
    assert fleet.name == "Fleet A"


def test_fleet_admin_changes_their_fleet(client, fleet):
    login_as(client, (fleet, MembershipRole.ADMIN))

    response = client.post(fleet_change(fleet), fleet_payload(fleet, name="Renamed"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    fleet.refresh_from_db()
    assert fleet.name == "Renamed"


def test_fleet_admin_edits_a_depot_inline_on_the_fleet_page(client, fleet):
    login_as(client, (fleet, MembershipRole.ADMIN))
    depot = DepotFactory(fleet=fleet, name="North")
    payload = fleet_payload(
        fleet,
        **{
            "depots-TOTAL_FORMS": "1",
            "depots-INITIAL_FORMS": "1",
            "depots-0-id": str(depot.pk),
            "depots-0-fleet": str(fleet.pk),
            "depots-0-name": "North yard",
            "depots-0-address": depot.address,
            "depots-0-grid_connection_limit_kw": "400.0",
        },
    )

    response = client.post(fleet_change(fleet), payload)

    assert response.status_code == 302, response.context["inline_admin_formsets"]
    depot.refresh_from_db()
    assert (depot.name, depot.grid_connection_limit_kw) == ("North yard", Decimal("400.0"))


def test_manager_sees_the_fleets_depots_inline_read_only(client, fleet):
    login_as(client, (fleet, MembershipRole.MANAGER))
    depot = DepotFactory(fleet=fleet)

    response = client.get(fleet_change(fleet))

    (depots,) = (f for f in response.context["inline_admin_formsets"] if f.opts.model is Depot)
    assert [form.instance for form in depots.formset.forms] == [depot]
    assert (depots.has_view_permission, depots.has_change_permission) == (True, False)


def test_fleet_admin_may_neither_add_nor_delete_fleets(client, fleet):
    login_as(client, (fleet, MembershipRole.ADMIN))

    add_page = client.get(ADD_FLEET)
    add_post = client.post(ADD_FLEET, fleet_payload(fleet, name="New", slug="new"))
    delete_post = client.post(
        reverse("admin:fleets_fleet_delete", args=[fleet.pk]), {"post": "yes"}
    )

    assert (add_page.status_code, add_post.status_code, delete_post.status_code) == (
        403,
        403,
        403,
    )
    assert list(Fleet.objects.all()) == [fleet]


def test_superuser_adds_and_deletes_a_fleet(admin_client, db):
    response = admin_client.post(
        ADD_FLEET, fleet_payload(FleetFactory.build(name="Fleet N", slug="fleet-n"))
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    fleet = Fleet.objects.get(slug="fleet-n")

    response = admin_client.post(
        reverse("admin:fleets_fleet_delete", args=[fleet.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Fleet.objects.exists()


def test_manager_may_not_add_or_change_memberships(client, fleet):
    login_as(client, (fleet, MembershipRole.MANAGER))
    membership = MembershipFactory(fleet=fleet, role=MembershipRole.VIEWER)
    change = reverse("admin:fleets_membership_change", args=[membership.pk])
    payload = {"user": str(membership.user_id), "fleet": str(fleet.pk), "role": "admin"}

    add_response = client.post(ADD_MEMBERSHIP, payload)
    change_response = client.post(change, payload)

    assert (add_response.status_code, change_response.status_code) == (403, 403)
    membership.refresh_from_db()
    assert membership.role == MembershipRole.VIEWER
    assert Membership.objects.filter(fleet=fleet).count() == 2


def test_fleet_admin_gives_a_driver_of_their_fleet_a_role(client, fleet):
    login_as(client, (fleet, MembershipRole.ADMIN))
    driver = DriverFactory(fleet=fleet, user=DriverUserFactory())

    response = client.post(
        ADD_MEMBERSHIP,
        {"user": str(driver.user_id), "fleet": str(fleet.pk), "role": MembershipRole.VIEWER},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Membership.objects.get(user=driver.user).fleet == fleet


def test_fleet_admin_cannot_grant_a_role_in_a_fleet_they_only_manage(client, fleet, other_fleet):
    login_as(client, (fleet, MembershipRole.ADMIN), (other_fleet, MembershipRole.MANAGER))
    driver = DriverFactory(fleet=fleet, user=DriverUserFactory())

    response = client.post(
        ADD_MEMBERSHIP,
        {"user": str(driver.user_id), "fleet": str(other_fleet.pk), "role": MembershipRole.ADMIN},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "fleet": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert not Membership.objects.filter(user=driver.user).exists()


def test_saving_a_row_outside_the_users_editable_fleets_is_refused_as_a_last_guard(
    fleet, other_fleet
):
    """Form choices keep other fleets out; save_form refuses even if a form let one through."""
    manager = StaffUserFactory()
    MembershipFactory(user=manager, fleet=fleet, role=MembershipRole.MANAGER)
    MembershipFactory(user=manager, fleet=other_fleet, role=MembershipRole.VIEWER)
    request = RequestFactory().post("/")
    request.user = manager
    depot_admin = site._registry[Depot]
    form_class = depot_admin.get_form(request, fields=["fleet", "name", "grid_connection_limit_kw"])
    form = form_class(data={"fleet": fleet.pk, "name": "Yard", "grid_connection_limit_kw": "50"})
    assert form.is_valid()
    form.instance.fleet = other_fleet  # what a form with unscoped choices would have produced

    with pytest.raises(PermissionDenied):
        depot_admin.save_form(request, form, change=False)
    assert not Depot.objects.filter(name="Yard").exists()


# deletes go through the services


def depot_delete_url(depot: Depot) -> str:
    return reverse("admin:fleets_depot_delete", args=[depot.pk])


def test_manager_deletes_a_depot_nothing_refers_to(client, fleet):
    login_as(client, (fleet, MembershipRole.MANAGER))
    depot = DepotFactory(fleet=fleet)

    response = client.post(depot_delete_url(depot), {"post": "yes"})

    assert response.status_code == 302
    assert not Depot.objects.filter(pk=depot.pk).exists()


def test_a_depot_in_use_shows_the_services_refusal_and_is_not_deleted(client, fleet):
    login_as(client, (fleet, MembershipRole.MANAGER))
    depot = DepotFactory(fleet=fleet, name="North")
    VehicleFactory(fleet=fleet, home_depot=depot)
    refusal = (
        "Depot North cannot be deleted: it is still referred to by 1 vehicle. "
        "Move those to another depot first."
    )

    page = client.get(depot_delete_url(depot))
    response = client.post(depot_delete_url(depot), {"post": "yes"})

    assert page.context["protected"] == [refusal]
    assert response.status_code == 200
    assert response.context["protected"] == [refusal]
    assert Depot.objects.filter(pk=depot.pk).exists()


def test_a_depot_that_came_into_use_after_the_page_judged_it_is_refused_with_a_message(
    client, fleet, monkeypatch
):
    login_as(client, (fleet, MembershipRole.MANAGER))
    depot = DepotFactory(fleet=fleet, name="North")
    VehicleFactory(fleet=fleet, home_depot=depot)
    monkeypatch.setattr(fleets_admin, "depot_delete_check", lambda depot: None)

    response = client.post(depot_delete_url(depot), {"post": "yes"}, follow=True)

    assert [str(message) for message in response.context["messages"]] == [
        "Depot North cannot be deleted: it is still referred to by 1 vehicle. "
        "Move those to another depot first."
    ]
    assert Depot.objects.filter(pk=depot.pk).exists()


def test_the_delete_action_deletes_unused_cost_centers_and_refuses_one_in_use(client, fleet):
    login_as(client, (fleet, MembershipRole.MANAGER))
    unused = CostCenterFactory(fleet=fleet)
    in_use = CostCenterFactory(fleet=fleet, code="CC-100", name="Field service")
    DriverFactory(fleet=fleet, cost_center=in_use)
    changelist = reverse("admin:fleets_costcenter_changelist")
    selection = {"action": "delete_selected", "_selected_action": [unused.pk, in_use.pk]}

    refused = client.post(changelist, {**selection, "post": "yes"})
    alone = client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [unused.pk], "post": "yes"},
    )

    assert refused.context["protected"] == [
        "Cost center CC-100 Field service cannot be deleted: it is still referred to by "
        "1 driver. Mark it inactive instead."
    ]
    assert alone.status_code == 302
    assert list(CostCenter.objects.values_list("pk", flat=True)) == [in_use.pk]


def test_the_delete_action_refused_at_its_second_row_deletes_none_and_says_so(
    client, fleet, monkeypatch
):
    """The confirmation page judged both depots deletable (its check left out here, as when a
    vehicle came to the second meanwhile); the service refuses the second when the rows are
    deleted, and the first, deleted before it, is kept too."""
    login_as(client, (fleet, MembershipRole.MANAGER))
    unused = DepotFactory(fleet=fleet, name="Annex")
    in_use = DepotFactory(fleet=fleet, name="North")
    VehicleFactory(fleet=fleet, home_depot=in_use)
    monkeypatch.setattr(fleets_admin, "depot_delete_check", lambda depot: None)
    changelist = reverse("admin:fleets_depot_changelist")
    selection = {"action": "delete_selected", "_selected_action": [unused.pk, in_use.pk]}

    page = client.post(changelist, selection)
    response = client.post(changelist, {**selection, "post": "yes"}, follow=True)

    assert page.context["protected"] == []
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Nothing was deleted. Depot North cannot be deleted: it is still referred to by "
        "1 vehicle. Move those to another depot first."
    ]
    assert list(Depot.objects.order_by("pk").values_list("pk", flat=True)) == [
        unused.pk,
        in_use.pk,
    ]
    assert not LogEntry.objects.exists()


def test_a_depot_ticked_for_deletion_on_the_fleet_page_goes_through_the_service(client, fleet):
    login_as(client, (fleet, MembershipRole.ADMIN))
    unused = DepotFactory(fleet=fleet, name="Spare")
    in_use = DepotFactory(fleet=fleet, name="North")
    VehicleFactory(fleet=fleet, home_depot=in_use)

    def inline(depot: Depot, index: int) -> dict:
        return {
            f"depots-{index}-id": str(depot.pk),
            f"depots-{index}-fleet": str(fleet.pk),
            f"depots-{index}-name": depot.name,
            f"depots-{index}-address": depot.address,
            f"depots-{index}-grid_connection_limit_kw": str(depot.grid_connection_limit_kw),
            f"depots-{index}-DELETE": "on",
        }

    refused = client.post(
        fleet_change(fleet),
        fleet_payload(
            fleet,
            **{"depots-TOTAL_FORMS": "2", "depots-INITIAL_FORMS": "2"},
            **inline(unused, 0),
            **inline(in_use, 1),
        ),
    )
    kept_after_refusal = set(Depot.objects.values_list("pk", flat=True))
    deleted = client.post(
        fleet_change(fleet),
        fleet_payload(
            fleet, **{"depots-TOTAL_FORMS": "1", "depots-INITIAL_FORMS": "1"}, **inline(unused, 0)
        ),
    )

    (depots,) = (f for f in refused.context["inline_admin_formsets"] if f.opts.model is Depot)
    assert depots.formset.non_form_errors() == [
        "Depot North cannot be deleted: it is still referred to by 1 vehicle. "
        "Move those to another depot first."
    ]
    assert kept_after_refusal == {unused.pk, in_use.pk}
    assert deleted.status_code == 302
    assert list(Depot.objects.values_list("pk", flat=True)) == [in_use.pk]


def test_the_revoke_action_revokes_keys_of_fleets_the_user_administers_only(
    client, fleet, other_fleet
):
    login_as(client, (fleet, MembershipRole.ADMIN), (other_fleet, MembershipRole.MANAGER))
    own_key, _ = fleet_api_key_issue(fleet=fleet, name="Payroll", role=MembershipRole.FINANCE)
    managed_key, _ = fleet_api_key_issue(
        fleet=other_fleet, name="Telematics", role=MembershipRole.VIEWER
    )

    response = client.post(
        reverse("admin:fleets_fleetapikey_changelist"),
        {"action": "revoke", "_selected_action": [own_key.pk, managed_key.pk]},
        follow=True,
    )

    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "1 fleet API key revoked.",
        "1 fleet API key left unchanged: your role in their fleet does not allow this.",
    ]
    own_key.refresh_from_db()
    managed_key.refresh_from_db()
    assert own_key.revoked_at is not None
    assert managed_key.revoked_at is None


# memberships go through the services


def membership_url(view: str, membership: Membership) -> str:
    return reverse(f"admin:fleets_membership_{view}", args=[membership.pk])


LAST_ADMIN_REFUSAL = "{user} is the only admin of Fleet A; make someone else admin first."


def test_the_fleets_last_admin_membership_is_not_deleted_on_its_delete_page(client, fleet):
    """The delete page once let a fleet admin delete the fleet's last admin membership."""
    user = login_as(client, (fleet, MembershipRole.ADMIN))
    (own,) = Membership.objects.filter(user=user)

    page = client.get(membership_url("delete", own))
    response = client.post(membership_url("delete", own), {"post": "yes"})

    assert page.context["protected"] == [LAST_ADMIN_REFUSAL.format(user=user)]
    assert response.status_code == 200
    assert response.context["protected"] == [LAST_ADMIN_REFUSAL.format(user=user)]
    assert list(Membership.objects.filter(fleet=fleet)) == [own]
    own.refresh_from_db()
    assert own.role == MembershipRole.ADMIN


def test_the_delete_action_refuses_the_last_admin_and_deletes_nothing(client, fleet):
    user = login_as(client, (fleet, MembershipRole.ADMIN))
    (own,) = Membership.objects.filter(user=user)
    viewer = MembershipFactory(fleet=fleet, role=MembershipRole.VIEWER)
    selection = {"action": "delete_selected", "_selected_action": [own.pk, viewer.pk]}

    response = client.post(
        reverse("admin:fleets_membership_changelist"), {**selection, "post": "yes"}
    )

    assert response.context["protected"] == [LAST_ADMIN_REFUSAL.format(user=user)]
    assert set(Membership.objects.filter(fleet=fleet)) == {own, viewer}


def test_the_delete_action_removing_both_admins_deletes_neither(client, fleet):
    """Each admin alone may go, so the page lets both through; the service, row by row, keeps
    the second as the fleet's last admin, and the first is not deleted either: the action is
    all or nothing, and reports no rows deleted."""
    user = login_as(client, (fleet, MembershipRole.ADMIN))
    (own,) = Membership.objects.filter(user=user)
    other_admin = MembershipFactory(fleet=fleet, role=MembershipRole.ADMIN)
    selection = {"action": "delete_selected", "_selected_action": [own.pk, other_admin.pk]}

    response = client.post(
        reverse("admin:fleets_membership_changelist"), {**selection, "post": "yes"}, follow=True
    )

    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Nothing was deleted. " + LAST_ADMIN_REFUSAL.format(user=other_admin.user)
    ]
    assert list(
        Membership.objects.filter(fleet=fleet).order_by("pk").values_list("pk", "role")
    ) == [(own.pk, MembershipRole.ADMIN), (other_admin.pk, MembershipRole.ADMIN)]
    assert not LogEntry.objects.exists()


def test_demoting_the_fleets_last_admin_on_its_page_is_refused_and_changes_nothing(client, fleet):
    user = login_as(client, (fleet, MembershipRole.ADMIN))
    (own,) = Membership.objects.filter(user=user)

    response = client.post(
        membership_url("change", own), {"role": MembershipRole.VIEWER}, follow=True
    )

    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Nothing was saved. " + LAST_ADMIN_REFUSAL.format(user=user)
    ]
    own.refresh_from_db()
    assert own.role == MembershipRole.ADMIN


def test_a_fleet_admin_changes_a_members_role_and_adds_one_through_the_services(client, fleet):
    login_as(client, (fleet, MembershipRole.ADMIN))
    viewer = MembershipFactory(fleet=fleet, role=MembershipRole.VIEWER)
    driver = DriverFactory(fleet=fleet, user=DriverUserFactory())

    changed = client.post(membership_url("change", viewer), {"role": MembershipRole.MANAGER})
    added = client.post(
        ADD_MEMBERSHIP,
        {"user": str(driver.user_id), "fleet": str(fleet.pk), "role": MembershipRole.ADMIN},
    )

    assert (changed.status_code, added.status_code) == (302, 302)
    viewer.refresh_from_db()
    assert viewer.role == MembershipRole.MANAGER
    assert Membership.objects.get(user=driver.user).role == MembershipRole.ADMIN


def test_a_second_admin_may_remove_the_first(client, fleet):
    login_as(client, (fleet, MembershipRole.ADMIN))
    other_admin = MembershipFactory(fleet=fleet, role=MembershipRole.ADMIN)

    response = client.post(membership_url("delete", other_admin), {"post": "yes"})

    assert response.status_code == 302
    assert not Membership.objects.filter(pk=other_admin.pk).exists()


def test_a_superuser_cannot_delete_a_fleet_that_has_members(admin_client, fleet):
    MembershipFactory(fleet=fleet, role=MembershipRole.ADMIN)

    response = admin_client.post(
        reverse("admin:fleets_fleet_delete", args=[fleet.pk]), {"post": "yes"}
    )

    assert response.context["protected"] == [
        "Fleet Fleet A cannot be deleted: it is still referred to by 1 membership."
    ]
    assert list(Fleet.objects.all()) == [fleet]
