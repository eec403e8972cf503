"""Writes of the fleets app: fleet API keys."""

import hashlib
import logging
import secrets

from django.db import transaction
from django.utils import timezone

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Fleet, FleetApiKey
from voltop.core.errors import DomainError

logger = logging.getLogger(__name__)

KEY_PREFIX = "vt"


class ApiKeyInvalid(DomainError):
    code = "fleets.api_key_invalid"


def api_key_secret_hash(secret: str) -> str:
    """The stored form of a key's secret. The secret is 32 random bytes, so a plain SHA-256
    cannot be reversed by guessing; it is compared in constant time."""
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def fleet_api_key_issue(*, fleet: Fleet, name: str, role: str, created_by=None):
    """Make a key for `fleet` with `role`; returns (key, the full key text, shown only now)."""
    if not name.strip():
        raise ApiKeyInvalid("Name the key after what will use it.", field="name")
    if role not in MembershipRole.values:
        raise ApiKeyInvalid(
            f"The role must be one of {', '.join(MembershipRole.values)}.", field="role"
        )
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = FleetApiKey.objects.create(
        fleet=fleet,
        name=name.strip(),
        role=role,
        prefix=prefix,
        secret_hash=api_key_secret_hash(secret),
        created_by=created_by,
    )
    logger.info("fleets.api_key_issued", extra={"fleet_id": fleet.pk, "api_key_id": key.pk})
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def fleet_api_key_revoke(*, key: FleetApiKey) -> FleetApiKey:
    """Stop a key from working, from the next request on. Revoking it again changes nothing."""
    key = FleetApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        logger.info("fleets.api_key_revoked", extra={"api_key_id": key.pk})
    return key
