"""Serializers of the fleet endpoints of the fleets app (fleets, depots, cost centers, members,
API keys), and the pieces every fleet endpoint shares: refusing fields a caller may not set,
foreign keys limited to the caller's fleets, and model validation rendered as API errors."""

import contextlib
from collections.abc import Iterator, Mapping

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.settings import api_settings

from apps.fleets.api.permissions import request_fleet_ids, view_roles
from apps.fleets.models import CostCenter, Depot, Fleet, FleetApiKey, Invitation, Membership
from apps.fleets.selectors import member_candidate_get


@contextlib.contextmanager
def model_validation_as_api_error() -> Iterator[None]:
    """Turn a model's full_clean() refusal, raised by a service, into a 400 naming the field
    (a rule over several fields, such as a unique pair, names none)."""
    try:
        yield
    except DjangoValidationError as error:
        detail = serializers.as_serializer_error(error)
        if NON_FIELD_ERRORS in detail:
            detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
        raise serializers.ValidationError(detail) from error


class RefusesUnsettableFields:
    """A serializer that refuses, by name, every field sent that the caller may not set here
    (read-only fields such as id or created_at, unknown ones such as is_staff, and the
    `create_only_fields` once the row exists), so nothing changes silently or half."""

    create_only_fields: tuple[str, ...] = ()
    unsettable_message = "This field cannot be set here."

    def settable_field_names(self) -> set[str]:
        settable = {name for name, field in self.fields.items() if not field.read_only}
        if self.instance is not None:
            settable -= set(self.create_only_fields)
        return settable

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            refused = sorted(set(data) - self.settable_field_names())
            if refused:
                raise serializers.ValidationError(
                    {
                        name: [
                            serializers.ErrorDetail(self.unsettable_message, code="not_settable")
                        ]
                        for name in refused
                    }
                )
        return super().to_internal_value(data)


class FleetScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key the caller may only point at rows of the fleets where their role allows
    this request; any other id is refused as if it did not exist."""

    def __init__(self, *, fleet_lookup: str = "fleet", **kwargs):
        self.fleet_lookup = fleet_lookup
        super().__init__(**kwargs)

    def get_queryset(self):
        request, view = self.context["request"], self.context["view"]
        fleet_ids = request_fleet_ids(request, view_roles(request, view))
        return super().get_queryset().filter(**{f"{self.fleet_lookup}__in": fleet_ids})


class FleetSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    """A fleet's settings; the seller's VAT id, IBAN and BIC may be written formatted (with
    spaces) and are read in their stored, compact form."""

    country = serializers.CharField(source="country.code", read_only=True)
    vat_id = serializers.CharField(required=False, allow_blank=True, max_length=30)
    iban = serializers.CharField(required=False, allow_blank=True, max_length=42)

    class Meta:
        model = Fleet
        fields = [
            "id",
            "name",
            "slug",
            "currency",
            "time_zone",
            "country",
            "default_vat_rate",
            "billing_period",
            "payment_terms_days",
            "legal_name",
            "street",
            "postal_code",
            "city",
            "vat_id",
            "iban",
            "bic",
            "csv_delimiter",
            "csv_decimal_separator",
            "csv_bom",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "slug", "currency", "time_zone", "created_at", "updated_at"]
        extra_kwargs = {
            "default_vat_rate": {
                "help_text": "Percent, e.g. 21.00: the VAT the fleet charges its drivers on "
                "private charging, whatever VAT a charger's operator charged the fleet."
            }
        }


class DepotSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    create_only_fields = ("fleet",)
    fleet = FleetScopedRelatedField(fleet_lookup="pk", queryset=Fleet.objects.all())

    class Meta:
        model = Depot
        fields = [
            "id",
            "fleet",
            "name",
            "address",
            "grid_connection_limit_kw",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's to judge (full_clean), with the rest of the model's rules.
        validators: list = []


class CostCenterSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    create_only_fields = ("fleet",)
    fleet = FleetScopedRelatedField(fleet_lookup="pk", queryset=Fleet.objects.all())

    class Meta:
        model = CostCenter
        fields = ["id", "fleet", "code", "name", "is_active", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []


class MemberUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(source="get_full_name", read_only=True)


class MembershipSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    """A member as listed and as changed: only the role can be changed."""

    user = MemberUserSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "fleet", "user", "role", "created_at", "updated_at"]
        read_only_fields = ["id", "fleet", "created_at", "updated_at"]


class MembershipCreateSerializer(RefusesUnsettableFields, serializers.Serializer):
    """Give an existing login a role in one of my fleets, naming it by its email."""

    fleet = FleetScopedRelatedField(fleet_lookup="pk", queryset=Fleet.objects.all())
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership._meta.get_field("role").choices)

    def validate_email(self, email: str):
        user = member_candidate_get(email=email)
        if user is None:
            raise serializers.ValidationError(
                "No active login has this email; the person must have an account first.",
                code="does_not_exist",
            )
        return user


class FleetApiKeySerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    fleet = FleetScopedRelatedField(fleet_lookup="pk", queryset=Fleet.objects.all())

    class Meta:
        model = FleetApiKey
        fields = [
            "id",
            "fleet",
            "name",
            "role",
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at"]


class IssuedFleetApiKeySerializer(FleetApiKeySerializer):
    key = serializers.CharField(
        read_only=True,
        help_text="The full key, `vt_…`. Shown in this response only; store it now.",
    )

    class Meta(FleetApiKeySerializer.Meta):
        fields = [*FleetApiKeySerializer.Meta.fields, "key"]


class InvitationSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    """An invitation to a fleet's team; its link is e-mailed to the address, never shown."""

    fleet = FleetScopedRelatedField(fleet_lookup="pk", queryset=Fleet.objects.all())

    class Meta:
        model = Invitation
        fields = [
            "id",
            "fleet",
            "email",
            "role",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "accepted_by",
            "revoked_at",
        ]
        read_only_fields = [
            "id",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "accepted_by",
            "revoked_at",
        ]
