"""Work through the broker: a real Celery worker process on Redis prices a stopped session
after the stop commits, the hourly sweep prices one whose pricing task was lost, and a large
provider's file is imported in the background."""

import datetime as dt
import time
from decimal import Decimal

import pytest
import redis
from django.conf import settings

from apps.charging.chargers import (
    ChargerStopReport,
    charging_session_charger_start,
    charging_sessions_charger_stop,
)
from apps.charging.choices import PriceBasis, SessionImportStatus, SessionSource
from apps.charging.models import ChargingSession
from apps.charging.services import (
    charging_session_start,
    charging_session_stop,
    session_import_start,
    tariff_publish,
)
from apps.charging.tasks import price_unpriced_charging_sessions
from tests.celery_workers import celery_workers_fixture  # noqa: F401 - `celery_workers`
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DriverFactory,
    FleetFactory,
    TariffElementFactory,
    TariffFactory,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

START = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def _results_kept() -> set[bytes]:
    return set(redis.Redis.from_url(settings.REDIS_URL).keys("celery-task-meta-*"))


def test_a_stopped_session_is_priced_by_a_worker_after_commit_and_no_result_is_kept(
    celery_workers,
):
    celery_workers.start()
    results_before = _results_kept()
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
    assert _results_kept() == results_before


def test_a_batch_of_charger_stops_is_priced_by_a_worker_and_no_result_is_kept(celery_workers):
    celery_workers.start()
    results_before = _results_kept()
    station = ChargingStationFactory()
    tariff = TariffFactory(fleet=station.fleet)
    TariffElementFactory(tariff=tariff)
    tariff_publish(tariff=tariff, effective_from=START - dt.timedelta(days=1))
    sessions = [
        charging_session_charger_start(
            station=station,
            connector_id=number,
            id_tag=ChargeTokenFactory(driver=DriverFactory(fleet=station.fleet)).uid,
            meter_start_wh=500_000,
            started_at=START,
        ).session
        for number in (1, 2)
    ]

    charging_sessions_charger_stop(
        batch=[
            ChargerStopReport(
                station=station,
                transaction_id=session.pk,
                meter_stop_wh=520_000,
                stopped_at=START + dt.timedelta(hours=2),
                readings=(),
            )
            for session in sessions
        ]
    )

    deadline = time.monotonic() + 30
    priced = ChargingSession.objects.filter(pk__in=[session.pk for session in sessions])
    while priced.filter(priced_at=None).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (
        list(priced.values_list("price_basis", "price_excl_vat", "price_incl_vat"))
        == [(PriceBasis.TARIFF, Decimal("6.50"), Decimal("7.87"))] * 2
    )
    assert _results_kept() == results_before


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


def test_a_large_file_is_imported_by_a_worker_after_commit(celery_workers, settings):
    settings.IMPORT_INLINE_MAX_ROWS = 10
    celery_workers.start()
    fleet = FleetFactory()
    driver = DriverFactory(fleet=fleet)
    ChargeTokenFactory(driver=driver, uid="04C0FFEE", valid_from=START - dt.timedelta(days=1))
    rows = [
        f"CDR-{index},04C0FFEE,{(START + dt.timedelta(hours=index)).isoformat()},"
        f"{(START + dt.timedelta(hours=index, minutes=30)).isoformat()},5,2,2.42,EUR"
        for index in range(25)
    ]
    content = "\n".join(
        ["cdr_id,token_uid,start,end,energy_kwh,cost_excl_vat,cost_incl_vat,currency", *rows]
    ).encode()

    session_import = session_import_start(fleet=fleet, content=content, file_name="march.csv")

    assert session_import.status == SessionImportStatus.QUEUED
    deadline = time.monotonic() + 30
    while session_import.status in (
        SessionImportStatus.QUEUED,
        SessionImportStatus.RUNNING,
    ) and (time.monotonic() < deadline):
        time.sleep(0.2)
        session_import.refresh_from_db()
    assert session_import.status == SessionImportStatus.DONE, celery_workers.logs()
    assert (session_import.rows_done, session_import.rows_total, session_import.imported) == (
        25,
        25,
        25,
    )
    assert ChargingSession.objects.filter(fleet=fleet, source=SessionSource.IMPORT).count() == 25
