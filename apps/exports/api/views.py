"""The fleet's finance exports under /api/v1/fleet/: an export file of a period (streamed as
it is written, built at once, or built in the background as a job), the jobs' progress, and
the manifest of every file exported, with the kept files to download.

Only the admin and finance roles of a fleet export and read manifests, as members or by a
fleet API key; another fleet's jobs, manifests and files are not found.

Downloads bypass DRF's renderers: a view may return a Django response (a streaming one
included) as it is. The export and file views force content negotiation instead of refusing
what a client accepts, because `Accept: text/csv` names no renderer and `?format=csv` (the
export's own parameter) is what DRF reads as a renderer's name; so a file comes whatever the
client asks, and a refusal is the usual JSON error."""

import dataclasses
import tempfile

from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.exports.api.serializers import (
    ExportJobSerializer,
    ExportManifestSerializer,
    ExportQuerySerializer,
    manifest_file_available,
)
from apps.exports.choices import ExportFormat, ExportKind
from apps.exports.columns import DECIMAL_SEPARATORS, DELIMITERS
from apps.exports.exceptions import ExportFileGone, ExportFleetUnknown
from apps.exports.models import ExportJob, ExportManifest
from apps.exports.services import (
    CONTENT_TYPES,
    ZIP_CONTENT_TYPE,
    ExportDelivery,
    ExportRequest,
    export_default_format,
    export_delivery,
    export_job_start,
    export_request_check,
    export_role_check,
    export_stream,
    export_write,
    fleet_csv_dialect,
)
from apps.fleets.api.permissions import (
    FINANCE_ROLES,
    acting_user,
    request_fleet_ids,
    request_fleet_roles,
)
from apps.fleets.api.viewsets import FleetScopedViewSet
from apps.fleets.models import Fleet, FleetApiKey
from voltop.core.api.filters import QueryFilterBackend
from voltop.core.api.pagination import NewestFirstCursorPagination
from voltop.core.errors import DomainError

DIALECT_OPTIONS = ("delimiter", "decimal_separator", "bom")
FILE_DESCRIPTION = (
    "The file, as an attachment: CSV (UTF-8, in the fleet's dialect or the one asked for), "
    "an XLSX workbook with typed cells, or OCPI 2.2.1 CDRs of sessions as JSON."
)
FILE_RESPONSES = {
    (200, CONTENT_TYPES[ExportFormat.CSV].split(";")[0]): OpenApiResponse(
        OpenApiTypes.BINARY, description=FILE_DESCRIPTION
    ),
    (200, CONTENT_TYPES[ExportFormat.XLSX]): OpenApiResponse(
        OpenApiTypes.BINARY, description=FILE_DESCRIPTION
    ),
    (200, CONTENT_TYPES[ExportFormat.OCPI]): OpenApiResponse(
        OpenApiTypes.ANY, description=FILE_DESCRIPTION
    ),
    (200, ZIP_CONTENT_TYPE): OpenApiResponse(
        OpenApiTypes.BINARY, description="A DATEV batch split into several files."
    ),
}
EXPORT_PARAMETERS = [
    OpenApiParameter(
        "kind",
        OpenApiTypes.STR,
        OpenApiParameter.PATH,
        enum=ExportKind.values,
        description="What to export.",
    ),
    OpenApiParameter(
        "fleet", OpenApiTypes.STR, required=True, description="The fleet's slug or id."
    ),
    OpenApiParameter(
        "period",
        OpenApiTypes.STR,
        description=(
            'A billing period that has ended and was billed: "2026-10", or "2026-W44" for a '
            "fleet billed weekly. Give it, or `from` and `to`."
        ),
    ),
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="The first day, in the fleet's time zone."
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, description="The last day (included), ended in the fleet's zone."
    ),
    OpenApiParameter(
        "format",
        OpenApiTypes.STR,
        enum=ExportFormat.values,
        description="By default the kind's first: csv, or datev for the datev kind (its "
        "only format); ocpi for sessions only.",
    ),
    OpenApiParameter(
        "delimiter",
        OpenApiTypes.STR,
        enum=sorted(DELIMITERS),
        description="The CSV delimiter; by default the fleet's.",
    ),
    OpenApiParameter(
        "decimal_separator",
        OpenApiTypes.STR,
        enum=sorted(DECIMAL_SEPARATORS),
        description="The CSV decimal separator, not the delimiter; by default the fleet's.",
    ),
    OpenApiParameter(
        "bom",
        OpenApiTypes.BOOL,
        description="Start the CSV with a byte-order mark (Excel on Windows); by default the "
        "fleet's.",
    ),
]


def _caller_fleet(request: Request, reference: str) -> tuple[Fleet, str]:
    """The fleet `reference` names (slug, or id) among the caller's, and the caller's role in
    it; any other is not found."""
    roles = request_fleet_roles(request)
    fleet = Fleet.objects.filter(pk__in=roles, slug=reference).first()
    if fleet is None and reference.isascii() and reference.isdigit() and int(reference) in roles:
        fleet = Fleet.objects.get(pk=int(reference))
    if fleet is None:
        raise ExportFleetUnknown(f"There is no fleet {reference!r} among yours.", field="fleet")
    return fleet, roles[fleet.pk]


