"""The fleet's charging endpoints under /api/v1/fleet/: stations and connectors, tariffs
(imported from OCPI documents, edited field by field, deactivated and activated again), and
sessions with the manager's decisions on them (approving or rejecting home charging,
correcting or invalidating a session).

Every member reads; admins and managers edit and decide. Rows of other fleets are not found."""

from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.charging.api.fleet_filtersets import FleetSessionFilterSet
from apps.charging.api.fleet_serializers import (
    ChargingStationSerializer,
    ConnectorSerializer,
    FleetSessionDetailSerializer,
    FleetSessionSerializer,
    HomeSessionApproveSerializer,
    ReasonSerializer,
    SessionCorrectionSerializer,
    TariffImportSerializer,
    TariffSerializer,
    TariffUpdateSerializer,
)
from apps.charging.api.views import IDEMPOTENCY_KEY, METER_PHOTO_RESPONSES
from apps.charging.models import ChargingSession, ChargingStation, Connector, Tariff
from apps.charging.selectors import tariff_version_in_force_prefetch
from apps.charging.services import (
    charging_session_correct,
    charging_session_invalidate,
    charging_station_create,
    charging_station_update,
    connector_create,
    connector_update,
    home_session_review,
    tariff_activate,
    tariff_deactivate,
    tariff_import_ocpi,
    tariff_update,
)
from apps.fleets.api.fleet_serializers import model_validation_as_api_error
from apps.fleets.api.permissions import EDITING_ROLES, acting_user
from apps.fleets.api.viewsets import FleetScopedViewSet
from voltop.core.api.filters import QueryFilterBackend
from voltop.core.api.idempotency import idempotent
from voltop.core.api.pagination import NewestFirstCursorPagination
from voltop.core.downloads import stored_file_response


class ChargingStationViewSet(
    FleetScopedViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
):
    """The fleet's chargers with their connectors; admins and managers add and edit them
    through the charging services."""

    queryset = ChargingStation.objects.select_related("depot").prefetch_related(
        Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
    )
    serializer_class = ChargingStationSerializer
    write_roles = EDITING_ROLES
    http_method_names = ["get", "post", "patch", "head", "options"]
    filter_backends = [QueryFilterBackend]
    filterset_fields = ["depot", "status"]

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            station = charging_station_create(**serializer.validated_data)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=station.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        station = self.get_object()
        serializer = self.get_serializer(station, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            charging_station_update(station=station, changes=serializer.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=station.pk)).data)


