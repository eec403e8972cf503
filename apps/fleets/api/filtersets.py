"""Filters of the fleet endpoints of the fleets app. Foreign keys filter by id without looking
the row up, so an id of another fleet simply matches nothing (and costs no query)."""

import django_filters

from apps.fleets.models import CostCenter, Depot, FleetApiKey, Invitation, Membership


class DepotFilterSet(django_filters.FilterSet):
    fleet = django_filters.NumberFilter(field_name="fleet_id")

    class Meta:
        model = Depot
        fields = ["fleet"]


class CostCenterFilterSet(django_filters.FilterSet):
    fleet = django_filters.NumberFilter(field_name="fleet_id")

    class Meta:
        model = CostCenter
        fields = ["fleet", "is_active"]


class MembershipFilterSet(django_filters.FilterSet):
    fleet = django_filters.NumberFilter(field_name="fleet_id")

    class Meta:
        model = Membership
        fields = ["fleet", "role"]


class FleetApiKeyFilterSet(django_filters.FilterSet):
    fleet = django_filters.NumberFilter(field_name="fleet_id")
    is_revoked = django_filters.BooleanFilter(
        field_name="revoked_at", lookup_expr="isnull", exclude=True, label="Only revoked keys."
    )

    class Meta:
        model = FleetApiKey
        fields = ["fleet", "role"]


class InvitationFilterSet(django_filters.FilterSet):
    fleet = django_filters.NumberFilter(field_name="fleet_id")
    is_open = django_filters.BooleanFilter(
        method="filter_open", label="Only invitations neither accepted nor revoked."
    )

    class Meta:
        model = Invitation
        fields = ["fleet", "role"]

    def filter_open(self, queryset, name, value):
        open_rows = {"accepted_at__isnull": True, "revoked_at__isnull": True}
        return queryset.filter(**open_rows) if value else queryset.exclude(**open_rows)
