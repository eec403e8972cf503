"""OCPP payload keys in Python's snake_case, as the ocpp library converts them, through a cache:
the library converts every key of every message with two regular expressions, which at a
thousand messages a second took a sixth of the gateway's event loop (py-spy, bench/ocpp.py at
5,000 chargers), while a charger only ever sends a few dozen distinct keys."""

from __future__ import annotations

import functools

from ocpp.charge_point import camel_to_snake_case

# Distinct keys kept: every key of OCPP 1.6 many times over; a charger sending made-up keys
# only pushes older ones out.
KEYS_KEPT = 4096


@functools.lru_cache(maxsize=KEYS_KEPT)
def _snake_case_key(key: str) -> str:
    (converted,) = camel_to_snake_case({key: None})
    return converted


def snake_case_keys(data):
    """`data` with the keys of every object in it converted as the library converts them."""
    if isinstance(data, dict):
        return {_snake_case_key(key): snake_case_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [snake_case_keys(value) for value in data]
    return data
