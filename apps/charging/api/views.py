"""The driver's charging endpoints under /api/v1/me/: their sessions, starting and stopping a
depot session in the app, reporting home charging, and saying what a session was for.

Everything is scoped to the driver of the login; another driver's session is 404."""

from datetime import datetime

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.charging.api.filtersets import DriverSessionFilterSet
from apps.charging.api.serializers import (
    SESSION_ROW_FIELDS,
    DriverSessionDetailSerializer,
    DriverSessionRowSerializer,
    DriverSessionSerializer,
    HomeSessionReportSerializer,
    SessionPurposeSerializer,
    SessionStartSerializer,
    SessionStopSerializer,
)
from apps.charging.choices import SessionSource
from apps.charging.exceptions import OtherFleet, TokenNotValid, TokenUnknown
from apps.charging.models import ChargingSession, Connector
from apps.charging.services import (
    charging_session_set_purpose,
    charging_session_start,
    charging_session_stop,
    home_session_report,
)
from apps.drivers.api.permissions import IsDriver, request_driver
from apps.drivers.choices import TokenKind
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.selectors import charge_token_list
from apps.vehicles.models import Vehicle
from voltop.core.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from voltop.core.api.idempotency import idempotent
from voltop.core.api.pagination import NewestFirstCursorPagination

IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Send the same key again to get the first answer instead of a second session; "
        "the same key with another body is refused with 422."
    ),
)


def _driver_sessions(driver: Driver) -> QuerySet[ChargingSession]:
    return ChargingSession.objects.filter(driver=driver).select_related(
        "vehicle", "connector__station__depot"
    )


def _session_detail(driver: Driver, pk: int) -> ChargingSession:
    return get_object_or_404(_driver_sessions(driver).prefetch_related("meter_values"), pk=pk)


def _fleet_connector(driver: Driver, connector_id: int) -> Connector:
    connector = Connector.objects.filter(pk=connector_id, station__fleet_id=driver.fleet_id).first()
    if connector is None:
        raise OtherFleet("No such connector in your fleet.", field="connector")
    return connector


def _fleet_vehicle(driver: Driver, vehicle_id: int | None) -> Vehicle | None:
    if vehicle_id is None:
        return None
    vehicle = Vehicle.objects.filter(pk=vehicle_id, fleet_id=driver.fleet_id).first()
    if vehicle is None:
        raise OtherFleet("No such vehicle in your fleet.", field="vehicle")
    return vehicle


def _start_token(driver: Driver, token_id: int | None, moment: datetime) -> ChargeToken:
    """The driver's token named in the request, else their token valid at `moment`, the app's
    own before a card."""
    tokens = charge_token_list(driver_id=driver.pk)
    if token_id is not None:
        token = tokens.filter(pk=token_id).first()
        if token is None:
            raise TokenUnknown("No such charge token of yours.", field="token")
        return token
    token = (
        tokens.filter(is_active=True, valid_from__lte=moment)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=moment))
        .order_by(
            Case(
                When(kind=TokenKind.APP_USER, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            "-valid_from",
        )
        .first()
    )
    if token is None:
        raise TokenNotValid(
            "You have no valid charge token; ask your fleet manager for one.", field="token"
        )
    return token


class DriverSessionListView(generics.ListAPIView):
    """My charging sessions, newest first; start a depot session on a connector."""

    permission_classes = [IsDriver]
    serializer_class = DriverSessionSerializer
    pagination_class = NewestFirstCursorPagination
    cursor_ordering = ("-started_at", "-id")
    filter_backends = [DjangoFilterBackend]
    filterset_class = DriverSessionFilterSet

    def get_queryset(self) -> QuerySet:
        return ChargingSession.objects.filter(driver=request_driver(self.request)).values(
            *SESSION_ROW_FIELDS
        )

    def get_serializer_class(self):
        if self.request.method == "GET" and not getattr(self, "swagger_fake_view", False):
            return DriverSessionRowSerializer
        return super().get_serializer_class()

    @extend_schema(
        request=SessionStartSerializer,
        responses={201: DriverSessionDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        driver = request_driver(request)
        payload = SessionStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        now = timezone.now()
        session = charging_session_start(
            started_at=now,
            source=SessionSource.APP,
            driver=driver,
            token=_start_token(driver, payload.validated_data.get("token"), now),
            connector=_fleet_connector(driver, payload.validated_data["connector"]),
            vehicle=_fleet_vehicle(driver, payload.validated_data.get("vehicle")),
            purpose=payload.validated_data["purpose"],
        )
        return Response(
            DriverSessionDetailSerializer(
                _session_detail(driver, session.pk), context={"request": request}
            ).data,
            status=status.HTTP_201_CREATED,
        )


class DriverSessionDetailView(generics.RetrieveAPIView):
    """One of my sessions with its meter readings and its price line by line."""

    permission_classes = [IsDriver]
    serializer_class = DriverSessionDetailSerializer

    def get_queryset(self) -> QuerySet[ChargingSession]:
        return _driver_sessions(request_driver(self.request)).prefetch_related("meter_values")


class DriverSessionStopView(APIView):
    """Stop my active session, now or at the time given."""

    permission_classes = [IsDriver]

    @extend_schema(
        request=SessionStopSerializer,
        responses={200: DriverSessionDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        driver = request_driver(request)
        session = get_object_or_404(_driver_sessions(driver), pk=pk)
        payload = SessionStopSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        charging_session_stop(
            session=session,
            ended_at=payload.validated_data.get("ended_at") or timezone.now(),
            meter_stop_wh=payload.validated_data.get("meter_stop_wh"),
            energy_wh=payload.validated_data.get("energy_wh"),
        )
        return Response(
            DriverSessionDetailSerializer(
                _session_detail(driver, session.pk), context={"request": request}
            ).data
        )


class DriverSessionPurposeView(APIView):
    """Say whether my completed session was for business or private use, until it is billed."""

    permission_classes = [IsDriver]

    @extend_schema(request=SessionPurposeSerializer, responses={200: DriverSessionDetailSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        driver = request_driver(request)
        session = get_object_or_404(_driver_sessions(driver), pk=pk)
        payload = SessionPurposeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        charging_session_set_purpose(
            session=session, driver=driver, purpose=payload.validated_data["purpose"]
        )
        return Response(
            DriverSessionDetailSerializer(
                _session_detail(driver, session.pk), context={"request": request}
            ).data
        )


class HomeSessionReportView(APIView):
    """Report charging at home, for reimbursement at my home rate once a manager approves it."""

    permission_classes = [IsDriver]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={
            "application/json": HomeSessionReportSerializer,
            "multipart/form-data": HomeSessionReportSerializer,
        },
        responses={201: DriverSessionDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        driver = request_driver(request)
        payload = HomeSessionReportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        session = home_session_report(
            driver=driver,
            started_at=values["started_at"],
            ended_at=values["ended_at"],
            energy_wh=values.get("energy_wh"),
            meter_start_wh=values.get("meter_start_wh"),
            meter_stop_wh=values.get("meter_stop_wh"),
            meter_photo=values.get("meter_photo"),
            vehicle=_fleet_vehicle(driver, values.get("vehicle")),
            purpose=values["purpose"],
        )
        return Response(
            DriverSessionDetailSerializer(
                _session_detail(driver, session.pk), context={"request": request}
            ).data,
            status=status.HTTP_201_CREATED,
        )
