"""Meter readings through the charging service, whoever sends them: never on a billed or
invalidated session, never outside the session, never going back; corrected and deleted only
there too."""

import datetime as dt

import pytest

from apps.charging.choices import PriceBasis, SessionStatus
from apps.charging.exceptions import (
    MeterValueOutsideSession,
    MeterWentBackwards,
    SessionBilled,
    SessionNotActive,
)
from apps.charging.models import MeterValue
from apps.charging.services import (
    MeterReading,
    charging_session_record_meter_values,
    meter_value_correct,
    meter_value_delete,
    meter_value_delete_check,
)
from tests.factories import ChargingSessionFactory, MeterValueFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
AT_9 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BILLED_AT = dt.datetime(2026, 4, 1, 6, 0, tzinfo=UTC)


def stored_readings() -> list[tuple]:
    return list(
        MeterValue.objects.order_by("session_id", "measured_at", "id").values_list(
            "session_id", "measured_at", "energy_wh"
        )
    )


@pytest.fixture
def billed():
    session = ChargingSessionFactory(billed_at=BILLED_AT)
    MeterValueFactory(session=session, measured_at=AT_9, energy_wh=1_010_000)
    return session


def test_a_reading_on_a_billed_session_is_refused_and_stores_nothing(billed):
    """A reading on a billed session is refused, 5 Wh dated 2030 as much as one inside its
    window."""
    before = stored_readings()

    with pytest.raises(SessionBilled) as refused:
        charging_session_record_meter_values(
            session=billed, readings=[MeterReading(AT_9 + dt.timedelta(minutes=30), 1_015_000)]
        )

    assert (refused.value.code, refused.value.field) == ("charging.session_billed", "session")
    assert stored_readings() == before


def test_correcting_a_reading_of_a_billed_session_is_refused_and_changes_nothing(billed):
    reading = billed.meter_values.get()

    with pytest.raises(SessionBilled):
        meter_value_correct(meter_value=reading, changes={"energy_wh": 1_011_000})

    assert stored_readings() == [(billed.pk, AT_9, 1_010_000)]


def test_deleting_a_reading_of_a_billed_session_is_refused_and_keeps_it(billed):
    reading = billed.meter_values.get()

    with pytest.raises(SessionBilled):
        meter_value_delete_check(meter_value=reading)
    with pytest.raises(SessionBilled):
        meter_value_delete(meter_value=reading)

    assert stored_readings() == [(billed.pk, AT_9, 1_010_000)]


def test_a_reading_of_an_invalidated_session_is_not_deleted():
    session = ChargingSessionFactory(status=SessionStatus.INVALID, invalid_reason="A test")
    reading = MeterValueFactory(session=session)

    with pytest.raises(SessionNotActive):
        meter_value_delete(meter_value=reading)

    assert MeterValue.objects.filter(pk=reading.pk).exists()


@pytest.mark.parametrize(
    ("changes", "refusal", "field"),
    [
        (
            {"measured_at": dt.datetime(2030, 1, 1, tzinfo=UTC)},
            MeterValueOutsideSession,
            "measured_at",
        ),
        ({"energy_wh": 1_021_000}, MeterWentBackwards, "energy_wh"),
        ({"energy_wh": 999_000}, MeterWentBackwards, "energy_wh"),
        ({"measured_at": AT_9 + dt.timedelta(minutes=30)}, MeterValueOutsideSession, "measured_at"),
    ],
    ids=["after-the-session", "above-the-meter-stop", "below-the-meter-start", "on-another"],
)
def test_a_correction_breaking_a_rule_is_refused_and_changes_nothing(changes, refusal, field):
    session = ChargingSessionFactory()
    reading = MeterValueFactory(session=session, measured_at=AT_9, energy_wh=1_010_000)
    MeterValueFactory(
        session=session, measured_at=AT_9 + dt.timedelta(minutes=30), energy_wh=1_015_000
    )
    before = stored_readings()

    with pytest.raises(refusal) as refused:
        meter_value_correct(meter_value=reading, changes=changes)

    assert refused.value.field == field
    assert stored_readings() == before


def test_a_correction_between_the_neighbours_is_saved_and_prices_the_session_again(
    django_capture_on_commit_callbacks,
):
    session = ChargingSessionFactory(
        price_basis=PriceBasis.TARIFF, price_currency="EUR", priced_at=BILLED_AT
    )
    reading = MeterValueFactory(session=session, measured_at=AT_9, energy_wh=1_010_000)

    with django_capture_on_commit_callbacks() as callbacks:
        meter_value_correct(meter_value=reading, changes={"energy_wh": 1_012_000})

    assert stored_readings() == [(session.pk, AT_9, 1_012_000)]
    session.refresh_from_db()
    assert (session.price_basis, session.priced_at) == ("", None)
    assert len(callbacks) == 1


def test_deleting_a_reading_of_a_session_not_billed_deletes_it():
    session = ChargingSessionFactory()
    reading = MeterValueFactory(session=session)

    meter_value_delete(meter_value=reading)

    assert stored_readings() == []
