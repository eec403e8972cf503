"""Tables of the fleets app: Fleet (the tenant), Depot, CostCenter, Membership."""

import contextlib
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django_countries.fields import CountryField

from apps.fleets.chart_of_accounts import (
    FLEET_ACCOUNT_FIELDS,
    VAT_RATE_ACCOUNT_FIELDS,
    accounts_too_long,
)
from apps.fleets.choices import (
    BillingPeriodKind,
    CsvDecimalSeparator,
    CsvDelimiter,
    MembershipRole,
    RefundMethod,
)
from apps.fleets.validators import (
    ACCOUNT_NUMBER,
    bic_matches_iban,
    normalize_bic,
    normalize_iban,
    normalize_vat_id,
    validate_bic,
    validate_iban,
    vat_id_compact,
)
from voltop.core.history import history_tracked
from voltop.core.models import TimeStampedModel
from voltop.core.validators import validate_currency_code, validate_time_zone

CSV_SEPARATORS_CLASH = (
    "The CSV decimal separator must differ from the delimiter, or numbers could not be told "
    "from columns."
)


def _account(default: str, help_text: str) -> models.CharField:
    return models.CharField(
        max_length=8,
        default=default,
        db_default=default,
        validators=[ACCOUNT_NUMBER],
        help_text=help_text,
    )


