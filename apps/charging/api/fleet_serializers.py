"""What fleet staff and fleet integrations send and read about stations, connectors, tariffs and
sessions under /api/v1/fleet/.

Money is a string with its currency beside it, energy an integer `*_wh` with a `*_kwh` string,
times ISO 8601 with offset. A field a client may not set (status, heartbeat, a station's fleet
once made, …) is refused by name; related rows are looked up only among the caller's fleets."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.charging.api.serializers import (
    CHARGED_HELP,
    REIMBURSED_HELP,
    AwareDateTimeField,
    ChargedToDriverSerializer,
    DriverSessionDetailSerializer,
    DriverSessionSerializer,
    PriceBreakdownSerializer,
    ReimbursedToDriverSerializer,
    SessionCostSerializer,
    price_breakdown_data,
    session_cost_text,
)
from apps.charging.choices import SessionPurpose, UnpricedReason
from apps.charging.models import (
    ChargingSession,
    ChargingStation,
    Connector,
    Tariff,
    TariffVersion,
)
from apps.fleets.api.fleet_serializers import FleetScopedRelatedField, RefusesUnsettableFields
from apps.fleets.models import Depot, Fleet
from voltop.core.api.json_input import LimitedJSONField


class ConnectorSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    """A connector; its station is chosen when it is made and never changes."""

    station = FleetScopedRelatedField(queryset=ChargingStation.objects.all())
    create_only_fields = ("station",)

    class Meta:
        model = Connector
        fields = ["id", "station", "connector_id", "standard", "power_type", "max_kw"]
        # Uniqueness is the service's to judge (full_clean), with the rest of the model's rules.
        validators: list = []


class StationConnectorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Connector
        fields = ["id", "connector_id", "standard", "power_type", "max_kw"]
        read_only_fields = fields


class ChargingStationSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    """A charger of the fleet. Its status and heartbeat come from the charger, not from here;
    its fleet is chosen when it is made and never changes."""

    fleet = FleetScopedRelatedField(queryset=Fleet.objects.all(), fleet_lookup="pk")
    depot = FleetScopedRelatedField(queryset=Depot.objects.all(), required=False, allow_null=True)
    create_only_fields = ("fleet",)
    connectors = StationConnectorSerializer(many=True, read_only=True)

    class Meta:
        model = ChargingStation
        fields = [
            "id",
            "fleet",
            "depot",
            "ocpp_identity",
            "vendor",
            "model",
            "serial_number",
            "firmware_version",
            "status",
            "last_heartbeat_at",
            "connectors",
        ]
        read_only_fields = ["status", "last_heartbeat_at"]
        # The model's rules (a unique OCPP identity, a depot of the station's fleet) are the
        # service's to judge (full_clean), so they are stated once.
        extra_kwargs = {"ocpp_identity": {"validators": []}}


class TariffVersionSerializer(serializers.ModelSerializer):
    terms = serializers.JSONField(read_only=True, help_text="The OCPI 2.2.1 Tariff object.")

    class Meta:
        model = TariffVersion
        fields = ["number", "effective_from", "terms"]
        read_only_fields = fields


class TariffSerializer(serializers.ModelSerializer):
    """A tariff with the version in force now (null before its first version takes effect).
    Minimum and maximum prices are in the tariff's currency."""

    current_version = serializers.SerializerMethodField()

    class Meta:
        model = Tariff
        fields = [
            "id",
            "fleet",
            "name",
            "ocpi_id",
            "currency",
            "depot",
            "station",
            "connector",
            "valid_from",
            "valid_until",
            "is_active",
            "min_price_excl_vat",
            "min_price_incl_vat",
            "max_price_excl_vat",
            "max_price_incl_vat",
            "parking_grace_minutes",
            "current_version",
        ]
        read_only_fields = fields

    @extend_schema_field(TariffVersionSerializer(allow_null=True))
    def get_current_version(self, tariff: Tariff) -> dict | None:
        versions = tariff.versions_in_force
        return TariffVersionSerializer(versions[0]).data if versions else None


