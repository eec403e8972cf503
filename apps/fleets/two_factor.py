"""Two-factor logins (django-otp, TOTP): a staff user turns on an authenticator app; once its
device is confirmed every login of theirs, to the admin and to the API, needs a code from it.
A fleet that requires two-factor logins (Fleet.require_two_factor) requires them of its admins
and finance members: without a confirmed device they can only set one up."""

import base64
from collections.abc import Iterable

import segno
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.fleets.choices import MembershipRole
from apps.fleets.exceptions import (
    OtpInvalid,
    OtpRequired,
    OtpSetupRequired,
    TwoFactorAlreadyOn,
    TwoFactorCodeInvalid,
)
from apps.fleets.models import Membership
from apps.fleets.selectors import MembershipGrant

TWO_FACTOR_ROLES = frozenset({MembershipRole.ADMIN, MembershipRole.FINANCE})
DEVICE_NAME = "Authenticator app"


def two_factor_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether `user` is an admin or finance member of a fleet that requires two-factor logins."""
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(
        user=user, role__in=TWO_FACTOR_ROLES, fleet__require_two_factor=True
    ).exists()


def two_factor_required_by_grants(grants: Iterable[MembershipGrant]) -> bool:
    """Whether any of these memberships is an admin or finance role in a fleet that requires
    two-factor logins (two_factor_required, from memberships read already)."""
    return any(
        grant.fleet_requires_two_factor and grant.role in TWO_FACTOR_ROLES for grant in grants
    )


def totp_device_confirmed_get(*, user: AbstractBaseUser) -> TOTPDevice | None:
    """The user's confirmed authenticator app, or None while they have none."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


@transaction.atomic
def totp_device_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed device whose secret the user's app is to scan: the one started before,
    or a new one. Refused when the user has a confirmed device already."""
    if totp_device_confirmed_get(user=user) is not None:
        raise TwoFactorAlreadyOn("Two-factor login is on already for this login.")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def totp_device_confirm(*, device: TOTPDevice, token: str) -> TOTPDevice:
    """Confirm the device with a code the app shows: from then on the user's logins need one.
    A wrong code is refused on "otp_token" and the device stays unconfirmed."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if not device.verify_token((token or "").strip()):
        raise TwoFactorCodeInvalid(
            "The code is not the one your app shows now; try the next one.", field="otp_token"
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


def totp_device_verify(*, device: TOTPDevice, token: str) -> bool:
    """Whether `token` is a valid code of `device` now (django-otp throttles repeated misses)."""
    allowed, _details = device.verify_is_allowed()
    return bool(allowed and token and device.verify_token(token.strip()))


def totp_secret_text(device: TOTPDevice) -> str:
    """The device's secret as an app's manual entry asks for it (base32)."""
    return base64.b32encode(device.bin_key).decode()


def totp_qr_svg(device: TOTPDevice) -> str:
    """A QR code of the device's otpauth:// address, as inline SVG."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, dark="#111827")


def login_otp_check(*, user: AbstractBaseUser, token: str | None) -> TOTPDevice | None:
    """The second factor of a password login (the API's): a login with a confirmed device must
    give a valid code (OtpRequired without one, OtpInvalid for a wrong one); a login a fleet
    requires it of, without a device yet, is refused (OtpSetupRequired). Returns the device
    the code matched, None for a login without two-factor."""
    device = totp_device_confirmed_get(user=user)
    if device is None:
        if two_factor_required(user):
            raise OtpSetupRequired(
                "Your fleet requires a two-factor login: turn it on in the admin first.",
                field="otp",
            )
        return None
    if not token:
        raise OtpRequired(
            "This login has two-factor login on: send the code of your app as `otp`.",
            field="otp",
        )
    if not totp_device_verify(device=device, token=token):
        raise OtpInvalid("The code is wrong or no longer valid.", field="otp")
    return device
