"""API authentication: JWT access tokens for people (drivers, fleet staff), refused at once
for a deactivated login or a driver who is no longer active, whatever the token says."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings

from apps.drivers.choices import DriverStatus


class ActiveAccountJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer-token authentication, reading the user with their driver profile and
    refusing suspended or departed drivers on every request."""

    def get_user(self, validated_token):
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as error:
            raise exceptions.AuthenticationFailed(
                "The token names no user.", code="token_not_valid"
            ) from error
        user = (
            self.user_model.objects.select_related("driver")
            .filter(**{api_settings.USER_ID_FIELD: user_id})
            .first()
        )
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(
                "This login no longer exists or is deactivated.", code="user_inactive"
            )
        account_refusal(user)
        return user


def account_refusal(user) -> None:
    """Refuse a driver whose status is not active (suspended, left)."""
    driver = getattr(user, "driver", None)
    if driver is not None and driver.status != DriverStatus.ACTIVE:
        raise exceptions.AuthenticationFailed(
            f"The driver is {driver.get_status_display().lower()}; the account is refused.",
            code="driver_not_active",
        )


class ActiveAccountJWTScheme(SimpleJWTScheme):
    """Documents ActiveAccountJWTAuthentication as the bearer JWT scheme it is."""

    target_class = "voltop.core.api.authentication.ActiveAccountJWTAuthentication"
