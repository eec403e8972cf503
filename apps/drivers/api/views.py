"""Driver endpoints of the drivers app: my profile, my charge tokens."""

from django.shortcuts import get_object_or_404
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
)
from apps.drivers.selectors import charge_token_list, driver_profile_get
from apps.drivers.services import charge_token_deactivate


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
