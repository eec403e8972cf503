"""Serializers of the driver endpoints of the drivers app: profile, charge tokens."""

from rest_framework import serializers

from apps.drivers.models import ChargeToken, Driver
from apps.drivers.services import driver_phone_set
from apps.fleets.models import CostCenter, Fleet

VISIBLE_IBAN_CHARACTERS = 4


def iban_masked(iban: str) -> str:
    """The IBAN with all but its last four characters hidden, e.g. "**************4300"."""
    if not iban:
        return ""
    hidden = max(len(iban) - VISIBLE_IBAN_CHARACTERS, 0)
    return "*" * hidden + iban[hidden:]


class ProfileFleetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Fleet
        fields = ["id", "name", "currency", "time_zone"]


class ProfileCostCenterSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostCenter
        fields = ["code", "name"]


class DriverProfileSerializer(serializers.ModelSerializer):
    fleet = ProfileFleetSerializer()
    cost_center = ProfileCostCenterSerializer(allow_null=True)
    home_rate_currency = serializers.CharField(source="fleet.currency")
    time_zone = serializers.CharField(
        source="fleet.time_zone",
        help_text="My fleet's IANA time zone, e.g. Europe/Amsterdam, to show the API's UTC "
        "times in local time.",
    )
    iban_masked = serializers.SerializerMethodField(
        help_text="Only the last four characters are shown."
    )

    class Meta:
        model = Driver
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "employee_number",
            "phone",
            "status",
            "fleet",
            "time_zone",
            "cost_center",
            "home_rate_per_kwh",
            "home_rate_currency",
            "iban_masked",
            "account_holder",
        ]
        read_only_fields = fields

    def get_iban_masked(self, driver: Driver) -> str:
        return iban_masked(driver.iban)


class DriverPhoneUpdateSerializer(serializers.ModelSerializer):
    """What a driver may change about themselves: their phone number, nothing else. Any other
    field sent is refused by name, so a client cannot believe it changed something."""

    class Meta:
        model = Driver
        fields = ["phone"]

    def to_internal_value(self, data):
        if isinstance(data, dict):
            refused = sorted(set(data) - set(self.fields))
            if refused:
                raise serializers.ValidationError(
                    {
                        name: [
                            serializers.ErrorDetail(
                                "This field cannot be changed here; only phone can.",
                                code="not_changeable",
                            )
                        ]
                        for name in refused
                    }
                )
        return super().to_internal_value(data)

    def update(self, instance: Driver, validated_data: dict) -> Driver:
        if "phone" in validated_data:
            return driver_phone_set(driver=instance, phone=validated_data["phone"])
        return instance


class ChargeTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChargeToken
        fields = ["id", "uid", "kind", "valid_from", "valid_until", "is_active"]
