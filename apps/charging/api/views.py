"""The driver's charging endpoints under /api/v1/me/: their sessions, starting and stopping a
depot session in the app, reporting home charging, and saying what a session was for.

Everything is scoped to the driver of the login; another driver's session is 404."""

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from apps.charging.api.filtersets import DriverSessionFilterSet
from apps.charging.api.serializers import (
    SESSION_ROW_FIELDS,
    ChargerRequestSerializer,
    DriverSessionDetailSerializer,
    DriverSessionRowSerializer,
    DriverSessionSerializer,
    DriverStationSerializer,
    HomeSessionReportSerializer,
    SessionPurposeSerializer,
    SessionStartSerializer,
    SessionStopSerializer,
)
from apps.charging.charger_calls import (
    charging_session_is_stopped_by_charger,
    charging_session_remote_start,
    charging_session_remote_stop,
)
from apps.charging.choices import SessionSource
from apps.charging.models import ChargerCall, ChargingSession, ChargingStation
from apps.charging.selectors import (
    charge_token_get_for_start,
    charger_call_get_for_driver,
    charging_session_get_for_driver,
    charging_session_list_for_driver,
    charging_session_rows_for_driver,
    charging_station_list_for_driver,
    connector_get_for_driver,
    connector_get_for_driver_by_evse_id,
    meter_photo_get_for_driver,
    vehicle_get_for_driver,
)
from apps.charging.services import (
    charging_session_set_purpose,
    charging_session_start,
    charging_session_stop,
    home_session_report,
)
from apps.drivers.api.permissions import IsDriver, request_driver
from voltop.core.api.filters import QueryFilterBackend
from voltop.core.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from voltop.core.api.idempotency import idempotent
from voltop.core.api.pagination import NewestFirstCursorPagination
from voltop.core.downloads import stored_file_response

IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Send the same key again to get the first answer instead of a second session; "
        "the same key with another body is refused with 422."
    ),
)

# A meter photo as it was sent: a photo or a PDF, or any file when its kind is not known.
METER_PHOTO_RESPONSES = {
    (200, media_type): OpenApiTypes.BINARY
    for media_type in (
        "image/jpeg",
        "image/png",
        "image/heic",
        "image/webp",
        "application/pdf",
        "application/octet-stream",
    )
}