def _tariff_price_field(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12,
        decimal_places=4,
        min_value=0,
        required=False,
        allow_null=True,
        help_text=help_text,
    )


class TariffUpdateSerializer(RefusesUnsettableFields, serializers.Serializer):
    """What a tariff edit may change; anything else sent (fleet, OCPI id, currency, is_active,
    versions, …) is refused by name. Prices and the validity window are published as a new
    version; the prices of sessions already priced never change."""

    name = serializers.CharField(
        required=False, max_length=Tariff._meta.get_field("name").max_length
    )
    depot = FleetScopedRelatedField(
        queryset=Depot.objects.all(),
        required=False,
        allow_null=True,
        help_text="Price only this depot's chargers; leave depot, station and connector empty "
        "for the whole fleet.",
    )
    station = FleetScopedRelatedField(
        queryset=ChargingStation.objects.all(), required=False, allow_null=True
    )
    connector = FleetScopedRelatedField(
        queryset=Connector.objects.all(),
        fleet_lookup="station__fleet",
        required=False,
        allow_null=True,
    )
    valid_from = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="Changes only while it lies ahead, and not to a moment before now.",
    )
    valid_until = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="Changes only while it has not passed, and not to a moment before now; "
        "null for no end.",
    )
    min_price_excl_vat = _tariff_price_field("The least a session costs, excl. VAT.")
    min_price_incl_vat = _tariff_price_field("The least a session costs, incl. VAT.")
    max_price_excl_vat = _tariff_price_field("The most a session costs, excl. VAT.")
    max_price_incl_vat = _tariff_price_field("The most a session costs, incl. VAT.")
    parking_grace_minutes = serializers.IntegerField(
        required=False, min_value=0, max_value=2_147_483_647
    )
    effective_from = AwareDateTimeField(
        required=False,
        write_only=True,
        help_text="When new prices and a new validity window take effect in the published "
        "version: now when left out, never before now. The window itself applies at once.",
    )


