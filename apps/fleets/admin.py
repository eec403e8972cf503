"""Admin of the fleets app: fleets, depots, cost centers, memberships, API keys."""

from django.contrib import admin, messages
from django.http import HttpRequest

from apps.fleets.admin_deletion import DeletesThroughServiceFormSet, DeletesThroughServiceMixin
from apps.fleets.models import CostCenter, Depot, Fleet, FleetApiKey, Membership
from apps.fleets.services import (
    cost_center_delete,
    cost_center_delete_check,
    depot_delete,
    depot_delete_check,
    fleet_api_key_issue,
    fleet_api_key_revoke,
)
from apps.fleets.tenancy import ADMIN_ROLES, FleetScopedAdmin, FleetScopedTabularInline


class DepotFormSet(DeletesThroughServiceFormSet):
    def delete_check(self, obj: Depot) -> None:
        depot_delete_check(depot=obj)

    def delete_with_service(self, obj: Depot) -> None:
        depot_delete(depot=obj)


class CostCenterFormSet(DeletesThroughServiceFormSet):
    def delete_check(self, obj: CostCenter) -> None:
        cost_center_delete_check(cost_center=obj)

    def delete_with_service(self, obj: CostCenter) -> None:
        cost_center_delete(cost_center=obj)


class DepotInline(FleetScopedTabularInline):
    model = Depot
    formset = DepotFormSet
    fields = ["name", "address", "grid_connection_limit_kw"]
    fleet_path = "fleet"


class CostCenterInline(FleetScopedTabularInline):
    model = CostCenter
    formset = CostCenterFormSet
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
class DepotAdmin(DeletesThroughServiceMixin, FleetScopedAdmin):
    list_display = ["name", "fleet", "grid_connection_limit_kw"]
    list_filter = ["fleet"]
    list_select_related = ["fleet"]
    search_fields = ["name", "address"]
    autocomplete_fields = ["fleet"]

    def delete_check(self, obj: Depot) -> None:
        depot_delete_check(depot=obj)

    def delete_with_service(self, obj: Depot) -> None:
        depot_delete(depot=obj)


@admin.register(CostCenter)
class CostCenterAdmin(DeletesThroughServiceMixin, FleetScopedAdmin):
    list_display = ["code", "name", "fleet", "is_active"]
    list_filter = ["fleet", "is_active"]
    list_select_related = ["fleet"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["fleet"]

    def delete_check(self, obj: CostCenter) -> None:
        cost_center_delete_check(cost_center=obj)

    def delete_with_service(self, obj: CostCenter) -> None:
        cost_center_delete(cost_center=obj)


@admin.register(Membership)
class MembershipAdmin(FleetScopedAdmin):
    editing_roles = ADMIN_ROLES
    list_display = ["user", "fleet", "role", "created_at"]
    list_filter = ["fleet", "role"]
    list_select_related = ["user", "fleet"]
    search_fields = ["user__username", "user__email", "fleet__name"]
    autocomplete_fields = ["fleet", "user"]


@admin.register(FleetApiKey)
class FleetApiKeyAdmin(FleetScopedAdmin):
    """A fleet admin makes a key (shown once, here) and revokes it; a key is never edited."""

    editing_roles = ADMIN_ROLES
    list_display = ["name", "fleet", "role", "prefix", "last_used_at", "revoked_at"]
    list_filter = ["fleet", "role"]
    list_select_related = ["fleet"]
    search_fields = ["name", "prefix"]
    autocomplete_fields = ["fleet"]
    fields = ["fleet", "name", "role", "prefix", "created_by", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is not None:
            return [*self.fields]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: FleetApiKey, form, change: bool) -> None:
        key, text = fleet_api_key_issue(
            fleet=obj.fleet, name=obj.name, role=obj.role, created_by=request.user
        )
        obj.pk = key.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            f"The key for {key.name} is {text} — copy it now: it is not shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        self.act_per_row(request, queryset, lambda key: fleet_api_key_revoke(key=key), "revoked")
