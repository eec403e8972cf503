"""Tables of the charging app: stations, connectors, tariffs and their versions, sessions and
their meter values."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    FileExtensionValidator,
    MaxValueValidator,
    MinValueValidator,
)
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from apps.charging.choices import (
    ChargerCallStatus,
    ConnectorStatus,
    DayOfWeek,
    EnergySource,
    HomeApproval,
    ImportFileFormat,
    LocationKind,
    PowerType,
    PriceBasis,
    SessionImportStatus,
    SessionPurpose,
    SessionSource,
    SessionStatus,
    StationStatus,
    UnpricedReason,
)
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.models import Depot, Fleet
from apps.vehicles.choices import ConnectorStandard
from voltop.core.display import moment_text
from voltop.core.history import history_tracked
from voltop.core.models import TimeStampedModel
from voltop.core.validators import validate_currency_code


class ChargingStation(TimeStampedModel):
    """A charger that talks to Voltop over OCPP, at a depot or elsewhere."""

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="stations")
    depot = models.ForeignKey(
        Depot, on_delete=models.PROTECT, null=True, blank=True, related_name="stations"
    )
    ocpp_identity = models.CharField(
        "OCPP identity",
        max_length=48,
        unique=True,
        help_text="The charge point identity the charger connects with.",
    )
    vendor = models.CharField(max_length=50)
    model = models.CharField(max_length=50)
    serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    status = models.CharField(
        max_length=16, choices=StationStatus.choices, default=StationStatus.OFFLINE
    )
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    ocpp_password = models.CharField(
        "OCPP password",
        max_length=128,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="The hash of the password the charger sends with HTTP Basic auth (OCPP 1.6 "
        "security profile 1). Without one the charger cannot connect.",
    )
    is_connected = models.BooleanField(
        "connected",
        default=False,
        db_default=False,
        editable=False,
        help_text="Whether the charger holds a connection to the OCPP gateway now.",
    )
    connection_changed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the charger last connected or went offline.",
    )
    local_list_version = models.IntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="The version of the local authorization list the charger holds, as it last "
        "said or was sent; -1 when it keeps none; empty until it answers.",
    )
    tags_synced_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Changes to the fleet's tags up to this moment have reached the charger "
        "(its local list updated, or its cache cleared).",
    )

    class Meta:
        ordering = ["fleet", "ocpp_identity"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=StationStatus.values),
                name="station_status_valid",
                violation_error_code="station_status_valid",
                violation_error_message=(
                    "The status must be available, occupied, faulted, unavailable or offline."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.ocpp_identity

    def clean(self) -> None:
        if self.depot_id and self.fleet_id and self.depot.fleet_id != self.fleet_id:
            raise ValidationError(
                {
                    "depot": ValidationError(
                        "The depot belongs to another fleet.", code="other_fleet"
                    )
                }
            )


class Connector(TimeStampedModel):
    """One outlet of a station, numbered from 1 as in OCPP."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="connectors"
    )
    connector_id = models.PositiveSmallIntegerField(
        "connector id", validators=[MinValueValidator(1)]
    )
    standard = models.CharField(max_length=24, choices=ConnectorStandard.choices)
    power_type = models.CharField(max_length=12, choices=PowerType.choices)
    max_kw = models.DecimalField(
        "max power (kW)",
        max_digits=6,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    evse_id = models.CharField(
        "EVSE id",
        max_length=48,
        blank=True,
        default="",
        db_default="",
        help_text="The id printed on the charger for this outlet (and in its QR code), e.g. "
        "NL*VTP*E0001*1: drivers name the outlet by it in the app.",
    )
    status = models.CharField(
        max_length=16,
        choices=ConnectorStatus.choices,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="As the charger last reported it; blank until it does.",
    )
    error_code = models.CharField(
        max_length=32,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="The OCPP error code of the last status report (NoError when all is well).",
    )
    status_info = models.CharField(
        max_length=100,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="The charger's free text and vendor error code of the last status report.",
    )
    status_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the charger reported the status."
    )

    class Meta:
        ordering = ["station", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "connector_id"], name="connector_id_unique_per_station"
            ),
            models.UniqueConstraint(
                Upper("evse_id"),
                condition=~Q(evse_id=""),
                name="connector_evse_id_unique",
                violation_error_code="connector_evse_id_unique",
                violation_error_message="Another connector has this EVSE id.",
            ),
            models.CheckConstraint(
                condition=Q(connector_id__gte=1),
                name="connector_id_from_1",
                violation_error_code="connector_id_from_1",
                violation_error_message="Connector ids are numbered from 1, as in OCPP.",
            ),
            models.CheckConstraint(
                condition=Q(max_kw__gt=0),
                name="connector_max_kw_positive",
                violation_error_code="connector_max_kw_positive",
                violation_error_message="The connector's max power must be above 0 kW.",
            ),
            models.CheckConstraint(
                condition=Q(standard__in=ConnectorStandard.values),
                name="connector_standard_valid",
                violation_error_code="connector_standard_valid",
                violation_error_message="The connector standard must be an OCPI standard.",
            ),
            models.CheckConstraint(
                condition=Q(status="") | Q(status__in=ConnectorStatus.values),
                name="connector_status_valid",
                violation_error_code="connector_status_valid",
                violation_error_message="The status must be an OCPP 1.6 connector status.",
            ),
            models.CheckConstraint(
                condition=Q(power_type__in=PowerType.values),
                name="connector_power_type_valid",
                violation_error_code="connector_power_type_valid",
                violation_error_message="The power type must be AC_1_PHASE, AC_3_PHASE or DC.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.station.ocpp_identity}#{self.connector_id}"


def validate_days_of_week(value: list) -> None:
    if not isinstance(value, list) or any(day not in DayOfWeek.values for day in value):
        raise ValidationError("Days of the week are MONDAY … SUNDAY.", code="invalid_day_of_week")


@history_tracked()
class Tariff(TimeStampedModel):
    """A fleet's price list for charging, in OCPI 2.2.1 terms, for the whole fleet or one depot,
    station or connector (the most specific active tariff wins).

    What prices sessions is not this row but its versions: publishing freezes the tariff as it
    is into a TariffVersion, and a session is priced with the version in force at its start.
    Its currency is the fleet's, the one billing charges and allocates in.
    """

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="tariffs")
    name = models.CharField(max_length=100)
    ocpi_id = models.CharField(
        "OCPI id", max_length=36, help_text="The tariff's id in OCPI files, unique per fleet."
    )
    currency = models.CharField(max_length=3, validators=[validate_currency_code])
    depot = models.ForeignKey(
        Depot, on_delete=models.PROTECT, null=True, blank=True, related_name="tariffs"
    )
    station = models.ForeignKey(
        ChargingStation, on_delete=models.PROTECT, null=True, blank=True, related_name="tariffs"
    )
    connector = models.ForeignKey(
        Connector, on_delete=models.PROTECT, null=True, blank=True, related_name="tariffs"
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField("active", default=True)
    min_price_excl_vat = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    min_price_incl_vat = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    max_price_excl_vat = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    max_price_incl_vat = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    parking_grace_minutes = models.PositiveIntegerField(
        default=0, help_text="Minutes of parking after charging that are free of parking cost."
    )

    class Meta:
        ordering = ["fleet", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "ocpi_id"],
                name="tariff_ocpi_id_unique_per_fleet",
                violation_error_message="This fleet already has a tariff with this OCPI id.",
                violation_error_code="unique",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gt=F("valid_from")),
                name="tariff_valid_until_after_valid_from",
                violation_error_message="A tariff must end after it starts.",
                violation_error_code="valid_until_before_valid_from",
            ),
            models.CheckConstraint(
                condition=Q(min_price_excl_vat__isnull=True)
                | Q(max_price_excl_vat__isnull=True)
                | Q(max_price_excl_vat__gte=F("min_price_excl_vat")),
                name="tariff_max_price_not_below_min",
                violation_error_message="The maximum price is below the minimum price.",
                violation_error_code="max_price_below_min_price",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.fleet_id:
            for field, fleet_id in (
                ("depot", self.depot.fleet_id if self.depot_id else None),
                ("station", self.station.fleet_id if self.station_id else None),
                ("connector", self.connector.station.fleet_id if self.connector_id else None),
            ):
                if fleet_id is not None and fleet_id != self.fleet_id:
                    errors[field] = ValidationError("Belongs to another fleet.", code="other_fleet")
        if self.fleet_id and self.currency and self.currency != self.fleet.currency:
            errors["currency"] = ValidationError(
                "The fleet bills in %(fleet_currency)s; its tariffs must be in %(fleet_currency)s "
                "too.",
                code="not_fleet_currency",
                params={"fleet_currency": self.fleet.currency},
            )
        if sum(bool(scope) for scope in (self.depot_id, self.station_id, self.connector_id)) > 1:
            errors["depot"] = ValidationError(
                "Choose one of depot, station or connector, or none for the whole fleet.",
                code="one_scope",
            )
        if errors:
            raise ValidationError(errors)


class TariffElement(models.Model):
    """One element of a tariff: prices per dimension, applying when its restrictions match.

    OCPI lets an element price each dimension once, so the four price components are columns:
    ENERGY per kWh (step in Wh), TIME per charging hour and PARKING_TIME per parked hour (steps
    in seconds), FLAT per session. Steps are stored as given, 0 included (OCPI's own examples
    use it; pricing reads it as 1). Empty restrictions do not restrict.
    """

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="elements")
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Elements are tried in this order; the first that matches applies."
    )
    energy_price = models.DecimalField(
        "energy price per kWh",
        max_digits=10,
        decimal_places=5,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    energy_vat_rate = models.DecimalField(
        "energy VAT %",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    energy_step_wh = models.PositiveIntegerField("energy step (Wh)", default=1)
    time_price = models.DecimalField(
        "charging time price per hour",
        max_digits=10,
        decimal_places=5,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    time_vat_rate = models.DecimalField(
        "charging time VAT %",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    time_step_seconds = models.PositiveIntegerField("charging time step (s)", default=1)
    parking_price = models.DecimalField(
        "parking price per hour",
        max_digits=10,
        decimal_places=5,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    parking_vat_rate = models.DecimalField(
        "parking VAT %",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    parking_step_seconds = models.PositiveIntegerField("parking step (s)", default=1)
    flat_price = models.DecimalField(
        "flat fee per session",
        max_digits=10,
        decimal_places=5,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    flat_vat_rate = models.DecimalField(
        "flat fee VAT %",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    flat_step = models.PositiveIntegerField(
        "flat fee step",
        default=1,
        help_text="The OCPI step_size of the flat fee, kept as the tariff gives it; a flat fee "
        "is charged once whatever its step.",
    )
    start_time = models.TimeField(null=True, blank=True, help_text="Local time of day, from.")
    end_time = models.TimeField(
        null=True,
        blank=True,
        help_text="Local time of day, until; before start_time wraps midnight.",
    )
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True, help_text="Exclusive.")
    min_kwh = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    max_kwh = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    min_power_kw = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    max_power_kw = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    min_current_a = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    max_current_a = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    min_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    max_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    days_of_week = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_days_of_week],
        help_text="Empty for every day.",
    )

    class Meta:
        ordering = ["tariff", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(energy_price__isnull=False)
                | Q(time_price__isnull=False)
                | Q(parking_price__isnull=False)
                | Q(flat_price__isnull=False),
                name="tariff_element_prices_something",
                violation_error_message="An element needs at least one price.",
                violation_error_code="no_price",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tariff} #{self.position}"

    def clean(self) -> None:
        errors = {}
        for low, high in (
            ("min_kwh", "max_kwh"),
            ("min_power_kw", "max_power_kw"),
            ("min_current_a", "max_current_a"),
            ("min_duration_seconds", "max_duration_seconds"),
        ):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                errors[low] = ValidationError(
                    "The minimum is above the maximum.", code="minimum_above_maximum"
                )
        if errors:
            raise ValidationError(errors)


class TariffVersion(models.Model):
    """A tariff frozen as OCPI 2.2.1 Tariff JSON, in force from `effective_from`. Never edited."""

    tariff = models.ForeignKey(
        Tariff, on_delete=models.PROTECT, related_name="versions", editable=False
    )
    number = models.PositiveIntegerField(editable=False)
    effective_from = models.DateTimeField(editable=False)
    terms = models.JSONField(help_text="The OCPI 2.2.1 Tariff object.", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tariff", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tariff", "number"],
                name="tariff_version_number_unique",
                violation_error_message="This tariff already has a version with this number.",
                violation_error_code="unique",
            ),
        ]
        indexes = [
            models.Index(fields=["tariff", "-effective_from"], name="tariff_version_effective_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tariff} v{self.number}"


# What a session's history follows: what a person or a charger changes on it (its times and
# meter, its purpose, a review, an invalidation), not its price or its billing, which the pricing
# and the billing run record themselves; sessions are followed from their first change on, so
# the seed's and the imports' inserts write no history.
SESSION_HISTORY_FIELDS = [
    "driver",
    "vehicle",
    "started_at",
    "ended_at",
    "meter_start_wh",
    "meter_stop_wh",
    "energy_wh",
    "energy_source",
    "status",
    "purpose",
    "is_suspect",
    "suspect_reason",
    "invalid_reason",
    "home_approval",
    "reviewed_by",
    "review_note",
]


@history_tracked(inserts=False, fields=SESSION_HISTORY_FIELDS, model_name="ChargingSessionEvent")
class ChargingSession(TimeStampedModel):
    """One charge of one vehicle: where, why, when, and how much energy (integer Wh).

    An active session has no end yet. A completed one has its end, its meter stop and its
    energy, which is meter stop minus meter start whenever both readings are known.
    """

    fleet = models.ForeignKey(
        Fleet, on_delete=models.PROTECT, related_name="sessions", db_index=False
    )
    driver = models.ForeignKey(
        Driver,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
        db_index=False,
        help_text="Empty only for a session a charger started with a tag no driver of the "
        "fleet has: it is not billed until a manager gives it its driver.",
    )
    vehicle = models.ForeignKey(
        "vehicles.Vehicle",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
    )
    token = models.ForeignKey(
        ChargeToken, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    connector = models.ForeignKey(
        Connector, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    location_kind = models.CharField(max_length=8, choices=LocationKind.choices)
    purpose = models.CharField(
        max_length=8, choices=SessionPurpose.choices, default=SessionPurpose.BUSINESS
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    meter_start_wh = models.BigIntegerField(
        "meter start (Wh)", null=True, blank=True, validators=[MinValueValidator(0)]
    )
    meter_stop_wh = models.BigIntegerField("meter stop (Wh)", null=True, blank=True)
    energy_wh = models.BigIntegerField(
        "energy (Wh)", null=True, blank=True, validators=[MinValueValidator(0)]
    )
    status = models.CharField(
        max_length=16, choices=SessionStatus.choices, default=SessionStatus.ACTIVE
    )
    source = models.CharField(max_length=8, choices=SessionSource.choices)
    external_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The id the source knows the session by: OCPP transaction id, CDR id, …",
    )
    energy_source = models.CharField(
        max_length=8,
        choices=EnergySource.choices,
        default=EnergySource.MEASURED,
        db_default=EnergySource.MEASURED,
        editable=False,
        help_text="Whether a charger measured the energy or a person entered it.",
    )
    is_suspect = models.BooleanField(
        "suspect",
        default=False,
        db_default=False,
        help_text="The energy is more than the session could take or, entered by a person, "
        "too little for the time plugged in: a manager should look.",
    )
    suspect_reason = models.TextField(blank=True, default="", db_default="")
    invalid_reason = models.TextField(blank=True, default="", db_default="")
    charger_issue = models.TextField(
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="What the charger reported that a start from the app would have been refused "
        "for: a blocked or expired token, a second depot session of the driver, a session "
        "interrupted by the next start on its connector. A manager should look.",
    )
    home_approval = models.CharField(
        max_length=16,
        choices=HomeApproval.choices,
        default=HomeApproval.NOT_REQUIRED,
        db_default=HomeApproval.NOT_REQUIRED,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reviewed_sessions",
        editable=False,
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True, default="", db_default="")
    meter_photo = models.FileField(
        upload_to="meter-photos/%Y/%m/",
        blank=True,
        default="",
        db_default="",
        validators=[FileExtensionValidator(["jpg", "jpeg", "png", "heic", "webp", "pdf"])],
    )
    tariff_version = models.ForeignKey(
        TariffVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
        editable=False,
    )
    price_basis = models.CharField(
        max_length=16, choices=PriceBasis.choices, blank=True, default="", db_default=""
    )
    price_currency = models.CharField(max_length=3, blank=True, default="", db_default="")
    price_excl_vat = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    price_vat = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    price_incl_vat = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    price_breakdown = models.JSONField(null=True, blank=True)
    priced_at = models.DateTimeField(null=True, blank=True)
    unpriced_reason = models.CharField(
        "why it has no price",
        max_length=16,
        choices=UnpricedReason.choices,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="Set by pricing when it finds no price for the completed session; cleared "
        "once it does. Billing leaves the session out meanwhile.",
    )
    billed_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the session lands on an invoice or statement."
    )
    cost_center = models.ForeignKey(
        "fleets.CostCenter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
        editable=False,
        help_text="The driver's cost center (else the vehicle's) when the session started; "
        "its business charging is allocated there.",
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="session_external_id_unique_per_source",
                violation_error_code="session_external_id_unique_per_source",
                violation_error_message=(
                    "A session with this external id already exists for this source."
                ),
            ),
            models.UniqueConstraint(
                fields=["connector"],
                condition=Q(status="active", connector__isnull=False),
                name="session_one_active_per_connector",
                # "unique" makes full_clean() report it on the connector field.
                violation_error_code="unique",
                violation_error_message="This connector already has an active session.",
            ),
            models.CheckConstraint(
                condition=Q(driver__isnull=False) | Q(source=SessionSource.OCPP),
                name="session_driver_unless_charger_reported",
                violation_error_code="session_driver_unless_charger_reported",
                violation_error_message=(
                    "A session needs its driver; only a charger may report one without."
                ),
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="session_ends_after_it_starts",
                violation_error_code="session_ends_after_it_starts",
                violation_error_message="A session cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(meter_start_wh__isnull=True) | Q(meter_start_wh__gte=0),
                name="session_meter_start_not_negative",
                violation_error_code="session_meter_start_not_negative",
                violation_error_message="The meter start cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(meter_stop_wh__isnull=True)
                | Q(meter_start_wh__isnull=True)
                | Q(meter_stop_wh__gte=F("meter_start_wh")),
                name="session_meter_stop_not_below_start",
                violation_error_code="session_meter_stop_not_below_start",
                violation_error_message="The meter stop cannot be below the meter start.",
            ),
            models.CheckConstraint(
                condition=Q(energy_wh__isnull=True) | Q(energy_wh__gte=0),
                name="session_energy_not_negative",
                violation_error_code="session_energy_not_negative",
                violation_error_message="The energy cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(meter_stop_wh__isnull=True)
                | Q(meter_start_wh__isnull=True)
                | Q(energy_wh=F("meter_stop_wh") - F("meter_start_wh")),
                name="session_energy_is_meter_difference",
                violation_error_code="session_energy_is_meter_difference",
                violation_error_message="The energy must be meter stop minus meter start.",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed")
                | (Q(ended_at__isnull=False) & Q(energy_wh__isnull=False)),
                name="session_completed_has_end_and_energy",
                violation_error_code="session_completed_has_end_and_energy",
                violation_error_message="A completed session needs its end and its energy.",
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(ended_at__isnull=True),
                name="session_active_has_no_end",
                violation_error_code="session_active_has_no_end",
                violation_error_message="An active session has no end yet.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values),
                name="session_status_valid",
                violation_error_code="session_status_valid",
                violation_error_message="The status must be active, completed or invalid.",
            ),
            models.CheckConstraint(
                condition=Q(location_kind__in=LocationKind.values),
                name="session_location_kind_valid",
                violation_error_code="session_location_kind_valid",
                violation_error_message="The location must be depot, home or public.",
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=SessionPurpose.values),
                name="session_purpose_valid",
                violation_error_code="session_purpose_valid",
                violation_error_message="The purpose must be business or private.",
            ),
            models.CheckConstraint(
                condition=Q(source__in=SessionSource.values),
                name="session_source_valid",
                violation_error_code="session_source_valid",
                violation_error_message="The source must be ocpp, app, manual or import.",
            ),
            models.CheckConstraint(
                condition=Q(energy_source__in=EnergySource.values),
                name="session_energy_source_valid",
                violation_error_code="session_energy_source_valid",
                violation_error_message="The energy source must be measured or entered.",
            ),
            models.CheckConstraint(
                condition=Q(unpriced_reason="") | Q(unpriced_reason__in=UnpricedReason.values),
                name="session_unpriced_reason_valid",
                violation_error_code="session_unpriced_reason_valid",
                violation_error_message=(
                    "The reason must be no_tariff, tariff_currency or cost_pending."
                ),
            ),
            models.CheckConstraint(
                condition=Q(unpriced_reason="") | Q(price_incl_vat__isnull=True),
                name="session_priced_has_no_unpriced_reason",
                violation_error_code="session_priced_has_no_unpriced_reason",
                violation_error_message="A priced session has no reason to be without a price.",
            ),
        ]
        indexes = [
            models.Index(fields=["fleet", "-started_at"], name="session_fleet_start_idx"),
            models.Index(fields=["driver", "-started_at"], name="session_driver_start_idx"),
            # The sessions still without a price: the pricing sweep and the lists of what
            # cannot be priced read them, few among many.
            models.Index(
                fields=["fleet", "unpriced_reason"],
                name="session_unpriced_idx",
                condition=Q(
                    status="completed", billed_at__isnull=True, price_incl_vat__isnull=True
                ),
            ),
            # What the dashboard counts on every visit, each a few sessions among many: those
            # charging now, home claims awaiting approval, and suspect ones not billed yet.
            models.Index(
                fields=["fleet", "vehicle"],
                name="session_active_idx",
                condition=Q(status="active"),
            ),
            models.Index(
                fields=["fleet"],
                name="session_home_pending_idx",
                condition=Q(home_approval="pending"),
            ),
            models.Index(
                fields=["fleet"],
                name="session_suspect_unbilled_idx",
                condition=Q(is_suspect=True, status="completed", billed_at__isnull=True),
            ),
            # What billing leaves out until someone acts: sessions priced in another currency
            # than the fleet's (the currency's two ranges around the fleet's), and business
            # charging at home that nobody claimed.
            models.Index(
                fields=["fleet", "price_currency"],
                name="session_unbilled_currency_idx",
                condition=Q(
                    status="completed", billed_at__isnull=True, price_incl_vat__isnull=False
                ),
            ),
            models.Index(
                fields=["fleet"],
                name="session_home_unclaimed_idx",
                condition=Q(
                    status="completed",
                    billed_at__isnull=True,
                    location_kind="home",
                    purpose="business",
                    home_approval="not_required",
                ),
            ),
        ]

    def __str__(self) -> str:
        """E.g. "Session 1415 · Anna Weber · 2 Dec 2026 08:37 +0100": its driver by name and its
        start in the active time zone (the fleet's on admin pages)."""
        driver = self.driver.full_name if self.driver_id else "driver unknown"
        return f"Session {self.pk} · {driver} · {moment_text(self.started_at)}"

    def clean(self) -> None:
        """Repeat the table's rules on the fields they concern, then check every related row
        (driver, vehicle, token, connector) belongs to the session's fleet."""
        errors = self._period_and_meter_errors()
        if self.fleet_id:
            errors.update(self._other_fleet_errors())
        if errors:
            raise ValidationError(errors)

    def _period_and_meter_errors(self) -> dict[str, ValidationError]:
        errors = {}
        if self.started_at and self.ended_at and self.ended_at < self.started_at:
            errors["ended_at"] = ValidationError(
                "A session cannot end before it starts.", code="ends_before_start"
            )
        if self.status == SessionStatus.ACTIVE and self.ended_at is not None:
            errors["ended_at"] = ValidationError(
                "An active session has no end yet; complete it to set one.",
                code="active_has_end",
            )
        if self.status == SessionStatus.COMPLETED:
            if self.ended_at is None:
                errors["ended_at"] = ValidationError(
                    "A completed session needs its end.", code="completed_without_end"
                )
            if self.energy_wh is None:
                errors["energy_wh"] = ValidationError(
                    "A completed session needs its energy.", code="completed_without_energy"
                )
        start, stop = self.meter_start_wh, self.meter_stop_wh
        if start is not None and stop is not None:
            if stop < start:
                errors["meter_stop_wh"] = ValidationError(
                    "The meter stop (%(stop)d Wh) cannot be below the meter start (%(start)d Wh).",
                    code="meter_stop_below_start",
                    params={"stop": stop, "start": start},
                )
            elif self.energy_wh is not None and self.energy_wh != stop - start:
                errors["energy_wh"] = ValidationError(
                    "The energy must be meter stop minus meter start: %(expected)d Wh.",
                    code="energy_not_meter_difference",
                    params={"expected": stop - start},
                )
        return errors

    def _other_fleet_errors(self) -> dict[str, ValidationError]:
        errors = {}
        related_fleet_ids = {
            "driver": self.driver.fleet_id if self.driver_id else None,
            "vehicle": self.vehicle.fleet_id if self.vehicle_id else None,
            "token": self.token.driver.fleet_id if self.token_id else None,
            "connector": self.connector.station.fleet_id if self.connector_id else None,
        }
        for field, fleet_id in related_fleet_ids.items():
            if fleet_id is not None and fleet_id != self.fleet_id:
                errors[field] = ValidationError("Belongs to another fleet.", code="other_fleet")
        if self.token_id and self.driver_id and self.token.driver_id != self.driver_id:
            errors.setdefault(
                "token", ValidationError("The token is another driver's.", code="other_driver")
            )
        return errors

    @property
    def energy_kwh(self) -> Decimal | None:
        if self.energy_wh is None:
            return None
        return Decimal(self.energy_wh) / 1000


class MeterValue(models.Model):
    """A sample of a session's meter: the energy register, and optionally power and SoC."""

    session = models.ForeignKey(
        ChargingSession, on_delete=models.CASCADE, related_name="meter_values"
    )
    measured_at = models.DateTimeField()
    energy_wh = models.BigIntegerField("energy register (Wh)", validators=[MinValueValidator(0)])
    power_w = models.IntegerField(
        "power (W)", null=True, blank=True, validators=[MinValueValidator(0)]
    )
    state_of_charge_percent = models.PositiveSmallIntegerField(
        "state of charge (%)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
    )

    class Meta:
        ordering = ["session", "measured_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "measured_at"], name="meter_value_one_per_moment"
            ),
            models.CheckConstraint(
                condition=Q(energy_wh__gte=0),
                name="meter_value_energy_not_negative",
                violation_error_code="meter_value_energy_not_negative",
                violation_error_message="The energy register cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(power_w__isnull=True) | Q(power_w__gte=0),
                name="meter_value_power_not_negative",
                violation_error_code="meter_value_power_not_negative",
                violation_error_message="The power cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(state_of_charge_percent__isnull=True)
                | Q(state_of_charge_percent__lte=100),
                name="meter_value_soc_at_most_100",
                violation_error_code="meter_value_soc_at_most_100",
                violation_error_message="The state of charge cannot be above 100 percent.",
            ),
        ]

    def __str__(self) -> str:
        return f"{moment_text(self.measured_at, seconds=True)} · {self.energy_wh} Wh"


class SessionImport(TimeStampedModel):
    """A provider's file of public sessions imported through the admin, with its outcome.

    A file of up to IMPORT_INLINE_MAX_ROWS rows is imported in the request; a larger one is
    queued and imported by a Celery task, this row showing its progress. The file is kept in
    the database, so a worker on another machine reads it without shared storage. Its
    sessions are written in the same transaction as its outcome: a refused or failed import
    leaves no session.
    """

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="session_imports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=4, choices=ImportFileFormat.choices)
    content = models.BinaryField(editable=False, help_text="The file as it was uploaded.")
    only_valid_rows = models.BooleanField(default=False)
    status = models.CharField(
        max_length=8, choices=SessionImportStatus.choices, default=SessionImportStatus.QUEUED
    )
    rows_total = models.PositiveIntegerField(default=0, help_text="Rows in the file.")
    rows_done = models.PositiveIntegerField(default=0, help_text="Rows checked and decided.")
    imported = models.PositiveIntegerField(default=0)
    already_imported = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text='Every bad row: [{"line": 3, "reason": "…"}].'
    )
    error = models.TextField(blank=True, default="", help_text="Why the import failed.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SessionImportStatus.values),
                name="session_import_status_valid",
                violation_error_code="session_import_status_valid",
                violation_error_message="The status must be queued, running, done, refused or "
                "failed.",
            ),
            models.CheckConstraint(
                condition=Q(file_format__in=ImportFileFormat.values),
                name="session_import_file_format_valid",
                violation_error_code="session_import_file_format_valid",
                violation_error_message="The file format must be csv or json.",
            ),
            models.CheckConstraint(
                condition=Q(rows_done__lte=F("rows_total")),
                name="session_import_rows_done_at_most_total",
                violation_error_code="session_import_rows_done_at_most_total",
                violation_error_message="No more rows can be done than the file holds.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"


class ChargingDayTotal(models.Model):
    """A fleet's sessions of one local day (their start in the fleet's zone) summed by where they
    charged (kind of location, depot) and for whom (cost center), in their price's currency:
    what the dashboard reads instead of the sessions themselves.

    Invalid sessions are left out. On PostgreSQL, database triggers keep the rows equal to the
    sessions on every insert, change and delete, however made; they sum the session again when
    its fleet's zone, its station's depot or its connector's station changes
    (migration 0013). Elsewhere nothing fills the table and the dashboard sums the sessions.
    """

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    location_kind = models.CharField(max_length=8, choices=LocationKind.choices)
    depot = models.ForeignKey(
        Depot,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
        db_index=False,
    )
    cost_center = models.ForeignKey(
        "fleets.CostCenter",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
        db_index=False,
    )
    price_currency = models.CharField(max_length=3)
    sessions = models.IntegerField()
    energy_wh = models.BigIntegerField()
    price_incl_vat = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "day", "location_kind", "depot", "cost_center", "price_currency"],
                nulls_distinct=False,
                name="charging_day_total_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} · {self.location_kind} · {self.sessions} sessions"


class ChargerCall(models.Model):
    """A call Voltop sends a charger over OCPP 1.6J (RemoteStartTransaction, Reset, …) and the
    charger's answer. The gateway sends what is queued; whoever asked reads the answer here,
    so no web worker ever waits on a charger."""

    station = models.ForeignKey(ChargingStation, on_delete=models.CASCADE, related_name="calls")
    action = models.CharField(max_length=32)
    payload = models.JSONField(help_text="The CALL's payload, as OCPP writes it (camelCase).")
    status = models.CharField(
        max_length=8, choices=ChargerCallStatus.choices, default=ChargerCallStatus.QUEUED
    )
    answer = models.JSONField(null=True, blank=True, help_text="The charger's CALLRESULT payload.")
    error = models.TextField(
        blank=True, default="", db_default="", help_text="Why the call failed."
    )
    driver = models.ForeignKey(
        Driver,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="charger_calls",
        help_text="The driver who asked from the app, who alone may read the answer.",
    )
    connector = models.ForeignKey(
        Connector, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    session = models.ForeignKey(
        ChargingSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The session a remote start led to, or the one a remote stop is for.",
    )
    purpose = models.CharField(max_length=8, choices=SessionPurpose.choices, blank=True)
    vehicle = models.ForeignKey(
        "vehicles.Vehicle", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tags_up_to = models.DateTimeField(
        null=True,
        blank=True,
        help_text="For a call bringing the charger's tags up to date: the tag changes up to "
        "this moment are in it.",
    )
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ChargerCallStatus.values),
                name="charger_call_status_valid",
                violation_error_code="charger_call_status_valid",
                violation_error_message="The status must be queued, sent, answered or failed.",
            ),
        ]
        indexes = [
            # What the gateway looks for on every round: the few calls still queued.
            models.Index(
                fields=["created_at"],
                name="charger_call_queued_idx",
                condition=Q(status="queued"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} to {self.station_id} ({self.status})"


class ChargerMessage(models.Model):
    """An OCPP frame a charger sent or was sent, as it went over the wire: the station's recent
    conversation for its admin page. Kept OCPP_MESSAGE_KEEP_DAYS days."""

    station = models.ForeignKey(
        ChargingStation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    at = models.DateTimeField()
    sent_by_charger = models.BooleanField()
    frame = models.TextField()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # The station page's latest messages, and the nightly prune of old ones.
            models.Index(fields=["station", "-at"], name="charger_message_station_idx"),
            models.Index(fields=["at"], name="charger_message_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{'from' if self.sent_by_charger else 'to'} {self.station_id} at {self.at}"


class UnassignedStation(models.Model):
    """A charger that connected with an identity no fleet knows, held pending (with
    OCPP_HOLD_UNKNOWN_STATIONS on) until a superuser assigns it to a fleet."""

    ocpp_identity = models.CharField("OCPP identity", max_length=48, unique=True)
    ocpp_password = models.CharField(
        "OCPP password",
        max_length=128,
        blank=True,
        editable=False,
        help_text="The hash of the password it connected with; its station keeps it.",
    )
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen_at", "ocpp_identity"]

    def __str__(self) -> str:
        return self.ocpp_identity
