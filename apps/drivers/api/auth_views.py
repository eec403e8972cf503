"""Logging in to the API: e-mail and password for a short-lived access token and a rotating
refresh token; refreshing; logging out (the refresh token is blacklisted). Failed logins are
throttled per client address and per username (voltop.core.login_failures), and locked out
per username and address after repeated failures (django-axes). A login with two-factor
login on sends the code of its authenticator app as `otp` (a wrong or missing code is a failed
login); one a fleet requires it of without an app yet is refused. A driver who is suspended or
has left is refused at login and refresh, as on every request."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenRefreshView

from apps.drivers.api.authentication import (
    SECOND_FACTOR_CLAIM,
    account_refusal,
    second_factor_refusal,
)
from apps.drivers.selectors import login_with_driver_get
from apps.fleets.exceptions import OtpInvalid, OtpRequired, OtpSetupRequired
from apps.fleets.two_factor import login_otp_check
from voltop.core.client_address import client_address
from voltop.core.login_failures import (
    TooManyLoginFailures,
    login_attempt_begin,
    login_attempt_succeeded,
)
from voltop.core.logins import login_get_by_email


class AccountLocked(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "account_locked"
    default_detail = (
        "Too many failed logins from this address; the login is locked here for a while. "
        "Try again later."
    )


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=12,
        help_text="The code of the authenticator app, for a login with two-factor login on "
        "(staff who turned it on in the admin). Without it such a login is refused with "
        "`otp_required`, with a wrong one `otp_invalid`.",
    )


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token for `Authorization: Bearer …`.")
    refresh = serializers.CharField(help_text="Exchange it at /auth/refresh/ for new tokens.")
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField()


def token_pair(user, *, second_factor: bool = False) -> dict:
    """Tokens for `user`; `second_factor` marks a login that gave its authenticator's code,
    which the tokens refreshed from them keep."""
    refresh = RefreshToken.for_user(user)
    if second_factor:
        refresh[SECOND_FACTOR_CLAIM] = True
    access = refresh.access_token
    return {
        "access": str(access),
        "refresh": str(refresh),
        "access_expires_at": access.current_time + access.lifetime,
        "refresh_expires_at": refresh.current_time + refresh.lifetime,
    }


class TokenEndpointView(APIView):
    """An endpoint that takes credentials in its body rather than a token in a header; its
    refusals are still 401s that name the scheme to use."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class LoginView(TokenEndpointView):
    """Log in with e-mail address and password."""

    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses={200: TokenPairSerializer}, auth=[])
    def post(self, request):
        credentials = LoginSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        email = credentials.validated_data["email"]
        account = login_get_by_email(email=email)
        username = account.get_username() if account else email
        try:
            attempt = login_attempt_begin(username=username, client_address=client_address(request))
        except TooManyLoginFailures as error:
            throttled = exceptions.Throttled(detail=error.message, code=error.code)
            throttled.wait = error.wait_seconds
            raise throttled from error
        user = authenticate(
            request._request, username=username, password=credentials.validated_data["password"]
        )
        if getattr(request._request, "axes_locked_out", False):
            raise AccountLocked()
        if user is None:
            raise exceptions.AuthenticationFailed(
                "The e-mail address or the password is wrong.", code="invalid_credentials"
            )
        try:
            device = login_otp_check(user=user, token=credentials.validated_data.get("otp"))
        except OtpSetupRequired as error:
            raise exceptions.PermissionDenied(error.message, code=error.code) from error
        except (OtpRequired, OtpInvalid) as error:
            raise exceptions.AuthenticationFailed(error.message, code=error.code) from error
        login_attempt_succeeded(attempt)
        account_refusal(user)
        return Response(
            TokenPairSerializer(token_pair(user, second_factor=device is not None)).data
        )


class ActiveAccountRefreshSerializer(TokenRefreshSerializer):
    """Refreshing also refuses a login that was deactivated or a driver no longer active."""

    def validate(self, attrs):
        data = super().validate(attrs)
        refreshed = RefreshToken(data.get("refresh", attrs["refresh"]), verify=False)
        user = login_with_driver_get(user_id=int(refreshed["user_id"]))
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(
                "This login no longer exists or is deactivated.", code="user_inactive"
            )
        account_refusal(user)
        second_factor_refusal(user, token_second_factor=bool(refreshed.get(SECOND_FACTOR_CLAIM)))
        return data


class RefreshView(TokenRefreshView):
    """Exchange a refresh token for a new access token and a new refresh token; the old refresh
    token is blacklisted."""

    serializer_class = ActiveAccountRefreshSerializer
    throttle_scope = "login"


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class LogoutView(TokenEndpointView):
    """Log out: the refresh token is blacklisted, so it cannot be refreshed again."""

    @extend_schema(
        request=LogoutSerializer,
        responses={204: None},
        auth=[],
    )
    def post(self, request):
        payload = LogoutSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            RefreshToken(payload.validated_data["refresh"]).blacklist()
        except TokenError as error:
            raise exceptions.ValidationError(
                {"refresh": [str(error)]}, code="token_not_valid"
            ) from error
        return Response(status=status.HTTP_204_NO_CONTENT)
