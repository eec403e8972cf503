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
from rest_framework.exceptions import ErrorDetail
from rest_framework.reverse import reverse

from apps.charging.choices import ChargerCallStatus, SessionPurpose
from apps.charging.models import ChargerCall, ChargingSession, MeterValue
from apps.charging.vat_rule import session_charged_to_driver, session_reimbursed_to_driver
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


class SessionCostSerializer(serializers.Serializer):
    """The session's own cost, as its tariff, the driver's home rate or the provider priced it."""

    currency = serializers.CharField()
    excl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    vat = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="The VAT the session was charged: the fleet's input VAT, never passed on.",
    )
    incl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)


class ChargedToDriverSerializer(serializers.Serializer):
    """A private session's amount on the driver's invoice, by Voltop's VAT rule."""

    currency = serializers.CharField()
    excl_vat = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="The session's cost excl. VAT: the net of its invoice line.",
    )
    vat_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        help_text="The fleet's VAT rate in percent: the rate of its invoice line.",
    )
    vat = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="VAT at that rate on this session alone."
    )
    incl_vat = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="The net plus that VAT."
    )


class ReimbursedToDriverSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="At the driver's home rate; a refund of their own cost carries no VAT.",
    )


CHARGED_HELP = (
    "What {whom} charged for this session on {whose} invoice: its cost excl. VAT plus VAT at "
    "the fleet's rate (whatever VAT the charger's operator charged the fleet), the same net and "
    "rate as its invoice line. Only private charging at a depot or a public charger is charged "
    "to {them}; null for business charging (the fleet bears it), for charging at home (refunded "
    "or {whose} own) and until the session is priced. An invoice computes its VAT once per rate "
    "over all its lines, so its total can differ from the sum of its sessions' incl_vat by "
    "rounding, half a cent per session at most."
)
REIMBURSED_HELP = (
    "What the fleet refunds {them} for this session: business charging at home, at {whose} home "
    "rate, without VAT; while home_approval is pending, what the refund will be once approved. "
    "Null for any other session, a rejected one, and until the session is priced."
)


def _amounts_text(**amounts) -> dict:
    return {name: str(value) for name, value in amounts.items()}


def charged_to_driver_text(
    *, location_kind, purpose, price_excl_vat, currency, fleet_vat_rate
) -> dict | None:
    """A session's charged_to_you / charged_to_driver object, or None."""
    charged = session_charged_to_driver(
        location_kind=location_kind,
        purpose=purpose,
        net=price_excl_vat,
        fleet_vat_rate=fleet_vat_rate,
        currency=currency,
    )
    if charged is None:
        return None
    return {
        "currency": currency,
        **_amounts_text(
            excl_vat=charged.net, vat_rate=fleet_vat_rate, vat=charged.vat, incl_vat=charged.gross
        ),
    }


def reimbursed_to_driver_text(
    *, location_kind, purpose, home_approval, price_incl_vat, currency
) -> dict | None:
    """A session's reimbursed_to_you / reimbursed_to_driver object, or None."""
    amount = session_reimbursed_to_driver(
        location_kind=location_kind,
        purpose=purpose,
        home_approval=home_approval,
        gross=price_incl_vat,
        currency=currency,
    )
    return None if amount is None else {"currency": currency, "amount": str(amount)}


def session_cost_text(session: ChargingSession) -> dict | None:
    """A session's cost_to_fleet object, or None while it is not priced."""
    if session.price_incl_vat is None:
        return None
    return {
        "currency": session.price_currency,
        **_amounts_text(
            excl_vat=session.price_excl_vat,
            vat=session.price_vat,
            incl_vat=session.price_incl_vat,
        ),
    }


