"""Tables of the charging app: ChargingStation, Connector, ChargingSession, MeterValue."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from apps.charging.choices import (
    ConnectorStandard,
    LocationKind,
    PowerType,
    SessionPurpose,
    SessionSource,
    SessionStatus,
    StationStatus,
)
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.models import Depot, Fleet
from voltop.core.models import TimeStampedModel


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

    class Meta:
        ordering = ["fleet", "ocpp_identity"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=StationStatus.values), name="station_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.ocpp_identity

    def clean(self) -> None:
        if self.depot_id and self.fleet_id and self.depot.fleet_id != self.fleet_id:
            raise ValidationError(
                {"depot": "The depot belongs to another fleet."}, code="other_fleet"
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

    class Meta:
        ordering = ["station", "connector_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "connector_id"], name="connector_id_unique_per_station"
            ),
            models.CheckConstraint(condition=Q(connector_id__gte=1), name="connector_id_from_1"),
            models.CheckConstraint(condition=Q(max_kw__gt=0), name="connector_max_kw_positive"),
            models.CheckConstraint(
                condition=Q(standard__in=ConnectorStandard.values),
                name="connector_standard_valid",
            ),
            models.CheckConstraint(
                condition=Q(power_type__in=PowerType.values), name="connector_power_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.station.ocpp_identity}#{self.connector_id}"


class ChargingSession(TimeStampedModel):
    """One charge of one vehicle: where, why, when, and how much energy (integer Wh).

    An active session has no end yet. A completed one has its end, its meter stop and its
    energy, which is meter stop minus meter start whenever both readings are known.
    """

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="sessions")
    driver = models.ForeignKey(Driver, on_delete=models.PROTECT, related_name="sessions")
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
    meter_start_wh = models.BigIntegerField("meter start (Wh)", null=True, blank=True)
    meter_stop_wh = models.BigIntegerField("meter stop (Wh)", null=True, blank=True)
    energy_wh = models.BigIntegerField("energy (Wh)", null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=SessionStatus.choices, default=SessionStatus.ACTIVE
    )
    source = models.CharField(max_length=8, choices=SessionSource.choices)
    external_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The id the source knows the session by: OCPP transaction id, CDR id, …",
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="session_external_id_unique_per_source",
            ),
            models.UniqueConstraint(
                fields=["connector"],
                condition=Q(status="active", connector__isnull=False),
                name="session_one_active_per_connector",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="session_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=Q(meter_start_wh__isnull=True) | Q(meter_start_wh__gte=0),
                name="session_meter_start_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(meter_stop_wh__isnull=True)
                | Q(meter_start_wh__isnull=True)
                | Q(meter_stop_wh__gte=F("meter_start_wh")),
                name="session_meter_stop_not_below_start",
            ),
            models.CheckConstraint(
                condition=Q(energy_wh__isnull=True) | Q(energy_wh__gte=0),
                name="session_energy_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(meter_stop_wh__isnull=True)
                | Q(meter_start_wh__isnull=True)
                | Q(energy_wh=F("meter_stop_wh") - F("meter_start_wh")),
                name="session_energy_is_meter_difference",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed")
                | (Q(ended_at__isnull=False) & Q(energy_wh__isnull=False)),
                name="session_completed_has_end_and_energy",
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(ended_at__isnull=True),
                name="session_active_has_no_end",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values), name="session_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(location_kind__in=LocationKind.values),
                name="session_location_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=SessionPurpose.values), name="session_purpose_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=SessionSource.values), name="session_source_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["fleet", "-started_at"], name="session_fleet_start_idx"),
            models.Index(fields=["driver", "-started_at"], name="session_driver_start_idx"),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} of {self.driver_id} at {self.started_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if not self.fleet_id:
            return
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
        if errors:
            raise ValidationError(errors)

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
    energy_wh = models.BigIntegerField("energy register (Wh)")
    power_w = models.IntegerField("power (W)", null=True, blank=True)
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
                condition=Q(energy_wh__gte=0), name="meter_value_energy_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(power_w__isnull=True) | Q(power_w__gte=0),
                name="meter_value_power_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(state_of_charge_percent__isnull=True)
                | Q(state_of_charge_percent__lte=100),
                name="meter_value_soc_at_most_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measured_at:%H:%M:%S} {self.energy_wh} Wh"
