"""Admin of the charging app: stations, connectors, tariffs (edited, deactivated and activated
through the services), sessions and meter values."""

import json
from datetime import datetime
from decimal import Decimal
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from unfold.paginator import InfinitePaginator

from apps.charging.charger_calls import charging_station_call
from apps.charging.chargers import (
    charging_station_password_check,
    charging_station_password_set,
    unassigned_station_assign,
)
from apps.charging.choices import (
    EnergySource,
    HomeApproval,
    LocationKind,
    PriceBasis,
    SessionImportStatus,
    SessionPurpose,
    SessionStatus,
    UnpricedReason,
)
from apps.charging.models import (
    ChargingSession,
    ChargingStation,
    Connector,
    MeterValue,
    SessionImport,
    Tariff,
    TariffElement,
    TariffVersion,
    UnassignedStation,
)
from apps.charging.pricing import Price
from apps.charging.selectors import (
    CHARGING_LONG_HOURS,
    charging_session_as_cdr,
    charging_session_list_charger_issue,
    charging_session_list_charging_long,
    charging_session_list_home_unclaimed,
    charging_session_list_other_currency,
    charging_session_list_suspect,
    charging_session_list_unpriced,
    charging_session_list_without_driver,
    charging_session_recent_for_vehicle,
    charging_session_unpriced_counts,
    charging_station_list_offline,
    tariff_latest_version,
    tariff_preview_price,
    vehicle_consumption,
    vehicle_list_with_last_charge,
)
from apps.charging.services import (
    TARIFF_UPDATABLE_FIELDS,
    MeterReading,
    charging_session_delete,
    charging_session_delete_check,
    charging_session_price,
    charging_session_provider_cost_check,
    charging_session_record_meter_values,
    charging_session_save_by_manager,
    charging_station_create,
    charging_station_delete,
    charging_station_delete_check,
    charging_station_update,
    connector_create,
    connector_delete,
    connector_delete_check,
    connector_update,
    home_session_review,
    meter_value_correct,
    meter_value_delete,
    meter_value_delete_check,
    session_import_report,
    session_import_start,
    tariff_activate,
    tariff_create,
    tariff_deactivate,
    tariff_delete,
    tariff_delete_check,
    tariff_element_create,
    tariff_element_delete,
    tariff_element_update,
    tariff_import_ocpi,
    tariff_publish,
    tariff_update,
    tariff_update_check,
    tariff_version_order_check,
)
from apps.charging.vat_rule import session_charged_to_driver, session_reimbursed_to_driver
from apps.fleets.admin_actions import act_with_reason
from apps.fleets.admin_deletion import DeletesThroughServiceMixin
from apps.fleets.admin_writes import (
    SavesThroughServiceFormSet,
    SavesThroughServices,
    WritesThroughServices,
    form_changes,
)
from apps.fleets.models import Depot, Fleet
from apps.fleets.tenancy import (
    FleetScopedAdmin,
    FleetScopedStackedInline,
    FleetScopedTabularInline,
)
from apps.vehicles.admin import VehicleAdmin
from apps.vehicles.models import Vehicle
from voltop.core.admin_forms import ServiceCheckedForm
from voltop.core.admin_lists import ListColumnsOnlyMixin
from voltop.core.display import (
    duration_text,
    energy_text,
    moment_text,
    money_text,
    rows_table,
)
from voltop.core.downloads import attachment_response, stored_file_response
from voltop.core.errors import DomainError
from voltop.core.json_input import JsonInputRefused, json_input_parse
from voltop.core.json_text import json_text


class TextInputFilter(admin.SimpleListFilter):
    """A list filter with a text box: the rows whose `relation` (a foreign key) points at a row
    whose field matches the value as `related_lookup` says (e.g. "employee_number__iexact").

    The related rows are found first, so the list is filtered on its own foreign key column
    and reads that column's index: a join that filters on the related table would make the
    planner walk the list's whole ordering to find the few matching rows.

    Its form carries the other active filters along as hidden fields (the template of a filter
    has no request), so typing a value narrows the list instead of replacing its filters.
    """

    template = "admin/voltop/input_filter.html"
    relation = ""
    related_lookup = ""

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.other_parameters = [
            (key, value)
            for key, values in request.GET.lists()
            if key not in (self.parameter_name, PAGE_VAR)
            for value in values
        ]

    def lookups(self, request, model_admin):
        return (("", ""),)

    def choices(self, changelist):
        return []

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        related_model = queryset.model._meta.get_field(self.relation).related_model
        matching = list(
            related_model._default_manager.filter(**{self.related_lookup: value}).values_list(
                "pk", flat=True
            )
        )
        return queryset.filter(**{f"{self.relation}__in": matching})


class DriverNumberFilter(TextInputFilter):
    title = "driver (employee number)"
    parameter_name = "driver_number"
    relation = "driver"
    related_lookup = "employee_number__iexact"


class VehiclePlateFilter(TextInputFilter):
    title = "vehicle (plate)"
    parameter_name = "vehicle_plate"
    relation = "vehicle"
    related_lookup = "plate__iexact"


NOT_PRICED_YET = "not_yet"
LEFT_OUT_OTHER_CURRENCY = "other_currency"
LEFT_OUT_HOME_NOT_CLAIMED = "home_not_claimed"
UNPRICED_LABELS = {**dict(UnpricedReason.choices), "": "Not priced yet"}


