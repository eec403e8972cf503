"""Admin of the drivers app: drivers and their charge tokens."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.services import (
    charge_token_check,
    charge_token_deactivate,
    charge_token_save,
    driver_delete,
    driver_delete_check,
)
from apps.fleets.admin_deletion import DeletesThroughServiceMixin
from apps.fleets.tenancy import FleetScopedAdmin, FleetScopedTabularInline
from apps.vehicles.services import driver_leave_check, driver_set_status_or_leave
from voltop.core.admin_forms import ServiceCheckedForm

STATUS_SET_TEXT = {
    DriverStatus.ACTIVE: "reactivated",
    DriverStatus.SUSPENDED: "suspended",
    DriverStatus.LEFT: "marked as left",
}


class DriverForm(ServiceCheckedForm):
    class Meta:
        model = Driver
        fields = [
            "fleet",
            "employee_number",
            "first_name",
            "last_name",
            "status",
            "email",
            "phone",
            "user",
            "licence_number",
            "licence_expires_on",
            "cost_center",
            "home_rate_per_kwh",
            "iban",
        ]

    def service_check(self) -> None:
        leaving = self.cleaned_data.get("status") == DriverStatus.LEFT
        if self.instance.pk is not None and leaving and self.instance.status != DriverStatus.LEFT:
            driver_leave_check(driver=self.instance, now=timezone.now())


class ChargeTokenForm(ServiceCheckedForm):
    class Meta:
        model = ChargeToken
        fields = ["driver", "uid", "kind", "valid_from", "valid_until", "is_active"]

    def service_check(self) -> None:
        data = self.cleaned_data
        charge_token_check(
            driver=data["driver"],
            uid=data["uid"],
            valid_from=data["valid_from"],
            valid_until=data.get("valid_until"),
            is_active=data.get("is_active", False),
            exclude_pk=self.instance.pk,
        )


class ChargeTokenInline(FleetScopedTabularInline):
    model = ChargeToken
    fleet_path = "driver__fleet"
    fields = ["uid", "kind", "valid_from", "valid_until", "is_active"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Driver)
class DriverAdmin(DeletesThroughServiceMixin, FleetScopedAdmin):
    form = DriverForm
    list_display = [
        "employee_number",
        "last_name",
        "first_name",
        "fleet",
        "cost_center",
        "status",
        "licence_expires_on",
    ]
    list_filter = ["fleet", "status", "cost_center"]
    list_select_related = ["fleet", "cost_center"]
    search_fields = ["employee_number", "first_name", "last_name", "email", "tokens__uid"]
    autocomplete_fields = ["fleet", "cost_center", "user"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ChargeTokenInline]
    actions = ["suspend", "reactivate", "mark_left"]
    fieldsets = [
        (None, {"fields": ["fleet", "employee_number", "first_name", "last_name", "status"]}),
        ("Contact", {"fields": ["email", "phone", "user"]}),
        ("Licence", {"fields": ["licence_number", "licence_expires_on"]}),
        ("Costs and reimbursement", {"fields": ["cost_center", "home_rate_per_kwh", "iban"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Driver, form, change: bool) -> None:
        status_changed = change and "status" in form.changed_data
        super().save_model(request, obj, form, change)
        if status_changed:
            driver_set_status_or_leave(driver=obj, status=obj.status)

    def delete_check(self, obj: Driver) -> None:
        driver_delete_check(driver=obj)

    def delete_with_service(self, obj: Driver) -> None:
        driver_delete(driver=obj)

    def _set_status(self, request: HttpRequest, queryset: QuerySet, status: DriverStatus) -> None:
        self.act_per_row(
            request,
            queryset,
            lambda driver: driver_set_status_or_leave(driver=driver, status=status),
            STATUS_SET_TEXT[status],
        )

    @admin.action(
        description="Suspend selected drivers (deactivates their tokens)", permissions=["change"]
    )
    def suspend(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, DriverStatus.SUSPENDED)

    @admin.action(description="Reactivate selected drivers", permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, DriverStatus.ACTIVE)

    @admin.action(
        description="Mark selected drivers as left (deactivates their tokens, ends their "
        "vehicle assignments)",
        permissions=["change"],
    )
    def mark_left(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, DriverStatus.LEFT)


@admin.register(ChargeToken)
class ChargeTokenAdmin(FleetScopedAdmin):
    form = ChargeTokenForm
    fleet_path = "driver__fleet"
    list_display = ["uid", "driver", "kind", "valid_from", "valid_until", "is_active"]
    list_filter = ["driver__fleet", "kind", "is_active"]
    list_select_related = ["driver"]
    search_fields = ["uid", "driver__first_name", "driver__last_name", "driver__employee_number"]
    autocomplete_fields = ["driver"]
    date_hierarchy = "valid_from"
    actions = ["deactivate"]

    def save_model(self, request: HttpRequest, obj: ChargeToken, form, change: bool) -> None:
        charge_token_save(token=obj)

    @admin.action(
        description="Deactivate selected tokens (lost or stolen cards)", permissions=["change"]
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request, queryset, lambda token: charge_token_deactivate(token=token), "deactivated"
        )
