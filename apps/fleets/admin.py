"""Admin of the fleets app: fleets, depots, cost centers, memberships."""

from django.contrib import admin
from django.http import HttpRequest

from apps.fleets.models import CostCenter, Depot, Fleet, Membership
from apps.fleets.tenancy import ADMIN_ROLES, FleetScopedAdmin, FleetScopedTabularInline


class DepotInline(FleetScopedTabularInline):
    model = Depot
    fields = ["name", "address", "grid_connection_limit_kw"]
    fleet_path = "fleet"


class CostCenterInline(FleetScopedTabularInline):
    model = CostCenter
    fields = ["code", "name", "is_active"]
    fleet_path = "fleet"


@admin.register(Fleet)
class FleetAdmin(FleetScopedAdmin):
    fleet_path = ""
    editing_roles = ADMIN_ROLES
    list_display = ["name", "slug", "country", "currency", "time_zone", "default_vat_rate"]
    list_filter = ["country", "currency"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [DepotInline, CostCenterInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(Depot)
class DepotAdmin(FleetScopedAdmin):
    list_display = ["name", "fleet", "grid_connection_limit_kw"]
    list_filter = ["fleet"]
    list_select_related = ["fleet"]
    search_fields = ["name", "address"]
    autocomplete_fields = ["fleet"]


@admin.register(CostCenter)
class CostCenterAdmin(FleetScopedAdmin):
    list_display = ["code", "name", "fleet", "is_active"]
    list_filter = ["fleet", "is_active"]
    list_select_related = ["fleet"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["fleet"]


@admin.register(Membership)
class MembershipAdmin(FleetScopedAdmin):
    editing_roles = ADMIN_ROLES
    list_display = ["user", "fleet", "role", "created_at"]
    list_filter = ["fleet", "role"]
    list_select_related = ["user", "fleet"]
    search_fields = ["user__username", "user__email", "fleet__name"]
    autocomplete_fields = ["fleet", "user"]