class DriverSessionSerializer(serializers.ModelSerializer):
    """One of the driver's sessions, as listed."""

    energy_kwh = serializers.DecimalField(
        max_digits=19, decimal_places=3, read_only=True, allow_null=True
    )
    vehicle_plate = serializers.CharField(source="vehicle.plate", read_only=True, allow_null=True)
    where = serializers.SerializerMethodField(
        help_text="The depot's name, else the charger's identity; null away from a charger."
    )
    charged_to_you = serializers.SerializerMethodField(
        help_text=CHARGED_HELP.format(whom="you are", whose="your", them="you")
    )
    reimbursed_to_you = serializers.SerializerMethodField(
        help_text=REIMBURSED_HELP.format(whose="your", them="you")
    )
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
            "energy_source",
            "vehicle_plate",
            "where",
            "charged_to_you",
            "reimbursed_to_you",
            "billed",
            "home_approval",
        ]
        read_only_fields = fields

    def get_where(self, session: ChargingSession) -> str | None:
        if session.connector is None:
            return None
        station = session.connector.station
        return station.depot.name if station.depot is not None else station.ocpp_identity

    @extend_schema_field(ChargedToDriverSerializer(allow_null=True))
    def get_charged_to_you(self, session: ChargingSession) -> dict | None:
        return charged_to_driver_text(
            location_kind=session.location_kind,
            purpose=session.purpose,
            price_excl_vat=session.price_excl_vat,
            currency=session.price_currency,
            fleet_vat_rate=session.fleet.default_vat_rate,
        )

    @extend_schema_field(ReimbursedToDriverSerializer(allow_null=True))
    def get_reimbursed_to_you(self, session: ChargingSession) -> dict | None:
        return reimbursed_to_driver_text(
            location_kind=session.location_kind,
            purpose=session.purpose,
            home_approval=session.home_approval,
            price_incl_vat=session.price_incl_vat,
            currency=session.price_currency,
        )

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
    "energy_source",
    "vehicle__plate",
    "connector_id",
    "connector__station__depot__name",
    "connector__station__ocpp_identity",
    "price_currency",
    "price_excl_vat",
    "price_incl_vat",
    "fleet__default_vat_rate",
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
        kind = {"location_kind": row["location_kind"], "purpose": row["purpose"]}
        return {
            "id": row["id"],
            "status": row["status"],
            "location_kind": row["location_kind"],
            "purpose": row["purpose"],
            "started_at": _time_text(row["started_at"], zone),
            "ended_at": _time_text(row["ended_at"], zone),
            "energy_wh": energy_wh,
            "energy_kwh": None if energy_wh is None else str(kwh_of_wh(energy_wh)),
            "energy_source": row["energy_source"],
            "vehicle_plate": row["vehicle__plate"],
            "where": where,
            "charged_to_you": charged_to_driver_text(
                **kind,
                price_excl_vat=row["price_excl_vat"],
                currency=row["price_currency"],
                fleet_vat_rate=row["fleet__default_vat_rate"],
            ),
            "reimbursed_to_you": reimbursed_to_driver_text(
                **kind,
                home_approval=row["home_approval"],
                price_incl_vat=row["price_incl_vat"],
                currency=row["price_currency"],
            ),
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


class PriceLineNetSerializer(serializers.Serializer):
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
    excl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)


class PriceLineSerializer(PriceLineNetSerializer):
    vat_rate = serializers.DecimalField(
        max_digits=None, decimal_places=None, allow_null=True, help_text="In percent."
    )
    vat = serializers.DecimalField(max_digits=None, decimal_places=None)
    incl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)


class PricePeriodNetSerializer(serializers.Serializer):
    start = StoredDateTimeField()
    end = StoredDateTimeField()
    charging = serializers.BooleanField(help_text="False while parked without charging.")
    energy_kwh = serializers.SerializerMethodField()
    lines = PriceLineNetSerializer(many=True)

    def get_energy_kwh(self, period: dict) -> str:
        return f"{Decimal(period['energy_wh']) / 1000:f}"


class PricePeriodSerializer(PricePeriodNetSerializer):
    lines = PriceLineSerializer(many=True)


class PriceAdjustmentNetSerializer(serializers.Serializer):
    excl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)


class PriceAdjustmentSerializer(PriceAdjustmentNetSerializer):
    incl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)


class PriceBreakdownNetSerializer(serializers.Serializer):
    """How a session's net came about, period by period and line by line; the lines are
    unrounded, the session's net is their total rounded and kept within the tariff's minimum
    and maximum price. The tariff's VAT is left out: the driver is charged the fleet's VAT
    (charged_to_you)."""

    periods = PricePeriodNetSerializer(many=True)
    lines_excl_vat = serializers.DecimalField(max_digits=None, decimal_places=None)
    price_limit_adjustment = PriceAdjustmentNetSerializer(
        help_text="What the tariff's minimum or maximum price added or took off."
    )


class PriceBreakdownSerializer(PriceBreakdownNetSerializer):
    """How a session's cost came about, period by period and line by line; the lines are
    unrounded, the session's cost is their total rounded and kept within the tariff's minimum
    and maximum price."""

    periods = PricePeriodSerializer(many=True)
    lines_vat = serializers.DecimalField(max_digits=None, decimal_places=None)
    price_limit_adjustment = PriceAdjustmentSerializer(
        help_text="What the tariff's minimum or maximum price added or took off."
    )


