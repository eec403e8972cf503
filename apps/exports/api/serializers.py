"""Serializers of the exports endpoints: the query of an export, a background job with its
progress and links, and a manifest with a link to its kept file."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from apps.exports.models import ExportJob, ExportManifest


class ExportQuerySerializer(serializers.Serializer):
    """The query of an export, read as given: kind, format, period and dialect are checked by
    the export service, which names the field and the rule each breaks."""

    fleet = serializers.CharField(help_text="The fleet's slug or id.")
    period = serializers.CharField(required=False, default="")
    format = serializers.CharField(required=False, default="")
    delimiter = serializers.CharField(required=False, trim_whitespace=False)
    decimal_separator = serializers.CharField(required=False, trim_whitespace=False)
    bom = serializers.BooleanField(required=False)

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(required=False, default=None)
        fields["to"] = serializers.CharField(required=False, default=None)
        return fields


class ExportJobLinksSerializer(serializers.Serializer):
    self = serializers.URLField(help_text="This job: poll it until it is done or failed.")
    manifest = serializers.URLField(allow_null=True, help_text="The manifest, once done.")
    file = serializers.URLField(
        allow_null=True, help_text="The file to download, once done and until it expires."
    )


class ExportJobSerializer(serializers.ModelSerializer):
    """A large export built in the background: `rows_done` of `rows_total` written so far.
    Done, it links to its manifest and file; failed, `error` says why."""

    format = serializers.CharField(source="file_format", read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "fleet",
            "kind",
            "format",
            "parameters",
            "status",
            "rows_total",
            "rows_done",
            "error",
            "requested_by_name",
            "manifest",
            "created_at",
            "started_at",
            "finished_at",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(ExportJobLinksSerializer)
    def get_links(self, job: ExportJob) -> dict:
        request = self.context.get("request")
        manifest = job.manifest if job.manifest_id else None
        return {
            "self": reverse("fleet-export-job-detail", args=[job.pk], request=request),
            "manifest": (
                reverse("fleet-export-manifest-detail", args=[manifest.pk], request=request)
                if manifest is not None
                else None
            ),
            "file": manifest_file_url(manifest, request) if manifest is not None else None,
        }


def manifest_file_url(manifest: ExportManifest, request) -> str | None:
    """Where the manifest's kept file downloads, while it is kept."""
    if not manifest_file_available(manifest):
        return None
    return reverse("fleet-export-manifest-file", args=[manifest.pk], request=request)


def manifest_file_available(manifest: ExportManifest) -> bool:
    """Whether the manifest's file is kept and has not expired."""
    return bool(
        manifest.file
        and manifest.file_deleted_at is None
        and (manifest.expires_at is None or manifest.expires_at > timezone.now())
    )


class ExportManifestLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    file = serializers.URLField(
        allow_null=True, help_text="The kept file to download; null if none is kept any more."
    )


class ExportManifestSerializer(serializers.ModelSerializer):
    """An export file's manifest: what was exported, by whom and when, the file's SHA-256,
    size, rows and control totals (net, VAT, gross, in `currency`; null where the kind has
    none). Export the same request again to prove a file unchanged: the bytes are the same."""

    format = serializers.CharField(source="file_format", read_only=True)
    file_available = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = ExportManifest
        fields = [
            "id",
            "fleet",
            "kind",
            "format",
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
            "file_available",
            "links",
        ]
        read_only_fields = fields

    def get_file_available(self, manifest: ExportManifest) -> bool:
        return manifest_file_available(manifest)

    @extend_schema_field(ExportManifestLinksSerializer)
    def get_links(self, manifest: ExportManifest) -> dict:
        request = self.context.get("request")
        return {
            "self": reverse("fleet-export-manifest-detail", args=[manifest.pk], request=request),
            "file": manifest_file_url(manifest, request),
        }
