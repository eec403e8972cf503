"""Filters shared by the API's lists: the filter backend, the ordering a client chooses made
complete, and times read as the instant they name, in UTC."""

import datetime as dt

from django_filters import fields, filters
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.widgets import DateRangeWidget
from rest_framework.filters import OrderingFilter


class QueryFilterBackend(DjangoFilterBackend):
    """django-filter's backend, which leaves the filter form out when the query names none of
    the view's filters: with no filter given the form filters nothing, and building it is the
    dearest part of the busiest reads (a driver's first page of sessions).

    A query parameter names a filter when it starts with the filter's name, so suffixed
    parameters of range filters (`period_after`, `period_before`) count too."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not filters_named(request.query_params, filterset_class):
            return queryset
        return super().filter_queryset(request, queryset, view)


def filters_named(query_params, filterset_class) -> bool:
    names = tuple(filterset_class.base_filters)
    return any(parameter.startswith(names) for parameter in query_params)


class CompleteOrderingFilter(OrderingFilter):
    """DRF's `?ordering=` filter, with the primary key as the last key, in the direction of the
    first: rows that tie on the keys the client chose (two depots of one name in two fleets,
    rows made in the same instant) come in one order on every page and every database, not
    in whichever order the database reads them."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        unique = {"pk", queryset.model._meta.pk.name}
        if not ordering or any(key.lstrip("-") in unique for key in ordering):
            return ordering
        direction = "-" if ordering[0].startswith("-") else ""
        return [*ordering, f"{direction}pk"]


class UtcIsoDateTimeField(fields.IsoDateTimeField):
    """An ISO 8601 time, handed to the database in UTC. Python reads offsets up to ±23:59 and
    PostgreSQL takes only ±15:59, so the same instant in UTC keeps any valid input valid."""

    def to_python(self, value):
        value = super().to_python(value)
        return None if value is None else value.astimezone(dt.UTC)


class UtcIsoDateTimeRangeField(fields.RangeField):
    widget = DateRangeWidget

    def __init__(self, *args, **kwargs):
        super().__init__((UtcIsoDateTimeField(), UtcIsoDateTimeField()), *args, **kwargs)


class UtcIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class UtcIsoDateTimeFromToRangeFilter(filters.IsoDateTimeFromToRangeFilter):
    field_class = UtcIsoDateTimeRangeField