class UnpricedFilter(admin.SimpleListFilter):
    """Completed sessions not billed yet that have no price, by why: billing leaves them out
    until they have one."""

    title = "without a price"
    parameter_name = "unpriced"

    def lookups(self, request, model_admin):
        return [
            ("any", "For any reason"),
            *UnpricedReason.choices,
            (NOT_PRICED_YET, UNPRICED_LABELS[""]),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "any":
            return charging_session_list_unpriced(queryset)
        return charging_session_list_unpriced(
            queryset, reason="" if value == NOT_PRICED_YET else value
        )


class ToReviewFilter(admin.SimpleListFilter):
    """Sessions that wait for a manager: home claims to approve, suspect sessions to check
    before billing does, and sessions still charging long after they started."""

    title = "to review"
    parameter_name = "to_review"

    def lookups(self, request, model_admin):
        return [
            ("home_claim", "Home claims waiting for approval"),
            ("suspect", "Suspect, not billed yet"),
            ("charging_long", f"Still charging after {CHARGING_LONG_HOURS} hours"),
            ("no_driver", "Started with a tag unknown to the fleet"),
            ("charger_issue", "Reported by a charger with an issue, not billed yet"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "home_claim":
            return queryset.filter(home_approval=HomeApproval.PENDING)
        if self.value() == "suspect":
            return charging_session_list_suspect(queryset)
        if self.value() == "charging_long":
            return charging_session_list_charging_long(queryset, now=timezone.now())
        if self.value() == "no_driver":
            return charging_session_list_without_driver(queryset)
        if self.value() == "charger_issue":
            return charging_session_list_charger_issue(queryset)
        return queryset


class LeftOutFilter(admin.SimpleListFilter):
    """Completed sessions not billed yet that billing leaves out until someone acts, other
    than for a missing price (UnpricedFilter): priced in another currency than their fleet's,
    and business charging at home that nobody claimed. The values are billing's reasons for
    them (payments' LeftOutReason)."""

    title = "left out of billing"
    parameter_name = "left_out"

    def lookups(self, request, model_admin):
        return [
            (LEFT_OUT_OTHER_CURRENCY, "Priced in another currency than the fleet's"),
            (LEFT_OUT_HOME_NOT_CLAIMED, "Business charging at home that nobody claimed"),
        ]

    def queryset(self, request, queryset):
        if self.value() == LEFT_OUT_OTHER_CURRENCY:
            return charging_session_list_other_currency(queryset)
        if self.value() == LEFT_OUT_HOME_NOT_CLAIMED:
            return charging_session_list_home_unclaimed(queryset)
        return queryset


def _decimal_text(value: str, min_places: int) -> str:
    """A decimal without the zeros it does not need: 0.30000 → 0.30 (min_places=2), 21.00 → 21."""
    number = Decimal(value).normalize()
    if -number.as_tuple().exponent < min_places:
        number = number.quantize(Decimal(1).scaleb(-min_places))
    return f"{number:f}"


def breakdown_for_display(breakdown: dict, zone: ZoneInfo) -> dict:
    """A stored price breakdown as a person reads it: each period's start and end in `zone` (the
    breakdown keeps instants with whatever offset they were priced with), and volumes, unit
    prices and VAT rates written alike whether they come from a tariff's rows or its OCPI JSON.
    Line amounts stay as priced, to 4 places."""
    periods = []
    for period in breakdown.get("periods", []):
        start = datetime.fromisoformat(period["start"]).astimezone(zone)
        end = datetime.fromisoformat(period["end"]).astimezone(zone)
        end_format = "%H:%M:%S" if end.date() == start.date() else "%Y-%m-%d %H:%M:%S"
        lines = [
            {
                **line,
                "volume": _decimal_text(line["volume"], 0),
                "step_extra": _decimal_text(line["step_extra"], 0),
                "unit_price": _decimal_text(line["unit_price"], 2),
                "vat_rate": None
                if line["vat_rate"] is None
                else _decimal_text(line["vat_rate"], 0),
            }
            for line in period["lines"]
        ]
        periods.append(
            {
                **period,
                "when": f"{start:%Y-%m-%d %H:%M:%S} → {end:{end_format}}",
                "lines": lines,
            }
        )
    return {**breakdown, "periods": periods}


def json_download(payload, filename: str) -> HttpResponse:
    return attachment_response(json_text(payload), "application/json", filename)


CONNECTOR_FIELDS = ["connector_id", "evse_id", "standard", "power_type", "max_kw"]
STATION_FIELDS = ["ocpp_identity", "vendor", "model", "depot", "serial_number", "firmware_version"]


class ConnectorFormSet(SavesThroughServiceFormSet):
    def create_with_service(self, form) -> Connector:
        connector = form.instance
        return connector_create(
            station=connector.station,
            **{name: getattr(connector, name) for name in CONNECTOR_FIELDS},
        )

    def update_with_service(self, obj: Connector, changes: dict) -> Connector:
        return connector_update(connector=obj, changes=changes)

    def delete_check(self, obj: Connector) -> None:
        connector_delete_check(connector=obj)

    def delete_with_service(self, obj: Connector) -> None:
        connector_delete(connector=obj)


class ConnectorInline(WritesThroughServices, FleetScopedTabularInline):
    model = Connector
    formset = ConnectorFormSet
    fleet_path = "station__fleet"
    fields = CONNECTOR_FIELDS
    write_services = {
        "add": connector_create,
        "change": connector_update,
        "delete": connector_delete,
    }


class StationConnectionFilter(admin.SimpleListFilter):
    """Stations set up to connect over OCPP, by whether their charger is connected now."""

    title = "connection"
    parameter_name = "connection"

    def lookups(self, request, model_admin):
        return [("online", "Connected"), ("offline", "Offline")]

    def queryset(self, request, queryset):
        if self.value() == "offline":
            return charging_station_list_offline(queryset)
        if self.value() == "online":
            return queryset.filter(is_connected=True)
        return queryset


class ChargingStationForm(forms.ModelForm):
    new_ocpp_password = forms.CharField(
        label="New OCPP password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="16 to 40 characters the charger sends with HTTP Basic auth (OCPP 1.6 "
        "security profile 1). Only its hash is kept; leave empty to keep the current one.",
    )

    class Meta:
        model = ChargingStation
        fields = ["fleet", "status", *STATION_FIELDS]

    def clean_new_ocpp_password(self) -> str:
        password = self.cleaned_data["new_ocpp_password"]
        if password:
            try:
                charging_station_password_check(password)
            except DomainError as error:
                raise ValidationError(error.message, code=error.code) from error
        return password


class StationAssignForm(forms.Form):
    charger = forms.ModelChoiceField(
        queryset=UnassignedStation.objects.order_by("ocpp_identity"),
        help_text="A charger that connected with an identity no fleet knows.",
    )
    fleet = forms.ModelChoiceField(queryset=Fleet.objects.order_by("name"))
    depot = forms.ModelChoiceField(
        queryset=Depot.objects.select_related("fleet").order_by("fleet__name", "name"),
        required=False,
        help_text="Optional; a depot of the fleet chosen.",
    )


# What the admin's station actions ask chargers, with the words their report uses.
STATION_CALLS = {
    "reset_soft": ("Reset", {"type": "Soft"}, "asked to restart"),
    "make_operative": (
        "ChangeAvailability",
        {"connectorId": 0, "type": "Operative"},
        "asked to become available",
    ),
    "make_inoperative": (
        "ChangeAvailability",
        {"connectorId": 0, "type": "Inoperative"},
        "asked to become unavailable",
    ),
    "trigger_status": (
        "TriggerMessage",
        {"requestedMessage": "StatusNotification"},
        "asked for their status",
    ),
}


@admin.register(ChargingStation)
class ChargingStationAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    form = ChargingStationForm
    change_list_template = "admin/charging/chargingstation/change_list.html"
    list_display = [
        "ocpp_identity",
        "vendor",
        "model",
        "fleet",
        "depot",
        "is_connected",
        "status",
        "last_heartbeat_at",
    ]
    list_filter = ["fleet", StationConnectionFilter, "status", "depot", "vendor"]
    list_select_related = ["fleet", "depot"]
    search_fields = ["ocpp_identity", "serial_number", "vendor", "model"]
    autocomplete_fields = ["fleet", "depot"]
    readonly_fields = [
        "password_state",
        "is_connected",
        "connection_changed_at",
        "last_heartbeat_at",
        "local_list_version",
        "tags_synced_at",
        "recent_calls",
        "recent_messages",
        "created_at",
        "updated_at",
    ]
    fixed_once_made = ("fleet",)
    inlines = [ConnectorInline]
    actions = ["reset_soft", "make_operative", "make_inoperative", "trigger_status"]
    write_services = {
        "add": charging_station_create,
        "change": charging_station_update,
        "delete": charging_station_delete,
        "reset_soft": charging_station_call,
        "make_operative": charging_station_call,
        "make_inoperative": charging_station_call,
        "trigger_status": charging_station_call,
    }

    def save_model(self, request: HttpRequest, obj: ChargingStation, form, change: bool) -> None:
        changes = form_changes(form)
        changes.pop("new_ocpp_password", None)
        if change:
            charging_station_update(station=obj, changes=changes)
        else:
            obj.pk = charging_station_create(
                fleet=obj.fleet, **{name: getattr(obj, name) for name in STATION_FIELDS}
            ).pk
            if obj.status != ChargingStation._meta.get_field("status").default:
                charging_station_update(station=obj, changes={"status": obj.status})
        if form.cleaned_data.get("new_ocpp_password"):
            charging_station_password_set(
                station=obj, password=form.cleaned_data["new_ocpp_password"]
            )

    def get_urls(self):
        return [
            path(
                "unassigned/",
                self.admin_site.admin_view(self.unassigned_view),
                name="charging_chargingstation_unassigned",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        held = UnassignedStation.objects.count() if request.user.is_superuser else 0
        extra_context = {
            **(extra_context or {}),
            "unassigned_title": f"Chargers no fleet knows ({held})" if held else "",
        }
        return super().changelist_view(request, extra_context)

    def unassigned_view(self, request: HttpRequest) -> HttpResponse:
        """The chargers held pending because no fleet knows their identity; a superuser
        assigns each to a fleet, which makes it a station there."""
        if not request.user.is_superuser:
            raise PermissionDenied
        form = StationAssignForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                station = unassigned_station_assign(
                    unassigned=form.cleaned_data["charger"],
                    fleet=form.cleaned_data["fleet"],
                    depot=form.cleaned_data["depot"],
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    f"{station} is a station of {station.fleet} now; it is let in when it "
                    "connects again.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:charging_chargingstation_change", args=[station.pk])
                )
        held = UnassignedStation.objects.order_by("-last_seen_at", "ocpp_identity")
        context = {
            **self.admin_site.each_context(request),
            "title": "Chargers no fleet knows",
            "form": form,
            "opts": self.model._meta,
            "held": rows_table(
                ["identity", "vendor", "model", "serial", "first seen", "last seen"],
                [
                    [
                        charger.ocpp_identity,
                        charger.vendor,
                        charger.model,
                        charger.serial_number,
                        moment_text(charger.first_seen_at),
                        moment_text(charger.last_seen_at),
                    ]
                    for charger in held
                ],
                empty_text="No charger is waiting.",
            ),
        }
        return TemplateResponse(request, "admin/charging/chargingstation/unassigned.html", context)

    @admin.display(description="OCPP password")
    def password_state(self, station: ChargingStation) -> str:
        return "Set" if station.ocpp_password else "Not set: the charger cannot connect"

    @admin.display(description="recent calls to the charger")
    def recent_calls(self, station: ChargingStation) -> str:
        calls = station.calls.order_by("-created_at", "-pk")[:RECENT_ROWS]
        return rows_table(
            ["asked", "call", "status", "answer"],
            [
                [
                    moment_text(call.created_at, seconds=True),
                    call.action,
                    call.get_status_display(),
                    call.error or json_text(call.answer or {}),
                ]
                for call in calls
            ],
            empty_text="No calls yet.",
        )

    @admin.display(description="recent OCPP messages")
    def recent_messages(self, station: ChargingStation) -> str:
        frames = station.messages.order_by("-at", "-pk")[:RECENT_MESSAGES]
        return rows_table(
            ["at", "from", "frame"],
            [
                [
                    moment_text(message.at, seconds=True),
                    "charger" if message.sent_by_charger else "Voltop",
                    message.frame,
                ]
                for message in frames
            ],
            empty_text="No messages kept.",
        )

    def _call_chargers(self, request: HttpRequest, queryset: QuerySet, name: str) -> None:
        action, payload, done = STATION_CALLS[name]
        self.act_per_row(
            request,
            queryset,
            lambda station: charging_station_call(
                station=station, action=action, payload=payload, now=timezone.now()
            ),
            done,
        )

    @admin.action(description="Restart selected chargers (soft reset)", permissions=["change"])
    def reset_soft(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._call_chargers(request, queryset, "reset_soft")

    @admin.action(description="Make selected chargers available", permissions=["change"])
    def make_operative(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._call_chargers(request, queryset, "make_operative")

    @admin.action(description="Make selected chargers unavailable", permissions=["change"])
    def make_inoperative(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._call_chargers(request, queryset, "make_inoperative")

    @admin.action(description="Ask selected chargers for their status", permissions=["change"])
    def trigger_status(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._call_chargers(request, queryset, "trigger_status")

    def delete_check(self, obj: ChargingStation) -> None:
        charging_station_delete_check(station=obj)

    def delete_with_service(self, obj: ChargingStation) -> None:
        charging_station_delete(station=obj)


@admin.register(Connector)
class ConnectorAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    fleet_path = "station__fleet"
    list_display = [
        "__str__",
        "station",
        "connector_id",
        "evse_id",
        "status",
        "error_code",
        "standard",
        "power_type",
        "max_kw",
    ]
    list_filter = ["station__fleet", "status", "standard", "power_type"]
    list_select_related = ["station"]
    search_fields = ["station__ocpp_identity"]
    autocomplete_fields = ["station"]
    write_services = {
        "add": connector_create,
        "change": connector_update,
        "delete": connector_delete,
    }

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        """A connector stays on its station."""
        return ["station"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Connector, form, change: bool) -> None:
        if change:
            connector_update(connector=obj, changes=form_changes(form))
        else:
            obj.pk = connector_create(
                station=obj.station, **{name: getattr(obj, name) for name in CONNECTOR_FIELDS}
            ).pk

    def delete_check(self, obj: Connector) -> None:
        connector_delete_check(connector=obj)

    def delete_with_service(self, obj: Connector) -> None:
        connector_delete(connector=obj)


ELEMENT_FIELDS = frozenset(
    field.name
    for field in TariffElement._meta.concrete_fields
    if field.name not in ("id", "tariff")
)


class TariffElementFormSet(SavesThroughServiceFormSet):
    """A tariff's elements as posted; the tariff must keep at least one, or there is nothing
    to publish. Rows left out of the post stay, so they count too. New rows are saved first,
    so an element may be replaced by another in one post."""

    def create_with_service(self, form) -> TariffElement:
        fields = {
            name: value for name, value in form.cleaned_data.items() if name in ELEMENT_FIELDS
        }
        return tariff_element_create(tariff=self.instance, **fields)

    def update_with_service(self, obj: TariffElement, changes: dict) -> TariffElement:
        return tariff_element_update(element=obj, changes=changes)

    def delete_check(self, obj: TariffElement) -> None:
        """The whole post is judged in clean(): the last element may go when another comes."""

    def delete_with_service(self, obj: TariffElement) -> None:
        tariff_element_delete(element=obj)

    def save(self, commit: bool = True) -> list:
        if not commit:
            return super().save(commit)
        new = self.save_new_objects(commit)
        return self.save_existing_objects(commit) + new

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        posted = [form for form in self.forms if form.instance.pk or form.has_changed()]
        kept = [form for form in posted if not self._should_delete_form(form)]
        left_out = (
            self.instance.elements.exclude(pk__in=[form.instance.pk for form in posted]).count()
            if self.instance.pk
            else 0
        )
        if not kept and not left_out:
            raise ValidationError("A tariff needs at least one element.", code="no_element")
        if self.instance.pk and any(form.has_changed() for form in self.forms):
            try:
                tariff_version_order_check(tariff=self.instance, effective_from=timezone.now())
            except DomainError as error:
                raise ValidationError(error.message, code=error.code) from error


class TariffElementInline(WritesThroughServices, FleetScopedStackedInline):
    """A tariff's elements; one blank element is offered on a new tariff."""

    model = TariffElement
    formset = TariffElementFormSet
    write_services = {
        "add": tariff_element_create,
        "change": tariff_element_update,
        "delete": tariff_element_delete,
    }
    fleet_path = "tariff__fleet"
    min_num = 1
    fieldsets = [
        (
            "Prices (excl. VAT)",
            {
                "fields": [
                    "position",
                    ("energy_price", "energy_vat_rate", "energy_step_wh"),
                    ("time_price", "time_vat_rate", "time_step_seconds"),
                    ("parking_price", "parking_vat_rate", "parking_step_seconds"),
                    ("flat_price", "flat_vat_rate"),
                ]
            },
        ),
        (
            "Restrictions (empty: always)",
            {
                "fields": [
                    ("start_time", "end_time"),
                    ("start_date", "end_date"),
                    "days_of_week",
                    ("min_kwh", "max_kwh"),
                    ("min_power_kw", "max_power_kw"),
                    ("min_current_a", "max_current_a"),
                    ("min_duration_seconds", "max_duration_seconds"),
                ]
            },
        ),
    ]


class TariffVersionInline(FleetScopedTabularInline):
    model = TariffVersion
    fleet_path = "tariff__fleet"
    fields = ["number", "effective_from", "created_at"]
    readonly_fields = fields
    ordering = ["-number"]
    show_change_link = True
    can_delete = False
    editing_roles = frozenset()

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class TariffImportForm(forms.Form):
    fleet = forms.ModelChoiceField(queryset=Fleet.objects.none())
    file = forms.FileField(help_text="An OCPI 2.2.1 Tariff object (JSON).")
    name = forms.CharField(required=False, help_text="Name for a new tariff.")


LOCAL_MOMENT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class TariffForm(ServiceCheckedForm):
    """A tariff's fields; a change to a saved tariff is checked as the API's edit is."""

    def tariff_changes(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name in TARIFF_UPDATABLE_FIELDS
        }

    def service_check(self) -> None:
        if self.instance.pk:
            tariff_update_check(tariff=self.instance, changes=self.tariff_changes())


class TariffPreviewForm(forms.Form):
    energy_kwh = forms.DecimalField(
        label="Energy (kWh)", min_value=0, max_digits=9, decimal_places=3, initial=20
    )
    started_at = forms.DateTimeField(widget=LOCAL_MOMENT, help_text="In the fleet's time zone.")
    ended_at = forms.DateTimeField(widget=LOCAL_MOMENT, help_text="In the fleet's time zone.")
    parking_minutes = forms.IntegerField(
        min_value=0, initial=0, help_text="Of those minutes, how many at the end without charging."
    )

    def clean(self):
        data = super().clean()
        if (
            data.get("started_at")
            and data.get("ended_at")
            and data["ended_at"] <= data["started_at"]
        ):
            self.add_error("ended_at", "The end must be after the start.")
        return data


@admin.register(Tariff)
class TariffAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    """A fleet's tariffs. Saving one publishes what changed in its prices as a new version in
    force from now; once made, its fleet, OCPI id and currency stay, and it is deactivated or
    activated by the actions, which check no connector is left without a tariff."""

    form = TariffForm
    list_display = [
        "name",
        "fleet",
        "scope",
        "currency",
        "valid_from",
        "valid_until",
        "is_active",
        "latest_version",
    ]
    list_filter = ["fleet", "is_active", "currency"]
    list_select_related = ["fleet", "depot", "station", "connector"]
    search_fields = ["name", "ocpi_id"]
    autocomplete_fields = ["fleet", "depot", "station", "connector"]
    inlines = [TariffElementInline, TariffVersionInline]
    actions = ["export_ocpi", "deactivate_tariffs", "activate_tariffs"]
    write_services = {
        "add": tariff_create,
        "change": tariff_update,
        "delete": tariff_delete,
        "deactivate_tariffs": tariff_deactivate,
        "activate_tariffs": tariff_activate,
    }
    change_list_template = "admin/charging/tariff/change_list.html"
    change_form_template = "admin/charging/tariff/change_form.html"
    fieldsets = [
        (None, {"fields": ["fleet", "name", "ocpi_id", "currency", "is_active"]}),
        ("Where (empty: the whole fleet)", {"fields": ["depot", "station", "connector"]}),
        ("When", {"fields": ["valid_from", "valid_until"]}),
        (
            "Limits",
            {
                "fields": [
                    ("min_price_excl_vat", "min_price_incl_vat"),
                    ("max_price_excl_vat", "max_price_incl_vat"),
                    "parking_grace_minutes",
                ]
            },
        ),
    ]

    @admin.display(description="applies to")
    def scope(self, tariff: Tariff) -> str:
        return str(tariff.connector or tariff.station or tariff.depot or "whole fleet")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(latest_version_number=Max("versions__number"))

    @admin.display(description="version", ordering="latest_version_number")
    def latest_version(self, tariff: Tariff) -> str:
        number = tariff.latest_version_number
        return f"v{number}" if number else "not published"

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["fleet", "ocpi_id", "currency", "is_active"]
        return readonly

    def save_model(self, request: HttpRequest, obj: Tariff, form, change: bool) -> None:
        """A new tariff is made by tariff_create; a change is saved by tariff_update, once the
        elements are, in save_related."""
        if not change:
            fields = {name: value for name, value in form.cleaned_data.items() if name != "fleet"}
            obj.pk = tariff_create(fleet=obj.fleet, **fields).pk

    def delete_check(self, obj: Tariff) -> None:
        tariff_delete_check(tariff=obj)

    def delete_with_service(self, obj: Tariff) -> None:
        tariff_delete(tariff=obj)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Save the elements, then the tariff's changes, and publish what changed in its prices
        as a new version in force from now (a new tariff as its first version)."""
        super().save_related(request, form, formsets, change)
        latest = tariff_latest_version(form.instance)
        if change:
            tariff_update(tariff=form.instance, changes=form.tariff_changes())
        else:
            tariff_publish(tariff=form.instance)
        version = tariff_latest_version(form.instance)
        if version is not None and (latest is None or version.pk != latest.pk):
            self.message_user(
                request, f"Published version {version.number}, in force from now.", messages.INFO
            )

    @admin.action(description="Deactivate selected tariffs", permissions=["change"])
    def deactivate_tariffs(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request,
            queryset,
            lambda tariff: tariff_deactivate(tariff=tariff),
            "deactivated",
        )

    @admin.action(description="Activate selected tariffs", permissions=["change"])
    def activate_tariffs(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request, queryset, lambda tariff: tariff_activate(tariff=tariff), "activated"
        )

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="charging_tariff_import",
            ),
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="charging_tariff_preview",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Export as OCPI 2.2.1 JSON", permissions=["view"])
    def export_ocpi(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        documents = [
            version.terms
            for tariff in queryset
            if (version := tariff_latest_version(tariff)) is not None
        ]
        if not documents:
            self.message_user(request, "None of these tariffs is published.", messages.WARNING)
            return None
        return json_download(
            documents[0] if len(documents) == 1 else documents, "voltop-tariffs.json"
        )

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TariffImportForm(request.POST or None, request.FILES or None)
        form.fields["fleet"].queryset = self.editable_fleets(request)
        if request.method == "POST" and form.is_valid():
            try:
                tariff, created = tariff_import_ocpi(
                    fleet=form.cleaned_data["fleet"],
                    document=json_input_parse(form.cleaned_data["file"].read()),
                    name=form.cleaned_data["name"],
                )
            except JsonInputRefused as error:
                form.add_error("file", capfirst(error.message))
            except DomainError as error:
                form.add_error("file", error.message)
            else:
                if created:
                    message = f"Imported and published {tariff}."
                else:
                    version = tariff_latest_version(tariff)
                    message = (
                        f"Updated {tariff}, which has this OCPI id; version {version.number} "
                        f"holds the file's terms."
                    )
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:charging_tariff_change", args=[tariff.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import an OCPI tariff",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/charging/tariff/import.html", context)

    def preview_view(self, request: HttpRequest, pk: int) -> TemplateResponse:
        tariff = get_object_or_404(self.get_queryset(request), pk=pk)
        zone = tariff.fleet.zone
        with timezone.override(zone):
            form = TariffPreviewForm(request.GET if "started_at" in request.GET else None)
            breakdown = None
            if form.is_bound and form.is_valid():
                data = form.cleaned_data
                try:
                    breakdown = tariff_preview_price(
                        tariff=tariff,
                        energy_wh=int(data["energy_kwh"] * 1000),
                        started_at=data["started_at"],
                        ended_at=data["ended_at"],
                        parking_minutes=data["parking_minutes"],
                    )
                except DomainError as error:
                    form.add_error(None, error.message)
            context = {
                **self.admin_site.each_context(request),
                "title": f"Preview a price with {tariff}",
                "form": form,
                "tariff": tariff,
                "breakdown": breakdown_for_display(breakdown.as_dict(), zone)
                if breakdown
                else None,
                "opts": self.model._meta,
                "original": tariff,
                "zone": zone,
            }
            return TemplateResponse(request, "admin/charging/tariff/preview.html", context)


@admin.register(TariffVersion)
class TariffVersionAdmin(FleetScopedAdmin):
    fleet_path = "tariff__fleet"
    list_display = ["tariff", "number", "effective_from", "created_at"]
    list_filter = ["tariff__fleet"]
    list_select_related = ["tariff"]
    search_fields = ["tariff__name", "tariff__ocpi_id"]
    fields = ["tariff", "number", "effective_from", "created_at", "ocpi_json"]
    readonly_fields = fields
    date_hierarchy = "effective_from"

    @admin.display(description="OCPI 2.2.1 tariff")
    def ocpi_json(self, version: TariffVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(version.terms, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MeterValueInline(FleetScopedTabularInline):
    model = MeterValue
    fleet_path = "session__fleet"
    fields = ["measured_at", "energy_wh", "power_w", "state_of_charge_percent"]
    readonly_fields = fields
    ordering = ["measured_at"]
    can_delete = False
    editing_roles = frozenset()

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class SessionImportForm(forms.Form):
    fleet = forms.ModelChoiceField(queryset=Fleet.objects.none())
    file = forms.FileField(help_text="OCPI 2.2.1 CDR JSON (.json) or the documented CSV (.csv).")
    only_valid_rows = forms.BooleanField(
        required=False, help_text="Import the valid rows even if other rows have errors."
    )


PROVIDER_COST_FIELDS = ("provider_cost_excl_vat", "provider_cost_incl_vat")


class ChargingSessionForm(ServiceCheckedForm):
    """A session as a manager enters it: a completed public one with the provider's cost, or
    without it as cost pending."""

    provider_cost_excl_vat = forms.DecimalField(
        label="provider's cost excl. VAT",
        required=False,
        max_digits=12,
        decimal_places=2,
        help_text="A completed public session: what the provider billed, in the fleet's "
        "currency. Left empty, its cost is pending: billing leaves it out until it is given.",
    )
    provider_cost_incl_vat = forms.DecimalField(
        label="provider's cost incl. VAT",
        required=False,
        max_digits=12,
        decimal_places=2,
        help_text="Empty: the same as excl. VAT.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.price_basis == PriceBasis.PROVIDER:
            self.initial.setdefault("provider_cost_excl_vat", self.instance.price_excl_vat)
            self.initial.setdefault("provider_cost_incl_vat", self.instance.price_incl_vat)

    def provider_cost(self) -> Price | None:
        excl_vat = self.cleaned_data.get("provider_cost_excl_vat")
        if excl_vat is None:
            return None
        return Price(excl_vat, self.cleaned_data.get("provider_cost_incl_vat"))

    def service_check(self) -> None:
        if self.provider_cost() is None and self.cleaned_data.get("provider_cost_incl_vat"):
            self.add_error("provider_cost_excl_vat", "Give the cost excl. VAT too.")
            return
        fleet = self.cleaned_data.get("fleet") or self.instance.fleet
        charging_session_provider_cost_check(
            location_kind=self.cleaned_data.get("location_kind", self.instance.location_kind),
            status=self.cleaned_data.get("status", self.instance.status),
            currency=fleet.currency,
            provider_cost=self.provider_cost(),
        )


PRICE_FIELDS = [
    "unpriced_reason",
    "price_basis",
    "tariff_version",
    "price_currency",
    "price_excl_vat",
    "price_vat",
    "price_incl_vat",
    "price_breakdown_table",
    "priced_at",
    "billed_at",
]
DRIVER_AMOUNT_FIELDS = ["charged_to_driver", "reimbursed_to_driver"]
REVIEW_FIELDS = ["home_approval", "reviewed_by", "reviewed_at", "review_note"]
CHECK_FIELDS = ["energy_source", "is_suspect", "suspect_reason", "invalid_reason"]


@admin.register(ChargingSession)
class ChargingSessionAdmin(
    ListColumnsOnlyMixin,
    WritesThroughServices,
    SavesThroughServices,
    DeletesThroughServiceMixin,
    FleetScopedAdmin,
):
    form = ChargingSessionForm
    write_services = {
        "add": charging_session_save_by_manager,
        "change": charging_session_save_by_manager,
        "delete": charging_session_delete,
        "price_again": charging_session_price,
        "approve_home_sessions": home_session_review,
        "reject_home_sessions": home_session_review,
    }
    list_display = [
        "started",
        "driver_name",
        "vehicle_plate",
        "where_and_why",
        "energy",
        "duration",
        "price",
        "status_text",
    ]
    list_display_links = ["started"]
    list_filter = [
        "fleet",
        "status",
        "location_kind",
        "purpose",
        "source",
        "connector__station__depot",
        DriverNumberFilter,
        VehiclePlateFilter,
        "is_suspect",
        "energy_source",
        "home_approval",
        "price_basis",
        UnpricedFilter,
        LeftOutFilter,
        ToReviewFilter,
    ]
    list_select_related = ["driver", "vehicle"]
    list_only = (
        "started_at",
        "ended_at",
        "driver__first_name",
        "driver__last_name",
        "vehicle__plate",
        "location_kind",
        "purpose",
        "energy_source",
        "energy_wh",
        "price_incl_vat",
        "price_currency",
        "status",
        "is_suspect",
    )
    list_per_page = 100
    paginator = InfinitePaginator
    list_disable_select_all = True
    search_fields = [
        "external_id",
        "driver__last_name",
        "driver__employee_number",
        "vehicle__plate",
    ]
    autocomplete_fields = ["fleet", "driver", "vehicle", "token", "connector"]
    fixed_once_made = ("fleet",)
    date_hierarchy = "started_at"
    readonly_fields = [
        "energy_exact",
        "duration_exact",
        *CHECK_FIELDS,
        *REVIEW_FIELDS,
        *PRICE_FIELDS,
        *DRIVER_AMOUNT_FIELDS,
        "meter_photo_link",
        "created_at",
        "updated_at",
    ]
    inlines = [MeterValueInline]
    actions = ["price_again", "approve_home_sessions", "reject_home_sessions", "export_cdr"]
    change_list_template = "admin/charging/chargingsession/change_list.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "fleet",
                    "driver",
                    "vehicle",
                    "token",
                    "connector",
                    ("location_kind", "purpose"),
                    ("status", "source", "external_id"),
                ]
            },
        ),
        (
            "Times and energy",
            {
                "fields": [
                    ("started_at", "ended_at"),
                    ("meter_start_wh", "meter_stop_wh"),
                    "energy_wh",
                    ("energy_exact", "duration_exact"),
                ]
            },
        ),
        (
            "Cost to the fleet",
            {
                "fields": PRICE_FIELDS,
                "description": "The session's own cost, as its tariff, the driver's home rate "
                "or the provider priced it; its VAT is the fleet's input VAT.",
            },
        ),
        (
            "The driver's amount",
            {
                "fields": DRIVER_AMOUNT_FIELDS,
                "description": "Private charging at a depot or a public charger is charged to "
                "the driver at its cost excl. VAT plus the fleet's VAT; business charging at "
                "home is refunded without VAT; the fleet bears business charging.",
            },
        ),
        ("Checks", {"fields": CHECK_FIELDS}),
        ("Home charging", {"fields": [*REVIEW_FIELDS, "meter_photo_link"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def _may_edit(self, request: HttpRequest, obj: ChargingSession | None) -> bool:
        if obj is None:
            return self.has_add_permission(request)
        return self.has_change_permission(request, obj)

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        """The manager's form, with the provider's cost; a plain one where the page is read."""
        if not self._may_edit(request, obj):
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj=None) -> list:
        """The fieldsets, with the provider's cost above the price where the user may edit."""
        if not self._may_edit(request, obj):
            return self.fieldsets
        return [
            (name, {**options, "fields": [PROVIDER_COST_FIELDS, *options["fields"]]})
            if name == "Price"
            else (name, options)
            for name, options in self.fieldsets
        ]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        """A billed session is read-only: corrections go through credit notes on its invoice."""
        if obj is not None and obj.billed_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.billed_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="started", ordering="started_at")
    def started(self, session: ChargingSession) -> str:
        return moment_text(session.started_at)

    @admin.display(description="driver", ordering="driver__last_name")
    def driver_name(self, session: ChargingSession) -> str:
        return session.driver.full_name if session.driver_id else "— unknown tag"

    @admin.display(description="vehicle", ordering="vehicle__plate")
    def vehicle_plate(self, session: ChargingSession) -> str:
        return session.vehicle.plate if session.vehicle_id else "—"

    @admin.display(description="where · why")
    def where_and_why(self, session: ChargingSession) -> str:
        where = LocationKind(session.location_kind).label
        return f"{where} · {SessionPurpose(session.purpose).label}"

    @admin.display(description="energy", ordering="energy_wh")
    def energy(self, session: ChargingSession) -> str:
        """The energy in kWh, marked where a person entered it rather than a charger."""
        if session.energy_source == EnergySource.ENTERED:
            return f"{energy_text(session.energy_wh)} · entered"
        return energy_text(session.energy_wh)

    @admin.display(description="h:mm")
    def duration(self, session: ChargingSession) -> str:
        if session.ended_at is None:
            return "—"
        return duration_text(session.ended_at - session.started_at)

    @admin.display(description="price (incl. VAT)", ordering="price_incl_vat")
    def price(self, session: ChargingSession) -> str:
        if session.price_incl_vat is None:
            return "no price" if session.status == SessionStatus.COMPLETED else "—"
        return money_text(session.price_incl_vat, session.price_currency)

    @admin.display(description="status", ordering="status")
    def status_text(self, session: ChargingSession) -> str:
        status = SessionStatus(session.status).label
        return f"{status} · suspect" if session.is_suspect else status

    @admin.display(description="energy, exactly")
    def energy_exact(self, session: ChargingSession) -> str:
        if session.energy_wh is None:
            return "—"
        return f"{energy_text(session.energy_wh)} = {session.energy_wh:,} Wh"

    @admin.display(description="duration, exactly")
    def duration_exact(self, session: ChargingSession) -> str:
        if session.ended_at is None:
            return "—"
        seconds = int((session.ended_at - session.started_at).total_seconds())
        return f"{duration_text(seconds)} h:mm = {seconds:,} s"

    @admin.display(description="charged to the driver")
    def charged_to_driver(self, session: ChargingSession) -> str:
        charged = session_charged_to_driver(
            location_kind=session.location_kind,
            purpose=session.purpose,
            net=session.price_excl_vat,
            fleet_vat_rate=session.fleet.default_vat_rate,
            currency=session.price_currency,
        )
        if charged is None:
            return "—"
        rate = session.fleet.default_vat_rate
        return (
            f"{charged.gross} {session.price_currency}: {charged.net} excl. VAT "
            f"+ {charged.vat} VAT at {rate.normalize():f} %"
        )

    @admin.display(description="refunded to the driver")
    def reimbursed_to_driver(self, session: ChargingSession) -> str:
        amount = session_reimbursed_to_driver(
            location_kind=session.location_kind,
            purpose=session.purpose,
            home_approval=session.home_approval,
            gross=session.price_incl_vat,
            currency=session.price_currency,
        )
        return "—" if amount is None else f"{amount} {session.price_currency} (no VAT)"

    @admin.display(description="price breakdown")
    def price_breakdown_table(self, session: ChargingSession) -> str:
        breakdown = session.price_breakdown or {}
        if "periods" not in breakdown:
            return "—"
        return render_to_string(
            "admin/voltop/breakdown_table.html",
            {
                "breakdown": breakdown_for_display(breakdown, session.fleet.zone),
                "zone": session.fleet.zone,
            },
        )

    def save_model(self, request: HttpRequest, obj: ChargingSession, form, change: bool) -> None:
        charging_session_save_by_manager(session=obj, provider_cost=form.provider_cost())

    def delete_check(self, obj: ChargingSession) -> None:
        charging_session_delete_check(session=obj)

    def delete_with_service(self, obj: ChargingSession) -> None:
        charging_session_delete(session=obj)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        """The list, headed by how many of the sessions the user may see have no price and why,
        each linking to them."""
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is None:
            return response
        counts = charging_session_unpriced_counts(changelist.root_queryset)
        response.context_data["unpriced_total"] = sum(counts.values())
        response.context_data["unpriced_sessions"] = [
            {
                "count": counts[reason],
                "label": UNPRICED_LABELS[reason],
                "value": reason or NOT_PRICED_YET,
            }
            for reason in [*UnpricedReason.values, ""]
            if counts.get(reason)
        ]
        return response

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="charging_chargingsession_import",
            ),
            path(
                "<int:pk>/meter-photo/",
                self.admin_site.admin_view(self.meter_photo_view),
                name="charging_chargingsession_meter_photo",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="meter photo")
    def meter_photo_link(self, session: ChargingSession) -> str:
        if not session.meter_photo:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse("admin:charging_chargingsession_meter_photo", args=[session.pk]),
            PurePosixPath(session.meter_photo.name).name,
        )

    def meter_photo_view(self, request: HttpRequest, pk: int) -> FileResponse:
        """The meter photo of a home session, for the admins and managers of its fleet, who
        review home charging; anyone else is not found, as for a session of another fleet."""
        sessions = self.scope_queryset(request, ChargingSession.objects.all(), self.editing_roles)
        session = sessions.filter(pk=pk).only("pk", "meter_photo").first()
        if session is None or not session.meter_photo:
            raise Http404
        return stored_file_response(session.meter_photo)

    @admin.action(description="Price again (sessions not billed yet)", permissions=["change"])
    def price_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request,
            queryset.filter(status=SessionStatus.COMPLETED),
            lambda session: charging_session_price(session=session),
            "priced",
        )

    @admin.action(description="Approve selected home sessions", permissions=["change"])
    def approve_home_sessions(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Each selected session is judged by the service: one not pending approval is
        reported as refused, with why."""
        self.act_per_row(
            request,
            queryset,
            lambda session: home_session_review(
                session=session, approve=True, reviewer=request.user
            ),
            "approved",
        )

    @admin.action(description="Reject selected home sessions…", permissions=["change"])
    def reject_home_sessions(
        self, request: HttpRequest, queryset: QuerySet
    ) -> TemplateResponse | None:
        """Asks why on a confirmation page first; rejects once it is sent."""
        return act_with_reason(
            self,
            request,
            queryset,
            action="reject_home_sessions",
            title="Reject home sessions",
            question="Reject these home sessions? Their drivers are not reimbursed for them; "
            "they read the reason you give.",
            submit="Reject",
            reason_help="Why the home charging is not reimbursed; the driver reads it.",
            act=lambda session, reason: home_session_review(
                session=session, approve=False, reviewer=request.user, reason=reason
            ),
            done="rejected",
        )

    @admin.action(description="Export as OCPI 2.2.1 CDR JSON", permissions=["view"])
    def export_cdr(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        sessions = queryset.select_related(
            "fleet", "driver", "token", "tariff_version", "connector__station__depot"
        )
        cdrs = [charging_session_as_cdr(session) for session in sessions]
        return json_download(cdrs[0] if len(cdrs) == 1 else cdrs, "voltop-cdrs.json")

    def import_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SessionImportForm(request.POST or None, request.FILES or None)
        form.fields["fleet"].queryset = self.editable_fleets(request)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            session_import = session_import_start(
                fleet=form.cleaned_data["fleet"],
                content=upload.read(),
                file_name=upload.name,
                only_valid_rows=form.cleaned_data["only_valid_rows"],
                requested_by=request.user,
            )
            if session_import.status == SessionImportStatus.QUEUED:
                self.message_user(
                    request,
                    f"{session_import.file_name} holds {session_import.rows_total} rows: it is "
                    "imported in the background. This page follows it.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:charging_sessionimport_change", args=[session_import.pk])
                )
            report = session_import_report(session_import)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import public charging sessions",
            "form": form,
            "report": report,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/charging/chargingsession/import.html", context)


METER_VALUE_FIELDS = ["measured_at", "energy_wh", "power_w", "state_of_charge_percent"]


@admin.register(MeterValue)
class MeterValueAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, FleetScopedAdmin
):
    """A session's meter readings, added, corrected and deleted through the charging service:
    never on a billed session, never outside the session, never going back."""

    fleet_path = "session__fleet"
    list_display = ["session", "measured", "energy_wh", "power_w", "state_of_charge_percent"]
    list_filter = ["session__fleet"]
    list_select_related = ["session__driver"]
    paginator = InfinitePaginator
    list_disable_select_all = True
    search_fields = ["session__external_id"]
    autocomplete_fields = ["session"]
    date_hierarchy = "measured_at"
    ordering = ["-session_id", "-measured_at"]
    write_services = {
        "add": charging_session_record_meter_values,
        "change": meter_value_correct,
        "delete": meter_value_delete,
    }

    @admin.display(description="measured", ordering="measured_at")
    def measured(self, meter_value: MeterValue) -> str:
        return moment_text(meter_value.measured_at, seconds=True)

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        """A reading stays with its session."""
        return ["session"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: MeterValue, form, change: bool) -> None:
        if change:
            meter_value_correct(meter_value=obj, changes=form_changes(form))
            return
        charging_session_record_meter_values(
            session=obj.session,
            readings=[MeterReading(**{name: getattr(obj, name) for name in METER_VALUE_FIELDS})],
        )
        obj.pk = obj.session.meter_values.get(measured_at=obj.measured_at).pk

    def delete_check(self, obj: MeterValue) -> None:
        meter_value_delete_check(meter_value=obj)

    def delete_with_service(self, obj: MeterValue) -> None:
        meter_value_delete(meter_value=obj)


@admin.register(SessionImport)
class SessionImportAdmin(FleetScopedAdmin):
    """Providers' files imported through *Charging sessions → Import*, with their outcome; a
    large one is followed here while a worker imports it. Read-only: the import page adds them."""

    list_display = [
        "id",
        "file_name",
        "fleet",
        "status",
        "progress",
        "imported",
        "already_imported",
        "error_count",
        "created_at",
    ]
    list_filter = ["fleet", "status"]
    list_select_related = ["fleet"]
    search_fields = ["file_name"]
    fields = [
        "fleet",
        "file_name",
        "file_format",
        "only_valid_rows",
        "status",
        "progress",
        "imported",
        "already_imported",
        "row_errors",
        "error",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields
    change_form_template = "admin/charging/sessionimport/change_form.html"

    def get_queryset(self, request: HttpRequest):
        """Without the uploaded file (up to JSON_MAX_BYTES a row): neither page shows it, only
        the import reads it."""
        return super().get_queryset(request).defer("content")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        session_import = self.get_object(request, object_id)
        working = session_import is not None and session_import.status in (
            SessionImportStatus.QUEUED,
            SessionImportStatus.RUNNING,
        )
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "working": working}
        )

    @admin.display(description="progress (rows)")
    def progress(self, session_import: SessionImport) -> str:
        return f"{session_import.rows_done}/{session_import.rows_total}"

    @admin.display(description="rows with errors")
    def error_count(self, session_import: SessionImport) -> int:
        return len(session_import.errors)

    @admin.display(description="errors")
    def row_errors(self, session_import: SessionImport) -> str:
        if not session_import.errors:
            return "—"
        return format_html(
            '<table id="import-errors"><thead><tr><th>Line</th><th>Reason</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td></tr>",
                ((error["line"], error["reason"]) for error in session_import.errors),
            ),
        )


RECENT_ROWS = 10
RECENT_MESSAGES = 30
CHART_READINGS = 60


def session_link(session: ChargingSession) -> str:
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:charging_chargingsession_change", args=[session.pk]),
        moment_text(session.started_at),
    )


class VehicleChargingAdmin(VehicleAdmin):
    """The vehicles, with when each last charged; on a vehicle's page also its odometer chart,
    its energy per 100 km and its latest sessions, each in a fixed number of queries."""

    list_display = [*VehicleAdmin.list_display, "last_charge"]
    page_fields = ["energy_per_100_km", "odometer_chart", "recent_sessions"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return vehicle_list_with_last_charge(super().get_queryset(request))

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, *self.page_fields] if obj is not None else readonly

    def get_fieldsets(self, request: HttpRequest, obj=None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        (name, options), *rest = fieldsets
        fields = [field for field in options["fields"] if field not in self.page_fields]
        return [
            (name, {**options, "fields": fields}),
            *rest,
            ("Charging and distance", {"fields": self.page_fields}),
        ]

    @admin.display(description="last charge", ordering="last_charged_at")
    def last_charge(self, vehicle: Vehicle) -> str:
        return moment_text(vehicle.last_charged_at)

    def _consumption(self, vehicle: Vehicle):
        if not hasattr(vehicle, "_voltop_consumption"):
            vehicle._voltop_consumption = vehicle_consumption(
                vehicle_id=vehicle.pk, readings_limit=CHART_READINGS
            )
        return vehicle._voltop_consumption

    @admin.display(description="energy per 100 km")
    def energy_per_100_km(self, vehicle: Vehicle) -> str:
        _, consumption = self._consumption(vehicle)
        if consumption is None:
            return "Needs two odometer readings with km driven between them."
        return (
            f"{energy_text(consumption.wh_per_100_km)} / 100 km: "
            f"{energy_text(consumption.energy_wh)} charged over {consumption.km:,} km, "
            f"{moment_text(consumption.since)} to {moment_text(consumption.until)}"
        )

    @admin.display(description="odometer")
    def odometer_chart(self, vehicle: Vehicle) -> str:
        readings, _ = self._consumption(vehicle)
        if not readings:
            return "No odometer reading yet."
        data = {
            "labels": [moment_text(reading.recorded_at) for reading in readings],
            "datasets": [
                {
                    "label": "km",
                    "data": [reading.km for reading in readings],
                    "borderColor": "var(--color-primary-600)",
                }
            ],
        }
        return render_to_string(
            "unfold/components/chart/line.html",
            {"data": json.dumps(data), "height": 220, "class": "voltop-odometer-chart"},
        )

    @admin.display(description="latest sessions")
    def recent_sessions(self, vehicle: Vehicle) -> str:
        sessions = charging_session_recent_for_vehicle(vehicle_id=vehicle.pk, limit=RECENT_ROWS)
        return rows_table(
            ["started", "driver", "where · why", "energy", "price", "status"],
            [
                [
                    session_link(session),
                    session.driver.full_name,
                    f"{session.get_location_kind_display()} · {session.get_purpose_display()}",
                    energy_text(session.energy_wh),
                    money_text(session.price_incl_vat, session.price_currency),
                    session.get_status_display(),
                ]
                for session in sessions
            ],
            empty_text="No session yet.",
            more_url=reverse("admin:charging_chargingsession_changelist")
            + f"?vehicle__id__exact={vehicle.pk}",
            more_text="All of this vehicle's sessions →",
        )


admin.site.unregister(Vehicle)
admin.site.register(Vehicle, VehicleChargingAdmin)
