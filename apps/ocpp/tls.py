"""TLS for the OCPP gateway. Chargers send their password with every connection (HTTP Basic
auth, OCPP 1.6 security profile 1), so in production the gateway serves wss:// with a
configured certificate, or runs behind a proxy that terminates TLS; plain ws:// is for local
use only (DEBUG on)."""

import ssl
from pathlib import Path

from django.conf import settings

TLS_HINT = (
    "Set OCPP_TLS_CERTFILE and OCPP_TLS_KEYFILE to serve wss://, or OCPP_BEHIND_TLS_PROXY=true "
    "when a proxy in front of the gateway terminates TLS."
)


def gateway_tls_problem() -> str:
    """Why the gateway may not serve with these settings; empty when it may."""
    certfile, keyfile = settings.OCPP_TLS_CERTFILE, settings.OCPP_TLS_KEYFILE
    if bool(certfile) != bool(keyfile):
        return "OCPP_TLS_CERTFILE and OCPP_TLS_KEYFILE go together: one is set without the other."
    for name, path in (("OCPP_TLS_CERTFILE", certfile), ("OCPP_TLS_KEYFILE", keyfile)):
        if path and not Path(path).is_file():
            return f"{name} names {path}, which is not a readable file."
    if certfile and settings.OCPP_BEHIND_TLS_PROXY:
        return "Set either a certificate or OCPP_BEHIND_TLS_PROXY, not both."
    if not (certfile or settings.OCPP_BEHIND_TLS_PROXY or settings.DEBUG):
        return (
            "Chargers would send their passwords in the clear over ws:// "
            "(DEBUG is off, so this is production)."
        )
    return ""


def gateway_ssl_context() -> ssl.SSLContext | None:
    """The server's TLS context when a certificate is configured; None for ws://."""
    if not settings.OCPP_TLS_CERTFILE:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.OCPP_TLS_CERTFILE, settings.OCPP_TLS_KEYFILE)
    return context
