"""Every interface goes through the services: a walk over every registered ModelAdmin, each of
its inlines and each of its actions, as a superuser (who may do whatever the admin allows).
Each one that can write (add, change a field, delete, or an action that is not read-only)
must declare the service that write calls (`WritesThroughServices.write_services`) and route
it there: save_model for the add and change pages, which are SavesThroughServices so that a
refusal the service raises after the form's checks is shown, not a server error; no change
page lets a row's fleet be changed (its update service refuses it);
DeletesThroughServiceMixin for the delete page and action, a formset of
SavesThroughServiceFormSet / DeletesThroughServiceFormSet for inline rows, and for an admin
with a password page (Django's user admin) a password form whose save is its own. An admin
registered without that fails here."""

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.test import RequestFactory

from apps.fleets.admin import DepotAdmin
from apps.fleets.admin_deletion import DeletesThroughServiceFormSet, DeletesThroughServiceMixin
from apps.fleets.admin_logins import LoginAdmin
from apps.fleets.admin_writes import (
    SavesThroughServiceFormSet,
    SavesThroughServices,
    WritesThroughServices,
)
from apps.fleets.models import Depot, Fleet
from apps.fleets.services import (
    depot_create,
    depot_delete,
    depot_update,
    login_create,
    login_delete,
    login_set_password,
    login_update,
)

# Modules of an app's writes kept beside its services.py, one flow each.
SERVICE_MODULES_BESIDE_SERVICES = frozenset(
    {
        "apps.fleets.invitations",
        "apps.payments.payouts",
        "apps.payments.payroll",
        "apps.charging.chargers",
        "apps.charging.charger_calls",
    }
)

# Admins of other packages, left as they are, each with the reason.
OUTSIDE_THE_DOMAIN = {
    "django.contrib.auth.admin.GroupAdmin": "permission groups: superusers only, no fleet data",
    "rest_framework_simplejwt.token_blacklist.admin.OutstandingTokenAdmin": "issued JWTs, "
    "written by the login endpoints",
    "rest_framework_simplejwt.token_blacklist.admin.BlacklistedTokenAdmin": "revoked JWTs, "
    "written by the logout endpoint",
    "django_otp.plugins.otp_totp.admin.TOTPDeviceAdmin": "authenticator apps of logins: "
    "superusers only, to remove a lost one; staff turn their own on at the admin's two-factor "
    "page (apps.fleets.two_factor)",
}


