"""Vehicle identification number (ISO 3779) rules."""

import re

from django.core.exceptions import ValidationError

VIN_PATTERN = r"^[A-HJ-NPR-Z0-9]{17}$"
_VIN = re.compile(VIN_PATTERN)


def normalize_vin(value: str) -> str:
    return value.strip().upper()


def validate_vin(value: str) -> None:
    vin = normalize_vin(value)
    if len(vin) != 17:
        raise ValidationError(
            "A VIN has 17 characters; this one has %(length)d.",
            code="vin_length",
            params={"length": len(vin)},
        )
    if not _VIN.match(vin):
        forbidden = sorted({c for c in vin if c in "IOQ" or not c.isalnum()})
        raise ValidationError(
            "A VIN uses digits and the letters A-Z without I, O and Q; found %(chars)s.",
            code="vin_alphabet",
            params={"chars": ", ".join(forbidden) or vin},
        )
