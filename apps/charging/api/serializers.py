"""What the driver app sends and reads about charging sessions under /api/v1/me/.

Money is a string with its currency beside it, energy an integer `*_wh` with a `*_kwh` string,
times ISO 8601 with offset. Output serializers are read-only; input serializers name only what
a driver may say, so anything else in a request (fleet, status, prices, …) is ignored."""

from datetime import datetime
from decimal import Decimal
from functools import cached_property

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.charging.choices import SessionPurpose
from apps.charging.models import ChargingSession, MeterValue
from voltop.core.money import kwh_of_wh


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its offset: Voltop does not guess which zone was meant."""

    default_error_messages = {
        "naive": "Give the time with its offset, e.g. 2026-03-09T19:00:00+01:00.",
    }

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class StoredDateTimeField(serializers.DateTimeField):
    """A time kept as ISO 8601 text in a JSON column, rendered like every other time."""

    def to_representation(self, value):
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return super().to_representation(value)


class PriceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    excl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    incl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)


def session_price(session: ChargingSession) -> dict | None:
    if session.price_incl_vat is None:
        return None
    return PriceSerializer(
        {
            "currency": session.price_currency,
            "excl_vat": session.price_excl_vat,
            "vat": session.price_vat,
            "incl_vat": session.price_incl_vat,
        }
    ).data


class DriverSessionSerializer(serializers.ModelSerializer):
    """One of the driver's sessions, as listed."""

    energy_kwh = serializers.DecimalField(
        max_digits=19, decimal_places=3, read_only=True, allow_null=True
    )
    vehicle_plate = serializers.CharField(source="vehicle.plate", read_only=True, allow_null=True)
    where = serializers.SerializerMethodField(
        help_text="The depot's name, else the charger's identity; null away from a charger."
    )
    price = serializers.SerializerMethodField()
    billed = serializers.SerializerMethodField(
        help_text="On an invoice or statement already; then nothing about it can change."
    )

    class Meta:
        model = ChargingSession
        fields = [
            "id",
            "status",
            "location_kind",
            "purpose",
            "started_at",
            "ended_at",
            "energy_wh",
            "energy_kwh",
            "vehicle_plate",
            "where",
            "price",
            "billed",
            "home_approval",
        ]
        read_only_fields = fields

    def get_where(self, session: ChargingSession) -> str | None:
        if session.connector is None:
            return None
        station = session.connector.station
        return station.depot.name if station.depot is not None else station.ocpp_identity

    @extend_schema_field(PriceSerializer(allow_null=True))
    def get_price(self, session: ChargingSession) -> dict | None:
        return session_price(session)

    def get_billed(self, session: ChargingSession) -> bool:
        return session.billed_at is not None


SESSION_ROW_FIELDS = (
    "id",
    "status",
    "location_kind",
    "purpose",
    "started_at",
    "ended_at",
    "energy_wh",
    "vehicle__plate",
    "connector_id",
    "connector__station__depot__name",
    "connector__station__ocpp_identity",
    "price_currency",
    "price_excl_vat",
    "price_vat",
    "price_incl_vat",
    "billed_at",
    "home_approval",
)


def _time_text(value: datetime | None, zone) -> str | None:
    """A stored time as DRF renders it: in the current zone, `Z` for +00:00."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class DriverSessionRowSerializer(serializers.BaseSerializer):
    """The driver's session list, the app's busiest read: each row is rendered straight from
    one `.values(*SESSION_ROW_FIELDS)` row into exactly what DriverSessionSerializer gives for
    the session (a test holds the two equal); the schema is DriverSessionSerializer's."""

    @cached_property
    def zone(self):
        return timezone.get_current_timezone()

    def to_representation(self, row: dict) -> dict:
        zone = self.zone
        energy_wh = row["energy_wh"]
        if row["connector_id"] is None:
            where = None
        else:
            where = (
                row["connector__station__depot__name"] or row["connector__station__ocpp_identity"]
            )
        price = None
        if row["price_incl_vat"] is not None:
            price = {
                "currency": row["price_currency"],
                "excl_vat": str(row["price_excl_vat"]),
                "vat": str(row["price_vat"]),
                "incl_vat": str(row["price_incl_vat"]),
            }
        return {
            "id": row["id"],
            "status": row["status"],
            "location_kind": row["location_kind"],
            "purpose": row["purpose"],
            "started_at": _time_text(row["started_at"], zone),
            "ended_at": _time_text(row["ended_at"], zone),
            "energy_wh": energy_wh,
            "energy_kwh": None if energy_wh is None else str(kwh_of_wh(energy_wh)),
            "vehicle_plate": row["vehicle__plate"],
            "where": where,
            "price": price,
            "billed": row["billed_at"] is not None,
            "home_approval": row["home_approval"],
        }


