"""Admin of the vehicles app: vehicles, who drives them, odometer readings; and the drivers'
page, since marking a driver as left there (its status field or its action) ends their vehicle
assignments through driver_leave, a flow of this app."""

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.drivers.admin import ChargeTokenInline
from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.services import (
    driver_create,
    driver_delete,
    driver_delete_check,
    driver_update,
    driver_user_link,
)
from apps.fleets.admin_deletion import DeletesThroughServiceFormSet, DeletesThroughServiceMixin
from apps.fleets.admin_writes import SavesThroughServices, WritesThroughServices, form_changes
from apps.fleets.tenancy import FleetScopedAdmin, FleetScopedTabularInline
from apps.vehicles.choices import ConnectorStandard
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from apps.vehicles.services import (
    driver_leave_check,
    driver_set_status_or_leave,
    odometer_reading_check,
    odometer_reading_correct,
    odometer_reading_delete,
    odometer_reading_record,
    vehicle_assign,
    vehicle_assignment_check,
    vehicle_assignment_delete,
    vehicle_assignment_delete_check,
    vehicle_assignment_update,
    vehicle_create,
    vehicle_delete,
    vehicle_delete_check,
    vehicle_plate_check,
    vehicle_update,
)
from voltop.core.admin_forms import ServiceCheckedForm


