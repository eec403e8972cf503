"""Driver endpoints of the vehicles app: my current vehicle."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.drivers.api.permissions import IsDriver, request_driver
from apps.vehicles.api.serializers import VehicleAssignmentSerializer
from apps.vehicles.selectors import vehicle_assignment_for_driver_at
from voltop.core.errors import NotFound


class CurrentVehicleView(APIView):
    """The vehicle assigned to me now, with the assignment's period."""

    permission_classes = [IsDriver]

    @extend_schema(responses=VehicleAssignmentSerializer)
    def get(self, request: Request) -> Response:
        assignment = vehicle_assignment_for_driver_at(
            driver=request_driver(request), moment=timezone.now()
        )
        if assignment is None:
            raise NotFound(
                "No vehicle is assigned to you at the moment.", code="vehicles.no_vehicle_assigned"
            )
        return Response(VehicleAssignmentSerializer(assignment).data)
