"""Validation of driver data that needs more than a regular expression."""

from django.core.exceptions import ValidationError
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException


def normalize_iban(value: str) -> str:
    """The IBAN in its compact form (no spaces, upper case), or ValidationError if invalid."""
    try:
        return IBAN(value).compact
    except SchwiftyException as error:
        raise ValidationError(
            "%(value)s is not a valid IBAN: %(reason)s.",
            code="invalid_iban",
            params={"value": value, "reason": str(error).rstrip(".")},
        ) from error


def validate_iban(value: str) -> None:
    normalize_iban(value)
