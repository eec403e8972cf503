"""Admin of the exports app, for a fleet's finance and admins: the "Exports" page, the
manifests of every export file with the kept files' downloads, the background jobs with their
progress, and "Export the selection" on the session, invoice and reimbursement lists.

The lists of sessions, invoices and reimbursements belong to apps below this one, which must
not know of exports: this module registers those lists again as subclasses of their own admins
that add the action (as a project extends Django's user admin), so the lower apps stay as
they are and the action lives where exports do."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.charging.admin import ChargingSessionAdmin
from apps.charging.models import ChargingSession
from apps.exports import views
from apps.exports.choices import ExportJobStatus, ExportKind
from apps.exports.models import ExportJob, ExportManifest
from apps.exports.selectors import TABLES
from apps.exports.services import EXPORTING_ROLES
from apps.fleets.admin_writes import WritesThroughServices
from apps.fleets.models import Fleet
from apps.fleets.tenancy import FleetScopedAdmin
from apps.payments.admin import InvoiceAdmin, ReimbursementAdmin
from apps.payments.documents import money_text
from apps.payments.models import Invoice, Reimbursement
from voltop.core.display import moment_text

WORKING = (ExportJobStatus.PENDING, ExportJobStatus.RUNNING)


def local_time_text(instant, fleet: Fleet) -> str:
    """An instant as the fleet's people read it: in its zone, with its offset from UTC."""
    with timezone.override(fleet.zone):
        return moment_text(instant)


class ExportsAdmin(WritesThroughServices, FleetScopedAdmin):
    """Rows the export service writes, read by the admins and finance of their fleet only;
    nobody adds, changes or deletes them here."""

    editing_roles = EXPORTING_ROLES
    viewing_roles = EXPORTING_ROLES
    write_services = {}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return self.scope_queryset(request, super().get_queryset(request), self.viewing_roles)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, None, self.viewing_roles)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._allowed(request, obj, self.viewing_roles)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


MANIFEST_FIELDS = [
    "fleet",
    "kind",
    "file_format",
    "period_label",
    "period_start",
    "period_end",
    "parameters",
    "file_name",
    "content_type",
    "size_bytes",
    "sha256",
    "row_count",
    "currency",
    "net_total",
    "vat_total",
    "gross_total",
    "requested_by",
    "requested_by_name",
    "created_at",
    "expires_at",
    "file_deleted_at",
]


@admin.register(ExportManifest)
class ExportManifestAdmin(ExportsAdmin):
    """Every export file's manifest: what, when, by whom, its SHA-256, rows and control
    totals; a file kept for download until it expires. The "Exports" page hangs here."""

    list_display = [
        "created",
        "fleet",
        "kind",
        "file_format",
        "period_label",
        "row_count",
        "size_bytes",
        "sha256_short",
        "control_totals",
        "requested_by_name",
        "file_state",
    ]
    list_filter = ["fleet", "kind", "file_format"]
    list_select_related = ["fleet"]
    search_fields = ["file_name", "sha256", "period_label", "requested_by_name"]
    date_hierarchy = "created_at"
    fields = [*MANIFEST_FIELDS, "download"]
    readonly_fields = fields
    change_list_template = "admin/exports/exportmanifest/change_list.html"

    def get_urls(self):
        return [
            path(
                "new/",
                self.admin_site.admin_view(self.export_view),
                name="exports_export",
            ),
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="exports_exportmanifest_download",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not views.may_export(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.opts}
        return views.export_page(request, context=context)

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "opts": self.opts}
        return views.manifest_download(request, self.get_queryset(request), pk, context=context)

    @admin.display(description="created", ordering="created_at")
    def created(self, manifest: ExportManifest) -> str:
        return local_time_text(manifest.created_at, manifest.fleet)

    @admin.display(description="SHA-256")
    def sha256_short(self, manifest: ExportManifest) -> str:
        return format_html('<code title="{}">{}…</code>', manifest.sha256, manifest.sha256[:12])

    @admin.display(description="control totals (net / VAT / gross)")
    def control_totals(self, manifest: ExportManifest) -> str:
        amounts = (manifest.net_total, manifest.vat_total, manifest.gross_total)
        if all(amount is None for amount in amounts):
            return "—"
        return " / ".join(
            "—" if amount is None else money_text(amount, manifest.currency) for amount in amounts
        )

    @admin.display(description="file")
    def file_state(self, manifest: ExportManifest) -> str:
        if views.manifest_file_kept(manifest):
            return format_html(
                '<a href="{}">Download</a> (until {})',
                reverse("admin:exports_exportmanifest_download", args=[manifest.pk]),
                local_time_text(manifest.expires_at, manifest.fleet),
            )
        if manifest.file_deleted_at is not None:
            return f"deleted {local_time_text(manifest.file_deleted_at, manifest.fleet)}"
        if manifest.expires_at is not None and manifest.expires_at <= timezone.now():
            return f"expired {local_time_text(manifest.expires_at, manifest.fleet)}"
        return "not kept (downloaded at once)"

    @admin.display(description="download")
    def download(self, manifest: ExportManifest) -> str:
        return self.file_state(manifest)


