"""The exports in the admin, for a fleet's finance and admins: the page that asks for an export
and delivers it by its size (streamed, built while they wait, or queued with its progress),
the selection of an admin list exported as CSV, and the download of a kept file."""

import datetime as dt
import tempfile

from django import forms
from django.contrib import messages
from django.contrib.admin.widgets import AdminDateWidget
from django.db.models import Expression, Max, Min, QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header

from apps.exports.choices import ExportFormat, ExportKind
from apps.exports.columns import DECIMAL_SEPARATORS, DELIMITERS, CsvDialect
from apps.exports.models import ExportManifest
from apps.exports.selectors import TABLES
from apps.exports.services import (
    EXPORTING_ROLES,
    ExportDelivery,
    ExportRequest,
    export_delivery,
    export_job_start,
    export_request_check,
    export_stream,
    export_write,
    fleet_csv_dialect,
)
from apps.fleets.choices import MembershipRole
from apps.fleets.models import Fleet, Membership
from apps.fleets.tenancy import request_fleet_ids
from voltop.core.errors import DomainError

# The form field each field named by the export service's refusals is shown on.
FORM_FIELD_OF_SERVICE_FIELD = {"from": "first_day", "to": "last_day", "format": "file_format"}


def exporting_fleets(request: HttpRequest) -> QuerySet:
    """The fleets the user may export: all for a superuser, else where they are admin or
    finance."""
    if request.user.is_superuser:
        return Fleet.objects.all()
    return Fleet.objects.filter(pk__in=request_fleet_ids(request, EXPORTING_ROLES))


def may_export(request: HttpRequest) -> bool:
    """Whether the user may export some fleet's data."""
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or bool(request_fleet_ids(request, EXPORTING_ROLES))


def export_role(request: HttpRequest, fleet: Fleet) -> str | None:
    """The user's role in `fleet`, as the export service judges it (a superuser is an admin)."""
    if request.user.is_superuser:
        return MembershipRole.ADMIN
    return (
        Membership.objects.filter(user=request.user, fleet=fleet)
        .values_list("role", flat=True)
        .first()
    )


def requester_name(request: HttpRequest) -> str:
    return request.user.get_full_name() or request.user.get_username()


def export_response(request: HttpRequest, export_request: ExportRequest) -> HttpResponse:
    """The export delivered by its size: streamed, built at once, or queued in the background
    with a redirect to the job's page."""
    delivery = export_delivery(request=export_request)
    if delivery == ExportDelivery.BACKGROUND:
        job = export_job_start(
            request=export_request,
            requested_by=request.user,
            requested_by_name=requester_name(request),
        )
        messages.success(
            request,
            f"{export_request.file_name} is large: it is built in the background. This page "
            "follows it; download it here once it is done.",
        )
        return HttpResponseRedirect(reverse("admin:exports_exportjob_change", args=[job.pk]))
    if delivery == ExportDelivery.STREAM:
        response = StreamingHttpResponse(
            export_stream(
                request=export_request,
                requested_by=request.user,
                requested_by_name=requester_name(request),
            ),
            content_type=export_request.content_type,
        )
        response["Content-Disposition"] = content_disposition_header(True, export_request.file_name)
        return response
    built = tempfile.TemporaryFile()  # noqa: SIM115 - the FileResponse closes it once sent
    try:
        manifest = export_write(
            request=export_request,
            out=built,
            requested_by=request.user,
            requested_by_name=requester_name(request),
        )
    except BaseException:
        built.close()
        raise
    built.seek(0)
    return FileResponse(
        built,
        as_attachment=True,
        filename=manifest.file_name,
        content_type=manifest.content_type,
    )


# The export page ---------------------------------------------------------------------------