class MeterValueSerializer(serializers.ModelSerializer):
    soc = serializers.IntegerField(
        source="state_of_charge_percent",
        read_only=True,
        allow_null=True,
        help_text="State of charge in percent.",
    )

    class Meta:
        model = MeterValue
        fields = ["measured_at", "energy_wh", "power_w", "soc"]
        read_only_fields = fields


class PriceLineSerializer(serializers.Serializer):
    dimension = serializers.CharField(help_text="ENERGY, TIME, PARKING_TIME or FLAT.")
    volume = serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        help_text="Wh for ENERGY, seconds for TIME and PARKING_TIME, 1 for FLAT.",
    )
    step_extra = serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        help_text="What rounding up to the tariff's step size added to the volume.",
    )
    unit_price = serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        help_text="Per kWh for ENERGY, per hour for TIME and PARKING_TIME, per session for FLAT.",
    )
    vat_rate = serializers.DecimalField(
        max_digits=None, decimal_places=None, allow_null=True, help_text="In percent."
    )
    excl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)
    vat = serializers.DecimalField(max_digits=None, decimal_places=None)
    incl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)


class PricePeriodSerializer(serializers.Serializer):
    start = StoredDateTimeField()
    end = StoredDateTimeField()
    charging = serializers.BooleanField(help_text="False while parked without charging.")
    energy_kwh = serializers.SerializerMethodField()
    lines = PriceLineSerializer(many=True)

    def get_energy_kwh(self, period: dict) -> str:
        return f"{Decimal(period['energy_wh']) / 1000:f}"


class PriceAdjustmentSerializer(serializers.Serializer):
    excl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)
    incl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)


class PriceBreakdownSerializer(serializers.Serializer):
    """How a session's price came about, period by period and line by line; the lines are
    unrounded, the session's price is their total rounded and kept within the tariff's
    minimum and maximum price."""

    periods = PricePeriodSerializer(many=True)
    lines_excl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)
    lines_vat = serializers.DecimalField(max_digits=None, decimal_places=None)
    price_limit_adjustment = PriceAdjustmentSerializer(
        help_text="What the tariff's minimum or maximum price added or took off."
    )


class DriverSessionDetailSerializer(DriverSessionSerializer):
    """One of the driver's sessions with its meter readings and how its price came about."""

    meter_values = MeterValueSerializer(many=True, read_only=True)
    price_breakdown = serializers.SerializerMethodField(
        help_text="Null until the session is priced by a tariff or home rate."
    )

    class Meta(DriverSessionSerializer.Meta):
        fields = [
            *DriverSessionSerializer.Meta.fields,
            "source",
            "vehicle",
            "connector",
            "meter_start_wh",
            "meter_stop_wh",
            "meter_photo",
            "review_note",
            "price_basis",
            "tariff_version",
            "price_breakdown",
            "meter_values",
        ]
        read_only_fields = fields

    @extend_schema_field(PriceBreakdownSerializer(allow_null=True))
    def get_price_breakdown(self, session: ChargingSession) -> dict | None:
        breakdown = session.price_breakdown or {}
        if "periods" not in breakdown:
            return None
        return PriceBreakdownSerializer(breakdown).data


class SessionStartSerializer(serializers.Serializer):
    connector = serializers.IntegerField(help_text="The id of a connector of your fleet.")
    vehicle = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The vehicle you charge; by default the one assigned to you.",
    )
    token = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="One of your charge tokens; by default your valid one, the app's first.",
    )
    purpose = serializers.ChoiceField(
        choices=SessionPurpose.choices, default=SessionPurpose.BUSINESS
    )


class SessionStopSerializer(serializers.Serializer):
    ended_at = AwareDateTimeField(required=False, help_text="Leave out to stop now.")
    meter_stop_wh = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="The meter reading at the stop; needed when the session has a meter start.",
    )
    energy_wh = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="The energy charged, when the session has no meter start.",
    )

    def validate_ended_at(self, value: datetime) -> datetime:
        if value > timezone.now():
            raise serializers.ValidationError(
                "A session cannot end in the future; leave it out to stop now.", code="future"
            )
        return value


class HomeSessionReportSerializer(serializers.Serializer):
    started_at = AwareDateTimeField()
    ended_at = AwareDateTimeField()
    energy_wh = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The energy charged; or give both meter readings.",
    )
    meter_start_wh = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    meter_stop_wh = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    vehicle = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The vehicle you charged; by default the one assigned to you.",
    )
    purpose = serializers.ChoiceField(
        choices=SessionPurpose.choices, default=SessionPurpose.BUSINESS
    )
    meter_photo = serializers.FileField(
        required=False,
        validators=ChargingSession._meta.get_field("meter_photo").validators,
        help_text="A photo of the meter (jpg, jpeg, png, heic, webp or pdf); send multipart.",
    )


class SessionPurposeSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=SessionPurpose.choices)
