"""Fleet tenancy for the admin: every staff user who is not a superuser sees and changes only
rows of the fleets where they hold a membership, with what their role allows."""

from functools import reduce

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Fleet
from apps.fleets.selectors import EDITING_ROLES, fleet_ids_for_user


def fleet_id_of(obj: Model, fleet_path: str) -> int | None:
    """Follow `fleet_path` ("fleet", "station__fleet", "" for a Fleet) from `obj` to a fleet id."""
    if not fleet_path:
        return obj.pk
    *hops, last = fleet_path.split("__")
    target = reduce(lambda current, hop: getattr(current, hop, None), hops, obj)
    return getattr(target, f"{last}_id", None) if target is not None else None


def _memberships_cache(request: HttpRequest) -> dict:
    if not hasattr(request, "_voltop_fleet_ids"):
        request._voltop_fleet_ids = {}
    return request._voltop_fleet_ids


def request_fleet_ids(request: HttpRequest, roles: frozenset[str] | None = None) -> set[int]:
    """Fleet ids of the request's user (with one of `roles`), read once per request."""
    cache = _memberships_cache(request)
    key = roles or "any"
    if key not in cache:
        cache[key] = fleet_ids_for_user(request.user, roles=roles)
    return cache[key]


class FleetScopedAdminMixin:
    """Scopes a ModelAdmin or inline to the user's fleets and derives permissions from roles.

    `fleet_path` is the lookup from the model to its Fleet. `editing_roles` are the membership
    roles that may add, change and delete rows; every member may view.
    """

    fleet_path: str = "fleet"
    editing_roles: frozenset[str] = EDITING_ROLES

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if request.user.is_superuser:
            return queryset
        lookup = f"{self.fleet_path}__in" if self.fleet_path else "pk__in"
        return queryset.filter(**{lookup: request_fleet_ids(request)})

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return self.scope_queryset(request, super().get_queryset(request))

    def _allowed(self, request: HttpRequest, obj: Model | None, roles) -> bool:
        if request.user.is_superuser:
            return True
        if not request.user.is_active or not request.user.is_staff:
            return False
        fleet_ids = request_fleet_ids(request, roles)
        if obj is None or obj.pk is None:
            return bool(fleet_ids)
        return fleet_id_of(obj, self.fleet_path) in fleet_ids

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, None, None)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj, None)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return self._allowed(request, None, self.editing_roles)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj, self.editing_roles)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, obj, self.editing_roles)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        """Offer only related rows the user may edit with (their fleets' depots, drivers, …)."""
        if not request.user.is_superuser:
            related_model = db_field.remote_field.model
            if related_model is Fleet:
                kwargs["queryset"] = Fleet.objects.filter(
                    pk__in=request_fleet_ids(request, self.editing_roles)
                )
            elif related_model is get_user_model():
                fleet_ids = request_fleet_ids(request)
                kwargs["queryset"] = related_model._default_manager.filter(
                    Q(memberships__fleet__in=fleet_ids) | Q(driver__fleet__in=fleet_ids)
                ).distinct()
            else:
                related_admin = self.admin_site._registry.get(related_model)
                if isinstance(related_admin, FleetScopedAdminMixin):
                    kwargs["queryset"] = related_admin.scope_queryset(
                        request, related_model._default_manager.all()
                    )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class FleetScopedAdmin(FleetScopedAdminMixin, admin.ModelAdmin):
    """ModelAdmin of a model that belongs to a fleet."""

    list_per_page = 50
    show_full_result_count = False


class FleetScopedTabularInline(FleetScopedAdminMixin, admin.TabularInline):
    """Inline of a model that belongs to a fleet through its parent."""

    extra = 0


FINANCE_ROLES = frozenset({MembershipRole.ADMIN, MembershipRole.FINANCE})
ADMIN_ROLES = frozenset({MembershipRole.ADMIN})
