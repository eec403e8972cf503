"""Serializers of the fleet endpoints of the vehicles app: vehicles, assignments of drivers to
them, and odometer readings."""

from rest_framework import serializers

from apps.drivers.models import Driver
from apps.fleets.api.fleet_serializers import FleetScopedRelatedField, RefusesUnsettableFields
from apps.fleets.models import CostCenter, Depot, Fleet
from apps.vehicles.choices import ConnectorStandard
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment


class FleetVehicleSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    create_only_fields = ("fleet",)
    fleet = FleetScopedRelatedField(fleet_lookup="pk", queryset=Fleet.objects.all())
    home_depot = FleetScopedRelatedField(
        queryset=Depot.objects.all(), allow_null=True, required=False
    )
    cost_center = FleetScopedRelatedField(
        queryset=CostCenter.objects.all(), allow_null=True, required=False
    )
    connector_standards = serializers.ListField(
        child=serializers.ChoiceField(choices=ConnectorStandard.choices), required=False
    )
    time_zone = serializers.CharField(
        source="fleet.time_zone",
        read_only=True,
        help_text="The fleet's IANA time zone, e.g. Europe/Amsterdam; times in the API are UTC.",
    )

    class Meta:
        model = Vehicle
        fields = [
            "id",
            "fleet",
            "vin",
            "plate",
            "make",
            "model",
            "model_year",
            "usable_battery_kwh",
            "max_ac_kw",
            "max_dc_kw",
            "connector_standards",
            "status",
            "home_depot",
            "cost_center",
            "time_zone",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The service judges uniqueness and format (full_clean), with the rest of the rules.
        extra_kwargs = {"vin": {"validators": []}}
        validators: list = []


class FleetVehicleAssignmentSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    """Who drives a vehicle when; once made, its driver, start and end can change, its vehicle
    cannot."""

    create_only_fields = ("vehicle",)
    vehicle = FleetScopedRelatedField(queryset=Vehicle.objects.all())
    driver = FleetScopedRelatedField(queryset=Driver.objects.all())
    vehicle_plate = serializers.CharField(source="vehicle.plate", read_only=True)
    driver_name = serializers.CharField(source="driver.full_name", read_only=True)

    class Meta:
        model = VehicleAssignment
        fields = [
            "id",
            "vehicle",
            "vehicle_plate",
            "driver",
            "driver_name",
            "starts_at",
            "ends_at",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class VehicleReassignSerializer(RefusesUnsettableFields, serializers.Serializer):
    driver = FleetScopedRelatedField(
        queryset=Driver.objects.all(), help_text="The driver who takes the vehicle over."
    )
    starts_at = serializers.DateTimeField(
        required=False,
        help_text="From when; now when left out. The assignment running then ends at it.",
    )


class AssignmentEndSerializer(RefusesUnsettableFields, serializers.Serializer):
    ends_at = serializers.DateTimeField(
        required=False, help_text="When the assignment ends; now when left out."
    )


class FleetOdometerReadingSerializer(RefusesUnsettableFields, serializers.ModelSerializer):
    """A reading of a vehicle's odometer; a correction changes its km and time, never its
    vehicle."""

    create_only_fields = ("vehicle",)
    vehicle = FleetScopedRelatedField(queryset=Vehicle.objects.all())

    class Meta:
        model = OdometerReading
        fields = ["id", "vehicle", "km", "recorded_at", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list = []
