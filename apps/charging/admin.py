"""Admin of the charging app: stations, connectors, sessions and meter values."""

from django.contrib import admin

from apps.charging.models import ChargingSession, ChargingStation, Connector, MeterValue
from apps.fleets.tenancy import FleetScopedAdmin, FleetScopedTabularInline


class ConnectorInline(FleetScopedTabularInline):
    model = Connector
    fleet_path = "station__fleet"
    fields = ["connector_id", "standard", "power_type", "max_kw"]


class MeterValueInline(FleetScopedTabularInline):
    model = MeterValue
    fleet_path = "session__fleet"
    fields = ["measured_at", "energy_wh", "power_w", "state_of_charge_percent"]
    ordering = ["measured_at"]


@admin.register(ChargingStation)
class ChargingStationAdmin(FleetScopedAdmin):
    list_display = [
        "ocpp_identity",
        "vendor",
        "model",
        "fleet",
        "depot",
        "status",
        "last_heartbeat_at",
    ]
    list_filter = ["fleet", "status", "depot", "vendor"]
    list_select_related = ["fleet", "depot"]
    search_fields = ["ocpp_identity", "serial_number", "vendor", "model"]
    autocomplete_fields = ["fleet", "depot"]
    readonly_fields = ["last_heartbeat_at", "created_at", "updated_at"]
    inlines = [ConnectorInline]


@admin.register(Connector)
class ConnectorAdmin(FleetScopedAdmin):
    fleet_path = "station__fleet"
    list_display = ["__str__", "station", "connector_id", "standard", "power_type", "max_kw"]
    list_filter = ["station__fleet", "standard", "power_type"]
    list_select_related = ["station"]
    search_fields = ["station__ocpp_identity"]
    autocomplete_fields = ["station"]


@admin.register(ChargingSession)
class ChargingSessionAdmin(FleetScopedAdmin):
    list_display = [
        "id",
        "started_at",
        "ended_at",
        "driver",
        "vehicle",
        "location_kind",
        "purpose",
        "energy_wh",
        "status",
        "source",
    ]
    list_filter = ["fleet", "status", "location_kind", "purpose", "source"]
    list_select_related = ["driver", "vehicle"]
    search_fields = [
        "external_id",
        "driver__last_name",
        "driver__employee_number",
        "vehicle__plate",
    ]
    autocomplete_fields = ["fleet", "driver", "vehicle", "token", "connector"]
    date_hierarchy = "started_at"
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MeterValueInline]


@admin.register(MeterValue)
class MeterValueAdmin(FleetScopedAdmin):
    fleet_path = "session__fleet"
    list_display = ["session", "measured_at", "energy_wh", "power_w", "state_of_charge_percent"]
    list_filter = ["session__fleet"]
    list_select_related = ["session"]
    search_fields = ["session__external_id"]
    autocomplete_fields = ["session"]
    date_hierarchy = "measured_at"