def price_breakdown_data(session: ChargingSession, serializer_class) -> dict | None:
    breakdown = session.price_breakdown or {}
    if "periods" not in breakdown:
        return None
    return serializer_class(breakdown).data


class DriverSessionDetailSerializer(DriverSessionSerializer):
    """One of the driver's sessions with its meter readings and how its price came about."""

    meter_values = MeterValueSerializer(many=True, read_only=True)
    price_breakdown = serializers.SerializerMethodField(
        help_text="Null until the session is priced by a tariff or home rate."
    )
    meter_photo = serializers.SerializerMethodField(
        help_text="The API address of the meter photo sent with a home session, null when it "
        "has none. Photos have no public address."
    )
    meter_photo_route = "me-session-meter-photo"

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

    @extend_schema_field(PriceBreakdownNetSerializer(allow_null=True))
    def get_price_breakdown(self, session: ChargingSession) -> dict | None:
        return price_breakdown_data(session, PriceBreakdownNetSerializer)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_meter_photo(self, session: ChargingSession) -> str | None:
        if not session.meter_photo:
            return None
        return reverse(
            self.meter_photo_route, args=[session.pk], request=self.context.get("request")
        )


class SessionStartSerializer(serializers.Serializer):
    connector = serializers.IntegerField(
        required=False, help_text="The id of a connector of your fleet; or give its evse_id."
    )
    evse_id = serializers.CharField(
        required=False,
        max_length=500,
        help_text="The EVSE id printed on the charger, or what its QR code holds.",
    )
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

    def to_internal_value(self, data) -> dict:
        """The fields' own errors and, beside them, a missing or doubled connector. A form's
        blank field counts as not given, as DRF reads it."""
        errors = {}
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as error:
            errors, values = dict(error.detail), {}
        named = [field for field in ("connector", "evse_id") if field in values or field in errors]
        if len(named) != 1 and "connector" not in errors:
            errors["connector"] = [
                ErrorDetail(
                    "Give the connector's id or its EVSE id, one of the two.",
                    code="connector_or_evse_id",
                )
            ]
        if errors:
            raise serializers.ValidationError(errors)
        return values


class ChargerRequestSerializer(serializers.Serializer):
    """A start or stop the app asked a charger for, and the charger's answer once it came."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=ChargerCallStatus.choices,
        help_text="queued and sent: no answer yet; answered: see accepted; failed: see error.",
    )
    accepted = serializers.SerializerMethodField(
        help_text="Whether the charger accepted; null until it answered."
    )
    error = serializers.CharField(help_text="Why the request failed; empty otherwise.")
    connector = serializers.IntegerField(source="connector_id", allow_null=True)
    session = serializers.IntegerField(
        source="session_id",
        allow_null=True,
        help_text="The session, once the charger reported its start (or the one to stop).",
    )
    created_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)

    def get_accepted(self, call: ChargerCall) -> bool | None:
        if call.status != ChargerCallStatus.ANSWERED:
            return None
        return (call.answer or {}).get("status") == "Accepted"


class DriverStationConnectorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    connector_id = serializers.IntegerField(help_text="The outlet's number on its station.")
    evse_id = serializers.CharField()
    standard = serializers.CharField()
    power_type = serializers.CharField()
    max_kw = serializers.DecimalField(max_digits=6, decimal_places=1)
    status = serializers.CharField(
        help_text="As the charger last reported it (OCPP 1.6); empty until it does."
    )
    error_code = serializers.CharField()
    status_at = serializers.DateTimeField(allow_null=True)
    is_charging = serializers.BooleanField(help_text="A session is charging on it now.")
    is_free = serializers.SerializerMethodField(
        help_text="Its station is connected, it reports Available, and nothing charges on it."
    )

    def get_is_free(self, connector) -> bool:
        return (
            connector.station.is_connected
            and connector.status == "Available"
            and not connector.is_charging
        )


class DriverStationSerializer(serializers.Serializer):
    """A depot charger of my fleet, live: connected or not, and each outlet's status."""

    id = serializers.IntegerField()
    ocpp_identity = serializers.CharField()
    depot = serializers.CharField(source="depot.name")
    vendor = serializers.CharField()
    model = serializers.CharField()
    is_connected = serializers.BooleanField()
    last_heartbeat_at = serializers.DateTimeField(allow_null=True)
    connectors = DriverStationConnectorSerializer(many=True)


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
