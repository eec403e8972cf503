"""Tables of the drivers app: Driver and ChargeToken."""

import contextlib
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django_countries.fields import CountryField

from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.validators import normalize_iban, validate_iban
from apps.fleets.models import CostCenter, Fleet
from voltop.core.history import history_tracked
from voltop.core.models import TimeStampedModel


@history_tracked()
class Driver(TimeStampedModel):
    """A person who drives the fleet's vehicles and charges them at depots, at home or in public."""

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="drivers")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="driver",
        help_text="The login the driver uses in the mobile app.",
    )
    employee_number = models.CharField(max_length=32)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    phone = models.CharField(max_length=32, blank=True)
    licence_number = models.CharField("driving licence number", max_length=32, blank=True)
    licence_expires_on = models.DateField("driving licence expires on", null=True, blank=True)
    cost_center = models.ForeignKey(
        CostCenter, on_delete=models.PROTECT, null=True, blank=True, related_name="drivers"
    )
    status = models.CharField(
        max_length=16, choices=DriverStatus.choices, default=DriverStatus.ACTIVE
    )
    suspension_reason = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="Why the driver is suspended; empty unless they are.",
    )
    home_rate_per_kwh = models.DecimalField(
        "home charging reimbursement per kWh",
        max_digits=10,
        decimal_places=5,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="In the fleet's currency, excluding VAT.",
    )
    iban = models.CharField("IBAN", max_length=34, blank=True, validators=[validate_iban])
    account_holder = models.CharField(
        max_length=70,
        blank=True,
        default="",
        db_default="",
        help_text="The name the IBAN's account is held in, as the bank knows it: banks check "
        "a transfer's payee name against it, and it need not be the driver's own.",
    )
    street = models.CharField(max_length=200, blank=True, default="", db_default="")
    postal_code = models.CharField(max_length=16, blank=True, default="", db_default="")
    city = models.CharField(max_length=100, blank=True, default="", db_default="")
    country = CountryField(blank=True, default="", db_default="")

    class Meta:
        ordering = ["fleet", "last_name", "first_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "employee_number"], name="driver_employee_number_unique_per_fleet"
            ),
            models.UniqueConstraint(
                fields=["fleet", "email"], name="driver_email_unique_per_fleet"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DriverStatus.values),
                name="driver_status_valid",
                violation_error_code="driver_status_valid",
                violation_error_message="The status must be active, suspended or left.",
            ),
            models.CheckConstraint(
                condition=Q(home_rate_per_kwh__gte=0),
                name="driver_home_rate_not_negative",
                violation_error_code="driver_home_rate_not_negative",
                violation_error_message="The home charging rate cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.employee_number})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def clean_fields(self, exclude=None) -> None:
        """Bring IBAN and email to their stored form before the field validators see them, so a
        formatted IBAN ("NL91 ABNA …", longer than 34 characters for some countries) or an email
        with stray spaces is judged by its content, not refused for its length or a space."""
        if self.iban:
            with contextlib.suppress(ValidationError):  # an invalid IBAN: the validator says why
                self.iban = normalize_iban(self.iban)
        if self.email:
            self.email = self.email.strip().lower()
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        if self.cost_center_id and self.fleet_id and self.cost_center.fleet_id != self.fleet_id:
            raise ValidationError(
                {
                    "cost_center": ValidationError(
                        "The cost center belongs to another fleet.", code="other_fleet"
                    )
                }
            )


@history_tracked()
class ChargeToken(TimeStampedModel):
    """An RFID card or app id tag that identifies a driver to a charger."""

    driver = models.ForeignKey(Driver, on_delete=models.PROTECT, related_name="tokens")
    uid = models.CharField(
        "UID", max_length=36, help_text="As the charger reports it (OCPP idTag, OCPI uid)."
    )
    kind = models.CharField(max_length=16, choices=TokenKind.choices, default=TokenKind.RFID)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField("active", default=True)
    blocked_reason = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="Why the token was blocked (lost, stolen, the driver's suspension).",
    )
    blocked_by_suspension = models.BooleanField(
        default=False,
        db_default=False,
        editable=False,
        help_text="Blocked when its driver was suspended: reactivating the driver unblocks it.",
    )

    class Meta:
        ordering = ["driver", "uid", "pk"]
        indexes = [
            # A charger's tag is looked up by its UID (stored upper case) on every Authorize
            # and StartTransaction.
            models.Index(fields=["uid"], name="charge_token_uid_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                Upper("uid"),
                condition=Q(is_active=True),
                name="token_uid_unique_among_active",
                violation_error_code="token_uid_unique_among_active",
                violation_error_message=(
                    "An active token with this UID already exists (case does not matter)."
                ),
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="token_valid_until_after_valid_from",
                violation_error_code="token_valid_until_after_valid_from",
                violation_error_message="A token's valid until must be after its valid from.",
            ),
        ]

    def __str__(self) -> str:
        return self.uid

    def clean_fields(self, exclude=None) -> None:
        """Store the UID as chargers report it: no surrounding spaces, upper case."""
        if self.uid:
            self.uid = self.uid.strip().upper()
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValidationError(
                {
                    "valid_until": ValidationError(
                        "Valid until must be after valid from.",
                        code="valid_until_before_valid_from",
                    )
                }
            )