class TariffImportSerializer(serializers.Serializer):
    fleet = FleetScopedRelatedField(queryset=Fleet.objects.all(), fleet_lookup="pk")
    document = LimitedJSONField(
        help_text="An OCPI 2.2.1 Tariff object; its `id` names the tariff within the fleet."
    )
    name = serializers.CharField(
        required=False,
        default="",
        max_length=Tariff._meta.get_field("name").max_length,
        help_text="Leave out to keep the tariff's name (a new one is named after its OCPI id).",
    )

    def validate_document(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Send the OCPI Tariff object.", code="invalid")
        return value


class SessionDriverSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    full_name = serializers.CharField(read_only=True)
    employee_number = serializers.CharField(read_only=True)


FLEET_SESSION_FIELDS = [
    "time_zone",
    "driver",
    "source",
    "is_suspect",
    "suspect_reason",
    "invalid_reason",
    "unpriced_reason",
    "reviewed_at",
]
DRIVERS_OWN_AMOUNTS = ("charged_to_you", "reimbursed_to_you")
FLEET_AMOUNTS = ["cost_to_fleet", "charged_to_driver", "reimbursed_to_driver"]


class UnpricedReasonField(serializers.ChoiceField):
    """Why pricing left a session without a price, or null when it did not."""

    def to_representation(self, value: str) -> str | None:
        return value or None


def _unpriced_reason_field() -> UnpricedReasonField:
    return UnpricedReasonField(
        choices=UnpricedReason.choices,
        allow_null=True,
        read_only=True,
        help_text="Why pricing left the completed session without a price: billing leaves it "
        "out until it has one. Null when it is priced, or its pricing has not run yet.",
    )


def _with_fleet_amounts(driver_fields: list[str]) -> list[str]:
    """The driver's view of a session with its amounts as the fleet sees them in their place."""
    at = driver_fields.index(DRIVERS_OWN_AMOUNTS[0])
    rest = [field for field in driver_fields if field not in DRIVERS_OWN_AMOUNTS]
    return [*rest[:at], *FLEET_AMOUNTS, *rest[at:]]


class FleetSessionAmounts(serializers.Serializer):
    """A session's amounts as the fleet sees them: its own cost to the fleet, and what the
    driver is charged for it or refunded."""

    time_zone = serializers.CharField(
        source="fleet.time_zone",
        read_only=True,
        help_text="The fleet's IANA time zone, e.g. Europe/Amsterdam; times in the API are UTC.",
    )
    cost_to_fleet = serializers.SerializerMethodField(
        help_text="The session's own cost to the fleet, as its tariff, the driver's home rate or "
        "the provider priced it; its VAT is the fleet's input VAT. Null until it is priced."
    )
    charged_to_driver = serializers.SerializerMethodField(
        help_text=CHARGED_HELP.format(whom="the driver is", whose="their", them="them")
    )
    reimbursed_to_driver = serializers.SerializerMethodField(
        help_text=REIMBURSED_HELP.format(whose="their", them="the driver")
    )

    @extend_schema_field(SessionCostSerializer(allow_null=True))
    def get_cost_to_fleet(self, session: ChargingSession) -> dict | None:
        return session_cost_text(session)

    @extend_schema_field(ChargedToDriverSerializer(allow_null=True))
    def get_charged_to_driver(self, session: ChargingSession) -> dict | None:
        return self.get_charged_to_you(session)

    @extend_schema_field(ReimbursedToDriverSerializer(allow_null=True))
    def get_reimbursed_to_driver(self, session: ChargingSession) -> dict | None:
        return self.get_reimbursed_to_you(session)


class FleetSessionSerializer(FleetSessionAmounts, DriverSessionSerializer):
    """A session of the fleet, as listed: the driver's view with the fleet's amounts, plus who
    charged, what is doubtful about it, and why pricing left it without a price."""

    driver = SessionDriverSerializer(read_only=True)
    unpriced_reason = _unpriced_reason_field()

    class Meta(DriverSessionSerializer.Meta):
        fields = [*_with_fleet_amounts(DriverSessionSerializer.Meta.fields), *FLEET_SESSION_FIELDS]
        read_only_fields = fields


class FleetSessionDetailSerializer(FleetSessionAmounts, DriverSessionDetailSerializer):
    """A session of the fleet with its meter readings and how its cost came about."""

    driver = SessionDriverSerializer(read_only=True)
    unpriced_reason = _unpriced_reason_field()
    meter_photo_route = "fleet-session-meter-photo"

    class Meta(DriverSessionDetailSerializer.Meta):
        fields = [
            *_with_fleet_amounts(DriverSessionDetailSerializer.Meta.fields),
            *(field for field in FLEET_SESSION_FIELDS if field != "source"),
        ]
        read_only_fields = fields

    @extend_schema_field(PriceBreakdownSerializer(allow_null=True))
    def get_price_breakdown(self, session: ChargingSession) -> dict | None:
        return price_breakdown_data(session, PriceBreakdownSerializer)


class HomeSessionApproveSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="An optional note for the driver."
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Why; the driver reads it.")


METER_MAX_WH = 2**63 - 1


class SessionCorrectionSerializer(RefusesUnsettableFields, serializers.Serializer):
    """A completed session as it should have been: its times and both meter readings (the
    energy is their difference), or its energy without them. A reading left out is cleared;
    the purpose stays unless given. Anything else sent (driver, status, price, …) is refused."""

    started_at = AwareDateTimeField()
    ended_at = AwareDateTimeField(help_text="Not in the future.")
    meter_start_wh = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=METER_MAX_WH
    )
    meter_stop_wh = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=METER_MAX_WH
    )
    energy_wh = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=METER_MAX_WH,
        help_text="Needed without both meter readings; with them it must be their difference.",
    )
    purpose = serializers.ChoiceField(choices=SessionPurpose.choices, required=False)
