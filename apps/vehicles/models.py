"""Tables of the vehicles app: Vehicle, VehicleAssignment, OdometerReading."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from apps.drivers.models import Driver
from apps.fleets.models import CostCenter, Depot, Fleet
from apps.vehicles.choices import ConnectorStandard, VehicleStatus
from apps.vehicles.validators import VIN_PATTERN, normalize_vin, validate_vin
from voltop.core.history import history_tracked
from voltop.core.models import TimeStampedModel


def validate_connector_standards(value: list) -> None:
    if not isinstance(value, list):
        raise ValidationError("A list of connector standards is expected.", code="invalid")
    unknown = [item for item in value if item not in ConnectorStandard.values]
    if unknown:
        raise ValidationError(
            "Unknown connector standard(s): %(unknown)s.",
            code="unknown_connector_standard",
            params={"unknown": ", ".join(map(str, unknown))},
        )


@history_tracked()
class Vehicle(TimeStampedModel):
    """An electric vehicle of the fleet."""

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="vehicles")
    vin = models.CharField("VIN", max_length=17, unique=True, validators=[validate_vin])
    plate = models.CharField("licence plate", max_length=16)
    make = models.CharField(max_length=60)
    model = models.CharField(max_length=60)
    model_year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1990), MaxValueValidator(2100)]
    )
    usable_battery_kwh = models.DecimalField(
        "usable battery (kWh)",
        max_digits=6,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    max_ac_kw = models.DecimalField(
        "max AC power (kW)",
        max_digits=6,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    max_dc_kw = models.DecimalField(
        "max DC power (kW)",
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.1"))],
        help_text="Empty if the vehicle cannot fast-charge.",
    )
    connector_standards = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_connector_standards],
        help_text="OCPI connector standards the vehicle accepts, e.g. IEC_62196_T2_COMBO.",
    )
    status = models.CharField(
        max_length=16, choices=VehicleStatus.choices, default=VehicleStatus.ACTIVE
    )
    home_depot = models.ForeignKey(
        Depot, on_delete=models.PROTECT, null=True, blank=True, related_name="vehicles"
    )
    cost_center = models.ForeignKey(
        CostCenter, on_delete=models.PROTECT, null=True, blank=True, related_name="vehicles"
    )

    class Meta:
        ordering = ["fleet", "plate", "pk"]
        constraints = [
            models.UniqueConstraint(
                "fleet",
                Upper("plate"),
                name="vehicle_plate_unique_per_fleet",
                violation_error_code="vehicle_plate_unique_per_fleet",
                violation_error_message=(
                    "A vehicle of this fleet already has this licence plate (case does not matter)."
                ),
            ),
            models.CheckConstraint(
                condition=Q(vin__regex=VIN_PATTERN),
                name="vehicle_vin_iso_3779",
                violation_error_code="vehicle_vin_iso_3779",
                violation_error_message=(
                    "A VIN has 17 characters: digits and the letters A-Z without I, O and Q."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status__in=VehicleStatus.values),
                name="vehicle_status_valid",
                violation_error_code="vehicle_status_valid",
                violation_error_message="The status must be active, maintenance or retired.",
            ),
            models.CheckConstraint(
                condition=Q(usable_battery_kwh__gt=0) & Q(max_ac_kw__gt=0),
                name="vehicle_battery_and_ac_power_positive",
                violation_error_code="vehicle_battery_and_ac_power_positive",
                violation_error_message="Usable battery and max AC power must be above 0.",
            ),
            models.CheckConstraint(
                condition=Q(max_dc_kw__isnull=True) | Q(max_dc_kw__gt=0),
                name="vehicle_dc_power_positive",
                violation_error_code="vehicle_dc_power_positive",
                violation_error_message="Max DC power must be above 0, or empty.",
            ),
            models.CheckConstraint(
                condition=Q(model_year__gte=1990) & Q(model_year__lte=2100),
                name="vehicle_model_year_plausible",
                violation_error_code="vehicle_model_year_plausible",
                violation_error_message="The model year must be between 1990 and 2100.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plate} ({self.make} {self.model})"

    def clean_fields(self, exclude=None) -> None:
        """Bring VIN and plate to their stored form (no surrounding spaces, upper case) before
        the field validators see them, so " wvwzzz1kz… " is judged by its 17 characters."""
        if self.vin:
            self.vin = normalize_vin(self.vin)
        if self.plate:
            self.plate = self.plate.strip().upper()
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        errors = {}
        for field in ("home_depot", "cost_center"):
            related = getattr(self, field)
            if related is not None and self.fleet_id and related.fleet_id != self.fleet_id:
                errors[field] = ValidationError("Belongs to another fleet.", code="other_fleet")
        if errors:
            raise ValidationError(errors)


@history_tracked()
class VehicleAssignment(TimeStampedModel):
    """Who drives a vehicle from `starts_at` until `ends_at` (open-ended when empty).

    Two assignments of one vehicle never overlap: services check it, and on PostgreSQL an
    exclusion constraint over the time range enforces it.
    """

    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="assignments")
    driver = models.ForeignKey(Driver, on_delete=models.PROTECT, related_name="assignments")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["vehicle", "-starts_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="assignment_ends_after_it_starts",
                violation_error_code="assignment_ends_after_it_starts",
                violation_error_message="The assignment must end after it starts.",
            ),
        ]
        indexes = [
            models.Index(fields=["vehicle", "-starts_at"], name="assignment_vehicle_start_idx"),
            models.Index(fields=["driver", "-starts_at"], name="assignment_driver_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle} → {self.driver}"

    def clean(self) -> None:
        errors = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = ValidationError(
                "The assignment must end after it starts.", code="ends_before_start"
            )
        if self.vehicle_id and self.driver_id and self.driver.fleet_id != self.vehicle.fleet_id:
            errors["driver"] = ValidationError(
                "The driver belongs to another fleet than the vehicle.", code="other_fleet"
            )
        if errors:
            raise ValidationError(errors)


class OdometerReading(TimeStampedModel):
    """The odometer of a vehicle at a moment; readings never go down over time."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="odometer_readings")
    km = models.PositiveIntegerField("odometer (km)")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["vehicle", "-recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["vehicle", "recorded_at"], name="odometer_one_reading_per_moment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle}: {self.km} km"
