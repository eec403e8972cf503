"""API authentication: JWT access tokens for people (drivers, fleet staff), refused at once
for a deactivated login or a driver who is no longer active, whatever the token says, and for
staff whose login now needs a second factor (an authenticator app they turned on, or a fleet
that requires one) holding a token their login got without one. It lives with the drivers
because it reads a login with its driver and judges the driver's status."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings

from apps.drivers.choices import DriverStatus
from apps.drivers.selectors import login_with_driver_get

SECOND_FACTOR_CLAIM = "otp"


class ActiveAccountJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer-token authentication, reading the user with their driver profile and
    refusing suspended or departed drivers on every request."""

    def get_user(self, validated_token):
        try:
            user_id = int(validated_token[api_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError) as error:
            raise exceptions.AuthenticationFailed(
                "The token names no user by id.", code="token_not_valid"
            ) from error
        user = login_with_driver_get(user_id=user_id)
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(
                "This login no longer exists or is deactivated.", code="user_inactive"
            )
        account_refusal(user)
        second_factor_refusal(
            user, token_second_factor=bool(validated_token.get(SECOND_FACTOR_CLAIM))
        )
        return user


REFUSAL_OF_STATUS = {
    DriverStatus.SUSPENDED: "This driver is suspended; ask your fleet manager.",
    DriverStatus.LEFT: "This driver has left the company; the account is closed.",
}


def account_refusal(user) -> None:
    """Refuse a driver whose status is not active (suspended, left)."""
    driver = getattr(user, "driver", None)
    if driver is not None and driver.status != DriverStatus.ACTIVE:
        raise exceptions.AuthenticationFailed(
            REFUSAL_OF_STATUS.get(driver.status, "This driver is not active."),
            code="driver_not_active",
        )


def second_factor_refusal(user, *, token_second_factor: bool) -> None:
    """Refuse a token got without a second factor for a login that needs one now (`user` as
    login_with_driver_get reads it): staff who turned on an authenticator app, or whom a fleet
    requires it of, after the token was made. Drivers log in without one."""
    if token_second_factor or getattr(user, "driver", None) is not None:
        return
    if user.second_factor_needed:
        raise exceptions.AuthenticationFailed(
            "This login needs the code of its authenticator app now: log in again with `otp`.",
            code="otp_required",
        )


class ActiveAccountJWTScheme(SimpleJWTScheme):
    """Documents ActiveAccountJWTAuthentication as the bearer JWT scheme it is."""

    target_class = "apps.drivers.api.authentication.ActiveAccountJWTAuthentication"
