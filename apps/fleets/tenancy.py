"""Fleet tenancy for the admin: every staff user who is not a superuser sees and changes only
rows of the fleets where they hold a membership, with what their role allows."""

from collections.abc import Callable
from functools import reduce

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path, model_ngettext
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import JSONField, Model, Q, QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from apps.fleets.choices import MembershipRole
from apps.fleets.exceptions import FleetNotYours
from apps.fleets.models import Fleet
from apps.fleets.selectors import (
    EDITING_ROLES,
    MembershipGrant,
    fleet_list_for_user,
    membership_grants_for_user,
)
from voltop.core.admin_forms import LimitedJSONFormField
from voltop.core.admin_history import RecordedHistoryAdminMixin
from voltop.core.admin_lists import FastChangeListMixin
from voltop.core.errors import DomainError


def fleet_id_of(obj: Model, fleet_path: str) -> int | None:
    """Follow `fleet_path` ("fleet", "station__fleet", "" for a Fleet) from `obj` to a fleet id."""
    if not fleet_path:
        return obj.pk
    *hops, last = fleet_path.split("__")
    target = reduce(lambda current, hop: getattr(current, hop, None), hops, obj)
    return getattr(target, f"{last}_id", None) if target is not None else None


def request_memberships(request: HttpRequest) -> list[MembershipGrant]:
    """The memberships of the request's user (fleet, role, whether the fleet requires
    two-factor logins), read in one query once per request: every role's fleets and the
    two-factor requirement are taken from it."""
    if not hasattr(request, "_voltop_memberships"):
        request._voltop_memberships = membership_grants_for_user(request.user)
    return request._voltop_memberships


def request_fleet_ids(request: HttpRequest, roles: frozenset[str] | None = None) -> set[int]:
    """Fleet ids of the request's user (with one of `roles`), read once per request."""
    return {
        grant.fleet_id
        for grant in request_memberships(request)
        if roles is None or grant.role in roles
    }


CURRENT_FLEET_SESSION_KEY = "voltop_fleet_id"


def request_current_fleet(request: HttpRequest) -> Fleet | None:
    """The fleet the request's user works on in the admin: the one picked in the fleet picker
    (kept in the session) while it is still one of their fleets, else their only fleet, else
    None. A superuser may pick any fleet. Read once per request."""
    if not hasattr(request, "_voltop_current_fleet"):
        request._voltop_current_fleet = _current_fleet_read(request)
    return request._voltop_current_fleet


def _current_fleet_read(request: HttpRequest) -> Fleet | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return None
    picked_id = request.session.get(CURRENT_FLEET_SESSION_KEY)
    if user.is_superuser:
        fleets = Fleet.objects.order_by("pk")
        picked = fleets.filter(pk=picked_id).first() if picked_id is not None else None
        if picked is not None:
            return picked
        only = list(fleets[:2])
        return only[0] if len(only) == 1 else None
    fleet_ids = request_fleet_ids(request)
    if picked_id in fleet_ids:
        return Fleet.objects.filter(pk=picked_id).first()
    if len(fleet_ids) == 1:
        return Fleet.objects.filter(pk__in=fleet_ids).first()
    return None


def request_fleet_pick(request: HttpRequest, fleet_id: object) -> Fleet:
    """Make the fleet `fleet_id` the request's current fleet, kept in the session. Refused,
    with nothing changed, when it is not one of the user's fleets (any fleet for a
    superuser)."""
    fleet = None
    if request.user.is_authenticated and request.user.is_staff:
        try:
            fleet = fleet_list_for_user(request.user).filter(pk=int(str(fleet_id))).first()
        except ValueError:
            fleet = None
    if fleet is None:
        raise FleetNotYours("You have no access to this fleet.", field="fleet")
    request.session[CURRENT_FLEET_SESSION_KEY] = fleet.pk
    request._voltop_current_fleet = fleet
    return fleet