class DriverSessionListView(generics.ListAPIView):
    """My charging sessions, newest first; start a depot session on a connector."""

    permission_classes = [IsDriver]
    # Names the model to the schema; get_queryset scopes the rows to the driver.
    queryset = ChargingSession.objects.none()
    serializer_class = DriverSessionSerializer
    pagination_class = NewestFirstCursorPagination
    cursor_ordering = ("-started_at", "-id")
    filter_backends = [QueryFilterBackend]
    filterset_class = DriverSessionFilterSet

    def get_queryset(self) -> QuerySet:
        return charging_session_rows_for_driver(
            driver_id=request_driver(self.request).pk, fields=SESSION_ROW_FIELDS
        )

    def get_serializer_class(self):
        if self.request.method == "GET" and not getattr(self, "swagger_fake_view", False):
            return DriverSessionRowSerializer
        return super().get_serializer_class()

    @extend_schema(
        request=SessionStartSerializer,
        responses={201: DriverSessionDetailSerializer, 202: ChargerRequestSerializer},
        parameters=[IDEMPOTENCY_KEY],
        description=(
            "At a charger that connects over OCPP the charger starts the session: the answer is "
            "202 with a start request to follow at /api/v1/me/start-requests/{id}/, and the "
            "session appears once the charger reports its start. Elsewhere the session starts "
            "at once: 201."
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        driver = request_driver(request)
        payload = SessionStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        now = timezone.now()
        connector = (
            connector_get_for_driver(
                driver=driver, connector_id=payload.validated_data["connector"]
            )
            if "connector" in payload.validated_data
            else connector_get_for_driver_by_evse_id(
                driver=driver, text=payload.validated_data["evse_id"]
            )
        )
        if connector.station.ocpp_password:
            start_request = charging_session_remote_start(
                driver=driver,
                connector=connector,
                now=now,
                vehicle=vehicle_get_for_driver(
                    driver=driver, vehicle_id=payload.validated_data.get("vehicle")
                ),
                purpose=payload.validated_data["purpose"],
            )
            return _charger_request_response(request, start_request, "me-start-request-detail")
        session = charging_session_start(
            started_at=now,
            source=SessionSource.APP,
            driver=driver,
            token=charge_token_get_for_start(
                driver=driver, token_id=payload.validated_data.get("token"), moment=now
            ),
            connector=connector,
            vehicle=vehicle_get_for_driver(
                driver=driver, vehicle_id=payload.validated_data.get("vehicle")
            ),
            purpose=payload.validated_data["purpose"],
        )
        return Response(
            DriverSessionDetailSerializer(
                charging_session_get_for_driver(driver_id=driver.pk, session_id=session.pk),
                context={"request": request},
            ).data,
            status=status.HTTP_201_CREATED,
        )


def _charger_request_response(request: Request, call: ChargerCall, route: str) -> Response:
    return Response(
        ChargerRequestSerializer(call).data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": reverse(route, kwargs={"pk": call.pk}, request=request)},
    )


class DriverStationListView(generics.ListAPIView):
    """The depot chargers of my fleet, each outlet with its live status and EVSE id."""

    permission_classes = [IsDriver]
    # Names the model to the schema; get_queryset scopes the rows to the driver's fleet.
    queryset = ChargingStation.objects.none()
    serializer_class = DriverStationSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet:
        return charging_station_list_for_driver(driver=request_driver(self.request))


class DriverStartRequestView(APIView):
    """A start I asked a charger for, and its answer once it came."""

    permission_classes = [IsDriver]
    action = "RemoteStartTransaction"

    @extend_schema(responses={200: ChargerRequestSerializer})
    def get(self, request: Request, pk: int) -> Response:
        call = charger_call_get_for_driver(
            driver_id=request_driver(request).pk, call_id=pk, action=self.action
        )
        if call is None:
            raise Http404
        return Response(ChargerRequestSerializer(call).data)


class DriverStopRequestView(DriverStartRequestView):
    """A stop I asked a charger for, and its answer once it came."""

    action = "RemoteStopTransaction"


class DriverSessionDetailView(generics.RetrieveAPIView):
    """One of my sessions with its meter readings, what I am charged for it or refunded, and
    how its net came about line by line."""

    permission_classes = [IsDriver]
    serializer_class = DriverSessionDetailSerializer

    def get_object(self) -> ChargingSession:
        session = charging_session_get_for_driver(
            driver_id=request_driver(self.request).pk, session_id=self.kwargs["pk"]
        )
        if session is None:
            raise Http404
        self.check_object_permissions(self.request, session)
        return session


class DriverSessionMeterPhotoView(APIView):
    """The meter photo I sent with one of my home sessions (404 when it has none)."""

    permission_classes = [IsDriver]

    def perform_content_negotiation(self, request: Request, force: bool = False):
        """The photo whatever the client accepts; errors in the API's JSON shape."""
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(responses=METER_PHOTO_RESPONSES)
    def get(self, request: Request, pk: int) -> FileResponse:
        photo = meter_photo_get_for_driver(driver_id=request_driver(request).pk, session_id=pk)
        if photo is None:
            raise Http404
        return stored_file_response(photo)


class DriverSessionStopView(APIView):
    """Stop my active session, now or at the time given."""

    permission_classes = [IsDriver]

    @extend_schema(
        request=SessionStopSerializer,
        responses={200: DriverSessionDetailSerializer, 202: ChargerRequestSerializer},
        parameters=[IDEMPOTENCY_KEY],
        description=(
            "A session a charger reports over OCPP is stopped by its charger, whose meter gives "
            "the energy: the body may be empty, and the answer is 202 with a stop request to "
            "follow at /api/v1/me/stop-requests/{id}/. Any other session stops at once: 200."
        ),
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        driver = request_driver(request)
        session = get_object_or_404(charging_session_list_for_driver(driver_id=driver.pk), pk=pk)
        if charging_session_is_stopped_by_charger(session):
            stop_request = charging_session_remote_stop(
                driver=driver, session=session, now=timezone.now()
            )
            return _charger_request_response(request, stop_request, "me-stop-request-detail")
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
                charging_session_get_for_driver(driver_id=driver.pk, session_id=session.pk),
                context={"request": request},
            ).data
        )


class DriverSessionPurposeView(APIView):
    """Say whether my completed session was for business or private use, until it is billed."""

    permission_classes = [IsDriver]

    @extend_schema(request=SessionPurposeSerializer, responses={200: DriverSessionDetailSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        driver = request_driver(request)
        session = get_object_or_404(charging_session_list_for_driver(driver_id=driver.pk), pk=pk)
        payload = SessionPurposeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        charging_session_set_purpose(
            session=session, driver=driver, purpose=payload.validated_data["purpose"]
        )
        return Response(
            DriverSessionDetailSerializer(
                charging_session_get_for_driver(driver_id=driver.pk, session_id=session.pk),
                context={"request": request},
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
            vehicle=vehicle_get_for_driver(driver=driver, vehicle_id=values.get("vehicle")),
            purpose=values["purpose"],
        )
        return Response(
            DriverSessionDetailSerializer(
                charging_session_get_for_driver(driver_id=driver.pk, session_id=session.pk),
                context={"request": request},
            ).data,
            status=status.HTTP_201_CREATED,
        )
