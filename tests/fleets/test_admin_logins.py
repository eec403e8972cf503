"""The logins' admin (superusers only), which writes through the fleets services: a login that
is the only admin of a fleet is not deleted, on its delete page or by the delete action; an
e-mail address another login has is refused; the password page sets it through the service."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.fleets import services
from apps.fleets.choices import MembershipRole
from apps.fleets.models import Membership
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory, UserFactory

User = get_user_model()
CHANGELIST = reverse("admin:auth_user_changelist")
ADD = reverse("admin:auth_user_add")
LAST_ADMIN_REFUSAL = (
    "Login sanne cannot be deleted: it is the only admin of Fleet A; make someone else admin "
    "there first."
)


def delete_url(login) -> str:
    return reverse("admin:auth_user_delete", args=[login.pk])


def _memberships() -> set[tuple[str, str, str]]:
    return set(Membership.objects.values_list("user__username", "fleet__name", "role"))


def _logins() -> list[tuple[str, str]]:
    return list(User.objects.order_by("pk").values_list("username", "email"))


@pytest.fixture
def sanne(db):
    """The only admin of Fleet A, and a viewer of Fleet B, which has another admin."""
    fleet_a, fleet_b = FleetFactory(name="Fleet A"), FleetFactory(name="Fleet B")
    sanne = StaffUserFactory(username="sanne", email="sanne@example.com")
    MembershipFactory(user=sanne, fleet=fleet_a, role=MembershipRole.ADMIN)
    MembershipFactory(user=sanne, fleet=fleet_b, role=MembershipRole.VIEWER)
    MembershipFactory(user__username="bram", fleet=fleet_b, role=MembershipRole.ADMIN)
    return sanne


@pytest.fixture
def superuser_client(client, db):
    client.force_login(
        StaffUserFactory(username="boss", email="boss@example.com", is_superuser=True)
    )
    return client


def test_the_only_admin_of_a_fleet_is_not_deleted_on_the_delete_page(superuser_client, sanne):
    before = _memberships()

    page = superuser_client.get(delete_url(sanne))
    response = superuser_client.post(delete_url(sanne), {"post": "yes"})

    assert page.context["protected"] == [LAST_ADMIN_REFUSAL]
    assert response.status_code == 200
    assert response.context["protected"] == [LAST_ADMIN_REFUSAL]
    assert User.objects.filter(pk=sanne.pk).exists()
    assert _memberships() == before


def test_the_delete_action_refuses_the_only_admin_of_a_fleet_and_deletes_nothing(
    superuser_client, sanne
):
    other = UserFactory(username="other")
    before = _memberships()
    selection = {"action": "delete_selected", "_selected_action": [sanne.pk, other.pk]}

    response = superuser_client.post(CHANGELIST, {**selection, "post": "yes"})

    assert response.status_code == 200
    assert response.context["protected"] == [LAST_ADMIN_REFUSAL]
    assert User.objects.filter(pk__in=[sanne.pk, other.pk]).count() == 2
    assert _memberships() == before


def test_a_login_that_became_the_only_admin_after_the_page_judged_it_is_refused(
    superuser_client, sanne, monkeypatch
):
    """The page lets the delete through (the check passes), then the service, which judges
    again under the fleets' locks, refuses: the message is shown and nothing is deleted."""
    before = _memberships()
    monkeypatch.setattr(
        "apps.fleets.admin_logins.login_delete_check", lambda **kwargs: None, raising=True
    )

    response = superuser_client.post(delete_url(sanne), {"post": "yes"}, follow=True)

    assert LAST_ADMIN_REFUSAL in [str(message) for message in get_messages(response.wsgi_request)]
    assert User.objects.filter(pk=sanne.pk).exists()
    assert _memberships() == before


def test_deleting_another_login_removes_it_and_its_memberships(superuser_client, sanne):
    bram = User.objects.get(username="bram")
    MembershipFactory(user__username="noor", fleet=bram.memberships.get().fleet, role="admin")
    before = _memberships()

    response = superuser_client.post(delete_url(bram), {"post": "yes"})

    assert response.status_code == 302
    assert not User.objects.filter(pk=bram.pk).exists()
    assert ("bram", "Fleet B", MembershipRole.ADMIN) in before
    assert _memberships() == {row for row in before if row[0] != "bram"}


