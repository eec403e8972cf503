"""Server-to-server authentication for the fleet endpoints: `Authorization: Api-Key vt_…`."""

import hmac

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.fleets.models import FleetApiKey
from apps.fleets.services import KEY_PREFIX, api_key_secret_hash, fleet_api_key_use_record

KEYWORD = "Api-Key"


class FleetApiKeyPrincipal:
    """Who calls with a fleet API key: authenticated, a member of the key's fleet only."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, key: FleetApiKey):
        self.key = key

    def __str__(self) -> str:
        return f"API key {self.key}"


class FleetApiKeyAuthentication(authentication.BaseAuthentication):
    """Accepts an unrevoked fleet API key; `request.auth` is the key."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != KEYWORD:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send 'Api-Key <key>'.", code="api_key_invalid")
        key = self._key_of(header[1])
        if key is None:
            raise exceptions.AuthenticationFailed(
                "The API key is unknown or revoked.", code="api_key_invalid"
            )
        fleet_api_key_use_record(key=key, now=timezone.now())
        return FleetApiKeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return KEYWORD

    @staticmethod
    def _key_of(text: str) -> FleetApiKey | None:
        parts = text.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        key = FleetApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
        if key is None or not hmac.compare_digest(key.secret_hash, api_key_secret_hash(parts[2])):
            return None
        return key


class FleetApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.fleets.api.authentication.FleetApiKeyAuthentication"
    name = "fleetApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key vt_…`, a fleet's key for its own servers.",
        }
