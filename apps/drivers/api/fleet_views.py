"""Fleet endpoints of the drivers app: the fleet's drivers (add, change, suspend, reactivate,
delete) and their charge tokens (issue, change, deactivate). Views call apps.drivers.services.
A driver leaving (POST drivers/{id}/leave/) ends their vehicle assignments, so the vehicles
app serves it (apps.vehicles.api.fleet_views.FleetDriverLeaveViewSet)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.drivers import services
from apps.drivers.api.fleet_filtersets import FleetChargeTokenFilterSet, FleetDriverFilterSet
from apps.drivers.api.fleet_serializers import (
    FleetChargeTokenSerializer,
    FleetDriverSerializer,
    SuspensionReasonSerializer,
)
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.api.fleet_serializers import model_validation_as_api_error
from apps.fleets.api.permissions import ALL_ROLES, EDITING_ROLES
from apps.fleets.api.viewsets import FleetScopedViewSet
from voltop.core.api.idempotency import idempotent


class FleetDriverViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet):
    """Drivers of my fleets. Managers and admins add and change them, suspend (which
    deactivates their tokens) or reactivate them, mark them as left, and delete a driver
    without history (one with history is refused, 409: mark them as left instead)."""

    queryset = Driver.objects.select_related("fleet", "cost_center").order_by(
        "fleet_id", "last_name", "first_name", "pk"
    )
    serializer_class = FleetDriverSerializer
    read_roles = ALL_ROLES
    write_roles = EDITING_ROLES
    filterset_class = FleetDriverFilterSet
    ordering_fields = ["last_name", "employee_number", "created_at"]

    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            driver = services.driver_create(**serializer.validated_data)
        return Response(self.get_serializer(driver).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        driver = self.get_object()
        serializer = self.get_serializer(driver, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            driver = services.driver_update(driver=driver, changes=serializer.validated_data)
        return Response(self.get_serializer(driver).data)

    @extend_schema(request=SuspensionReasonSerializer, responses=FleetDriverSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk=None) -> Response:
        """Suspend an active driver, saying why: they can no longer sign in, and their active
        tokens are blocked, marked as blocked by the suspension. A driver who is not active is
        refused (409)."""
        driver = self.get_object()
        payload = SuspensionReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        driver = services.driver_suspend(driver=driver, reason=payload.validated_data["reason"])
        return self._driver_response(driver)

    @extend_schema(request=None, responses=FleetDriverSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk=None) -> Response:
        """Make a suspended driver active again: exactly the tokens their suspension blocked
        are unblocked; a token blocked for another reason (a lost card) stays blocked. A driver
        who is not suspended is refused (409)."""
        driver = services.driver_reactivate(driver=self.get_object())
        return self._driver_response(driver)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        """Delete a driver without history, with their charge tokens; a driver with sessions,
        assignments or billing documents is refused (409) and kept: mark them as left."""
        services.driver_delete(driver=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _driver_response(self, driver: Driver) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=driver.pk)).data)


class FleetChargeTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet):
    """Charge tokens of my fleets' drivers. Managers and admins issue a token to an active
    driver, change its UID, kind, validity or driver (within the fleet), and deactivate one
    (e.g. a lost card)."""

    queryset = ChargeToken.objects.order_by("driver_id", "uid", "pk")
    serializer_class = FleetChargeTokenSerializer
    fleet_lookup = "driver__fleet"
    read_roles = ALL_ROLES
    write_roles = EDITING_ROLES
    filterset_class = FleetChargeTokenFilterSet
    ordering_fields = ["uid", "valid_from"]

    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.charge_token_issue(**serializer.validated_data)
        return Response(self.get_serializer(token).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Change the token's UID, kind, validity or driver (a driver of the same fleet), with
        the checks of issuing one; whether it is active changes through deactivate only."""
        token = self.get_object()
        serializer = self.get_serializer(token, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        token = services.charge_token_update(token=token, changes=serializer.validated_data)
        return Response(self.get_serializer(token).data)

    @extend_schema(request=SuspensionReasonSerializer, responses=FleetChargeTokenSerializer)
    @action(detail=True, methods=["post"])
    def block(self, request: Request, pk=None) -> Response:
        """Block the token, saying why (a lost or stolen card): it can no longer start a
        session, and stays blocked when its driver is reactivated after a suspension."""
        token = self.get_object()
        payload = SuspensionReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        token = services.charge_token_block(token=token, reason=payload.validated_data["reason"])
        return Response(self.get_serializer(token).data)

    @extend_schema(request=None, responses=FleetChargeTokenSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk=None) -> Response:
        """Block the token; deactivating it again changes nothing."""
        token = services.charge_token_deactivate(token=self.get_object())
        return Response(self.get_serializer(token).data)
