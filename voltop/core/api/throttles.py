"""The API's throttles: DRF's scoped rate throttle, keyed on the client's address as read through
the trusted proxies (`voltop.core.client_address`), never on a header a client can write."""

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from voltop.core.client_address import client_address


class ClientScopedRateThrottle(ScopedRateThrottle):
    """A view's `throttle_scope` rate per client address. The rates are read when a request
    comes, not when DRF is imported, so a changed setting holds at once."""

    @property
    def THROTTLE_RATES(self) -> dict:
        return api_settings.DEFAULT_THROTTLE_RATES

    def get_ident(self, request) -> str | None:
        return client_address(request)
