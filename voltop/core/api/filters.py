"""Filters shared by the API's lists: times read as the instant they name, in UTC."""

import datetime as dt

from django_filters import fields, filters
from django_filters.widgets import DateRangeWidget


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
