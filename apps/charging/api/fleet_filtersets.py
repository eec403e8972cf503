"""Filters of the fleet's session list: driver, vehicle, status, location, purpose, a period of
start times, and whether a session is billed."""

from django_filters import rest_framework as filters

from apps.charging.api.filtersets import DriverSessionFilterSet
from apps.charging.models import ChargingSession


class FleetSessionFilterSet(DriverSessionFilterSet):
    billed = filters.BooleanFilter(
        field_name="billed_at",
        lookup_expr="isnull",
        exclude=True,
        label="true: only sessions on an invoice or statement; false: only those not billed yet.",
    )

    class Meta:
        model = ChargingSession
        fields = [
            "driver",
            "vehicle",
            "started_after",
            "started_before",
            "status",
            "location_kind",
            "purpose",
            "billed",
        ]
