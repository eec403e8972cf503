"""Admin of the vehicles app: vehicles, who drives them, odometer readings; and the drivers'
page, since marking a driver as left there (its status field or its action) ends their vehicle
assignments through driver_leave, a flow of this app."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.decorators import action as unfold_action

from apps.drivers.admin import ChargeTokenInline
from apps.drivers.choices import DriverStatus
from apps.drivers.exceptions import ReasonMissing
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.selectors import LICENCE_WARNING_DAYS, driver_list_licence_expiring
from apps.drivers.services import (
    driver_create,
    driver_delete,
    driver_delete_check,
    driver_reactivate,
    driver_suspend,
    driver_update,
    driver_user_link,
)
from apps.fleets.admin_actions import act_with_reason
from apps.fleets.admin_deletion import DeletesThroughServiceFormSet, DeletesThroughServiceMixin
from apps.fleets.admin_writes import SavesThroughServices, WritesThroughServices, form_changes
from apps.fleets.tenancy import FleetScopedAdmin, FleetScopedTabularInline
from apps.vehicles.choices import ConnectorStandard
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from apps.vehicles.selectors import (
    vehicle_assignment_running_at,
    vehicle_list_with_driver_and_odometer,
)
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
    vehicle_reassign,
    vehicle_update,
)
from voltop.core.admin_forms import ServiceCheckedForm
from voltop.core.display import moment_text
from voltop.core.errors import DomainError
from voltop.core.timeutils import local_time_text


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


class VehicleReassignForm(forms.Form):
    """Who drives the vehicle from when on: one of its fleet's active drivers."""

    driver = forms.ModelChoiceField(queryset=Driver.objects.none())
    starts_at = forms.SplitDateTimeField(
        label="from",
        widget=AdminSplitDateTime,
        help_text="In the fleet's time zone. The current assignment ends at this moment.",
    )

    def __init__(self, *args, vehicle: Vehicle, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["driver"].queryset = Driver.objects.filter(
            fleet_id=vehicle.fleet_id, status=DriverStatus.ACTIVE
        ).order_by("last_name", "first_name", "pk")
        self.fields["starts_at"].initial = timezone.now()


def reassign_report(assignment: VehicleAssignment) -> str:
    """What a reassignment did, as the admin reports it."""
    zone = assignment.vehicle.fleet.zone
    return (
        f"{assignment.vehicle} is assigned to {assignment.driver.full_name} from "
        f"{local_time_text(assignment.starts_at, zone)}; the assignment it had then ended at "
        "that moment."
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

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("driver", "vehicle")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Vehicle)
class VehicleAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    form = VehicleForm
    fixed_once_made = ("fleet",)
    write_services = {
        "add": vehicle_create,
        "change": vehicle_update,
        "delete": vehicle_delete,
        "reassign": vehicle_reassign,
    }
    list_display = [
        "plate",
        "make_and_model",
        "fleet",
        "home_depot",
        "status",
        "current_driver",
        "last_odometer",
    ]
    list_filter = ["fleet", "status", "make", "home_depot"]
    list_select_related = ["fleet", "home_depot"]
    search_fields = ["plate", "vin", "make", "model"]
    autocomplete_fields = ["fleet", "home_depot", "cost_center"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [VehicleAssignmentInline]
    history_related = ((VehicleAssignment, "vehicle"),)

    actions = ["reassign"]
    actions_detail = ["reassign_driver"]

    def has_reassign_permission(self, request: HttpRequest, obj=None) -> bool:
        """Whether the user may give the vehicle (`obj`, or its id as unfold passes it) to
        another driver: they may change it. A vehicle of a fleet they do not see is not theirs
        to reassign, and its change page answers as for any row they do not see."""
        if obj is not None and not isinstance(obj, Vehicle):
            obj = self.get_queryset(request).filter(pk=obj).first()
            if obj is None and request.resolver_match.url_name.endswith("_reassign_driver"):
                raise Http404
            if obj is None:
                return False
        return self.has_change_permission(request, obj)

    @unfold_action(
        description="Reassign", url_path="reassign", permissions=["reassign"], icon="swap_horiz"
    )
    def reassign_driver(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The page that gives the vehicle to another driver from a moment on: the running
        assignment ends then and the new one begins, in one step (vehicle_reassign)."""
        vehicle = get_object_or_404(
            self.get_queryset(request).select_related("fleet"), pk=object_id
        )
        if not self.has_change_permission(request, vehicle):
            raise PermissionDenied
        form = VehicleReassignForm(request.POST or None, vehicle=vehicle)
        if request.method == "POST" and form.is_valid():
            try:
                assignment = vehicle_reassign(
                    vehicle=vehicle,
                    driver=form.cleaned_data["driver"],
                    starts_at=form.cleaned_data["starts_at"],
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                self.message_user(request, reassign_report(assignment), messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:vehicles_vehicle_change", args=[vehicle.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reassign {vehicle}",
            "form": form,
            "vehicle": vehicle,
            "running": vehicle_assignment_running_at(vehicle=vehicle, moment=timezone.now()),
            "opts": self.opts,
            "original": vehicle,
        }
        return TemplateResponse(request, "admin/vehicles/vehicle/reassign.html", context)

    @admin.action(description="Reassign the selected vehicle…", permissions=["change"])
    def reassign(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Opens the reassign page of the one vehicle selected."""
        vehicles = list(self.scope_queryset(request, queryset, self.editing_roles)[:2])
        if len(vehicles) != 1:
            self.message_user(
                request,
                "Select one vehicle of a fleet you manage to reassign it.",
                messages.WARNING,
            )
            return None
        return HttpResponseRedirect(
            reverse("admin:vehicles_vehicle_reassign_driver", args=[vehicles[0].pk])
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Each vehicle with its current driver and its last odometer reading, read in the
        list's one query."""
        return vehicle_list_with_driver_and_odometer(
            super().get_queryset(request), now=timezone.now()
        )

    @admin.display(description="vehicle", ordering="make")
    def make_and_model(self, vehicle: Vehicle) -> str:
        return (
            f"{vehicle.make} {vehicle.model} ({vehicle.model_year})"
            if vehicle.model_year
            else f"{vehicle.make} {vehicle.model}"
        )

    @admin.display(description="current driver", ordering="current_driver_name")
    def current_driver(self, vehicle: Vehicle) -> str:
        if vehicle.current_driver_id is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:drivers_driver_change", args=[vehicle.current_driver_id]),
            vehicle.current_driver_name,
        )

    @admin.display(description="last odometer", ordering="last_odometer_at")
    def last_odometer(self, vehicle: Vehicle) -> str:
        if vehicle.last_odometer_km is None:
            return "—"
        return f"{vehicle.last_odometer_km:,} km · {moment_text(vehicle.last_odometer_at)}"

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
            "suspension_reason",
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
        status = self.cleaned_data.get("status")
        if self.instance.pk is None or status == self.instance.status:
            return
        if status == DriverStatus.LEFT:
            driver_leave_check(driver=self.instance, now=timezone.now())
        if (
            status == DriverStatus.SUSPENDED
            and not self.cleaned_data.get("suspension_reason", "").strip()
        ):
            raise ReasonMissing("Say why the driver is suspended.", field="suspension_reason")


DRIVER_SERVICE_SET_FIELDS = ("status", "suspension_reason", "user")


class LicenceExpiringFilter(admin.SimpleListFilter):
    """Drivers whose driving licence has expired or expires soon, today read in the admin's
    zone (the current fleet's)."""

    title = "driving licence"
    parameter_name = "licence_expiring"

    def lookups(self, request, model_admin):
        return [("yes", f"Expired or expiring within {LICENCE_WARNING_DAYS} days")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return driver_list_licence_expiring(queryset, today=timezone.localdate())
        return queryset


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
        "suspend": driver_suspend,
        "reactivate": driver_reactivate,
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
    list_filter = ["fleet", "status", "cost_center", LicenceExpiringFilter]
    list_select_related = ["fleet", "cost_center"]
    search_fields = ["employee_number", "first_name", "last_name", "email", "tokens__uid"]
    autocomplete_fields = ["fleet", "cost_center", "user"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ChargeTokenInline]
    history_related = ((ChargeToken, "driver"), (VehicleAssignment, "driver"))
    actions = ["suspend", "reactivate", "mark_left"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "fleet",
                    "employee_number",
                    "first_name",
                    "last_name",
                    "status",
                    "suspension_reason",
                ]
            },
        ),
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
            driver_set_status_or_leave(driver=obj, status=obj.status, reason=obj.suspension_reason)

    def delete_check(self, obj: Driver) -> None:
        driver_delete_check(driver=obj)

    def delete_with_service(self, obj: Driver) -> None:
        driver_delete(driver=obj)

    @admin.action(
        description="Suspend selected drivers… (blocks their active tokens)",
        permissions=["change"],
    )
    def suspend(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Asks why on a confirmation page first; suspends once it is sent."""
        return act_with_reason(
            self,
            request,
            queryset,
            action="suspend",
            title="Suspend drivers",
            question="Suspend these drivers? They can no longer sign in, and their active "
            "tokens are blocked until they are reactivated.",
            submit="Suspend",
            reason_help="Why they are suspended; kept on the driver and their blocked tokens.",
            act=lambda driver, reason: driver_suspend(driver=driver, reason=reason),
            done=STATUS_SET_TEXT[DriverStatus.SUSPENDED],
        )

    @admin.action(
        description="Reactivate selected drivers (unblocks the tokens their suspension blocked)",
        permissions=["change"],
    )
    def reactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request,
            queryset,
            lambda driver: driver_reactivate(driver=driver),
            STATUS_SET_TEXT[DriverStatus.ACTIVE],
        )

    @admin.action(
        description="Mark selected drivers as left (deactivates their tokens, ends their "
        "vehicle assignments)",
        permissions=["change"],
    )
    def mark_left(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request,
            queryset,
            lambda driver: driver_set_status_or_leave(driver=driver, status=DriverStatus.LEFT),
            STATUS_SET_TEXT[DriverStatus.LEFT],
        )