class FleetScopedAdminMixin:
    """Scopes a ModelAdmin or inline to the user's fleets and derives permissions from roles.

    `fleet_path` is the lookup from the model to its Fleet. `editing_roles` are the membership
    roles that may add, change and delete rows; every member may view. Rows a user may pick in a
    foreign key (form choices and autocomplete alike) are those of the fleets they may edit in.
    """

    fleet_path: str = "fleet"
    editing_roles: frozenset[str] = EDITING_ROLES
    # JSON typed into a form is read within the limits of all outside JSON.
    formfield_overrides = {JSONField: {"form_class": LimitedJSONFormField}}

    def scope_queryset(
        self, request: HttpRequest, queryset: QuerySet, roles: frozenset[str] | None = None
    ) -> QuerySet:
        """`queryset` narrowed to the fleets where the user holds one of `roles` (any if None)."""
        if request.user.is_superuser:
            return queryset
        lookup = f"{self.fleet_path}__in" if self.fleet_path else "pk__in"
        return queryset.filter(**{lookup: request_fleet_ids(request, roles)})

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return self.scope_queryset(request, super().get_queryset(request))

    def permission_fleet_path(self) -> str:
        """The path to the fleet from the object Django passes to the permission checks."""
        return self.fleet_path

    def _allowed(self, request: HttpRequest, obj: Model | None, roles) -> bool:
        if request.user.is_superuser:
            return True
        if not request.user.is_active or not request.user.is_staff:
            return False
        fleet_ids = request_fleet_ids(request, roles)
        if obj is None or obj.pk is None:
            return bool(fleet_ids)
        return fleet_id_of(obj, self.permission_fleet_path()) in fleet_ids

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

    def related_choices(self, request: HttpRequest, related_model: type[Model]) -> QuerySet | None:
        """Rows of `related_model` the user may point a foreign key at, None if not fleet-owned."""
        if request.user.is_superuser:
            return None
        if related_model is get_user_model():
            fleet_ids = request_fleet_ids(request, self.editing_roles)
            return related_model._default_manager.filter(
                Q(memberships__fleet__in=fleet_ids) | Q(driver__fleet__in=fleet_ids)
            ).distinct()
        related_admin = self.admin_site._registry.get(related_model)
        if isinstance(related_admin, FleetScopedAdminMixin):
            return related_admin.scope_queryset(
                request, related_model._default_manager.all(), self.editing_roles
            )
        return None

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        """Offer only related rows the user may edit with (their fleets' depots, drivers, …)."""
        choices = self.related_choices(request, db_field.remote_field.model)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_autocomplete_fields(self, request: HttpRequest) -> list[str]:
        """Autocomplete only where the related admin is fleet-scoped, except for superusers:
        another admin (users) would refuse or show everything; fleet staff get a short select."""
        fields = list(super().get_autocomplete_fields(request))
        if request.user.is_superuser:
            return fields
        return [
            name
            for name in fields
            if isinstance(
                self.admin_site._registry.get(self.model._meta.get_field(name).related_model),
                FleetScopedAdminMixin,
            )
        ]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """In an autocomplete, offer the rows the form of the asking admin accepts."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        source_admin = self._autocomplete_source_admin(request)
        if source_admin is not None:
            queryset = self.scope_queryset(request, queryset, source_admin.editing_roles)
        return queryset, may_have_duplicates

    def _autocomplete_source_admin(self, request: HttpRequest) -> "FleetScopedAdminMixin | None":
        match = request.resolver_match
        if match is None or match.url_name != "autocomplete":
            return None
        try:
            source_model = apps.get_model(request.GET["app_label"], request.GET["model_name"])
        except (KeyError, LookupError):
            return None
        source_admin = self.admin_site._registry.get(source_model)
        return source_admin if isinstance(source_admin, FleetScopedAdminMixin) else None

    def get_list_filter(self, request: HttpRequest) -> list:
        """Filters on a relation list only related rows of the user's fleets; the plain filter
        would list every fleet's depots, cost centers, fleets, … A fleet-owned relation lists
        its own rows of those fleets, read from its table; any other relation the related rows
        of the rows the user sees."""
        return [
            (item, self._relation_filter(item))
            if isinstance(item, str) and _is_relation_path(self.model, item)
            else item
            for item in super().get_list_filter(request)
        ]

    def _relation_filter(self, path: str) -> type[admin.ListFilter]:
        related_model = get_fields_from_path(self.model, path)[-1].related_model
        if isinstance(self.admin_site._registry.get(related_model), FleetScopedAdminMixin):
            return FleetScopedRelatedFieldListFilter
        return admin.RelatedOnlyFieldListFilter

    def editable_fleets(self, request: HttpRequest) -> QuerySet:
        """The fleets where the user may add or change rows of this admin."""
        if request.user.is_superuser:
            return Fleet.objects.all()
        return Fleet.objects.filter(pk__in=request_fleet_ids(request, self.editing_roles))

    def save_form(self, request: HttpRequest, form, change: bool):
        """Last guard before saving: the row, as the form left it, is in a fleet the user edits."""
        obj = super().save_form(request, form, change)
        if not request.user.is_superuser:
            editing_fleet_ids = request_fleet_ids(request, self.editing_roles)
            if fleet_id_of(obj, self.fleet_path) not in editing_fleet_ids:
                raise PermissionDenied
        return obj


class FleetScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A filter on a relation to a fleet-owned model, offering that model's rows in the user's
    fleets, read from its own table. Unlike RelatedOnlyFieldListFilter it never reads the
    filtered table (a DISTINCT over every session on each page load), so its cost does not grow
    with the list."""

    def field_choices(self, field, request: HttpRequest, model_admin) -> list[tuple]:
        related_model = field.related_model
        related_admin = model_admin.admin_site._registry[related_model]
        rows = related_admin.scope_queryset(request, related_model._default_manager.all())
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            rows = rows.order_by(*ordering)
        return [(row.pk, str(row)) for row in rows]


