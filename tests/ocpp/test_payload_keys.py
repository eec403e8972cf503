"""Payload keys are converted exactly as the ocpp library converts them."""

import json
from importlib.resources import files

from ocpp.charge_point import camel_to_snake_case

from apps.ocpp.payload_keys import snake_case_keys


def _property_names(schema) -> set[str]:
    names = set()
    if isinstance(schema, dict):
        names |= set(schema.get("properties", {}))
        for value in schema.values():
            names |= _property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= _property_names(value)
    return names


def test_every_key_of_ocpp16_converts_as_the_library_converts_it():
    schemas = files("ocpp").joinpath("v16", "schemas")
    keys = set()
    for schema in schemas.iterdir():
        if schema.name.endswith(".json"):
            keys |= _property_names(json.loads(schema.read_text(encoding="utf-8-sig")))
    keys |= {"madeUpKey", "X", "alreadysnake", "with_underscore", "V2XPower", "SoCLimit"}

    converted = snake_case_keys(dict.fromkeys(sorted(keys)))

    assert len(keys) > 90
    assert converted == camel_to_snake_case(dict.fromkeys(sorted(keys)))


def test_keys_of_objects_inside_lists_and_objects_are_converted_and_values_are_kept():
    payload = {
        "connectorId": 1,
        "meterValue": [
            {
                "timestamp": "2026-03-02T08:00:00Z",
                "sampledValue": [{"value": "1200", "measurand": "Energy.Active.Import.Register"}],
            }
        ],
        "chargingProfile": {"chargingSchedule": {"chargingRateUnit": "W"}},
    }

    assert snake_case_keys(payload) == camel_to_snake_case(payload)
    assert snake_case_keys(payload)["meter_value"][0]["sampled_value"][0]["measurand"] == (
        "Energy.Active.Import.Register"
    )
