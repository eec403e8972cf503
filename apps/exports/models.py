"""Tables of the exports app: the manifest kept for every export file, and the background
jobs that build large ones."""

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q

from apps.exports.choices import ExportFormat, ExportJobStatus, ExportKind
from apps.fleets.models import Fleet
from voltop.core.models import TimeStampedModel


def exports_storage():
    """Where export files are kept: the "exports" storage (local media by default; any
    Django storage backend, django-storages' included, by settings)."""
    return storages["exports"]


def _money(**options) -> models.DecimalField:
    return models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True, **options)


class ExportManifest(models.Model):
    """What was exported, by whom and when, and the file's fingerprint: its SHA-256, rows and
    control totals. Written once the whole file is written, never changed afterwards (a kept
    file is deleted when it expires; its manifest stays), so an auditor can prove a file
    unchanged. A refused or failed export leaves none."""

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="export_manifests")
    kind = models.CharField(max_length=24, choices=ExportKind.choices)
    file_format = models.CharField("format", max_length=8, choices=ExportFormat.choices)
    period_label = models.CharField(max_length=24)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    parameters = models.JSONField(help_text="The request as given: kind, format, period, options.")
    file_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    file = models.FileField(
        storage=exports_storage,
        upload_to="%Y/%m",
        blank=True,
        max_length=300,
        help_text="Kept for exports built in the background, until it expires.",
    )
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    row_count = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    net_total = _money(help_text="Control total excl. VAT; empty where the kind has none.")
    vat_total = _money()
    gross_total = _money()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_by_name = models.CharField(
        max_length=200, help_text="The person or the fleet API key, kept if the login goes."
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    file_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["fleet", "-created_at"], name="export_manifest_fleet_idx"),
            models.Index(
                fields=["expires_at"],
                condition=Q(file_deleted_at__isnull=True, expires_at__isnull=False),
                name="export_manifest_expiring_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.file_name


class ExportJob(TimeStampedModel):
    """A large export built by a Celery worker, with its progress. Done, it points at its
    manifest and kept file; failed, it has the reason and nothing else."""

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="export_jobs")
    kind = models.CharField(max_length=24, choices=ExportKind.choices)
    file_format = models.CharField("format", max_length=8, choices=ExportFormat.choices)
    parameters = models.JSONField()
    status = models.CharField(
        max_length=8, choices=ExportJobStatus.choices, default=ExportJobStatus.PENDING
    )
    rows_total = models.BigIntegerField(default=0)
    rows_done = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_by_name = models.CharField(max_length=200)
    manifest = models.OneToOneField(
        ExportManifest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="job",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ExportJobStatus.values),
                name="export_job_status_valid",
                violation_error_code="export_job_status_valid",
                violation_error_message="The status must be pending, running, done or failed.",
            ),
            models.CheckConstraint(
                condition=Q(status=ExportJobStatus.DONE, manifest__isnull=False)
                | (~Q(status=ExportJobStatus.DONE) & Q(manifest__isnull=True)),
                name="export_job_done_has_manifest",
                violation_error_code="export_job_done_has_manifest",
                violation_error_message="A done export has its manifest; no other has one.",
            ),
        ]
        indexes = [models.Index(fields=["fleet", "-created_at"], name="export_job_fleet_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_file_format_display()})"
