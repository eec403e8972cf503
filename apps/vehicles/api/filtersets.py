"""Filters of the fleet endpoints of the vehicles app. Foreign keys filter by id without looking
the row up, so an id of another fleet simply matches nothing (and costs no query)."""

import django_filters
from django.db.models import Q, QuerySet

from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment


class FleetVehicleFilterSet(django_filters.FilterSet):
    fleet = django_filters.NumberFilter(field_name="fleet_id")
    home_depot = django_filters.NumberFilter(field_name="home_depot_id")
    cost_center = django_filters.NumberFilter(field_name="cost_center_id")
    search = django_filters.CharFilter(
        method="filter_search", label="Part of the licence plate or the VIN."
    )

    class Meta:
        model = Vehicle
        fields = ["fleet", "status", "home_depot", "cost_center"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        text = value.strip()
        return queryset.filter(Q(plate__icontains=text) | Q(vin__icontains=text))


class FleetVehicleAssignmentFilterSet(django_filters.FilterSet):
    vehicle = django_filters.NumberFilter(field_name="vehicle_id")
    driver = django_filters.NumberFilter(field_name="driver_id")
    is_open = django_filters.BooleanFilter(
        field_name="ends_at", lookup_expr="isnull", label="Only assignments without an end."
    )

    class Meta:
        model = VehicleAssignment
        fields = ["vehicle", "driver"]


class FleetOdometerReadingFilterSet(django_filters.FilterSet):
    vehicle = django_filters.NumberFilter(field_name="vehicle_id")

    class Meta:
        model = OdometerReading
        fields = ["vehicle"]