def _is_relation_path(model: type[Model], path: str) -> bool:
    try:
        return get_fields_from_path(model, path)[-1].is_relation
    except FieldDoesNotExist:
        return False


def action_report(opts, acted: int, done: str, refusals: list[str]) -> str:
    """What an admin action did, as its message says it: "12 charging sessions approved." or
    "12 charging sessions approved, 1 refused: <row>: <why>"."""
    report = f"{acted} {model_ngettext(opts, acted)} {done}"
    if not refusals:
        return f"{report}."
    return f"{report}, {len(refusals)} refused: {' '.join(refusals)}"


class FleetScopedAdmin(
    FleetScopedAdminMixin, RecordedHistoryAdminMixin, FastChangeListMixin, ModelAdmin
):
    """ModelAdmin of a model that belongs to a fleet; its "History" page shows the changes
    recorded of a row it follows, for the rows the user sees."""

    list_per_page = 50
    show_full_result_count = False

    def act_per_row(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        act: Callable[[Model], object],
        done: str,
        roles: frozenset[str] | None = None,
    ) -> None:
        """An admin action's work: call `act` (a service, each call its own transaction) on
        each selected row of a fleet where the user holds one of `roles` (`editing_roles` by
        default). One message reports what was done and each refused row with why ("12
        charging sessions approved, 1 refused: …"); a refused row changes nothing. The rows
        the user's role leaves unchanged are reported apart."""
        selected = queryset.count()
        rows = list(self.scope_queryset(request, queryset, roles or self.editing_roles))
        acted, refusals = 0, []
        for row in rows:
            try:
                act(row)
            except DomainError as error:
                refusals.append(f"{row}: {error.message}")
            else:
                acted += 1
        self.message_user(
            request,
            action_report(self.opts, acted, done, refusals),
            messages.SUCCESS if acted and not refusals else messages.WARNING,
        )
        skipped = selected - len(rows)
        if skipped:
            self.message_user(
                request,
                f"{skipped} {model_ngettext(self.opts, skipped)} left unchanged: your role in "
                "their fleet does not allow this.",
                messages.WARNING,
            )


class FleetScopedInlineMixin(FleetScopedAdminMixin):
    """Inline of a model that belongs to a fleet through its parent.

    Django passes an inline's permission checks the parent object, not a row of the inline, so
    they follow `parent_fleet_path`: by default the `fleet_path` of the parent's admin.
    """

    extra = 0
    parent_fleet_path: str | None = None

    def permission_fleet_path(self) -> str:
        if self.parent_fleet_path is not None:
            return self.parent_fleet_path
        return self.admin_site._registry[self.parent_model].fleet_path


class FleetScopedTabularInline(FleetScopedInlineMixin, TabularInline):
    """Tabular inline of a model that belongs to a fleet through its parent."""


class FleetScopedStackedInline(FleetScopedInlineMixin, StackedInline):
    """Stacked inline of a model that belongs to a fleet through its parent."""


FINANCE_ROLES = frozenset({MembershipRole.ADMIN, MembershipRole.FINANCE})
ADMIN_ROLES = frozenset({MembershipRole.ADMIN})
