"""Serializers of the fleet endpoints of the drivers app: drivers and their charge tokens."""

from django_countries.serializer_fields import CountryField
from rest_framework import serializers

from apps.drivers.api.serializers import iban_masked
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.api.fleet_serializers import FleetScopedRelatedField, RefusesUnsettableFields
from apps.fleets.models import CostCenter, Fleet


class FleetDriverSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    """A driver as the fleet sees them. Status changes through suspend, reactivate and leave;
    the login (`user`) is linked in the admin only; the IBAN is written in full and read
    masked."""

    create_only_fields = ("fleet",)
    unsettable_message = (
        "This field cannot be set here (status changes through suspend, reactivate and leave)."
    )
    fleet = FleetScopedRelatedField(fleet_lookup="pk", queryset=Fleet.objects.all())
    cost_center = FleetScopedRelatedField(
        queryset=CostCenter.objects.all(), allow_null=True, required=False
    )
    home_rate_currency = serializers.CharField(source="fleet.currency", read_only=True)
    time_zone = serializers.CharField(
        source="fleet.time_zone",
        read_only=True,
        help_text="The fleet's IANA time zone, e.g. Europe/Amsterdam; times in the API are UTC.",
    )
    iban = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=42)
    iban_masked = serializers.SerializerMethodField(
        help_text="Only the last four characters are shown."
    )
    country = CountryField(
        required=False, allow_blank=True, help_text="ISO 3166-1 alpha-2 code, e.g. NL."
    )

    class Meta:
        model = Driver
        fields = [
            "id",
            "fleet",
            "employee_number",
            "first_name",
            "last_name",
            "email",
            "phone",
            "licence_number",
            "licence_expires_on",
            "cost_center",
            "status",
            "suspension_reason",
            "time_zone",
            "home_rate_per_kwh",
            "home_rate_currency",
            "iban",
            "iban_masked",
            "account_holder",
            "street",
            "postal_code",
            "city",
            "country",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "suspension_reason", "created_at", "updated_at"]
        extra_kwargs = {
            "home_rate_per_kwh": {
                "help_text": "Home charging reimbursement per kWh, excluding VAT, in "
                "home_rate_currency."
            }
        }
        # Uniqueness is the service's to judge (full_clean), with the rest of the model's rules.
        validators: list = []

    def get_iban_masked(self, driver: Driver) -> str:
        return iban_masked(driver.iban)


class SuspensionReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=200, help_text="Why; kept on the driver or the token."
    )


class FleetChargeTokenSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    """A charge token; issued active to an active driver. Its driver, UID, kind and validity
    can be changed; once deactivated it stays off."""

    unsettable_message = "This field cannot be set here (a token is turned off by deactivate)."
    driver = FleetScopedRelatedField(queryset=Driver.objects.all())

    class Meta:
        model = ChargeToken
        fields = [
            "id",
            "driver",
            "uid",
            "kind",
            "valid_from",
            "valid_until",
            "is_active",
            "blocked_reason",
            "blocked_by_suspension",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "is_active",
            "blocked_reason",
            "blocked_by_suspension",
            "created_at",
        ]
        validators: list = []
