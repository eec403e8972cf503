"""The hourly sweep that prices again every completed session still without a price: lost
pricing tasks, sessions no tariff applied to, public sessions entered without the provider's
cost; and what it leaves alone."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings

from apps.charging.choices import LocationKind, PriceBasis, SessionStatus, UnpricedReason
from apps.charging.models import ChargingSession, Tariff
from apps.charging.services import (
    PRICING_SWEEP_AFTER,
    charging_session_price,
    charging_sessions_price_unpriced,
    tariff_publish,
)
from tests.factories import ChargingSessionFactory, TariffElementFactory, TariffFactory
from voltop.celery import app

pytestmark = pytest.mark.django_db

UTC = dt.UTC
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweep as the beat does, an hour after the sessions were written; the pricing it
    enqueues runs on commit (Celery is eager in these tests)."""

    def run(*, after: dt.timedelta = dt.timedelta(hours=1)) -> int:
        latest = max(ChargingSession.objects.values_list("updated_at", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            return charging_sessions_price_unpriced(now=latest + after)

    return run


def tariff_in_force_from(fleet, moment: dt.datetime) -> Tariff:
    tariff = TariffFactory(fleet=fleet)
    TariffElementFactory(tariff=tariff)
    tariff_publish(tariff=tariff, effective_from=moment)
    return tariff


def price_of(session: ChargingSession) -> tuple:
    session.refresh_from_db()
    return (session.price_basis, session.price_incl_vat, session.unpriced_reason)


def test_a_session_whose_pricing_task_was_lost_is_priced(sweep):
    session = ChargingSessionFactory()
    tariff_in_force_from(session.fleet, START - dt.timedelta(days=1))

    swept = sweep()

    assert swept == 1
    assert price_of(session) == (PriceBasis.TARIFF, Decimal("8.05"), "")


def test_a_session_no_tariff_applied_to_is_priced_once_a_backdated_tariff_applies(sweep):
    session = ChargingSessionFactory()
    charging_session_price(session=session)
    assert price_of(session) == ("", None, UnpricedReason.NO_TARIFF)
    tariff_in_force_from(session.fleet, START - dt.timedelta(days=1))

    swept = sweep()

    assert swept == 1
    assert price_of(session) == (PriceBasis.TARIFF, Decimal("8.05"), "")


def test_a_session_still_without_a_tariff_keeps_its_reason(sweep):
    session = ChargingSessionFactory()

    swept = sweep()

    assert swept == 1
    assert price_of(session) == ("", None, UnpricedReason.NO_TARIFF)


def test_a_public_session_entered_without_the_providers_cost_is_marked_cost_pending_once(
    sweep,
):
    session = ChargingSessionFactory(location_kind=LocationKind.PUBLIC, connector=None)

    first = sweep()
    second = sweep(after=dt.timedelta(hours=2))

    assert (first, second) == (1, 0)
    assert price_of(session) == ("", None, UnpricedReason.COST_PENDING)


def test_a_session_whose_pricing_may_still_be_under_way_is_left_to_it(sweep):
    session = ChargingSessionFactory()
    tariff_in_force_from(session.fleet, START - dt.timedelta(days=1))
    before = ChargingSession.objects.values().get(pk=session.pk)

    swept = sweep(after=PRICING_SWEEP_AFTER - dt.timedelta(seconds=1))

    assert swept == 0
    assert ChargingSession.objects.values().get(pk=session.pk) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"active": True},
        {"status": SessionStatus.INVALID, "invalid_reason": "A test charge."},
        {"billed_at": START + dt.timedelta(days=3)},
        {
            "price_basis": PriceBasis.TARIFF,
            "price_currency": "EUR",
            "price_excl_vat": Decimal("5.00"),
            "price_vat": Decimal("1.05"),
            "price_incl_vat": Decimal("6.05"),
        },
    ],
    ids=["active", "invalid", "billed", "priced"],
)
def test_sessions_that_need_no_price_or_have_one_are_left_alone(sweep, fields):
    session = ChargingSessionFactory(**fields)
    tariff_in_force_from(session.fleet, START - dt.timedelta(days=1))
    before = ChargingSession.objects.values().get(pk=session.pk)

    swept = sweep()

    assert swept == 0
    assert ChargingSession.objects.values().get(pk=session.pk) == before


def test_the_beat_runs_the_sweep_every_hour_with_a_registered_task():
    entry = settings.CELERY_BEAT_SCHEDULE["price-unpriced-charging-sessions"]
    app.loader.import_default_modules()  # what a worker and the beat do at start

    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == {50}
    assert entry["schedule"].hour == set(range(24))