class ConnectorViewSet(
    FleetScopedViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
):
    """The outlets of the fleet's chargers; admins and managers add and edit them through the
    charging services."""

    queryset = Connector.objects.select_related("station")
    fleet_lookup = "station__fleet"
    serializer_class = ConnectorSerializer
    write_roles = EDITING_ROLES
    http_method_names = ["get", "post", "patch", "head", "options"]
    filter_backends = [QueryFilterBackend]
    filterset_fields = ["station", "standard", "power_type"]

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            connector = connector_create(**serializer.validated_data)
        return Response(self.get_serializer(connector).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        connector = self.get_object()
        serializer = self.get_serializer(connector, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with model_validation_as_api_error():
            connector = connector_update(connector=connector, changes=serializer.validated_data)
        return Response(self.get_serializer(connector).data)


class TariffViewSet(FleetScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The fleet's tariffs with the version in force now; admins and managers import them from
    OCPI 2.2.1 Tariff documents, edit them field by field, deactivate and activate them."""

    queryset = Tariff.objects.all()
    serializer_class = TariffSerializer
    write_roles = EDITING_ROLES
    filter_backends = [QueryFilterBackend]
    filterset_fields = ["is_active", "depot", "station", "connector"]

    def get_queryset(self):
        in_force = tariff_version_in_force_prefetch(now=timezone.now())
        return super().get_queryset().prefetch_related(in_force)

    @extend_schema(
        request=TariffImportSerializer,
        responses={201: TariffSerializer, 200: TariffSerializer},
        parameters=[IDEMPOTENCY_KEY],
        description=(
            "Import an OCPI tariff: a new OCPI id makes a tariff (201), a known one updates it "
            "(200); terms that differ from the version in force are published as a new version."
        ),
    )
    @idempotent
    def create(self, request: Request) -> Response:
        payload = TariffImportSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        fleet, document = payload.validated_data["fleet"], payload.validated_data["document"]
        tariff, created = tariff_import_ocpi(
            fleet=fleet, document=document, name=payload.validated_data["name"]
        )
        return Response(
            self.get_serializer(self.get_queryset().get(pk=tariff.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def _tariff(self, tariff: Tariff) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=tariff.pk)).data)

    @extend_schema(request=TariffUpdateSerializer, responses=TariffSerializer)
    def partial_update(self, request: Request, pk: int) -> Response:
        """Change a tariff's name, scope, validity window, minimum and maximum prices or
        parking grace. New prices and a new window are published as a new version, in force
        from `effective_from` (now by default); sessions already priced keep their price.
        Nothing reaches back before now, and nothing is saved when any field is refused."""
        tariff = self.get_object()
        payload = TariffUpdateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        effective_from = changes.pop("effective_from", None)
        with model_validation_as_api_error():
            tariff_update(tariff=tariff, changes=changes, effective_from=effective_from)
        return self._tariff(tariff)

    @extend_schema(request=None, responses=TariffSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: int) -> Response:
        """Stop the tariff pricing sessions from now on; the next most specific tariff prices
        them. Refused with 409 while a connector would be left without any tariff. Deactivating
        a deactivated tariff changes nothing."""
        return self._tariff(tariff_deactivate(tariff=self.get_object()))

    @extend_schema(request=None, responses=TariffSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: int) -> Response:
        """Let a deactivated tariff price sessions again; activating an active tariff changes
        nothing."""
        return self._tariff(tariff_activate(tariff=self.get_object()))


class ChargingSessionViewSet(FleetScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The fleet's charging sessions, newest first; admins and managers approve or reject home
    charging, correct sessions not billed yet and invalidate those that should never be
    billed."""

    queryset = ChargingSession.objects.select_related(
        "fleet", "driver", "vehicle", "connector__station__depot"
    )
    pagination_class = NewestFirstCursorPagination
    cursor_ordering = ("-started_at", "-id")
    filter_backends = [QueryFilterBackend]
    filterset_class = FleetSessionFilterSet
    action_roles = {
        "approve_home": EDITING_ROLES,
        "reject_home": EDITING_ROLES,
        "invalidate": EDITING_ROLES,
        "correct": EDITING_ROLES,
        "meter_photo": EDITING_ROLES,
    }

    def get_queryset(self):
        sessions = super().get_queryset()
        if self.action == "list":
            return sessions.defer("price_breakdown")
        return sessions.prefetch_related("meter_values")

    def get_serializer_class(self):
        return FleetSessionSerializer if self.action == "list" else FleetSessionDetailSerializer

    def _decided(self, session: ChargingSession) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=session.pk)).data)

    def _review_home(self, request: Request, *, approve: bool, payload_class) -> Response:
        session = self.get_object()
        payload = payload_class(data=request.data)
        payload.is_valid(raise_exception=True)
        home_session_review(
            session=session,
            approve=approve,
            reviewer=acting_user(request),
            reason=payload.validated_data["reason"],
        )
        return self._decided(session)

    def perform_content_negotiation(self, request: Request, force: bool = False):
        """The meter photo whatever the client accepts; errors in the API's JSON shape."""
        return super().perform_content_negotiation(
            request, force=force or self.action == "meter_photo"
        )

    @extend_schema(responses=METER_PHOTO_RESPONSES)
    @action(detail=True, methods=["get"], url_path="meter-photo")
    def meter_photo(self, request: Request, pk: int) -> FileResponse:
        """The meter photo the driver sent with a home session (404 when it has none). For the
        fleet's admins and managers, who review home charging."""
        session = self.get_object()
        if not session.meter_photo:
            raise Http404
        return stored_file_response(session.meter_photo)

    @extend_schema(request=HomeSessionApproveSerializer, responses=FleetSessionDetailSerializer)
    @action(detail=True, methods=["post"], url_path="approve-home")
    def approve_home(self, request: Request, pk: int) -> Response:
        """Approve a pending home session: it is reimbursed in the next billing run."""
        return self._review_home(request, approve=True, payload_class=HomeSessionApproveSerializer)

    @extend_schema(request=ReasonSerializer, responses=FleetSessionDetailSerializer)
    @action(detail=True, methods=["post"], url_path="reject-home")
    def reject_home(self, request: Request, pk: int) -> Response:
        """Reject a pending home session, saying why; it is never reimbursed."""
        return self._review_home(request, approve=False, payload_class=ReasonSerializer)

    @extend_schema(request=ReasonSerializer, responses=FleetSessionDetailSerializer)
    @action(detail=True, methods=["post"])
    def invalidate(self, request: Request, pk: int) -> Response:
        """Mark a session not billed yet as invalid (a test, a fault, a duplicate)."""
        session = self.get_object()
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        charging_session_invalidate(session=session, reason=payload.validated_data["reason"])
        return self._decided(session)

    @extend_schema(request=SessionCorrectionSerializer, responses=FleetSessionDetailSerializer)
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: int) -> Response:
        """Correct a completed session not billed yet: its times, meter readings or energy,
        and purpose. It is priced again after the correction; a billed session is refused (a
        credit note on its invoice corrects it)."""
        session = self.get_object()
        payload = SessionCorrectionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        charging_session_correct(session=session, **payload.validated_data)
        return self._decided(session)
