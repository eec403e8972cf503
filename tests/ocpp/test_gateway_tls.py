"""TLS in production: the gateway serves wss:// with its certificate, or declares a proxy that
terminates TLS; otherwise it refuses to start and `check --deploy` says why."""

import asyncio
import shutil
import ssl
import subprocess

import pytest
from django.core.management import CommandError, call_command
from ocpp.v16 import call
from websockets.asyncio.client import connect

from apps.charging.chargers import charging_station_password_set
from apps.ocpp.apps import gateway_tls_check
from apps.ocpp.tls import gateway_ssl_context
from tests.factories import ChargingStationFactory
from tests.ocpp.charge_points import STATION_PASSWORD, SimulatedChargePoint, basic_auth
from tests.ocpp.conftest import gateway_running


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for localhost and its key."""
    certfile, keyfile = tmp_path / "ocpp.crt", tmp_path / "ocpp.key"
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            shutil.which("openssl"),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(keyfile),
            "-out",
            str(certfile),
        ],
        check=True,
        capture_output=True,
    )
    return certfile, keyfile


@pytest.mark.parametrize(
    ("tls_settings", "problem"),
    [
        ({}, "Chargers would send their passwords in the clear over ws://"),
        (
            {"OCPP_TLS_CERTFILE": "/nowhere/ocpp.crt"},
            "OCPP_TLS_CERTFILE and OCPP_TLS_KEYFILE go together",
        ),
        (
            {"OCPP_TLS_CERTFILE": "/nowhere/ocpp.crt", "OCPP_TLS_KEYFILE": "/nowhere/ocpp.key"},
            "OCPP_TLS_CERTFILE names /nowhere/ocpp.crt, which is not a readable file.",
        ),
    ],
    ids=["plain ws", "certificate without key", "missing files"],
)
def test_production_without_tls_is_named_by_the_deploy_check_and_the_gateway_refuses_to_start(
    settings, tls_settings, problem
):
    settings.DEBUG = False
    for name, value in tls_settings.items():
        setattr(settings, name, value)

    (error,) = gateway_tls_check(None)
    with pytest.raises(CommandError) as refused:
        call_command("ocpp_gateway", "--port", "0")

    assert error.id == "ocpp.E001"
    assert problem in error.msg
    assert problem in str(refused.value)


@pytest.mark.parametrize(
    "tls_settings",
    [{"OCPP_BEHIND_TLS_PROXY": True}, {"DEBUG": True}],
    ids=["behind a proxy", "local use"],
)
def test_a_proxy_or_local_use_passes_the_check(settings, tls_settings):
    settings.DEBUG = False
    for name, value in tls_settings.items():
        setattr(settings, name, value)

    assert gateway_tls_check(None) == []


@pytest.mark.postgres
def test_with_a_certificate_chargers_connect_over_wss(transactional_db, settings, certificate):
    settings.DEBUG = False
    settings.OCPP_TLS_CERTFILE, settings.OCPP_TLS_KEYFILE = map(str, certificate)
    station = ChargingStationFactory(ocpp_identity="CP-TLS")
    charging_station_password_set(station=station, password=STATION_PASSWORD)
    trusting = ssl.create_default_context(cafile=str(certificate[0]))

    async def boot(port):
        async with connect(
            f"wss://localhost:{port}/ocpp/CP-TLS",
            subprotocols=["ocpp1.6"],
            additional_headers=basic_auth("CP-TLS", STATION_PASSWORD),
            ssl=trusting,
        ) as connection:
            charger = SimulatedChargePoint("CP-TLS", connection, response_timeout=10)
            reading = asyncio.create_task(charger.start())
            answer = await charger.call(call.Heartbeat())
            reading.cancel()
            return answer

    assert gateway_tls_check(None) == []
    with gateway_running(ssl_context=gateway_ssl_context()) as running:
        answer = asyncio.run(boot(running.port))

    assert answer.current_time.endswith("Z")
