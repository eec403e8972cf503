"""Filters of the fleet endpoints of the drivers app. Foreign keys filter by id without looking
the row up, so an id of another fleet simply matches nothing (and costs no query)."""

import django_filters
from django.db.models import Q, QuerySet

from apps.drivers.models import ChargeToken, Driver


class FleetDriverFilterSet(django_filters.FilterSet):
    fleet = django_filters.NumberFilter(field_name="fleet_id")
    cost_center = django_filters.NumberFilter(field_name="cost_center_id")
    search = django_filters.CharFilter(
        method="filter_search", label="Part of the first or last name, or the employee number."
    )

    class Meta:
        model = Driver
        fields = ["fleet", "status", "cost_center"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        matches = Q()
        for word in value.split():
            matches &= (
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(employee_number__iexact=word)
            )
        return queryset.filter(matches)


class FleetChargeTokenFilterSet(django_filters.FilterSet):
    driver = django_filters.NumberFilter(field_name="driver_id")
    uid = django_filters.CharFilter(method="filter_uid", label="The UID, in any case.")

    class Meta:
        model = ChargeToken
        fields = ["driver", "is_active", "kind"]

    def filter_uid(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(uid=value.strip().upper())
