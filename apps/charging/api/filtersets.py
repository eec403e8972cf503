"""Filters of the driver's session list: a period of start times, status, location and purpose."""

from django_filters import rest_framework as filters

from apps.charging.models import ChargingSession
from voltop.core.api.filters import UtcIsoDateTimeFilter


class DriverSessionFilterSet(filters.FilterSet):
    started_after = UtcIsoDateTimeFilter(
        field_name="started_at",
        lookup_expr="gte",
        label="Sessions started at or after this time (ISO 8601 with offset).",
    )
    started_before = UtcIsoDateTimeFilter(
        field_name="started_at",
        lookup_expr="lt",
        label="Sessions started before this time (ISO 8601 with offset).",
    )

    class Meta:
        model = ChargingSession
        fields = ["started_after", "started_before", "status", "location_kind", "purpose"]