def _requester_name(request: Request) -> str:
    """Who asked, as the manifest keeps it: the person, or the fleet API key's name."""
    if isinstance(request.auth, FleetApiKey):
        return request.auth.name
    return request.user.get_full_name() or request.user.get_username()


def _bad_request(error: DomainError) -> Exception:
    """A refusal of the request's input as a 400 naming the field, with the domain's code;
    refusals of another status (the role, the fleet) keep theirs."""
    if error.status != status.HTTP_400_BAD_REQUEST:
        return error
    return exceptions.ValidationError(
        {error.field or "non_field_errors": [ErrorDetail(error.message, code=error.code)]}
    )


def _attachment(response, file_name: str):
    response["Content-Disposition"] = content_disposition_header(True, file_name)
    response["Cache-Control"] = "private, no-store"
    return response


class FleetExportView(APIView):
    """One export file of a fleet's period, for its admins and finance."""

    permission_classes = [IsAuthenticated]
    read_roles = FINANCE_ROLES

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="fleet_export",
        parameters=EXPORT_PARAMETERS,
        responses={
            **FILE_RESPONSES,
            (202, "application/json"): OpenApiResponse(
                ExportJobSerializer,
                description=(
                    "Too large to stream or build at once: built in the background. Poll "
                    "`links.self` until the job is done, then download `links.file`."
                ),
            ),
        },
        description=(
            "Export a kind of the fleet's rows for a period, as a file: small CSV and OCPI "
            "files stream as they are written, small XLSX files are built at once (200, as "
            "an attachment); larger files are built in the background (202, a job). Every "
            "file's manifest (SHA-256, rows, control totals, who and when) is recorded once "
            "its last byte is written. Admins and finance only (403 naming `role` otherwise); "
            "a fleet outside the caller's is not found (404, `fleet`); bad input is refused "
            "with 400 naming the field."
        ),
    )
    def get(self, request: Request, kind: str):
        if not request_fleet_ids(request, self.read_roles):
            export_role_check(role=None)
        query = ExportQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        options = query.validated_data
        fleet, role = _caller_fleet(request, options["fleet"])
        overrides = {name: options[name] for name in DIALECT_OPTIONS if name in options}
        dialect = dataclasses.replace(fleet_csv_dialect(fleet), **overrides) if overrides else None
        try:
            export = export_request_check(
                fleet=fleet,
                kind=kind,
                file_format=options["format"] or export_default_format(kind),
                role=role,
                period=options["period"],
                first_day=options["from"],
                last_day=options["to"],
                dialect=dialect,
            )
        except DomainError as error:
            raise _bad_request(error) from error
        requester = {
            "requested_by": acting_user(request),
            "requested_by_name": _requester_name(request),
        }
        delivery = export_delivery(request=export)
        if delivery == ExportDelivery.STREAM:
            response = StreamingHttpResponse(
                export_stream(request=export, **requester), content_type=export.content_type
            )
            return _attachment(response, export.file_name)
        if delivery == ExportDelivery.BUILD:
            return self._built(export, requester)
        job = export_job_start(request=export, **requester)
        job = ExportJob.objects.select_related("manifest").get(pk=job.pk)
        body = ExportJobSerializer(job, context={"request": request}).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["links"]["self"]}
        )

    @staticmethod
    def _built(export: ExportRequest, requester: dict) -> FileResponse:
        out = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it once sent
        try:
            manifest = export_write(request=export, out=out, **requester)
        except BaseException:
            out.close()
            raise
        out.seek(0)
        response = FileResponse(out, content_type=manifest.content_type)
        return _attachment(response, manifest.file_name)


class ExportJobViewSet(FleetScopedViewSet, mixins.RetrieveModelMixin):
    """Exports built in the background, with their progress; the fleet's admins and finance
    follow them."""

    queryset = ExportJob.objects.select_related("manifest")
    serializer_class = ExportJobSerializer
    read_roles = FINANCE_ROLES


class ExportManifestViewSet(FleetScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The manifest of every file exported from the fleets where the caller is admin or
    finance, newest first, with the kept files to download until they expire."""

    queryset = ExportManifest.objects.all()
    serializer_class = ExportManifestSerializer
    read_roles = FINANCE_ROLES
    pagination_class = NewestFirstCursorPagination
    cursor_ordering = ("-created_at", "-id")
    filter_backends = [QueryFilterBackend]
    filterset_fields = ["fleet", "kind"]

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=force or self.action == "file")

    @extend_schema(
        responses=FILE_RESPONSES,
        description=(
            "The file a background export kept, until it expires (404 once it has, or where "
            "none was kept: streamed files are not kept; export them again)."
        ),
    )
    @action(detail=True, methods=["get"])
    def file(self, request: Request, pk: int) -> FileResponse:
        manifest = self.get_object()
        if not manifest_file_available(manifest):
            raise ExportFileGone("This export's file is not kept, or has expired.", field="file")
        try:
            content = manifest.file.open("rb")
        except FileNotFoundError as error:
            raise ExportFileGone("This export's file is no longer stored.", field="file") from error
        response = FileResponse(content, content_type=manifest.content_type)
        return _attachment(response, manifest.file_name)
