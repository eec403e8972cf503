"""The API's filter backends: the filter form is left out only when the query names no filter,
and an ordering the client chooses ends with the primary key."""

import datetime as dt

import pytest
from django.http import QueryDict
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apps.charging.api.filtersets import DriverSessionFilterSet
from apps.charging.choices import SessionStatus
from apps.charging.models import ChargingSession
from apps.fleets.models import Depot
from apps.payments.api.driver_views import InvoiceFilter
from tests.factories import ChargingSessionFactory
from voltop.core.api.filters import CompleteOrderingFilter, QueryFilterBackend, filters_named


class SessionsView:
    filterset_class = DriverSessionFilterSet


class DepotsView:
    ordering_fields = ["name", "created_at"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("", False),
        ("page_size=50", False),
        ("cursor=abc&page_size=10", False),
        ("status=active", True),
        ("page_size=50&started_after=2026-01-01T00:00:00Z", True),
        ("purpose=", True),
    ],
)
def test_a_query_names_a_filter_when_a_parameter_is_a_filter_name(query, named):
    assert filters_named(QueryDict(query), DriverSessionFilterSet) is named


def test_the_suffixed_parameters_of_a_range_filter_name_it():
    assert filters_named(QueryDict("period_start_after=2026-01-01T00:00:00Z"), InvoiceFilter)
    assert filters_named(QueryDict("period_start_before=2026-01-01T00:00:00Z"), InvoiceFilter)
    assert not filters_named(QueryDict("page_size=5"), InvoiceFilter)


@pytest.mark.django_db
def test_the_backend_filters_when_named_and_leaves_the_rows_alone_otherwise():
    # given: an active and a completed session
    active = ChargingSessionFactory(active=True)
    completed = ChargingSessionFactory(
        status=SessionStatus.COMPLETED,
        started_at=dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC),
    )
    rows = ChargingSession.objects.filter(pk__in=[active.pk, completed.pk])

    def filtered(query: str) -> set[int]:
        request = Request(APIRequestFactory().get(f"/?{query}"))
        return set(
            QueryFilterBackend()
            .filter_queryset(request, rows, SessionsView())
            .values_list("pk", flat=True)
        )

    # then
    assert filtered("page_size=50") == {active.pk, completed.pk}
    assert filtered("status=completed") == {completed.pk}
    assert filtered("status=completed&page_size=50") == {completed.pk}


@pytest.mark.parametrize(
    ("query", "ordering"),
    [
        ("ordering=name", ["name", "pk"]),
        ("ordering=-created_at", ["-created_at", "-pk"]),
        ("ordering=-name,created_at", ["-name", "created_at", "-pk"]),
        ("ordering=secret,name", ["name", "pk"]),
    ],
)
def test_an_ordering_the_client_chooses_ends_with_the_primary_key_in_its_first_direction(
    query, ordering
):
    request = Request(APIRequestFactory().get(f"/?{query}"))

    assert CompleteOrderingFilter().get_ordering(request, Depot.objects.all(), DepotsView()) == (
        ordering
    )


@pytest.mark.parametrize("query", ["", "ordering=", "ordering=secret"])
def test_without_an_ordering_the_client_may_choose_the_rows_keep_the_views_order(query):
    request = Request(APIRequestFactory().get(f"/?{query}"))

    assert CompleteOrderingFilter().get_ordering(request, Depot.objects.all(), DepotsView()) is None
