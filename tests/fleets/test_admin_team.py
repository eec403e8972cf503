"""A fleet's team in the admin, without a superuser: a fleet admin invites colleagues (the
invite form, the e-mailed link, the accept page) and revokes invitations, changes and removes
members; nothing of another fleet is seen or changed."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Invitation, Membership
from tests.factories import (
    FleetFactory,
    InvitationFactory,
    MembershipFactory,
    StaffUserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

INVITE = reverse("admin:fleets_invitation_add")
INVITATIONS = reverse("admin:fleets_invitation_changelist")
INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."
NEW_PASSWORD = "a-long-new-password-for-lena"


@pytest.fixture
def fleet_x():
    return FleetFactory(name="Fleet X")


@pytest.fixture
def fleet_y():
    return FleetFactory(name="Fleet Y")


@pytest.fixture
def admin_x(client, fleet_x, fleet_y):
    """An admin of fleet X who is a manager of fleet Y, logged in."""
    user = StaffUserFactory(username="anna", email="anna@example.com")
    MembershipFactory(user=user, fleet=fleet_x, role=MembershipRole.ADMIN)
    MembershipFactory(user=user, fleet=fleet_y, role=MembershipRole.MANAGER)
    client.force_login(user)
    return user


def invitations() -> list[tuple]:
    return list(
        Invitation.objects.order_by("pk").values_list("fleet__name", "email", "role", "revoked_at")
    )


def memberships() -> list[tuple]:
    return list(
        Membership.objects.order_by("pk").values_list("fleet__name", "user__username", "role")
    )


def accept_path_from_mail() -> str:
    (message,) = mail.outbox
    return re.search(r"https?://[^/\s]+(/invitations/[\w-]+/)", message.body).group(1)


class TestInviting:
    def test_the_fleet_field_offers_only_fleets_the_user_is_admin_of(self, client, admin_x):
        form = client.get(INVITE).context["adminform"].form

        assert [fleet.name for fleet in form.fields["fleet"].queryset] == ["Fleet X"]

    def test_an_admin_invites_and_the_mail_carries_the_link_of_this_site(
        self, client, admin_x, fleet_x, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                INVITE,
                {"fleet": str(fleet_x.pk), "email": "lena@example.com", "role": "finance"},
            )

        assert response.status_code == 302
        assert invitations() == [("Fleet X", "lena@example.com", "finance", None)]
        assert mail.outbox[0].body.count("http://testserver/invitations/") == 1
        assert Invitation.objects.get().invited_by == admin_x

    def test_a_forged_invitation_into_another_fleet_is_refused_and_nothing_is_sent(
        self, client, admin_x, fleet_y, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                INVITE, {"fleet": str(fleet_y.pk), "email": "lena@example.com", "role": "admin"}
            )

        assert response.status_code == 200
        assert response.context["adminform"].form.errors == {"fleet": [INVALID_CHOICE]}
        assert invitations() == []
        assert mail.outbox == []

    def test_a_role_outside_the_fleets_roles_is_refused(self, client, admin_x, fleet_x):
        response = client.post(
            INVITE, {"fleet": str(fleet_x.pk), "email": "lena@example.com", "role": "superuser"}
        )

        assert list(response.context["adminform"].form.errors) == ["role"]
        assert invitations() == []

    def test_inviting_a_member_again_is_refused_on_the_email_field(self, client, admin_x, fleet_x):
        response = client.post(
            INVITE, {"fleet": str(fleet_x.pk), "email": "ANNA@example.com", "role": "viewer"}
        )

        assert response.context["adminform"].form.errors == {
            "email": ["ANNA@example.com is already a member of Fleet X."]
        }
        assert invitations() == []

    @pytest.mark.parametrize(
        "role", [MembershipRole.MANAGER, MembershipRole.FINANCE, MembershipRole.VIEWER]
    )
    def test_members_who_are_not_admins_may_not_invite(self, client, fleet_x, role):
        user = StaffUserFactory()
        MembershipFactory(user=user, fleet=fleet_x, role=role)
        client.force_login(user)

        page = client.get(INVITE)
        post = client.post(
            INVITE, {"fleet": str(fleet_x.pk), "email": "lena@example.com", "role": "admin"}
        )

        assert (page.status_code, post.status_code) == (403, 403)
        assert invitations() == []


class TestTenancy:
    def test_the_list_shows_only_invitations_of_fleets_the_user_belongs_to(
        self, client, admin_x, fleet_x
    ):
        own = InvitationFactory(fleet=fleet_x)
        InvitationFactory(fleet=FleetFactory(name="Fleet Z"))

        response = client.get(INVITATIONS)

        assert [row.pk for row in response.context["cl"].result_list] == [own.pk]

    def test_an_invitation_of_another_fleet_cannot_be_opened(self, client, admin_x):
        elsewhere = InvitationFactory(fleet=FleetFactory(name="Fleet Z"))

        response = client.get(reverse("admin:fleets_invitation_change", args=[elsewhere.pk]))

        assert response.status_code == 302
        assert response["Location"] == reverse("admin:index")

    def test_revoking_an_invitation_of_a_fleet_the_user_only_manages_changes_nothing(
        self, client, admin_x, fleet_x, fleet_y
    ):
        own = InvitationFactory(fleet=fleet_x, email="own@example.com")
        managed = InvitationFactory(fleet=fleet_y, email="managed@example.com")
        outside = InvitationFactory(fleet=FleetFactory(name="Fleet Z"), email="z@example.com")

        response = client.post(
            INVITATIONS,
            {"action": "revoke", "_selected_action": [own.pk, managed.pk, outside.pk]},
            follow=True,
        )

        revoked = dict(Invitation.objects.values_list("email", "revoked_at"))
        assert revoked["own@example.com"] is not None
        assert revoked["managed@example.com"] is None
        assert revoked["z@example.com"] is None
        assert "1 invitation revoked." in [
            str(message) for message in get_messages(response.wsgi_request)
        ]

    def test_members_of_another_fleet_cannot_be_changed_or_removed(self, client, admin_x, fleet_y):
        member_y = MembershipFactory(fleet=fleet_y, role=MembershipRole.VIEWER)
        before = memberships()

        changed = client.post(
            reverse("admin:fleets_membership_change", args=[member_y.pk]),
            {"role": MembershipRole.ADMIN},
        )
        removed = client.post(
            reverse("admin:fleets_membership_delete", args=[member_y.pk]), {"post": "yes"}
        )

        assert (changed.status_code, removed.status_code) == (403, 403)
        assert memberships() == before

    def test_a_role_in_another_fleet_cannot_be_granted_to_a_colleague(
        self, client, admin_x, fleet_x, fleet_y
    ):
        colleague = MembershipFactory(fleet=fleet_x, role=MembershipRole.VIEWER).user
        before = memberships()

        response = client.post(
            reverse("admin:fleets_membership_add"),
            {"user": str(colleague.pk), "fleet": str(fleet_y.pk), "role": MembershipRole.ADMIN},
        )

        assert response.context["adminform"].form.errors == {"fleet": [INVALID_CHOICE]}
        assert memberships() == before

    def test_a_login_outside_the_users_fleets_cannot_be_given_a_role(
        self, client, admin_x, fleet_x
    ):
        stranger = UserFactory(username="stranger")
        before = memberships()

        response = client.post(
            reverse("admin:fleets_membership_add"),
            {"user": str(stranger.pk), "fleet": str(fleet_x.pk), "role": MembershipRole.ADMIN},
        )

        assert response.context["adminform"].form.errors == {"user": [INVALID_CHOICE]}
        assert memberships() == before


class TestMembers:
    def test_an_admin_changes_a_role_and_removes_a_member(self, client, admin_x, fleet_x):
        viewer = MembershipFactory(fleet=fleet_x, role=MembershipRole.VIEWER)
        manager = MembershipFactory(fleet=fleet_x, role=MembershipRole.MANAGER)

        changed = client.post(
            reverse("admin:fleets_membership_change", args=[viewer.pk]),
            {"role": MembershipRole.FINANCE},
        )
        removed = client.post(
            reverse("admin:fleets_membership_delete", args=[manager.pk]), {"post": "yes"}
        )

        assert (changed.status_code, removed.status_code) == (302, 302)
        viewer.refresh_from_db()
        assert viewer.role == MembershipRole.FINANCE
        assert not Membership.objects.filter(pk=manager.pk).exists()

    def test_the_last_admin_cannot_demote_themself(self, client, admin_x, fleet_x):
        own = Membership.objects.get(user=admin_x, fleet=fleet_x)
        before = memberships()

        response = client.post(
            reverse("admin:fleets_membership_change", args=[own.pk]),
            {"role": MembershipRole.MANAGER},
            follow=True,
        )

        assert [str(message) for message in get_messages(response.wsgi_request)] == [
            "Nothing was saved. anna is the only admin of Fleet X; make someone else admin first."
        ]
        assert memberships() == before


class TestAcceptPage:
    @pytest.fixture
    def sent(self, client, admin_x, fleet_x, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                INVITE, {"fleet": str(fleet_x.pk), "email": "lena@example.com", "role": "finance"}
            )
        client.logout()
        return accept_path_from_mail()

    def test_the_page_asks_for_a_password_twice(self, client, sent):
        response = client.get(sent)

        page = response.content.decode()
        assert response.status_code == 200
        assert "Fleet X" in page
        assert 'name="password"' in page
        assert 'name="password_confirm"' in page

    def test_two_different_passwords_are_refused(self, client, sent):
        response = client.post(
            sent, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"}
        )

        assert response.context["form"].errors == {
            "password_confirm": ["The two passwords differ."]
        }
        assert not Invitation.objects.filter(accepted_at__isnull=False).exists()

    def test_a_weak_password_is_refused_on_its_field(self, client, sent):
        response = client.post(sent, {"password": "12345678", "password_confirm": "12345678"})

        assert list(response.context["form"].errors) == ["password"]
        assert memberships()[-1] != ("Fleet X", "lena@example.com", "finance")

    def test_accepting_makes_the_login_and_sends_them_to_log_in(self, client, sent):
        response = client.post(sent, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
        assert ("Fleet X", "lena@example.com", "finance") in memberships()
        assert client.login(username="lena@example.com", password=NEW_PASSWORD)

    def test_a_used_link_shows_why_it_no_longer_works(self, client, sent):
        client.post(sent, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})

        response = client.get(sent)

        assert response.status_code == 410
        assert "This invitation was used already" in response.content.decode()

    def test_an_expired_link_is_refused_and_nothing_changes(self, client, sent):
        before = memberships()
        with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=8)):
            response = client.post(
                sent, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
            )

        assert response.status_code == 410
        assert "This invitation has expired" in response.content.decode()
        assert memberships() == before

    def test_an_unknown_link_is_not_found(self, client, db):
        response = client.get(reverse("invitation-accept", args=["not-a-secret"]))

        assert response.status_code == 404

    def test_an_address_with_a_login_joins_with_its_own_password(
        self, client, admin_x, fleet_x, django_capture_on_commit_callbacks
    ):
        UserFactory(username="lena", email="lena@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                INVITE, {"fleet": str(fleet_x.pk), "email": "lena@example.com", "role": "viewer"}
            )
        client.logout()
        path = accept_path_from_mail()

        page = client.get(path)
        response = client.post(path, {"password": "correct horse battery staple"})

        assert "password_confirm" not in page.context["form"].fields
        assert response.status_code == 302
        assert ("Fleet X", "lena", "viewer") in memberships()
