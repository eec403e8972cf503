"""Pricing through the broker: a real Celery worker process on Redis prices a stopped session
after the stop commits, and the hourly sweep prices one whose pricing task was lost."""

import datetime as dt
import time
from decimal import Decimal

import pytest

from apps.charging.choices import PriceBasis, SessionSource
from apps.charging.models import ChargingSession
from apps.charging.services import (
    charging_session_start,
    charging_session_stop,
    tariff_publish,
)
from apps.charging.tasks import price_unpriced_charging_sessions
from tests.celery_workers import celery_workers_fixture  # noqa: F401 - `celery_workers`
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ConnectorFactory,
    DriverFactory,
    TariffElementFactory,
    TariffFactory,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

START = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def test_a_stopped_session_is_priced_by_a_worker_after_commit(celery_workers):
    celery_workers.start()
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


def test_the_sweep_on_a_worker_prices_a_session_whose_pricing_task_was_lost(celery_workers):
    celery_workers.start()
    session = ChargingSessionFactory()
    tariff = TariffFactory(fleet=session.fleet)
    TariffElementFactory(tariff=tariff)
    tariff_publish(tariff=tariff, effective_from=START - dt.timedelta(days=1))
    an_hour_ago = dt.datetime.now(tz=dt.UTC) - dt.timedelta(hours=1)
    ChargingSession.objects.filter(pk=session.pk).update(updated_at=an_hour_ago)

    price_unpriced_charging_sessions.delay()

    deadline = time.monotonic() + 30
    priced = ChargingSession.objects.get(pk=session.pk)
    while priced.priced_at is None and time.monotonic() < deadline:
        time.sleep(0.2)
        priced.refresh_from_db()
    assert priced.price_basis == PriceBasis.TARIFF
    assert (priced.price_excl_vat, priced.price_incl_vat) == (Decimal("6.65"), Decimal("8.05"))
