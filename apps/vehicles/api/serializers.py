"""Serializers of the driver endpoints of the vehicles app: the vehicle assigned to me."""

from rest_framework import serializers

from apps.vehicles.choices import ConnectorStandard
from apps.vehicles.models import Vehicle, VehicleAssignment


class AssignedVehicleSerializer(serializers.ModelSerializer):
    connector_standards = serializers.ListField(
        child=serializers.ChoiceField(choices=ConnectorStandard.choices)
    )

    class Meta:
        model = Vehicle
        fields = [
            "id",
            "plate",
            "make",
            "model",
            "model_year",
            "usable_battery_kwh",
            "max_ac_kw",
            "max_dc_kw",
            "connector_standards",
        ]


class VehicleAssignmentSerializer(serializers.ModelSerializer):
    vehicle = AssignedVehicleSerializer()

    class Meta:
        model = VehicleAssignment
        fields = ["id", "starts_at", "ends_at", "vehicle"]
