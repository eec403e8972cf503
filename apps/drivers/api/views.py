"""Driver endpoints of the drivers app: my profile, my current vehicle, my charge tokens."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.drivers.api.permissions import IsDriver, request_driver
from apps.drivers.api.serializers import (
    ChargeTokenSerializer,
    DriverPhoneUpdateSerializer,
    DriverProfileSerializer,
    VehicleAssignmentSerializer,
)
from apps.drivers.selectors import charge_token_list, driver_profile_get
from apps.drivers.services import charge_token_deactivate
from apps.vehicles.selectors import vehicle_assignment_for_driver_at
from voltop.core.errors import NotFound


class ProfileView(APIView):
    """My driver profile; I may change my phone number, nothing else."""

    permission_classes = [IsDriver]
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(responses=DriverProfileSerializer)
    def get(self, request: Request) -> Response:
        driver = driver_profile_get(driver_id=request_driver(request).pk)
        return Response(DriverProfileSerializer(driver).data)

    @extend_schema(request=DriverPhoneUpdateSerializer, responses=DriverProfileSerializer)
    def patch(self, request: Request) -> Response:
        driver = driver_profile_get(driver_id=request_driver(request).pk)
        update = DriverPhoneUpdateSerializer(driver, data=request.data, partial=True)
        update.is_valid(raise_exception=True)
        driver = update.save()
        return Response(DriverProfileSerializer(driver).data)


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


class ChargeTokenListView(generics.ListAPIView):
    """My charge tokens (RFID cards, app ids), active ones first."""

    permission_classes = [IsDriver]
    serializer_class = ChargeTokenSerializer
    filter_backends: list = []

    def get_queryset(self):
        return charge_token_list(driver_id=request_driver(self.request).pk)


class ChargeTokenBlockView(APIView):
    """Block one of my tokens, e.g. a lost card: it can no longer start a charge. Blocking a
    blocked token returns it unchanged."""

    permission_classes = [IsDriver]

    @extend_schema(request=None, responses=ChargeTokenSerializer)
    def post(self, request: Request, pk: int) -> Response:
        token = get_object_or_404(charge_token_list(driver_id=request_driver(request).pk), pk=pk)
        token = charge_token_deactivate(token=token)
        return Response(ChargeTokenSerializer(token).data)
