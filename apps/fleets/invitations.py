"""Invitations to a fleet's team: a fleet admin invites a colleague by e-mail with a role; the
link in the e-mail lets them set a password and join, until it expires, is revoked or used.

A link's secret is 32 random bytes; only its SHA-256 hash is stored. When a login with the
invited address exists already, accepting asks for that login's own password (the person proves
the login is theirs) and sets no new one: the login gains the membership and admin access."""

import datetime as dt
import hashlib
import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

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
from apps.fleets.models import Fleet, Invitation, Membership
from apps.fleets.services import login_create, login_update, membership_create
from voltop.core.logins import login_get_by_email

logger = logging.getLogger(__name__)


def invitation_secret_hash(secret: str) -> str:
    """The stored form of an invitation link's secret (random, so a plain SHA-256 suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def invitation_accept_path(secret: str) -> str:
    """The path of the page where the invitation with `secret` is accepted."""
    return reverse("invitation-accept", args=[secret])


def _may_invite(user: AbstractUser | None, fleet: Fleet) -> bool:
    if user is None or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return Membership.objects.filter(user=user, fleet=fleet, role=MembershipRole.ADMIN).exists()


def _email_normalized(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as error:
        raise InvitationInvalid("Enter a valid e-mail address.", field="email") from error
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def invitation_create_check(
    *, fleet: Fleet, email: str, role: str, invited_by: AbstractUser | None
) -> str:
    """Refuse an invitation invitation_create would refuse: by someone not an admin of `fleet`
    (nor a superuser), with an unknown role or an address that is not one, to a member of the
    fleet, or to an address with an open invitation to it. Returns the address as it is
    stored (its domain in lower case)."""
    if not _may_invite(invited_by, fleet):
        raise InvitationNotAllowed(
            f"Only an admin of {fleet} may invite people to it.", field="fleet"
        )
    if role not in MembershipRole.values:
        raise InvitationInvalid(
            f"The role must be one of {', '.join(MembershipRole.values)}.", field="role"
        )
    email = _email_normalized(email)
    existing = login_get_by_email(email=email)
    if existing is not None and Membership.objects.filter(user=existing, fleet=fleet).exists():
        raise InvitationAlreadyMember(f"{email} is already a member of {fleet}.", field="email")
    if Invitation.objects.filter(
        fleet=fleet, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).exists():
        raise InvitationOpen(
            f"{email} already has an open invitation to {fleet}; revoke it to send a new one.",
            field="email",
        )
    return email


@transaction.atomic
def invitation_create(
    *,
    fleet: Fleet,
    email: str,
    role: str,
    invited_by: AbstractUser | None,
    now: dt.datetime,
    base_url: str | None = None,
) -> tuple[Invitation, str]:
    """Invite `email` into `fleet` with `role` and e-mail them the link; returns the invitation
    and the link's secret (shown nowhere else). Only an admin of `fleet` (or a superuser) may
    invite, and only into that fleet; an address that is already a member, or has an open
    invitation to the fleet, is refused. The link works INVITATION_DAYS days from `now`; it
    starts with `base_url` (the address of the request) or else PUBLIC_URL."""
    Fleet.objects.select_for_update().get(pk=fleet.pk)
    email = invitation_create_check(fleet=fleet, email=email, role=role, invited_by=invited_by)
    secret = secrets.token_urlsafe(32)
    invitation = Invitation(
        fleet=fleet,
        email=email,
        role=role,
        secret_hash=invitation_secret_hash(secret),
        invited_by=invited_by,
        expires_at=now + dt.timedelta(days=settings.INVITATION_DAYS),
    )
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as error:
        raise InvitationOpen(
            f"{email} already has an open invitation to {fleet}.", field="email"
        ) from error
    link = f"{(base_url or settings.PUBLIC_URL).rstrip('/')}{invitation_accept_path(secret)}"
    context = {"invitation": invitation, "link": link, "days": settings.INVITATION_DAYS}
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {fleet.name} on Voltop",
            message=render_to_string("fleets/invitation_email.txt", context),
            from_email=None,
            recipient_list=[email],
        )
    )
    logger.info(
        "fleets.invitation_created",
        extra={"fleet_id": fleet.pk, "invitation_id": invitation.pk, "role": role},
    )
    return invitation, secret


def _open_check(invitation: Invitation | None, now: dt.datetime) -> Invitation:
    if invitation is None:
        raise InvitationNotFound("This invitation link is not valid.")
    if invitation.revoked_at is not None:
        raise InvitationRevoked("This invitation was revoked; ask the fleet's admin for a new one.")
    if invitation.accepted_at is not None:
        raise InvitationUsed("This invitation was used already; log in instead.")
    if now >= invitation.expires_at:
        raise InvitationExpired("This invitation has expired; ask the fleet's admin for a new one.")
    return invitation


def invitation_open_get(*, secret: str, now: dt.datetime) -> Invitation:
    """The invitation whose link carries `secret`, if it can still be accepted; else the
    refusal saying why (not found, revoked, used, expired)."""
    return _open_check(
        Invitation.objects.select_related("fleet")
        .filter(secret_hash=invitation_secret_hash(secret))
        .first(),
        now,
    )


def invitation_login_exists(*, invitation: Invitation) -> bool:
    """Whether the invited address has a login already (it then keeps its own password)."""
    return login_get_by_email(email=invitation.email) is not None


@transaction.atomic
def invitation_accept(*, secret: str, password: str, now: dt.datetime) -> Membership:
    """Accept the invitation with `secret`: an expired, revoked or used one is refused and
    nothing changes. Without a login for the address, one is made (username and e-mail the
    address, admin access) with `password` after Django's password validators (refusals on
    "password"). With a login already, `password` must be that login's own (it is not
    changed), and the login is given admin access. Either way the login gets the membership
    with the invitation's role, and the invitation is marked accepted."""
    invitation = _open_check(
        Invitation.objects.select_for_update()
        .select_related("fleet")
        .filter(secret_hash=invitation_secret_hash(secret))
        .first(),
        now,
    )
    login = login_get_by_email(email=invitation.email)
    if login is None:
        candidate = get_user_model()(username=invitation.email, email=invitation.email)
        try:
            password_validation.validate_password(password, user=candidate)
        except ValidationError as error:
            raise InvitationPasswordRefused(" ".join(error.messages), field="password") from error
        login = login_create(
            username=invitation.email, email=invitation.email, password=password, is_staff=True
        )
    else:
        if not login.is_active or not login.check_password(password):
            raise InvitationPasswordRefused(
                f"A login with {invitation.email} exists already: enter its password.",
                field="password",
            )
        if Membership.objects.filter(user=login, fleet_id=invitation.fleet_id).exists():
            raise InvitationAlreadyMember(f"{invitation.email} is already a member of the fleet.")
        if not login.is_staff:
            login = login_update(login=login, changes={"is_staff": True})
    membership = membership_create(fleet=invitation.fleet, user=login, role=invitation.role)
    invitation.accepted_at = now
    invitation.accepted_by = login
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    logger.info(
        "fleets.invitation_accepted",
        extra={"invitation_id": invitation.pk, "membership_id": membership.pk},
    )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, now: dt.datetime) -> Invitation:
    """Stop an invitation's link from working. A used one is refused (remove the member
    instead); revoking it again changes nothing."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise InvitationUsed(
            f"The invitation of {invitation.email} was accepted already; remove the member instead."
        )
    if invitation.revoked_at is None:
        invitation.revoked_at = now
        invitation.save(update_fields=["revoked_at", "updated_at"])
        logger.info("fleets.invitation_revoked", extra={"invitation_id": invitation.pk})
    return invitation
