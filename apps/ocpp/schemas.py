"""The schema check of the CALLs chargers send and of the CALLRESULTs the gateway answers
them with, against the ocpp library's own OCPP 1.6 schemas, by a compiled validator
(jsonschema-rs).

The library checks a payload with the pure-Python jsonschema, about 0.25 ms for a
MeterValues with three samples: at a thousand a second, a quarter of the gateway's event loop
(py-spy, bench/ocpp.py at 5,000 chargers). The compiled check takes about 1.5 µs. A payload it
refuses is checked again by the library, so that the charger gets the library's CALLERROR
with the library's description: the compiled check only lets valid payloads through
faster. None of the messages checked here is one of the three whose decimals the library
reads as Decimal (SetChargingProfile, RemoteStartTransaction and the answer to
GetCompositeSchedule travel the other way)."""

from __future__ import annotations

import functools
import json
from importlib.resources import files

import jsonschema_rs
from ocpp.messages import Call, CallResult, validate_payload

OCPP_VERSION = "1.6"


@functools.cache
def _compiled_schema(schema_name: str) -> jsonschema_rs.Draft4Validator:
    """A compiled OCPP 1.6 schema. Formats are not checked, as the library does not check them
    either."""
    schema = files("ocpp").joinpath("v16", "schemas", f"{schema_name}.json")
    return jsonschema_rs.Draft4Validator(
        json.loads(schema.read_text(encoding="utf-8-sig")), validate_formats=False
    )


async def call_payload_check(call: Call) -> None:
    """Raise the OCPPError the library raises for a CALL whose payload fails its schema."""
    if not _compiled_schema(call.action).is_valid(call.payload):
        await validate_payload(call, OCPP_VERSION)


async def call_result_payload_check(result: CallResult) -> None:
    """Raise the error the library raises for a CALLRESULT whose payload fails its schema."""
    if not _compiled_schema(f"{result.action}Response").is_valid(result.payload):
        await validate_payload(result, OCPP_VERSION)
