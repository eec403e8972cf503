"""Filters of the fleet's session list: driver, vehicle, status, location, purpose, a period of
start times, whether a session is billed, and which have no price and why."""

from django_filters import rest_framework as filters

from apps.charging.api.filtersets import DriverSessionFilterSet
from apps.charging.choices import UnpricedReason
from apps.charging.models import ChargingSession
from apps.charging.selectors import charging_session_list_unpriced

NOT_PRICED_YET = "not_priced_yet"


class FleetSessionFilterSet(DriverSessionFilterSet):
    billed = filters.BooleanFilter(
        field_name="billed_at",
        lookup_expr="isnull",
        exclude=True,
        label="true: only sessions on an invoice or statement; false: only those not billed yet.",
    )
    unpriced_reason = filters.ChoiceFilter(
        choices=[*UnpricedReason.choices, (NOT_PRICED_YET, "Not priced yet")],
        method="filter_unpriced_reason",
        label="Only completed sessions not billed yet that have no price, for this reason "
        "(not_priced_yet: their pricing has not run yet); billing leaves them out until "
        "they have one.",
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
            "unpriced_reason",
        ]

    def filter_unpriced_reason(self, queryset, name: str, value: str):
        return charging_session_list_unpriced(
            queryset, reason="" if value == NOT_PRICED_YET else value
        )
