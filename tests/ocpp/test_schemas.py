"""The compiled schema check lets through exactly the CALLs and CALLRESULTs the ocpp library
lets through, and leaves the refusal, with its error, to the library."""

import asyncio

import ocpp.messages
import pytest
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallResult

from apps.ocpp import schemas


def _meter_values(**fields):
    payload = {
        "connectorId": 1,
        "transactionId": 7,
        "meterValue": [
            {
                "timestamp": "2026-03-02T08:00:00Z",
                "sampledValue": [
                    {"value": "1200", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                    {"value": "55", "measurand": "SoC", "unit": "Percent"},
                ],
            }
        ],
    }
    return payload | fields


def _status(**fields):
    return {"connectorId": 1, "errorCode": "NoError", "status": "Charging"} | fields


PAYLOADS = [
    ("MeterValues", _meter_values()),
    ("MeterValues", _meter_values(transactionId=2**40)),
    (
        "MeterValues",
        _meter_values(meterValue=[{"timestamp": "yesterday", "sampledValue": [{"value": "1"}]}]),
    ),
    ("MeterValues", _meter_values(connectorId=1.0)),
    ("MeterValues", _meter_values(connectorId=True)),
    ("MeterValues", _meter_values(transactionId="7")),
    ("MeterValues", _meter_values(meterValue=[])),
    ("MeterValues", _meter_values(meterValue=[{"timestamp": "t", "sampledValue": []}])),
    ("MeterValues", _meter_values(meterValue=[{"timestamp": "t", "sampledValue": [{}]}])),
    (
        "MeterValues",
        _meter_values(
            meterValue=[{"timestamp": "t", "sampledValue": [{"value": "1", "unit": "J"}]}]
        ),
    ),
    ("MeterValues", _meter_values(colour="green")),
    ("MeterValues", {"connectorId": 1}),
    ("StatusNotification", _status()),
    ("StatusNotification", _status(info="x" * 50, vendorErrorCode="E1")),
    ("StatusNotification", _status(info="x" * 51)),
    ("StatusNotification", _status(status="Flying")),
    ("StatusNotification", _status(errorCode=None)),
    ("StatusNotification", _status(connectorId=-1)),
    ("StatusNotification", _status(colour="green")),
    ("BootNotification", {"chargePointVendor": "Alfen", "chargePointModel": "Eve"}),
    ("BootNotification", {"chargePointVendor": "A" * 21, "chargePointModel": "Eve"}),
    ("BootNotification", {"chargePointModel": "Eve"}),
    ("Heartbeat", {}),
    ("Heartbeat", {"now": 1}),
    ("Authorize", {"idTag": "04AABBCCDD"}),
    ("Authorize", {"idTag": "X" * 21}),
    (
        "StartTransaction",
        {"connectorId": 1, "idTag": "T1", "meterStart": 0, "timestamp": "2026-03-02T08:00:00Z"},
    ),
    ("StartTransaction", {"connectorId": 1, "idTag": "T1", "meterStart": "0", "timestamp": "t"}),
    ("StopTransaction", {"transactionId": 7, "meterStop": 10, "timestamp": "t", "reason": "Local"}),
    ("StopTransaction", {"transactionId": 7, "meterStop": 10, "timestamp": "t", "reason": "Bored"}),
    ("DataTransfer", {"vendorId": "com.example", "data": "x"}),
    ("FirmwareStatusNotification", {"status": "Installed"}),
    ("DiagnosticsStatusNotification", {"status": "Uploading"}),
]
RESULTS = [
    (
        "BootNotification",
        {"currentTime": "2026-03-02T08:00:00.000Z", "interval": 300, "status": "Accepted"},
    ),
    ("BootNotification", {"currentTime": "2026-03-02T08:00:00.000Z", "status": "Accepted"}),
    ("Heartbeat", {"currentTime": "2026-03-02T08:00:00.000Z"}),
    ("Authorize", {"idTagInfo": {"status": "Accepted"}}),
    ("Authorize", {"idTagInfo": {"status": "Welcome"}}),
    ("StartTransaction", {"transactionId": 7, "idTagInfo": {"status": "Invalid"}}),
    ("StartTransaction", {"idTagInfo": {"status": "Invalid"}}),
    ("StopTransaction", {}),
    ("MeterValues", {}),
    ("MeterValues", {"stored": True}),
    ("StatusNotification", {}),
    ("DataTransfer", {"status": "Rejected"}),
]


def _verdict(check) -> str | None:
    """The error a check raises; None when the payload passes."""
    try:
        check()
    except OCPPError as error:
        return f"{error.code}: {error.description}"
    return None


def _library_verdict(action: str, payload: dict) -> str | None:
    return _verdict(
        lambda: ocpp.messages._validate_payload(Call("m1", action, payload), schemas.OCPP_VERSION)
    )


def _compiled_verdict(action: str, payload: dict) -> str | None:
    return _verdict(lambda: asyncio.run(schemas.call_payload_check(Call("m1", action, payload))))


def _library_result_verdict(action: str, payload: dict) -> str | None:
    return _verdict(
        lambda: ocpp.messages._validate_payload(
            CallResult("m1", payload, action), schemas.OCPP_VERSION
        )
    )


def _compiled_result_verdict(action: str, payload: dict) -> str | None:
    return _verdict(
        lambda: asyncio.run(schemas.call_result_payload_check(CallResult("m1", payload, action)))
    )


@pytest.mark.parametrize(("action", "payload"), PAYLOADS)
def test_the_compiled_check_gives_the_library_verdict(action, payload):
    assert _compiled_verdict(action, payload) == _library_verdict(action, payload)


@pytest.mark.parametrize(("action", "payload"), RESULTS)
def test_the_compiled_check_of_an_answer_gives_the_library_verdict(action, payload):
    assert _compiled_result_verdict(action, payload) == _library_result_verdict(action, payload)


def test_the_cases_hold_payloads_both_valid_and_invalid():
    call_verdicts = {_library_verdict(action, payload) is None for action, payload in PAYLOADS}
    result_verdicts = {
        _library_result_verdict(action, payload) is None for action, payload in RESULTS
    }

    assert call_verdicts == result_verdicts == {True, False}


def test_the_library_checks_only_what_the_compiled_check_refuses(monkeypatch):
    checked_by_library = []

    async def library_check(call, ocpp_version):
        checked_by_library.append(call.payload)
        ocpp.messages._validate_payload(call, ocpp_version)

    monkeypatch.setattr(schemas, "validate_payload", library_check)
    valid, invalid = _meter_values(), _meter_values(connectorId="one")

    asyncio.run(schemas.call_payload_check(Call("m1", "MeterValues", valid)))
    with pytest.raises(OCPPError) as refused:
        asyncio.run(schemas.call_payload_check(Call("m2", "MeterValues", invalid)))

    assert checked_by_library == [invalid]
    assert refused.value.code == "TypeConstraintViolation"
