"""Validators for values that are not specific to one app: currencies, time zones."""

import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError

from voltop.core.money import is_known_currency


@lru_cache(maxsize=1)
def _available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_currency_code(value: str) -> None:
    if not is_known_currency(value):
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code.",
            code="invalid_currency",
            params={"value": value},
        )


def validate_time_zone(value: str) -> None:
    if value not in _available_time_zones():
        raise ValidationError(
            "%(value)s is not an IANA time zone (e.g. Europe/Amsterdam).",
            code="invalid_time_zone",
            params={"value": value},
        )
