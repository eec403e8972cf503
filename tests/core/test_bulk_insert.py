import datetime as dt
from datetime import UTC

import pytest
from django.db import IntegrityError, transaction

from apps.charging.models import MeterValue
from tests.factories import ChargingSessionFactory
from voltop.core.bulk_insert import rows_copied

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FIELDS = ("session", "measured_at", "energy_wh", "power_w", "state_of_charge_percent")


def test_rows_are_inserted_with_every_value_as_given():
    session = ChargingSessionFactory()
    rows = [
        (session.pk, MOMENT, 1_100, 11_000, 40),
        (session.pk, MOMENT + dt.timedelta(seconds=10), 1_131, None, None),
    ]

    inserted = rows_copied(MeterValue, FIELDS, rows)

    assert inserted == 2
    assert list(session.meter_values.order_by("measured_at").values_list(*FIELDS)) == rows


def test_nothing_to_insert_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rows_copied(MeterValue, FIELDS, []) == 0


def test_a_row_the_database_refuses_is_djangos_integrity_error_and_no_row_is_kept():
    session = ChargingSessionFactory()
    rows = [
        (session.pk, MOMENT, 1_100, 11_000, 40),
        (session.pk, MOMENT + dt.timedelta(seconds=10), -1, None, None),
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        rows_copied(MeterValue, FIELDS, rows)

    assert not MeterValue.objects.exists()
