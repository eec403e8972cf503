"""Validation of driver data that needs more than a regular expression: a driver's IBAN is
checked as the fleet's own is (apps.fleets.validators), by schwifty."""

from apps.fleets.validators import normalize_iban

__all__ = ["normalize_iban", "validate_iban"]


def validate_iban(value: str) -> None:
    normalize_iban(value)