class Fleet(TimeStampedModel):
    """A company's fleet: the tenant every other row belongs to."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    currency = models.CharField(
        max_length=3,
        validators=[validate_currency_code],
        help_text="ISO 4217 code, e.g. EUR.",
    )
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA zone for billing periods and display, e.g. Europe/Amsterdam.",
    )
    country = CountryField()
    default_vat_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Percent, e.g. 21.00.",
    )
    billing_period = models.CharField(
        max_length=8,
        choices=BillingPeriodKind.choices,
        default=BillingPeriodKind.MONTHLY,
        db_default=BillingPeriodKind.MONTHLY,
        help_text="How often sessions are billed; periods run from midnight in the fleet's zone.",
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        default=14,
        db_default=14,
        validators=[MaxValueValidator(365)],
        help_text="Days from an invoice's issue until it is due.",
    )
    legal_name = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="The seller's registered name on invoices; the fleet's name when blank.",
    )
    street = models.CharField(max_length=200, blank=True, default="", db_default="")
    postal_code = models.CharField(max_length=16, blank=True, default="", db_default="")
    city = models.CharField(max_length=100, blank=True, default="", db_default="")
    vat_id = models.CharField(
        "VAT id",
        max_length=20,
        blank=True,
        default="",
        db_default="",
        help_text="VAT identification number, e.g. NL853015123B01 (in Greece EL…).",
    )
    iban = models.CharField(
        "IBAN",
        max_length=34,
        blank=True,
        default="",
        db_default="",
        validators=[validate_iban],
        help_text="The account drivers pay invoices into.",
    )
    bic = models.CharField(
        "BIC",
        max_length=11,
        blank=True,
        default="",
        db_default="",
        validators=[validate_bic],
        help_text="The bank of the IBAN, e.g. COBADEFFXXX.",
    )
    csv_delimiter = models.CharField(
        "CSV delimiter",
        max_length=1,
        choices=CsvDelimiter.choices,
        default=CsvDelimiter.COMMA,
        db_default=CsvDelimiter.COMMA,
    )
    csv_decimal_separator = models.CharField(
        "CSV decimal separator",
        max_length=1,
        choices=CsvDecimalSeparator.choices,
        default=CsvDecimalSeparator.POINT,
        db_default=CsvDecimalSeparator.POINT,
    )
    csv_bom = models.BooleanField(
        "CSV with byte order mark",
        default=False,
        db_default=False,
        help_text="Start CSV files with a UTF-8 byte order mark, so Excel reads them as UTF-8.",
    )
    datev_consultant_number = models.PositiveIntegerField(
        "DATEV consultant number",
        null=True,
        blank=True,
        validators=[MinValueValidator(1001), MaxValueValidator(9999999)],
        help_text="Beraternummer of the tax advisor, 1001 to 9999999.",
    )
    datev_client_number = models.PositiveIntegerField(
        "DATEV client number",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(99999)],
        help_text="Mandantennummer of the fleet at its tax advisor, 1 to 99999.",
    )
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        default=1,
        db_default=1,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text="The month the fiscal year begins, 1 (January) to 12.",
    )
    account_length = models.PositiveSmallIntegerField(
        default=4,
        db_default=4,
        validators=[MinValueValidator(4), MaxValueValidator(8)],
        help_text="Digits of a general ledger account (DATEV Sachkontenlänge), 4 to 8.",
    )
    receivables_account = _account("1400", "Receivables from drivers (SKR03 1400).")
    bank_account = _account("1200", "The bank account of the fleet's IBAN (SKR03 1200).")
    charging_cost_account = _account(
        "4530", "Charging of the fleet's vehicles, business and reimbursed (SKR03 4530)."
    )
    charging_payable_account = _account(
        "1600", "What the fleet owes charging providers for business charging (SKR03 1600)."
    )
    reimbursement_payable_account = _account(
        "1740", "Home charging owed to drivers until paid out (SKR03 1740)."
    )
    payroll_account = _account(
        "1755",
        "Where what payroll deducts from drivers' pay is cleared against their invoices "
        "(SKR03 1755).",
    )
    refund_method = models.CharField(
        max_length=8,
        choices=RefundMethod.choices,
        default=RefundMethod.SET_OFF,
        db_default=RefundMethod.SET_OFF,
        help_text="How money owed back to a driver for an overpaid or credited invoice is settled.",
    )
    require_two_factor = models.BooleanField(
        "require two-factor login",
        default=False,
        db_default=False,
        help_text="The fleet's admins and finance users must log in to the admin and the API "
        "with a one-time code from an authenticator app (TOTP) besides their password.",
    )

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_vat_rate__gte=0) & Q(default_vat_rate__lte=100),
                name="fleet_vat_rate_between_0_and_100",
                violation_error_code="fleet_vat_rate_between_0_and_100",
                violation_error_message="The default VAT rate must be between 0 and 100 percent.",
            ),
            models.CheckConstraint(
                condition=Q(billing_period__in=BillingPeriodKind.values),
                name="fleet_billing_period_valid",
                violation_error_code="fleet_billing_period_valid",
                violation_error_message="The billing period must be monthly or weekly.",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"),
                name="fleet_currency_iso_4217",
                violation_error_code="fleet_currency_iso_4217",
                violation_error_message="The currency must be a three-letter ISO 4217 code.",
            ),
            models.CheckConstraint(
                condition=Q(csv_delimiter__in=CsvDelimiter.values),
                name="fleet_csv_delimiter_valid",
                violation_error_code="fleet_csv_delimiter_valid",
                violation_error_message="The CSV delimiter must be a comma, a semicolon or a tab.",
            ),
            models.CheckConstraint(
                condition=Q(csv_decimal_separator__in=CsvDecimalSeparator.values),
                name="fleet_csv_decimal_separator_valid",
                violation_error_code="fleet_csv_decimal_separator_valid",
                violation_error_message="The CSV decimal separator must be a point or a comma.",
            ),
            models.CheckConstraint(
                condition=~Q(csv_delimiter=F("csv_decimal_separator")),
                name="fleet_csv_delimiter_not_decimal_separator",
                violation_error_code="fleet_csv_delimiter_not_decimal_separator",
                violation_error_message=CSV_SEPARATORS_CLASH,
            ),
            models.CheckConstraint(
                condition=Q(refund_method__in=RefundMethod.values),
                name="fleet_refund_method_valid",
                violation_error_code="fleet_refund_method_valid",
                violation_error_message="Refunds are set off or paid out.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean_fields(self, exclude=None) -> None:
        """Bring the VAT id, IBAN and BIC to their stored form (upper case, no spaces) before
        the field validators see them, so a formatted IBAN is judged by its content."""
        self.vat_id = vat_id_compact(self.vat_id or "")
        for name, normalize in (("iban", normalize_iban), ("bic", normalize_bic)):
            if getattr(self, name):
                with contextlib.suppress(ValidationError):  # invalid: the validator says why
                    setattr(self, name, normalize(getattr(self, name)))
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        """The rules over several fields: the VAT id against the fleet's country, the BIC
        against the IBAN's country, a CSV delimiter other than the decimal separator, and
        ledger accounts of at most the account length's digits."""
        errors: dict[str, ValidationError] = {}
        if self.account_length:
            too_long = accounts_too_long(
                {name: getattr(self, name) or "" for name in FLEET_ACCOUNT_FIELDS},
                self.account_length,
            )
            for name, message in too_long.items():
                errors[name] = ValidationError(message, code="account_too_long")
            if self.pk is not None and "account_length" not in errors:
                longest = self._longest_rate_account()
                if longest and len(longest) > self.account_length:
                    errors["account_length"] = ValidationError(
                        f"The account length must be at least {len(longest)}: the accounts per "
                        f"VAT rate include {longest}.",
                        code="account_too_long",
                    )
        if self.vat_id:
            try:
                self.vat_id = normalize_vat_id(self.vat_id, country=str(self.country))
            except ValidationError as error:
                errors["vat_id"] = error
        if self.iban and self.bic:
            try:
                bic_matches_iban(bic=self.bic, iban=self.iban)
            except ValidationError as error:
                errors["bic"] = error
        if self.csv_delimiter and self.csv_delimiter == self.csv_decimal_separator:
            errors["csv_decimal_separator"] = ValidationError(
                CSV_SEPARATORS_CLASH, code="fleet_csv_delimiter_not_decimal_separator"
            )
        if errors:
            raise ValidationError(errors)

    def _longest_rate_account(self) -> str:
        accounts = VatRateAccounts.objects.filter(fleet=self).values_list(*VAT_RATE_ACCOUNT_FIELDS)
        return max((account for row in accounts for account in row), key=len, default="")

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Depot(TimeStampedModel):
    """A site where the fleet's vehicles park and charge."""

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="depots")
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    grid_connection_limit_kw = models.DecimalField(
        "grid connection limit (kW)",
        max_digits=8,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )

    class Meta:
        ordering = ["fleet", "name"]
        constraints = [
            models.UniqueConstraint(fields=["fleet", "name"], name="depot_name_unique_per_fleet"),
            models.CheckConstraint(
                condition=Q(grid_connection_limit_kw__gt=0),
                name="depot_grid_limit_positive",
                violation_error_code="depot_grid_limit_positive",
                violation_error_message="The grid connection limit must be above 0 kW.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CostCenter(TimeStampedModel):
    """A bucket of the fleet's accounts that business charging costs are allocated to."""

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="cost_centers")
    code = models.CharField(
        max_length=32,
        validators=[RegexValidator(r"^[A-Za-z0-9._-]+$", "Letters, digits, '.', '_' or '-'.")],
    )
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["fleet", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "code"], name="cost_center_code_unique_per_fleet"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class VatRateAccounts(models.Model):
    """The fleet's ledger accounts and tax codes for one VAT rate: where revenue at the rate,
    the VAT it carries and the input VAT of business charging at the rate are booked, and the
    tax codes (DATEV BU-Schlüssel) that go with them. A tax code stays empty on an automatic
    account, whose VAT the accounting system derives by itself, and at a rate of 0."""

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="vat_rate_accounts")
    vat_rate = models.DecimalField(
        "VAT rate",
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Percent, e.g. 19.00.",
    )
    revenue_account = models.CharField(max_length=8, validators=[ACCOUNT_NUMBER])
    revenue_tax_code = models.CharField(
        max_length=4,
        blank=True,
        default="",
        validators=[RegexValidator(r"^[0-9]{1,4}$", "Up to four digits.")],
        help_text="BU-Schlüssel of revenue at the rate; empty on an automatic account.",
    )
    vat_account = models.CharField(
        "VAT payable account",
        max_length=8,
        blank=True,
        default="",
        validators=[ACCOUNT_NUMBER],
        help_text="Where the VAT on revenue at the rate is owed; empty at a rate of 0.",
    )
    input_vat_account = models.CharField(
        max_length=8,
        blank=True,
        default="",
        validators=[ACCOUNT_NUMBER],
        help_text="Where the input VAT of business charging at the rate is claimed.",
    )
    input_tax_code = models.CharField(
        max_length=4,
        blank=True,
        default="",
        validators=[RegexValidator(r"^[0-9]{1,4}$", "Up to four digits.")],
        help_text="BU-Schlüssel of business charging at the rate on the charging cost account.",
    )

    class Meta:
        verbose_name = "accounts of a VAT rate"
        verbose_name_plural = "accounts per VAT rate"
        ordering = ["fleet", "-vat_rate"]
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "vat_rate"],
                name="vat_rate_accounts_unique_per_fleet",
                violation_error_code="vat_rate_accounts_unique_per_fleet",
                violation_error_message="The fleet already has accounts for this VAT rate.",
            ),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0) & Q(vat_rate__lte=100),
                name="vat_rate_accounts_rate_between_0_and_100",
                violation_error_code="vat_rate_accounts_rate_between_0_and_100",
                violation_error_message="The VAT rate must be between 0 and 100 percent.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vat_rate} %: revenue {self.revenue_account}"

    def clean(self) -> None:
        """Each account has at most the fleet's account length of digits."""
        if self.fleet_id is None:
            return
        too_long = accounts_too_long(
            {name: getattr(self, name) or "" for name in VAT_RATE_ACCOUNT_FIELDS},
            self.fleet.account_length,
        )
        if too_long:
            raise ValidationError(
                {
                    name: ValidationError(message, code="account_too_long")
                    for name, message in too_long.items()
                }
            )


