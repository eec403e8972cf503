import datetime as dt
from datetime import UTC

import pytest
from django.db import DataError, IntegrityError, transaction

from apps.charging.models import Connector, MeterValue
from tests.factories import ChargingSessionFactory, ChargingStationFactory, ConnectorFactory
from voltop.core.bulk_rows import rows_copied, rows_updated

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FIELDS = ("session", "measured_at", "energy_wh", "power_w", "state_of_charge_percent")
STATUS_FIELDS = ("status", "error_code", "status_info", "status_at")


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


@pytest.fixture
def connectors():
    station = ChargingStationFactory()
    return [ConnectorFactory(station=station, connector_id=number) for number in (1, 2, 3)]


def _statuses(connectors):
    return list(
        Connector.objects.filter(pk__in=[c.pk for c in connectors])
        .order_by("pk")
        .values_list("pk", *STATUS_FIELDS)
    )


def test_rows_are_updated_with_every_value_as_given_and_no_other_row_changes(connectors):
    first, second, untouched = connectors
    rows = [
        (first.pk, "Charging", "NoError", "", MOMENT),
        (second.pk, "Faulted", "GroundFailure", "relay · E42", None),
    ]
    before = _statuses([untouched])

    updated = rows_updated(Connector, STATUS_FIELDS, rows)

    assert updated == 2
    assert _statuses([first, second]) == rows
    assert _statuses([untouched]) == before


def test_nothing_to_update_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rows_updated(Connector, STATUS_FIELDS, []) == 0


@pytest.mark.postgres
def test_a_value_too_long_for_its_column_is_refused_not_cut_and_no_row_changes(connectors):
    first, second, _ = connectors
    before = _statuses(connectors)

    with pytest.raises(DataError), transaction.atomic():
        rows_updated(
            Connector,
            STATUS_FIELDS,
            [
                (first.pk, "Charging", "NoError", "", MOMENT),
                (second.pk, "Charging", "E" * 33, "", MOMENT),
            ],
        )

    assert _statuses(connectors) == before
