"""Pricing through the broker: a real Celery worker process on Redis prices a stopped session
after the stop commits."""

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.charging.choices import PriceBasis, SessionSource
from apps.charging.models import ChargingSession
from apps.charging.services import (
    charging_session_start,
    charging_session_stop,
    tariff_publish,
)
from tests.factories import (
    ChargeTokenFactory,
    ConnectorFactory,
    DriverFactory,
    TariffElementFactory,
    TariffFactory,
)
from voltop.celery import app

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

START = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def worker_queue():
    """A Celery worker process consuming a queue of its own, on the test database."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    celery = Path(sys.executable).with_name("celery")
    worker = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            str(celery),
            "-A",
            "voltop",
            "worker",
            "--pool=solo",
            "--queues",
            queue,
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=1):
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker did not answer within 60 s"
        yield queue
    finally:
        app.conf.task_default_queue = previous_queue
        worker.terminate()
        worker.wait(timeout=30)


def test_a_stopped_session_is_priced_by_a_worker_after_commit(worker_queue):
    connector = ConnectorFactory()
    fleet = connector.station.fleet
    tariff = TariffFactory(fleet=fleet)
    TariffElementFactory(tariff=tariff)
    tariff_publish(tariff=tariff, effective_from=START - dt.timedelta(days=1))
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver)
    session = charging_session_start(
        started_at=START,
        source=SessionSource.OCPP,
        token=token,
        connector=connector,
        meter_start_wh=500_000,
    )

    charging_session_stop(
        session=session, ended_at=START + dt.timedelta(hours=2), meter_stop_wh=520_000
    )

    deadline = time.monotonic() + 30
    priced = ChargingSession.objects.get(pk=session.pk)
    while priced.priced_at is None and time.monotonic() < deadline:
        time.sleep(0.2)
        priced.refresh_from_db()
    assert priced.price_basis == PriceBasis.TARIFF
    assert (priced.price_excl_vat, priced.price_incl_vat) == (Decimal("6.50"), Decimal("7.87"))