@history_tracked()
class Membership(TimeStampedModel):
    """A user's role in a fleet; what they may see and do follows from it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=MembershipRole.choices)

    class Meta:
        ordering = ["fleet", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "fleet"], name="membership_unique_per_fleet"),
            models.CheckConstraint(
                condition=Q(role__in=MembershipRole.values),
                name="membership_role_valid",
                violation_error_code="membership_role_valid",
                violation_error_message="The role must be admin, manager, finance or viewer.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.fleet} ({self.get_role_display()})"


class Invitation(TimeStampedModel):
    """An invitation by e-mail to join a fleet with a role: its link lets the invitee set a
    password (or log in, when the address already has a login) until it expires. Only a hash of
    the link's secret is stored."""

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=MembershipRole.choices)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations_sent",
        editable=False,
    )
    expires_at = models.DateTimeField(editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True, editable=False)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations_accepted",
        editable=False,
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["fleet", "-created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                "fleet",
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email_and_fleet",
                violation_error_code="invitation_one_open_per_email_and_fleet",
                violation_error_message="This address already has an open invitation to the fleet.",
            ),
            models.CheckConstraint(
                condition=Q(role__in=MembershipRole.values),
                name="invitation_role_valid",
                violation_error_code="invitation_role_valid",
                violation_error_message="The role must be admin, manager, finance or viewer.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.fleet} ({self.get_role_display()})"


class FleetApiKey(TimeStampedModel):
    """A key a fleet gives a server of its own (payroll, ERP) to use the fleet endpoints with a
    role, like a member. Only a hash of the secret is stored; the key is shown once, when made,
    and stops working the moment it is revoked."""

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'Payroll export'.")
    role = models.CharField(max_length=16, choices=MembershipRole.choices)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["fleet", "name", "pk"]
        verbose_name = "fleet API key"
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=MembershipRole.values),
                name="fleet_api_key_role_valid",
                violation_error_code="fleet_api_key_role_valid",
                violation_error_message="The role must be admin, manager, finance or viewer.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_fleet_api_key(self) -> bool:
        return True
