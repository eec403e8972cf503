"""`__in_array`: one of many values, sent as one parameter, on PostgreSQL and on SQLite."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.fleets.models import Fleet
from tests.factories import FleetFactory

pytestmark = pytest.mark.django_db

MANY = 40_000


@pytest.fixture
def fleets() -> list[Fleet]:
    return FleetFactory.create_batch(4)


def test_it_finds_exactly_the_rows_whose_value_is_listed(fleets):
    wanted = [fleets[2].pk, fleets[0].pk, fleets[2].pk]

    found = Fleet.objects.filter(pk__in_array=wanted).order_by("pk")

    assert list(found) == [fleets[0], fleets[2]]


def test_an_empty_list_finds_nothing(fleets):
    assert not Fleet.objects.filter(pk__in_array=[]).exists()


def test_tens_of_thousands_of_values_are_one_parameter_of_one_statement(fleets):
    unknown = max(fleet.pk for fleet in fleets) + 1
    wanted = [fleets[1].pk, *range(unknown, unknown + MANY), fleets[3].pk]

    with CaptureQueriesContext(connection) as queries:
        changed = Fleet.objects.filter(pk__in_array=wanted).update(name="Renamed")

    assert changed == 2
    assert len(queries) == 1
    assert sorted(Fleet.objects.filter(name="Renamed").values_list("pk", flat=True)) == sorted(
        [fleets[1].pk, fleets[3].pk]
    )
    assert Fleet.objects.exclude(name="Renamed").count() == 2


def test_strings_are_compared_as_strings(fleets):
    found = Fleet.objects.filter(slug__in_array=[fleets[3].slug, "no-such-fleet"])

    assert list(found) == [fleets[3]]