def test_the_delete_action_deletes_a_login_with_its_memberships(superuser_client, sanne):
    viewer = MembershipFactory(
        user__username="viewer", fleet=Membership.objects.get(user=sanne, role="admin").fleet
    ).user
    before = _memberships()

    response = superuser_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [viewer.pk], "post": "yes"}
    )

    assert response.status_code == 302
    assert not User.objects.filter(pk=viewer.pk).exists()
    assert _memberships() == {row for row in before if row[0] != "viewer"}


def test_adding_a_login_with_an_email_taken_in_another_case_is_refused_on_the_field(
    superuser_client, sanne
):
    before = _logins()

    response = superuser_client.post(
        ADD,
        {
            "username": "sanne-2",
            "email": "SANNE@example.com",
            "usable_password": "true",
            "password1": "a-long-new-password",
            "password2": "a-long-new-password",
        },
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["email"]
    assert _logins() == before


def test_adding_a_login_whose_email_is_taken_at_the_same_moment_shows_the_refusal(
    superuser_client, sanne, monkeypatch
):
    """Both the form's and the service's check pass, as for two requests at once; the
    database's index refuses, and the page says so instead of failing with a 500."""
    monkeypatch.setattr(services, "login_email_check", lambda **kwargs: None)
    monkeypatch.setattr("apps.fleets.admin_logins.login_email_check", lambda **kwargs: None)
    before = _logins()

    response = superuser_client.post(
        ADD,
        {
            "username": "sanne-2",
            "email": "SANNE@example.com",
            "usable_password": "true",
            "password1": "a-long-new-password",
            "password2": "a-long-new-password",
        },
        follow=True,
    )

    assert response.status_code == 200
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert any(
        message.startswith(
            "Nothing was saved. Another login already has the e-mail address SANNE@example.com"
        )
        for message in messages
    ), messages
    assert _logins() == before


def test_adding_a_login_makes_it_through_the_service(superuser_client, db, caplog):
    response = superuser_client.post(
        ADD,
        {
            "username": "noor",
            "email": "noor@example.com",
            "usable_password": "true",
            "password1": "a-long-new-password",
            "password2": "a-long-new-password",
        },
    )

    noor = User.objects.get(username="noor")
    assert response.status_code == 302
    assert response.url == reverse("admin:auth_user_change", args=[noor.pk])
    assert noor.check_password("a-long-new-password")
    assert "fleets.login_created" in caplog.messages


def test_the_password_page_sets_the_password_through_the_service(superuser_client, sanne, caplog):
    response = superuser_client.post(
        reverse("admin:auth_user_password_change", args=[sanne.pk]),
        {
            "password1": "another-long-password",
            "password2": "another-long-password",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    sanne.refresh_from_db()
    assert sanne.check_password("another-long-password")
    assert "fleets.login_password_set" in caplog.messages


def test_a_fleet_admin_who_is_not_a_superuser_may_not_see_or_delete_logins(client, sanne):
    client.force_login(sanne)

    listing = client.get(CHANGELIST)
    deletion = client.post(delete_url(User.objects.get(username="bram")), {"post": "yes"})

    assert (listing.status_code, deletion.status_code) == (403, 403)
    assert User.objects.filter(username="bram").exists()


def test_the_change_page_saves_fields_and_groups_through_the_service(
    superuser_client, sanne, caplog
):
    group = Group.objects.create(name="Support")
    change_url = reverse("admin:auth_user_change", args=[sanne.pk])
    form = superuser_client.get(change_url).context["adminform"].form
    data = {
        name: value
        for name, value in {**form.initial, "first_name": "Sanne"}.items()
        if value is not None and name in form.fields and name not in {"password", "groups"}
    }
    data["date_joined_0"], data["date_joined_1"] = "2026-01-01", "08:00:00"
    data["user_permissions"] = []
    data["groups"] = [group.pk]

    response = superuser_client.post(change_url, data)

    assert response.status_code == 302
    sanne.refresh_from_db()
    assert sanne.first_name == "Sanne"
    assert list(sanne.groups.all()) == [group]
    assert "fleets.login_updated" in caplog.messages
