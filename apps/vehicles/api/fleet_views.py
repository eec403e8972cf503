"""Fleet endpoints of the vehicles app: vehicles, who drives them (assignments) and their
odometer readings, and a driver leaving, which ends the assignments they hold. Views call
apps.vehicles.services, which refuse overlapping assignments, odometers going backwards,
deleting a vehicle with history and a driver leaving before an assignment of theirs starts."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.drivers.api.fleet_filtersets import FleetDriverFilterSet
from apps.drivers.api.fleet_serializers import FleetDriverSerializer
from apps.drivers.models import Driver
from apps.fleets.api.fleet_serializers import model_validation_as_api_error
from apps.fleets.api.permissions import ALL_ROLES, EDITING_ROLES
from apps.fleets.api.viewsets import FleetScopedViewSet
from apps.vehicles import services
from apps.vehicles.api.filtersets import (
    FleetOdometerReadingFilterSet,
    FleetVehicleAssignmentFilterSet,
    FleetVehicleFilterSet,
)
from apps.vehicles.api.fleet_serializers import (
    AssignmentEndSerializer,
    FleetOdometerReadingSerializer,
    FleetVehicleAssignmentSerializer,
    FleetVehicleSerializer,
    VehicleReassignSerializer,
)
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from voltop.core.api.filters import QueryFilterBackend
from voltop.core.api.idempotency import idempotent
from voltop.core.api.pagination import NewestFirstCursorPagination


class FleetVehicleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet):
    """Vehicles of my fleets; managers and admins add, change and delete them. A vehicle with
    history (assignments, odometer readings, sessions) is not deleted (409): retire it."""

    queryset = Vehicle.objects.select_related("fleet").order_by("fleet_id", "plate", "pk")
    serializer_class = FleetVehicleSerializer
    read_roles = ALL_ROLES
    write_roles = EDITING_ROLES
    filterset_class = FleetVehicleFilterSet
    ordering_fields = ["plate", "created_at"]

    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            vehicle = services.vehicle_create(**serializer.validated_data)
        return Response(self.get_serializer(vehicle).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        vehicle = self.get_object()
        serializer = self.get_serializer(vehicle, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            vehicle = services.vehicle_update(vehicle=vehicle, changes=serializer.validated_data)
        return Response(self.get_serializer(vehicle).data)

    @extend_schema(request=VehicleReassignSerializer, responses=FleetVehicleAssignmentSerializer)
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk=None) -> Response:
        """Give the vehicle to another driver of its fleet from `starts_at` (now when left
        out), in one step: the assignment running then ends at that moment and a new,
        open-ended one begins. Refused as a new assignment would be (an inactive driver, a
        retired vehicle, an overlap with a later assignment), changing nothing."""
        vehicle = self.get_object()
        serializer = VehicleReassignSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        assignment = services.vehicle_reassign(
            vehicle=vehicle,
            driver=serializer.validated_data["driver"],
            starts_at=serializer.validated_data.get("starts_at", timezone.now()),
        )
        return Response(
            FleetVehicleAssignmentSerializer(
                assignment, context=self.get_serializer_context()
            ).data,
            status=status.HTTP_201_CREATED,
        )

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        """Delete a vehicle without history; one with assignments, odometer readings or
        sessions is refused (409) and kept: retire it instead."""
        services.vehicle_delete(vehicle=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class FleetVehicleAssignmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet
):
    """Who drives which vehicle when, newest start first. Managers and admins assign a driver
    (refused when it overlaps another assignment of the vehicle), change an assignment's
    driver, start or end (checked again the same way), and end it."""

    queryset = VehicleAssignment.objects.select_related("vehicle", "driver")
    serializer_class = FleetVehicleAssignmentSerializer
    fleet_lookup = "vehicle__fleet"
    read_roles = ALL_ROLES
    write_roles = EDITING_ROLES
    filterset_class = FleetVehicleAssignmentFilterSet
    filter_backends = [QueryFilterBackend]
    pagination_class = NewestFirstCursorPagination
    cursor_ordering = ("-starts_at", "-id")

    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assignment = services.vehicle_assign(**serializer.validated_data)
        return Response(self.get_serializer(assignment).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Change the driver, start or end (null reopens it); the vehicle stays. Checked again
        like a new assignment: an overlap with another of the vehicle is refused (409), and the
        assignment of an inactive driver or a retired vehicle can only be ended or shortened
        (422). Only the fields sent change."""
        assignment = self.get_object()
        serializer = self.get_serializer(assignment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        assignment = services.vehicle_assignment_update(
            assignment=assignment, changes=serializer.validated_data
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=assignment.pk)).data)

    @extend_schema(request=AssignmentEndSerializer, responses=FleetVehicleAssignmentSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk=None) -> Response:
        """End the assignment at `ends_at` (now when left out); it must end after it starts."""
        assignment = self.get_object()
        serializer = AssignmentEndSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assignment = services.vehicle_assignment_end(
            assignment=assignment,
            ends_at=serializer.validated_data.get("ends_at", timezone.now()),
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=assignment.pk)).data)


class FleetOdometerReadingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, FleetScopedViewSet
):
    """Odometer readings of my fleets' vehicles, newest first. Managers and admins record one
    and correct its km or time; a reading lower than an earlier one, or higher than a later
    one, is refused."""

    queryset = OdometerReading.objects.all()
    serializer_class = FleetOdometerReadingSerializer
    fleet_lookup = "vehicle__fleet"
    read_roles = ALL_ROLES
    write_roles = EDITING_ROLES
    filterset_class = FleetOdometerReadingFilterSet
    filter_backends = [QueryFilterBackend]
    pagination_class = NewestFirstCursorPagination
    cursor_ordering = ("-recorded_at", "-id")

    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reading = services.odometer_reading_record(**serializer.validated_data)
        return Response(self.get_serializer(reading).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Correct the km or the time of the reading; it must still lie between the readings
        before and after it (422 on `km`), and not at the moment of another (409). Only the
        fields sent change."""
        reading = self.get_object()
        serializer = self.get_serializer(reading, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        reading = services.odometer_reading_correct(
            reading=reading, changes=serializer.validated_data
        )
        return Response(self.get_serializer(reading).data)


class FleetDriverLeaveViewSet(FleetScopedViewSet):
    """A driver of my fleets leaving the company: the one action on a driver that ends their
    vehicle assignments. The rest of the driver endpoints are the drivers app's
    (apps.drivers.api.fleet_views.FleetDriverViewSet), under the same drivers/ prefix."""

    queryset = Driver.objects.select_related("fleet", "cost_center")
    serializer_class = FleetDriverSerializer
    read_roles = ALL_ROLES
    write_roles = EDITING_ROLES
    filterset_class = FleetDriverFilterSet

    @extend_schema(request=None, responses=FleetDriverSerializer)
    @action(detail=True, methods=["post"])
    def leave(self, request: Request, pk=None) -> Response:
        """Mark the driver as having left the company, now: their tokens are deactivated, the
        vehicle assignments they hold end now, and they can no longer sign in; their history
        stays. Refused (409) while an assignment of theirs has not started yet. Leaving again
        changes nothing."""
        driver = services.driver_leave(driver=self.get_object())
        return Response(self.get_serializer(self.get_queryset().get(pk=driver.pk)).data)
