"""JSON documents as text for files people and other systems read (OCPI CDRs and tariffs):
indented, UTF-8, and with every Decimal written as a JSON number of exactly its digits, never
through a float, so 0.50 stays 0.50 and amounts read back to the cent."""

from decimal import Decimal

import orjson


def _decimal_as_number(value):
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(f"{value:f}")
    raise TypeError(f"{value!r} of type {type(value).__name__} has no JSON form")


def json_text(document) -> str:
    """`document` as JSON indented by two spaces; a Decimal is written as the number it is."""
    return orjson.dumps(document, default=_decimal_as_number, option=orjson.OPT_INDENT_2).decode()