def class_path(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = get_user_model()(
        username="walker", is_superuser=True, is_staff=True, is_active=True
    )
    return request


def editable_fields(options, request, obj) -> set[str]:
    fields = set(flatten_fieldsets(options.get_fieldsets(request, obj)))
    return fields - set(options.get_readonly_fields(request, obj))


def moves_fleet(options, request, obj) -> bool:
    """Whether the change page of `obj` offers to change the fleet it belongs to."""
    fields = {field.name for field in obj._meta.get_fields()}
    return "fleet" in fields and "fleet" in editable_fields(options, request, obj)


# Write services of an app kept in a module of their own, beside its services.py.


def declared(options, write: str) -> str | None:
    """Why `write` of `options` (an admin or inline) is not declared as calling a service, or
    None when it is."""
    if not isinstance(options, WritesThroughServices):
        return "is not a WritesThroughServices"
    service = options.write_services.get(write)
    if service is None:
        return "declares no service for it"
    module = getattr(service, "__module__", "")
    if module not in SERVICE_MODULES_BESIDE_SERVICES and not (
        module.startswith("apps.") and module.endswith(".services")
    ):
        return f"declares {service!r}, which is not a function of an app's services module"
    return None


def direct_writes(site: admin.AdminSite, request) -> list[str]:
    """Every write of the admins registered on `site` that does not go through a service:
    "<admin> <write>: <why>"."""
    problems: list[str] = []

    def refuse(where: str, write: str, why: str | None) -> None:
        if why is not None:
            problems.append(f"{where} {write}: {why}")

    for model, model_admin in site._registry.items():
        if class_path(model_admin) in OUTSIDE_THE_DOMAIN:
            continue
        where = type(model_admin).__name__
        obj = model(pk=1)
        writes = []
        if model_admin.has_add_permission(request):
            writes.append("add")
        if model_admin.has_change_permission(request, obj) and editable_fields(
            model_admin, request, obj
        ):
            writes.append("change")
        for write in writes:
            refuse(where, write, declared(model_admin, write))
            if type(model_admin).save_model is admin.ModelAdmin.save_model:
                refuse(where, write, "saves with Django's own save_model")
            if not isinstance(model_admin, SavesThroughServices):
                refuse(where, write, "is not a SavesThroughServices")
        if "change" in writes and model is not Fleet and moves_fleet(model_admin, request, obj):
            refuse(where, "change", "lets a row's fleet be changed")
        if model_admin.has_delete_permission(request, obj):
            refuse(where, "delete", declared(model_admin, "delete"))
            if not isinstance(model_admin, DeletesThroughServiceMixin):
                refuse(where, "delete", "is not a DeletesThroughServiceMixin")
        password_form = getattr(model_admin, "change_password_form", None)
        if password_form is not None and model_admin.has_change_permission(request, obj):
            refuse(where, "password", declared(model_admin, "password"))
            if password_form.save is AdminPasswordChangeForm.save:
                refuse(where, "password", "sets it with Django's own password form")
        for name, (action, _name, _description) in model_admin.get_actions(request).items():
            if name == "delete_selected":
                continue  # deletes through delete_queryset, held above
            if set(getattr(action, "allowed_permissions", ())) <= {"view"}:
                continue  # reads only (an export)
            refuse(where, f"action {name}", declared(model_admin, name))
        for inline in model_admin.get_inline_instances(request, obj):
            inline_where = f"{where} / {type(inline).__name__}"
            formset = inline.get_formset(request, obj)
            inline_writes = []
            if inline.has_add_permission(request, obj):
                inline_writes.append("add")
            if inline.has_change_permission(request, obj) and editable_fields(inline, request, obj):
                inline_writes.append("change")
            for write in inline_writes:
                refuse(inline_where, write, declared(inline, write))
                if not issubclass(formset, SavesThroughServiceFormSet):
                    refuse(inline_where, write, "rows are not saved by a service's formset")
            if inline.can_delete and inline.has_delete_permission(request, obj):
                refuse(inline_where, "delete", declared(inline, "delete"))
                if not issubclass(formset, DeletesThroughServiceFormSet):
                    refuse(inline_where, "delete", "rows are not deleted by a service's formset")
    return problems


def test_every_registered_admin_inline_and_action_writes_through_a_service():
    assert direct_writes(admin.site, superuser_request()) == []


def test_the_admins_left_out_are_registered_ones_of_other_packages():
    registered = {class_path(model_admin) for model_admin in admin.site._registry.values()}

    assert set(OUTSIDE_THE_DOMAIN) <= registered
    assert not any(path.startswith(("apps.", "voltop.")) for path in OUTSIDE_THE_DOMAIN)


def test_a_plain_model_admin_that_writes_directly_is_caught():
    site = admin.AdminSite(name="probe")
    site.register(Depot)

    assert direct_writes(site, superuser_request()) == [
        "ModelAdmin add: is not a WritesThroughServices",
        "ModelAdmin add: saves with Django's own save_model",
        "ModelAdmin add: is not a SavesThroughServices",
        "ModelAdmin change: is not a WritesThroughServices",
        "ModelAdmin change: saves with Django's own save_model",
        "ModelAdmin change: is not a SavesThroughServices",
        "ModelAdmin change: lets a row's fleet be changed",
        "ModelAdmin delete: is not a WritesThroughServices",
        "ModelAdmin delete: is not a DeletesThroughServiceMixin",
    ]


def test_a_declared_admin_that_still_saves_or_deletes_directly_is_caught():
    class DeclaringDepotAdmin(WritesThroughServices, admin.ModelAdmin):
        write_services = {"add": depot_create, "change": depot_update, "delete": depot_delete}

    site = admin.AdminSite(name="probe")
    site.register(Depot, DeclaringDepotAdmin)

    assert direct_writes(site, superuser_request()) == [
        "DeclaringDepotAdmin add: saves with Django's own save_model",
        "DeclaringDepotAdmin add: is not a SavesThroughServices",
        "DeclaringDepotAdmin change: saves with Django's own save_model",
        "DeclaringDepotAdmin change: is not a SavesThroughServices",
        "DeclaringDepotAdmin change: lets a row's fleet be changed",
        "DeclaringDepotAdmin delete: is not a DeletesThroughServiceMixin",
    ]


def test_an_admin_saving_through_services_that_lets_a_rows_fleet_change_is_caught():
    class MovingDepotAdmin(
        WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, admin.ModelAdmin
    ):
        write_services = {"add": depot_create, "change": depot_update, "delete": depot_delete}

        def save_model(self, request, obj, form, change) -> None:
            depot_update(depot=obj, changes={})

    site = admin.AdminSite(name="probe")
    site.register(Depot, MovingDepotAdmin)
    fixed = type("FixedDepotAdmin", (MovingDepotAdmin,), {"fixed_once_made": ("fleet",)})
    fixed_site = admin.AdminSite(name="probe_fixed")
    fixed_site.register(Depot, fixed)

    assert direct_writes(site, superuser_request()) == [
        "MovingDepotAdmin change: lets a row's fleet be changed"
    ]
    assert direct_writes(fixed_site, superuser_request()) == []


def test_an_inline_or_action_that_writes_directly_is_caught():
    class PlainDepotInline(admin.TabularInline):
        model = Depot
        fields = ["name"]

    @admin.action(description="Rename", permissions=["change"])
    def rename(model_admin, request, queryset):
        queryset.update(name="Renamed")

    class FleetWithPlainInlineAdmin(WritesThroughServices, admin.ModelAdmin):
        inlines = [PlainDepotInline]
        actions = [rename]

        def has_add_permission(self, request) -> bool:
            return False

        def has_change_permission(self, request, obj=None) -> bool:
            return obj is None

        def has_delete_permission(self, request, obj=None) -> bool:
            return False

    site = admin.AdminSite(name="probe")
    site.register(Fleet, FleetWithPlainInlineAdmin)

    assert direct_writes(site, superuser_request()) == [
        "FleetWithPlainInlineAdmin action rename: declares no service for it",
        "FleetWithPlainInlineAdmin / PlainDepotInline add: is not a WritesThroughServices",
        "FleetWithPlainInlineAdmin / PlainDepotInline add: rows are not saved by a service's "
        "formset",
        "FleetWithPlainInlineAdmin / PlainDepotInline change: is not a WritesThroughServices",
        "FleetWithPlainInlineAdmin / PlainDepotInline change: rows are not saved by a "
        "service's formset",
        "FleetWithPlainInlineAdmin / PlainDepotInline delete: is not a WritesThroughServices",
        "FleetWithPlainInlineAdmin / PlainDepotInline delete: rows are not deleted by a "
        "service's formset",
    ]


def test_the_walk_sees_the_depot_admins_writes_as_declared():
    """The walk does look at a registered admin: DepotAdmin allows all three writes."""
    depot_admin = admin.site._registry[Depot]

    assert isinstance(depot_admin, DepotAdmin)
    assert set(depot_admin.write_services) == {"add", "change", "delete"}


def test_a_user_admin_whose_password_page_saves_directly_is_caught():
    class DeclaringUserAdmin(
        WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, UserAdmin
    ):
        write_services = dict.fromkeys(["add", "change", "delete"], login_create)

        def save_model(self, request, obj, form, change) -> None:
            login_create(username=obj.username, email=obj.email, password=None)

    site = admin.AdminSite(name="probe")
    site.register(get_user_model(), DeclaringUserAdmin)

    assert direct_writes(site, superuser_request()) == [
        "DeclaringUserAdmin password: declares no service for it",
        "DeclaringUserAdmin password: sets it with Django's own password form",
    ]


def test_the_walk_sees_the_login_admins_writes_as_declared():
    """Logins are walked like the apps' admins: add, change, delete and the password page."""
    login_admin = admin.site._registry[get_user_model()]

    assert isinstance(login_admin, LoginAdmin)
    assert login_admin.write_services == {
        "add": login_create,
        "change": login_update,
        "delete": login_delete,
        "password": login_set_password,
    }
