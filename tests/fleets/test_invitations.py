"""Invitations to a fleet's team: who may invite, the e-mail and its link, accepting (new and
existing logins), expiry, revocation and reuse, each refusal changing nothing."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from apps.fleets.choices import MembershipRole
from apps.fleets.exceptions import (
    InvitationAlreadyMember,
    InvitationExpired,
    InvitationInvalid,
    InvitationNotAllowed,
    InvitationNotFound,
    InvitationOpen,
    InvitationPasswordRefused,
    InvitationRevoked,
    InvitationUsed,
)
from apps.fleets.invitations import (
    invitation_accept,
    invitation_create,
    invitation_revoke,
    invitation_secret_hash,
)
from apps.fleets.models import Invitation, Membership
from tests.factories import (
    DriverFactory,
    DriverUserFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    UserFactory,
)

User = get_user_model()
NOW = dt.datetime(2026, 12, 6, 17, 0, tzinfo=dt.UTC)
NEW_PASSWORD = "a-long-new-password-for-lena"


@pytest.fixture
def fleet():
    return FleetFactory(name="Utrecht vans")


@pytest.fixture
def fleet_admin(fleet):
    user = StaffUserFactory(username="anna", email="anna@example.com", first_name="Anna")
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.ADMIN)
    return user


def invite(fleet, fleet_admin, email="lena@example.com", role=MembershipRole.FINANCE, **kwargs):
    return invitation_create(
        fleet=fleet, email=email, role=role, invited_by=fleet_admin, now=NOW, **kwargs
    )


def invitation_rows() -> list[tuple]:
    return list(
        Invitation.objects.order_by("pk").values_list(
            "email", "role", "accepted_at", "revoked_at", "accepted_by"
        )
    )


def memberships() -> list[tuple]:
    return list(Membership.objects.order_by("pk").values_list("user__username", "role"))


@pytest.mark.django_db(transaction=True)
def test_an_admin_invites_and_the_mail_carries_the_link_of_the_stored_hash(fleet, fleet_admin):
    invitation, secret = invite(
        fleet, fleet_admin, email="Lena@Example.COM", base_url="https://v.example/"
    )

    assert invitation.email == "Lena@example.com"
    assert invitation.secret_hash == invitation_secret_hash(secret)
    assert secret not in invitation.secret_hash
    assert invitation.expires_at == NOW + dt.timedelta(days=7)
    assert invitation.invited_by == fleet_admin
    (message,) = mail.outbox
    assert message.to == ["Lena@example.com"]
    assert message.subject == "You are invited to Utrecht vans on Voltop"
    assert f"https://v.example/invitations/{secret}/" in message.body
    assert "as finance" in message.body


@pytest.mark.django_db
def test_the_link_lasts_the_days_of_the_setting(settings, fleet, fleet_admin):
    settings.INVITATION_DAYS = 2

    invitation, _secret = invite(fleet, fleet_admin)

    assert invitation.expires_at == NOW + dt.timedelta(days=2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [MembershipRole.MANAGER, MembershipRole.FINANCE, MembershipRole.VIEWER]
)
def test_a_member_who_is_not_admin_may_not_invite(fleet, role, django_capture_on_commit_callbacks):
    member = StaffUserFactory()
    MembershipFactory(user=member, fleet=fleet, role=role)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(InvitationNotAllowed) as refusal,
    ):
        invite(fleet, member)

    assert refusal.value.field == "fleet"
    assert invitation_rows() == []
    assert mail.outbox == []


@pytest.mark.django_db
def test_an_admin_of_another_fleet_may_not_invite_into_this_one(fleet, fleet_admin):
    other_fleet = FleetFactory(name="Other fleet")

    with pytest.raises(InvitationNotAllowed):
        invite(other_fleet, fleet_admin)

    assert invitation_rows() == []


@pytest.mark.django_db
def test_a_superuser_may_invite_into_any_fleet(fleet):
    boss = StaffUserFactory(is_superuser=True)

    invitation, _secret = invite(fleet, boss, role=MembershipRole.ADMIN)

    assert invitation.role == MembershipRole.ADMIN


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("email", "role", "field"),
    [("not an address", MembershipRole.VIEWER, "email"), ("x@example.com", "owner", "role")],
)
def test_a_bad_address_or_role_is_refused_naming_the_field(fleet, fleet_admin, email, role, field):
    with pytest.raises(InvitationInvalid) as refusal:
        invite(fleet, fleet_admin, email=email, role=role)

    assert refusal.value.field == field
    assert invitation_rows() == []


@pytest.mark.django_db
def test_a_second_open_invitation_of_one_address_is_refused(fleet, fleet_admin):
    invite(fleet, fleet_admin)

    with pytest.raises(InvitationOpen) as refusal:
        invite(fleet, fleet_admin, email="LENA@example.com", role=MembershipRole.VIEWER)

    assert refusal.value.code == "fleets.invitation_open"
    assert [row[:2] for row in invitation_rows()] == [("lena@example.com", "finance")]


@pytest.mark.django_db
def test_a_member_of_the_fleet_is_not_invited_again(fleet, fleet_admin):
    with pytest.raises(InvitationAlreadyMember):
        invite(fleet, fleet_admin, email="ANNA@example.com")

    assert invitation_rows() == []


@pytest.mark.django_db
def test_accepting_makes_a_staff_login_with_the_password_and_the_membership(fleet, fleet_admin):
    invitation, secret = invite(fleet, fleet_admin)

    membership = invitation_accept(secret=secret, password=NEW_PASSWORD, now=NOW)

    login = membership.user
    assert (login.username, login.email, login.is_staff, login.is_superuser) == (
        "lena@example.com",
        "lena@example.com",
        True,
        False,
    )
    assert login.check_password(NEW_PASSWORD)
    assert (membership.fleet, membership.role) == (fleet, MembershipRole.FINANCE)
    invitation.refresh_from_db()
    assert (invitation.accepted_at, invitation.accepted_by) == (NOW, login)


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["short", "12345678901234", "password123", "lena@example.com"])
def test_a_weak_password_is_refused_on_its_field_and_nothing_changes(fleet, fleet_admin, password):
    _invitation, secret = invite(fleet, fleet_admin)
    before = (invitation_rows(), memberships(), User.objects.count())

    with pytest.raises(InvitationPasswordRefused) as refusal:
        invitation_accept(secret=secret, password=password, now=NOW)

    assert refusal.value.field == "password"
    assert refusal.value.code == "fleets.invitation_password_refused"
    assert (invitation_rows(), memberships(), User.objects.count()) == before


@pytest.mark.django_db
def test_an_expired_invitation_is_refused_and_nothing_changes(fleet, fleet_admin):
    invitation, secret = invite(fleet, fleet_admin)
    before = (invitation_rows(), memberships(), User.objects.count())

    with pytest.raises(InvitationExpired) as refusal:
        invitation_accept(secret=secret, password=NEW_PASSWORD, now=invitation.expires_at)

    assert refusal.value.code == "fleets.invitation_expired"
    assert (invitation_rows(), memberships(), User.objects.count()) == before


@pytest.mark.django_db
def test_a_revoked_invitation_is_refused_and_nothing_changes(fleet, fleet_admin):
    invitation, secret = invite(fleet, fleet_admin)
    invitation_revoke(invitation=invitation, now=NOW)
    before = (invitation_rows(), memberships(), User.objects.count())

    with pytest.raises(InvitationRevoked) as refusal:
        invitation_accept(secret=secret, password=NEW_PASSWORD, now=NOW)

    assert refusal.value.code == "fleets.invitation_revoked"
    assert (invitation_rows(), memberships(), User.objects.count()) == before


@pytest.mark.django_db
def test_a_used_invitation_is_refused_the_second_time(fleet, fleet_admin):
    _invitation, secret = invite(fleet, fleet_admin)
    invitation_accept(secret=secret, password=NEW_PASSWORD, now=NOW)
    before = (invitation_rows(), memberships(), User.objects.count())

    with pytest.raises(InvitationUsed) as refusal:
        invitation_accept(secret=secret, password="another-long-password", now=NOW)

    assert refusal.value.code == "fleets.invitation_used"
    assert (invitation_rows(), memberships(), User.objects.count()) == before
    assert User.objects.get(username="lena@example.com").check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_an_unknown_secret_is_refused(fleet, fleet_admin):
    invite(fleet, fleet_admin)

    with pytest.raises(InvitationNotFound):
        invitation_accept(secret="not-the-secret", password=NEW_PASSWORD, now=NOW)

    assert memberships() == [("anna", MembershipRole.ADMIN)]


@pytest.mark.django_db
def test_an_existing_login_joins_with_its_own_password_which_stays(fleet, fleet_admin):
    driver_login = DriverUserFactory(username="lena", email="lena@example.com")
    DriverFactory(user=driver_login)
    _invitation, secret = invite(fleet, fleet_admin, email="Lena@example.com")

    membership = invitation_accept(secret=secret, password="correct horse battery staple", now=NOW)

    assert membership.user == driver_login
    driver_login.refresh_from_db()
    assert driver_login.is_staff
    assert driver_login.check_password("correct horse battery staple")
    assert memberships() == [("anna", "admin"), ("lena", "finance")]


@pytest.mark.django_db
def test_an_existing_login_with_a_wrong_password_is_refused_and_nothing_changes(fleet, fleet_admin):
    login = UserFactory(username="lena", email="lena@example.com")
    _invitation, secret = invite(fleet, fleet_admin)
    before = (invitation_rows(), memberships())

    with pytest.raises(InvitationPasswordRefused) as refusal:
        invitation_accept(secret=secret, password=NEW_PASSWORD, now=NOW)

    assert refusal.value.field == "password"
    assert (invitation_rows(), memberships()) == before
    login.refresh_from_db()
    assert not login.is_staff
    assert login.check_password("correct horse battery staple")


@pytest.mark.django_db
def test_revoking_a_used_invitation_is_refused_and_revoking_twice_changes_nothing(
    fleet, fleet_admin
):
    invitation, secret = invite(fleet, fleet_admin)
    other, _other_secret = invite(fleet, fleet_admin, email="piet@example.com")
    invitation_accept(secret=secret, password=NEW_PASSWORD, now=NOW)

    with pytest.raises(InvitationUsed):
        invitation_revoke(invitation=invitation, now=NOW)
    invitation_revoke(invitation=other, now=NOW)
    invitation_revoke(invitation=other, now=NOW + dt.timedelta(hours=1))

    invitation.refresh_from_db()
    other.refresh_from_db()
    assert invitation.revoked_at is None
    assert other.revoked_at == NOW


@pytest.mark.django_db
def test_after_revoking_the_address_may_be_invited_again(fleet, fleet_admin):
    invitation, _secret = invite(fleet, fleet_admin)
    invitation_revoke(invitation=invitation, now=NOW)

    second, secret = invite(fleet, fleet_admin, role=MembershipRole.VIEWER)

    assert second.pk != invitation.pk
    assert re.fullmatch(r"[\w-]{43}", secret)
