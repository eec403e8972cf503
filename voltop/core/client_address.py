"""The address of the client behind a request, read through the proxies Voltop trusts.

Each proxy in front of Voltop appends the address it received the request from to
`X-Forwarded-For`. With `TRUSTED_PROXY_COUNT` proxies, the last that many entries were written
by them, and the client is the entry the outermost of them wrote: the one `TRUSTED_PROXY_COUNT`
from the end. Anything to its left came from the client and is never read. With no trusted
proxy (the default) the header is ignored and the client is the connecting address.

The login throttles (DRF) and the login lockout (django-axes) both take the address from here.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address_from(
    *, remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int
) -> str | None:
    """The client's address from the connecting address and the `X-Forwarded-For` header.

    When the header holds fewer entries than there are trusted proxies, or the entry is not an
    IP address, the request did not come through them as configured: the connecting address
    is the client's."""
    if trusted_proxies <= 0 or not forwarded_for:
        return remote_addr
    entries = [entry.strip() for entry in forwarded_for.split(",")]
    if len(entries) < trusted_proxies:
        return remote_addr
    candidate = entries[-trusted_proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr


def client_address(request: HttpRequest) -> str | None:
    """The client's address for `request` (a Django or DRF request), per `TRUSTED_PROXY_COUNT`."""
    return client_address_from(
        remote_addr=request.META.get("REMOTE_ADDR"),
        forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR"),
        trusted_proxies=settings.TRUSTED_PROXY_COUNT,
    )
