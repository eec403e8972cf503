"""Recording a fleet API key's use: at most once a minute, in one conditional UPDATE, so a key
calling many times a second costs no write per request and racing requests write once."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.fleets.models import FleetApiKey
from apps.fleets.services import fleet_api_key_issue, fleet_api_key_use_record
from tests.factories import FleetFactory

pytestmark = pytest.mark.django_db

TEN_O_CLOCK = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def key() -> FleetApiKey:
    key, _ = fleet_api_key_issue(fleet=FleetFactory(), name="Telematics", role="viewer")
    return key


def test_a_key_never_used_records_its_first_use(key):
    written = fleet_api_key_use_record(key=key, now=TEN_O_CLOCK)

    assert written is True
    assert key.last_used_at == TEN_O_CLOCK
    assert FleetApiKey.objects.get(pk=key.pk).last_used_at == TEN_O_CLOCK


def test_a_use_within_the_minute_sends_nothing_to_the_database(key):
    fleet_api_key_use_record(key=key, now=TEN_O_CLOCK)

    with CaptureQueriesContext(connection) as queries:
        written = fleet_api_key_use_record(key=key, now=TEN_O_CLOCK + dt.timedelta(seconds=59))

    assert written is False
    assert queries.captured_queries == []
    assert FleetApiKey.objects.get(pk=key.pk).last_used_at == TEN_O_CLOCK


def test_a_use_a_minute_later_is_recorded(key):
    fleet_api_key_use_record(key=key, now=TEN_O_CLOCK)

    written = fleet_api_key_use_record(key=key, now=TEN_O_CLOCK + dt.timedelta(seconds=60))

    assert written is True
    assert FleetApiKey.objects.get(pk=key.pk).last_used_at == TEN_O_CLOCK + dt.timedelta(seconds=60)


def test_a_request_racing_one_that_just_wrote_writes_nothing(key):
    """Two requests read the key before either wrote; the second one's UPDATE finds the use
    already recorded and changes nothing."""
    read_by_first, read_by_second = (FleetApiKey.objects.get(pk=key.pk) for _ in range(2))
    fleet_api_key_use_record(key=read_by_first, now=TEN_O_CLOCK)

    written = fleet_api_key_use_record(
        key=read_by_second, now=TEN_O_CLOCK + dt.timedelta(seconds=1)
    )

    assert written is False
    assert read_by_second.last_used_at is None
    assert FleetApiKey.objects.get(pk=key.pk).last_used_at == TEN_O_CLOCK
