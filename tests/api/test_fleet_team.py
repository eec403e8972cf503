"""Invitations in the fleet API, the admin's twin: an admin invites into their own fleet and
revokes; other roles, API keys and other fleets' admins are refused and change nothing."""

import pytest
from django.core import mail

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Invitation
from tests.factories import InvitationFactory

pytestmark = pytest.mark.django_db

INVITATIONS = "/api/v1/fleet/invitations/"


def error_codes(response) -> list:
    return [error["code"] for error in response.json()["errors"]]


def invitations() -> list[tuple]:
    return list(Invitation.objects.order_by("pk").values_list("fleet_id", "email", "revoked_at"))


def test_an_admin_invites_into_their_fleet_and_the_link_is_mailed_not_answered(
    member_client, fleet, django_capture_on_commit_callbacks
):
    client = member_client(MembershipRole.ADMIN, fleet)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            INVITATIONS,
            {"fleet": fleet.pk, "email": "lena@example.com", "role": "finance"},
            format="json",
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["email"], body["role"], body["invited_by"]) == (
        "lena@example.com",
        "finance",
        client.user.pk,
    )
    assert "secret" not in str(body)
    (message,) = mail.outbox
    assert "http://testserver/invitations/" in message.body


@pytest.mark.parametrize(
    "role", [MembershipRole.MANAGER, MembershipRole.FINANCE, MembershipRole.VIEWER]
)
def test_other_roles_may_neither_invite_nor_list(member_client, fleet, role):
    client = member_client(role, fleet)

    listed = client.get(INVITATIONS)
    created = client.post(
        INVITATIONS, {"fleet": fleet.pk, "email": "x@example.com", "role": "admin"}, format="json"
    )

    assert (listed.status_code, created.status_code) == (403, 403)
    assert invitations() == []


def test_an_admin_api_key_may_not_invite(api_key_client, fleet):
    client = api_key_client(MembershipRole.ADMIN, fleet)

    response = client.post(
        INVITATIONS, {"fleet": fleet.pk, "email": "x@example.com", "role": "admin"}, format="json"
    )

    assert response.status_code == 403
    assert invitations() == []


def test_an_invitation_into_another_fleet_is_refused_as_unknown(member_client, fleet, other_fleet):
    client = member_client(MembershipRole.ADMIN, fleet)

    response = client.post(
        INVITATIONS,
        {"fleet": other_fleet.pk, "email": "x@example.com", "role": "admin"},
        format="json",
    )

    assert response.status_code == 400
    assert [error["attr"] for error in response.json()["errors"]] == ["fleet"]
    assert invitations() == []


def test_inviting_a_member_is_refused_with_its_code(member_client, fleet):
    client = member_client(MembershipRole.ADMIN, fleet)

    response = client.post(
        INVITATIONS,
        {"fleet": fleet.pk, "email": client.user.email.upper(), "role": "viewer"},
        format="json",
    )

    assert response.status_code == 409
    assert error_codes(response) == ["fleets.invitation_already_member"]
    assert invitations() == []


def test_the_list_and_revoking_stay_within_the_admins_fleets(member_client, fleet, other_fleet):
    client = member_client(MembershipRole.ADMIN, fleet)
    own = InvitationFactory(fleet=fleet)
    elsewhere = InvitationFactory(fleet=other_fleet)

    listed = client.get(INVITATIONS)
    revoked = client.post(f"{INVITATIONS}{own.pk}/revoke/")
    refused = client.post(f"{INVITATIONS}{elsewhere.pk}/revoke/")

    assert [row["id"] for row in listed.json()["results"]] == [own.pk]
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert refused.status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.revoked_at is None