class ExportForm(forms.Form):
    """What to export: the fleet, the kind, a billing period or the days from and to, the
    format, and the CSV options (prefilled from the fleet's settings)."""

    fleet = forms.ModelChoiceField(queryset=Fleet.objects.none())
    kind = forms.ChoiceField(choices=())
    period = forms.CharField(
        required=False,
        max_length=8,
        help_text="A billing period such as 2026-10 (2026-W44 for a fleet billed weekly), "
        "or leave it empty and give the first and last day.",
    )
    first_day = forms.DateField(label="From", required=False, widget=AdminDateWidget)
    last_day = forms.DateField(
        label="To",
        required=False,
        widget=AdminDateWidget,
        help_text="Days in the fleet's time zone, both included; the last one must be over.",
    )
    file_format = forms.ChoiceField(label="Format", choices=ExportFormat.choices)
    delimiter = forms.ChoiceField(
        choices=[(sign, name) for sign, name in DELIMITERS.items()], help_text="CSV only."
    )
    decimal_separator = forms.ChoiceField(
        choices=[(sign, name) for sign, name in DECIMAL_SEPARATORS.items()], help_text="CSV only."
    )
    bom = forms.BooleanField(
        label="Byte-order mark",
        required=False,
        help_text="CSV only: Excel on Windows needs it to read accents and currency signs.",
    )

    def __init__(self, *args, fleets: QuerySet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fleet"].queryset = fleets
        self.fields["kind"].choices = [
            (kind, label) for kind, label in ExportKind.choices if kind in TABLES
        ]

    def add_refusal(self, error: DomainError) -> None:
        """Show a refusal of the export service on the field it names."""
        name = FORM_FIELD_OF_SERVICE_FIELD.get(error.field, error.field)
        self.add_error(name if name in self.fields else None, error.message)


def export_form_initial(fleet: Fleet | None) -> dict:
    """The form's first values: the fleet's CSV preferences."""
    dialect = fleet_csv_dialect(fleet) if fleet is not None else CsvDialect()
    return {
        "fleet": fleet.pk if fleet is not None else None,
        "kind": ExportKind.SESSIONS,
        "file_format": ExportFormat.CSV,
        "delimiter": dialect.delimiter,
        "decimal_separator": dialect.decimal_separator,
        "bom": dialect.bom,
    }


def export_page(request: HttpRequest, *, context: dict) -> HttpResponse:
    """The "Exports" page: checks the request whole (a refusal shows on its field and records
    nothing), then delivers the file by its size."""
    fleets = exporting_fleets(request)
    if request.method == "POST":
        form = ExportForm(request.POST, fleets=fleets)
        if form.is_valid():
            data = form.cleaned_data
            fleet = data["fleet"]
            try:
                export_request = export_request_check(
                    fleet=fleet,
                    kind=data["kind"],
                    file_format=data["file_format"],
                    role=export_role(request, fleet),
                    period=data["period"].strip(),
                    first_day=data["first_day"],
                    last_day=data["last_day"],
                    dialect=CsvDialect(
                        delimiter=data["delimiter"],
                        decimal_separator=data["decimal_separator"],
                        bom=data["bom"],
                    ),
                )
            except DomainError as error:
                form.add_refusal(error)
            else:
                try:
                    return export_response(request, export_request)
                except DomainError as error:
                    form.add_refusal(error)
    else:
        chosen = fleets.filter(pk=request.GET.get("fleet") or 0).first() or fleets.first()
        form = ExportForm(initial=export_form_initial(chosen), fleets=fleets)
    return TemplateResponse(
        request,
        "admin/exports/export.html",
        {**context, "title": "Export", "form": form, "media": form.media},
    )


# The selection of an admin list --------------------------------------------------------------


def selection_export(
    request: HttpRequest, queryset: QuerySet, *, kind: str, day_of_row: Expression | str
) -> HttpResponse | None:
    """The selected rows of one fleet as the `kind` export's CSV in the fleet's dialect, for
    the days from the earliest to the latest row's `day_of_row` (an instant) in the fleet's
    zone. A selection of several fleets, or one the export service refuses, exports nothing
    and says why."""
    ids = list(queryset.values_list("pk", flat=True))
    rows = queryset.model._default_manager.filter(pk__in=ids)
    fleet_ids = list(rows.order_by().values_list("fleet_id", flat=True).distinct())
    if len(fleet_ids) != 1:
        messages.error(
            request,
            f"Nothing was exported: the selection holds rows of {len(fleet_ids)} fleets. "
            "Export one fleet's rows at a time (filter the list by fleet).",
        )
        return None
    fleet = Fleet.objects.get(pk=fleet_ids[0])
    days = rows.aggregate(first=Min(day_of_row), last=Max(day_of_row))
    try:
        export_request = export_request_check(
            fleet=fleet,
            kind=kind,
            file_format=ExportFormat.CSV,
            role=export_role(request, fleet),
            first_day=_local_day(days["first"], fleet),
            last_day=_local_day(days["last"], fleet),
            selection=ids,
        )
    except DomainError as error:
        messages.error(request, f"Nothing was exported. {error.message}")
        return None
    return export_response(request, export_request)


def _local_day(instant: dt.datetime, fleet: Fleet) -> dt.date:
    return timezone.localtime(instant, fleet.zone).date()


# Kept files ----------------------------------------------------------------------------------


def manifest_file_kept(manifest: ExportManifest, now: dt.datetime | None = None) -> bool:
    """Whether the manifest's file is still stored for download."""
    now = now or timezone.now()
    return bool(
        manifest.file
        and manifest.file_deleted_at is None
        and (manifest.expires_at is None or manifest.expires_at > now)
    )


def manifest_download(
    request: HttpRequest, manifests: QuerySet, pk: int, *, context: dict
) -> HttpResponse:
    """A kept export file, for the admins and finance of its fleet (`manifests` are those the
    user may download); another fleet's is not found, an expired one is gone (410)."""
    manifest = manifests.filter(pk=pk).first()
    if manifest is None:
        raise Http404("No such export in the fleets where you do finance.")
    if not manifest_file_kept(manifest):
        return TemplateResponse(
            request,
            "admin/exports/file_gone.html",
            {**context, "title": "The file is gone", "manifest": manifest},
            status=410,
        )
    try:
        content = manifest.file.open("rb")
    except FileNotFoundError as error:
        raise Http404("The file is no longer stored.") from error
    response = FileResponse(
        content,
        as_attachment=True,
        filename=manifest.file_name,
        content_type=manifest.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response