class VehicleForm(ServiceCheckedForm):
    connector_standards = forms.MultipleChoiceField(
        choices=ConnectorStandard.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Vehicle
        fields = [
            "fleet",
            "vin",
            "plate",
            "make",
            "model",
            "model_year",
            "usable_battery_kwh",
            "max_ac_kw",
            "max_dc_kw",
            "connector_standards",
            "status",
            "home_depot",
            "cost_center",
        ]

    def service_check(self) -> None:
        fleet = self.cleaned_data.get("fleet") or self.instance.fleet
        vehicle_plate_check(
            fleet_id=fleet.pk, plate=self.cleaned_data["plate"], exclude_pk=self.instance.pk
        )


class VehicleAssignmentForm(ServiceCheckedForm):
    class Meta:
        model = VehicleAssignment
        fields = ["vehicle", "driver", "starts_at", "ends_at"]

    def service_check(self) -> None:
        data = self.cleaned_data
        vehicle_assignment_check(
            vehicle=data.get("vehicle") or self.instance.vehicle,  # read-only once saved
            driver=data["driver"],
            starts_at=data["starts_at"],
            ends_at=data.get("ends_at"),
            # the row as loaded: the form's values reach the instance only after clean()
            stored=self.instance if self.instance.pk is not None else None,
        )


class OdometerReadingForm(ServiceCheckedForm):
    class Meta:
        model = OdometerReading
        fields = ["vehicle", "km", "recorded_at"]

    def service_check(self) -> None:
        data = self.cleaned_data
        odometer_reading_check(
            vehicle=data.get("vehicle") or self.instance.vehicle,  # read-only once saved
            km=data["km"],
            recorded_at=data["recorded_at"],
            exclude_pk=self.instance.pk,
        )


class VehicleAssignmentFormSet(DeletesThroughServiceFormSet):
    def delete_check(self, obj: VehicleAssignment) -> None:
        vehicle_assignment_delete_check(assignment=obj, now=timezone.now())

    def delete_with_service(self, obj: VehicleAssignment) -> None:
        vehicle_assignment_delete(assignment=obj)


class VehicleAssignmentInline(WritesThroughServices, FleetScopedTabularInline):
    """Who drives the vehicle, read-only on its page; an assignment ticked for deletion is
    deleted by the service, which keeps one that has started."""

    model = VehicleAssignment
    formset = VehicleAssignmentFormSet
    write_services = {"delete": vehicle_assignment_delete}
    fleet_path = "vehicle__fleet"
    fields = ["driver", "starts_at", "ends_at"]
    readonly_fields = fields
    show_change_link = True
    ordering = ["-starts_at", "-pk"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Vehicle)
class VehicleAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    form = VehicleForm
    fixed_once_made = ("fleet",)
    write_services = {"add": vehicle_create, "change": vehicle_update, "delete": vehicle_delete}
    list_display = [
        "plate",
        "make",
        "model",
        "model_year",
        "usable_battery_kwh",
        "fleet",
        "home_depot",
        "status",
    ]
    list_filter = ["fleet", "status", "make", "home_depot"]
    list_select_related = ["fleet", "home_depot"]
    search_fields = ["plate", "vin", "make", "model"]
    autocomplete_fields = ["fleet", "home_depot", "cost_center"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [VehicleAssignmentInline]
    history_related = ((VehicleAssignment, "vehicle"),)

    def save_model(self, request: HttpRequest, obj: Vehicle, form, change: bool) -> None:
        if change:
            vehicle_update(vehicle=obj, changes=form_changes(form))
        else:
            fields = {name: value for name, value in form.cleaned_data.items() if name != "fleet"}
            obj.pk = vehicle_create(fleet=obj.fleet, **fields).pk

    def delete_check(self, obj: Vehicle) -> None:
        vehicle_delete_check(vehicle=obj)

    def delete_with_service(self, obj: Vehicle) -> None:
        vehicle_delete(vehicle=obj)


@admin.register(VehicleAssignment)
class VehicleAssignmentAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    form = VehicleAssignmentForm
    write_services = {
        "add": vehicle_assign,
        "change": vehicle_assignment_update,
        "delete": vehicle_assignment_delete,
    }
    fleet_path = "vehicle__fleet"
    list_display = ["vehicle", "driver", "starts_at", "ends_at"]
    list_filter = ["vehicle__fleet"]
    list_select_related = ["vehicle", "driver"]
    search_fields = [
        "vehicle__plate",
        "vehicle__vin",
        "driver__last_name",
        "driver__employee_number",
    ]
    autocomplete_fields = ["vehicle", "driver"]
    date_hierarchy = "starts_at"

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        """An assignment stays with its vehicle (the service changes who and when, not what)."""
        return ["vehicle"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: VehicleAssignment, form, change: bool) -> None:
        if change:
            vehicle_assignment_update(assignment=obj, changes=form_changes(form))
        else:
            obj.pk = vehicle_assign(
                vehicle=obj.vehicle, driver=obj.driver, starts_at=obj.starts_at, ends_at=obj.ends_at
            ).pk

    def delete_check(self, obj: VehicleAssignment) -> None:
        vehicle_assignment_delete_check(assignment=obj, now=timezone.now())

    def delete_with_service(self, obj: VehicleAssignment) -> None:
        vehicle_assignment_delete(assignment=obj)


@admin.register(OdometerReading)
class OdometerReadingAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    form = OdometerReadingForm
    write_services = {
        "add": odometer_reading_record,
        "change": odometer_reading_correct,
        "delete": odometer_reading_delete,
    }
    fleet_path = "vehicle__fleet"
    list_display = ["vehicle", "km", "recorded_at"]
    list_filter = ["vehicle__fleet"]
    list_select_related = ["vehicle"]
    search_fields = ["vehicle__plate", "vehicle__vin"]
    autocomplete_fields = ["vehicle"]
    date_hierarchy = "recorded_at"

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        """A correction changes km and time; a reading never moves to another vehicle."""
        return ["vehicle"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: OdometerReading, form, change: bool) -> None:
        if change:
            odometer_reading_correct(reading=obj, changes=form_changes(form))
        else:
            obj.pk = odometer_reading_record(
                vehicle=obj.vehicle, km=obj.km, recorded_at=obj.recorded_at
            ).pk

    def delete_check(self, obj: OdometerReading) -> None:
        """Any reading may go: the readings left still go up, as they did with it."""

    def delete_with_service(self, obj: OdometerReading) -> None:
        odometer_reading_delete(reading=obj)


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
            "street",
            "postal_code",
            "city",
            "country",
        ]

    def service_check(self) -> None:
        leaving = self.cleaned_data.get("status") == DriverStatus.LEFT
        if self.instance.pk is not None and leaving and self.instance.status != DriverStatus.LEFT:
            driver_leave_check(driver=self.instance, now=timezone.now())


DRIVER_SERVICE_SET_FIELDS = ("status", "user")


@admin.register(Driver)
class DriverAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    form = DriverForm
    fixed_once_made = ("fleet",)
    write_services = {
        "add": driver_create,
        "change": driver_update,
        "delete": driver_delete,
        "suspend": driver_set_status_or_leave,
        "reactivate": driver_set_status_or_leave,
        "mark_left": driver_set_status_or_leave,
    }
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
    history_related = ((ChargeToken, "driver"), (VehicleAssignment, "driver"))
    actions = ["suspend", "reactivate", "mark_left"]
    fieldsets = [
        (None, {"fields": ["fleet", "employee_number", "first_name", "last_name", "status"]}),
        ("Contact", {"fields": ["email", "phone", "user"]}),
        ("Address on invoices", {"fields": ["street", "postal_code", "city", "country"]}),
        ("Licence", {"fields": ["licence_number", "licence_expires_on"]}),
        (
            "Costs and reimbursement",
            {"fields": ["cost_center", "home_rate_per_kwh", "iban", "account_holder"]},
        ),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Driver, form, change: bool) -> None:
        """The driver's details through driver_create or driver_update; their login through
        driver_user_link; a status other than active through driver_set_status_or_leave."""
        if change:
            changes = {
                name: value
                for name, value in form_changes(form).items()
                if name not in DRIVER_SERVICE_SET_FIELDS
            }
            if changes:
                driver_update(driver=obj, changes=changes)
        else:
            details = {
                name: value
                for name, value in form.cleaned_data.items()
                if name not in {"fleet", *DRIVER_SERVICE_SET_FIELDS}
            }
            obj.pk = driver_create(fleet=obj.fleet, **details).pk
        if "user" in form.changed_data:
            driver_user_link(driver=obj, user=obj.user)
        if "status" in form.changed_data:
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