@admin.register(ExportJob)
class ExportJobAdmin(ExportsAdmin):
    """Large exports built by a worker: their progress while they work, the reason when they
    failed, and the file once done. Their page reloads itself until the job has finished."""

    list_display = [
        "created",
        "kind",
        "file_format",
        "fleet",
        "status",
        "progress",
        "requested_by_name",
        "file",
    ]
    list_filter = ["fleet", "status", "kind"]
    list_select_related = ["fleet", "manifest"]
    search_fields = ["requested_by_name", "manifest__file_name"]
    fields = [
        "fleet",
        "kind",
        "file_format",
        "parameters",
        "status",
        "progress",
        "error",
        "file",
        "requested_by_name",
        "created",
        "started_at",
        "finished_at",
    ]
    readonly_fields = [*fields, "requested_by", "manifest"]
    change_form_template = "admin/exports/exportjob/change_form.html"

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        working = job is not None and job.status in WORKING
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "working": working}
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, job: ExportJob) -> str:
        return local_time_text(job.created_at, job.fleet)

    @admin.display(description="progress (rows)")
    def progress(self, job: ExportJob) -> str:
        return f"{job.rows_done}/{job.rows_total}"

    @admin.display(description="file")
    def file(self, job: ExportJob) -> str:
        if job.manifest is None:
            return "—"
        if not views.manifest_file_kept(job.manifest):
            return f"{job.manifest.file_name} (expired)"
        return format_html(
            '<a href="{}">Download {}</a>',
            reverse("admin:exports_exportmanifest_download", args=[job.manifest.pk]),
            job.manifest.file_name,
        )


# "Export the selection" on the lists of the apps below -------------------------------------


class SelectionExportMixin:
    """Adds "Export the selection (CSV)" to a list, shown to the admins and finance of some
    fleet once the kind's export exists: the selected rows of one fleet as the
    `selection_export_kind` export, for the days of the rows' `selection_day` (an instant)."""

    selection_export_kind: str
    selection_day: object

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if self.selection_export_kind not in TABLES or not views.may_export(request):
            actions.pop("export_selection", None)
        return actions

    @admin.action(description="Export the selection (CSV)", permissions=["view"])
    def export_selection(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return views.selection_export(
            request, queryset, kind=self.selection_export_kind, day_of_row=self.selection_day
        )


class ExportingChargingSessionAdmin(SelectionExportMixin, ChargingSessionAdmin):
    selection_export_kind = ExportKind.SESSIONS
    selection_day = Coalesce(F("ended_at"), F("started_at"))
    actions = [*ChargingSessionAdmin.actions, "export_selection"]


class ExportingInvoiceAdmin(SelectionExportMixin, InvoiceAdmin):
    selection_export_kind = ExportKind.INVOICES
    selection_day = "period_start"
    actions = [*InvoiceAdmin.actions, "export_selection"]


class ExportingReimbursementAdmin(SelectionExportMixin, ReimbursementAdmin):
    selection_export_kind = ExportKind.REIMBURSEMENTS
    selection_day = "period_start"
    actions = [*ReimbursementAdmin.actions, "export_selection"]


for model, exporting_admin in (
    (ChargingSession, ExportingChargingSessionAdmin),
    (Invoice, ExportingInvoiceAdmin),
    (Reimbursement, ExportingReimbursementAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, exporting_admin)
