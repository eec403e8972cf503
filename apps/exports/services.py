"""Writes of the exports app: an export request checked whole before a byte is written, the
file streamed or written with its manifest recorded once the last byte is out, background
jobs for large files, and the expiry of kept files.

The admin, the API, the command line and the Celery task all export through here."""

import datetime as dt
import enum
import hashlib
import logging
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from apps.exports.choices import ExportFormat, ExportJobStatus, ExportKind
from apps.exports.columns import CsvDialect
from apps.exports.csv_files import csv_header, csv_rows
from apps.exports.datev import (
    DatevHeader,
    datev_archive,
    datev_files,
    fiscal_year_start,
)
from apps.exports.exceptions import (
    ExportDatevSettingsMissing,
    ExportFleetUnknown,
    ExportFormatUnknown,
    ExportInvalid,
    ExportKindUnknown,
    ExportPayrollDeductionMissing,
    ExportPeriodInvalid,
    ExportPeriodNotBilled,
    ExportPeriodNotFinished,
    ExportRoleRefused,
)
from apps.exports.journal import ledger_accounts_check
from apps.exports.models import ExportJob, ExportManifest
from apps.exports.periods import (
    ExportPeriod,
    ExportPeriodUnreadable,
    export_period_of_days,
    export_period_of_label,
)
from apps.exports.selectors import (
    ExportTable,
    billing_run_for_period,
    export_session_selection,
    export_table,
)
from apps.fleets.choices import MembershipRole
from apps.fleets.models import Fleet
from apps.payments.choices import BillingRunStatus
from apps.payments.payroll import payroll_deduction_of_period

logger = logging.getLogger(__name__)

EXPORTING_ROLES = frozenset({MembershipRole.ADMIN, MembershipRole.FINANCE})
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.OCPI: "application/json",
    ExportFormat.DATEV: "text/csv; charset=windows-1252",
}
ZIP_CONTENT_TYPE = "application/zip"
EXTENSIONS = {
    ExportFormat.CSV: "csv",
    ExportFormat.XLSX: "xlsx",
    ExportFormat.OCPI: "json",
    ExportFormat.DATEV: "csv",
}
DATEV_FILE_STEM = "EXTF_Buchungsstapel"
FORMATS_OF_KIND = dict.fromkeys(ExportKind.values, (ExportFormat.CSV, ExportFormat.XLSX))
FORMATS_OF_KIND[ExportKind.SESSIONS] = (ExportFormat.CSV, ExportFormat.XLSX, ExportFormat.OCPI)
FORMATS_OF_KIND[ExportKind.DATEV] = (ExportFormat.DATEV,)
LEDGER_KINDS = (ExportKind.JOURNAL, ExportKind.DATEV)
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ExportRequest:
    """An export checked whole: what, of which fleet, for which period, in which format."""

    fleet: Fleet
    kind: str
    file_format: str
    period: ExportPeriod
    dialect: CsvDialect
    selection: tuple[int, ...] | None = None
    parameters: dict = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        """The file's name; a DATEV batch split into several files is a ZIP of them, named
        as DatevExport.file_name says."""
        extension = EXTENSIONS[self.file_format]
        if self.file_format == ExportFormat.DATEV:
            return f"{self.datev_file_stem}.{extension}"
        selected = "-selection" if self.selection is not None else ""
        return f"{self.fleet.slug}-{self.kind}-{self.period.label}{selected}.{extension}"

    @property
    def datev_file_stem(self) -> str:
        return f"{DATEV_FILE_STEM}_{self.fleet.slug}_{self.period.label}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.file_format]

    def table(self) -> ExportTable:
        table = export_table(kind=self.kind, fleet=self.fleet, period=self.period)
        if self.selection is not None:
            table = export_session_selection(table=table, ids=self.selection)
        return table


def export_default_format(kind: str) -> str:
    """The format a kind is written in when none is asked for: its first (csv, or datev for
    the DATEV batch)."""
    return FORMATS_OF_KIND.get(kind, (ExportFormat.CSV,))[0]


def export_role_check(*, role: str | None) -> None:
    """Refuse anyone but the fleet's admins and finance."""
    if role not in EXPORTING_ROLES:
        raise ExportRoleRefused(
            "Only the fleet's admins and finance may export; your role does not allow it.",
            field="role",
        )


def export_fleet_get(*, slug: str) -> Fleet:
    try:
        return Fleet.objects.get(slug=slug)
    except Fleet.DoesNotExist as error:
        raise ExportFleetUnknown(f"There is no fleet {slug!r}.", field="fleet") from error


def datev_settings_check(*, fleet: Fleet, period: ExportPeriod, by_label: bool) -> None:
    """Refuse a DATEV export of a fleet without its DATEV consultant and client numbers, or of
    days across two of its fiscal years (DATEV takes every row's year from the header's
    fiscal year)."""
    for name, rule in (
        ("datev_consultant_number", "the tax advisor's Beraternummer, 1001 to 9999999"),
        ("datev_client_number", "the fleet's Mandantennummer at its tax advisor, 1 to 99999"),
    ):
        if getattr(fleet, name) is None:
            label = Fleet._meta.get_field(name).verbose_name
            raise ExportDatevSettingsMissing(
                f"The fleet {fleet.name} has no {label} ({rule}); a DATEV batch needs it. "
                "Set it in the fleet's settings.",
                field=name,
            )
    start = fiscal_year_start(day=period.first_day, start_month=fleet.fiscal_year_start_month)
    next_start = start.replace(year=start.year + 1)
    if period.last_day >= next_start:
        raise ExportPeriodInvalid(
            f"A DATEV batch lies in one fiscal year; {period.first_day:%Y-%m-%d} to "
            f"{period.last_day:%Y-%m-%d} runs into the one beginning {next_start:%Y-%m-%d}. "
            f"Export up to {next_start - dt.timedelta(days=1):%Y-%m-%d} and from "
            f"{next_start:%Y-%m-%d} apart.",
            field="period" if by_label else "to",
        )


def fleet_csv_dialect(fleet: Fleet) -> CsvDialect:
    """The fleet's CSV preferences (e.g. ';' and ',' for German Excel)."""
    return CsvDialect(
        delimiter=fleet.csv_delimiter or ",",
        decimal_separator=fleet.csv_decimal_separator or ".",
        bom=fleet.csv_bom,
    )


def _export_period(
    *, fleet: Fleet, period: str, first_day, last_day, now: dt.datetime
) -> ExportPeriod:
    by_label, by_days = bool(period), bool(first_day or last_day)
    if by_label == by_days:
        raise ExportPeriodInvalid(
            "Give either a billing period (such as 2026-10) or the first and last day.",
            field="period",
        )
    try:
        if by_label:
            chosen = export_period_of_label(
                kind=fleet.billing_period, label=period, zone=fleet.zone
            )
        else:
            if not first_day or not last_day:
                missing = "from" if not first_day else "to"
                raise ExportPeriodInvalid("Give both the first and the last day.", field=missing)
            chosen = export_period_of_days(first_day=first_day, last_day=last_day, zone=fleet.zone)
    except ExportPeriodUnreadable as error:
        raise ExportPeriodInvalid(str(error), field=error.field) from error
    if chosen.end > now:
        raise ExportPeriodNotFinished(
            f"The period {chosen.label} runs until the end of {chosen.last_day:%Y-%m-%d} "
            f"({fleet.time_zone}); it can be exported from "
            f"{chosen.last_day + dt.timedelta(days=1):%Y-%m-%d}.",
            field="period" if by_label else "to",
        )
    if by_label:
        run = billing_run_for_period(fleet=fleet, period=chosen)
        if run is None:
            raise ExportPeriodNotBilled(
                f"The period {chosen.label} has no billing run; bill it first.", field="period"
            )
        if run.status != BillingRunStatus.COMPLETED:
            raise ExportPeriodNotBilled(
                f"The billing run of {chosen.label} is {run.get_status_display().lower()}; "
                "export once it has completed.",
                field="period",
            )
    return chosen


def _payroll_deduction_check(*, fleet: Fleet, period: ExportPeriod) -> None:
    """The payroll deduction file is written from a deduction prepared for the period."""
    if payroll_deduction_of_period(fleet=fleet, period_start=period.start, period_end=period.end):
        return
    raise ExportPayrollDeductionMissing(
        f"{fleet.name} has no payroll deduction for {period.label}; prepare it first "
        f"(manage.py payroll_deductions --fleet {fleet.slug} --period {period.label} prepare, "
        "or Payroll deductions in the admin).",
        field="period",
    )


def export_request_check(
    *,
    fleet: Fleet,
    kind: str,
    file_format: str,
    role: str | None,
    period: str = "",
    first_day: str | dt.date | None = None,
    last_day: str | dt.date | None = None,
    selection=None,
    dialect: CsvDialect | None = None,
    now: dt.datetime | None = None,
) -> ExportRequest:
    """An export request checked whole, or refused naming the field and the rule: the role,
    the kind, the format, the period (one of a billing period or days, finished, and for a
    billing period, billed), the CSV dialect, and for the journal and DATEV, ledger accounts
    for every VAT rate of the period."""
    now = now or timezone.now()
    export_role_check(role=role)
    if kind not in ExportKind.values:
        raise ExportKindUnknown(
            f"{kind!r} is not an export; choose one of {', '.join(ExportKind.values)}.",
            field="kind",
        )
    if file_format not in ExportFormat.values:
        raise ExportFormatUnknown(
            f"{file_format!r} is not a format; choose one of {', '.join(ExportFormat.values)}.",
            field="format",
        )
    if file_format not in FORMATS_OF_KIND[kind]:
        raise ExportFormatUnknown(
            f"The {kind} export is written as {' or '.join(FORMATS_OF_KIND[kind])}, "
            f"not {file_format}.",
            field="format",
        )
    dialect = dialect or fleet_csv_dialect(fleet)
    problems = dialect.problems()
    if problems:
        name, message = next(iter(problems.items()))
        raise ExportInvalid(message, field=name)
    chosen = _export_period(
        fleet=fleet, period=period, first_day=first_day, last_day=last_day, now=now
    )
    if kind == ExportKind.DATEV:
        datev_settings_check(fleet=fleet, period=chosen, by_label=bool(period))
    if kind in LEDGER_KINDS:
        ledger_accounts_check(fleet=fleet, period=chosen)
    if kind == ExportKind.PAYROLL_DEDUCTIONS:
        _payroll_deduction_check(fleet=fleet, period=chosen)
    selected = None
    if selection is not None:
        selected = tuple(sorted({int(row_id) for row_id in selection}))
        if not selected:
            raise ExportInvalid("Select at least one row to export.", field="selection")
    parameters = {
        "kind": kind,
        "format": file_format,
        "period": chosen.label if chosen.is_billing_period else "",
        "from": "" if chosen.is_billing_period else f"{chosen.first_day:%Y-%m-%d}",
        "to": "" if chosen.is_billing_period else f"{chosen.last_day:%Y-%m-%d}",
        "delimiter": dialect.delimiter,
        "decimal_separator": dialect.decimal_separator,
        "bom": dialect.bom,
        "time_zone": fleet.time_zone,
        "selection": list(selected) if selected is not None else None,
    }
    return ExportRequest(
        fleet=fleet,
        kind=kind,
        file_format=file_format,
        period=chosen,
        dialect=dialect,
        selection=selected,
        parameters=parameters,
    )


class ExportDelivery(enum.StrEnum):
    """How a file reaches the person who asked: streamed as it is written, built while they
    wait (XLSX cannot stream), or built in the background and kept for download."""

    STREAM = "stream"
    BUILD = "build"
    BACKGROUND = "background"


def export_delivery(*, request: ExportRequest) -> ExportDelivery:
    """How this export is delivered, by its size: small CSV and OCPI files stream, small XLSX
    files are built at once, larger ones go to a Celery worker. DATEV files are always built
    whole before their first byte is sent (a character outside cp1252 refuses the file)."""
    rows = request.table().control_totals()[0]
    if request.file_format == ExportFormat.DATEV:
        if rows <= settings.EXPORT_STREAM_MAX_ROWS:
            return ExportDelivery.BUILD
        return ExportDelivery.BACKGROUND
    if request.file_format == ExportFormat.XLSX:
        if rows <= settings.EXPORT_XLSX_INLINE_MAX_ROWS:
            return ExportDelivery.BUILD
        return ExportDelivery.BACKGROUND
    if rows <= settings.EXPORT_STREAM_MAX_ROWS:
        return ExportDelivery.STREAM
    return ExportDelivery.BACKGROUND


def _file_chunks(request: ExportRequest, table: ExportTable, progress: Progress | None):
    from apps.exports.file_formats import ocpi_chunks, xlsx_chunks

    zone = request.fleet.zone
    if request.file_format == ExportFormat.XLSX:
        return xlsx_chunks(table, zone=zone, progress=progress, period=request.period)
    if request.file_format == ExportFormat.OCPI:
        return ocpi_chunks(table, fleet=request.fleet, progress=progress)
    return _csv_chunks(request, table, progress)


def datev_header(request: ExportRequest) -> DatevHeader:
    """The header of the request's DATEV batch, from the fleet's settings and the period. Its
    creation time is the end of the period in the fleet's zone, never the clock, so the same
    rows give the same bytes (as XLSX files do)."""
    fleet, period = request.fleet, request.period
    label = (
        period.label
        if period.is_billing_period
        else f"{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}"
    )
    return DatevHeader(
        consultant_number=fleet.datev_consultant_number,
        client_number=fleet.datev_client_number,
        fiscal_year_start=fiscal_year_start(
            day=period.first_day, start_month=fleet.fiscal_year_start_month
        ),
        account_length=fleet.account_length,
        first_day=period.first_day,
        last_day=period.last_day,
        title=f"Voltop {label}",
        currency=fleet.currency,
        created_at=period.end.astimezone(fleet.zone),
    )


def _datev_chunks(
    request: ExportRequest,
    table: ExportTable,
    progress: Progress | None,
    fingerprint: "_Fingerprint",
) -> list[bytes]:
    """The DATEV batch built whole: one file, or a ZIP of the files it is split into (its
    name and content type then told to `fingerprint`)."""
    header = datev_header(request)
    files = datev_files(header, [values["datev_row"] for values in table.rows])
    if progress is not None:
        progress(len(table.rows))
    if len(files) == 1:
        return files
    fingerprint.file_name = f"{request.datev_file_stem}.zip"
    fingerprint.content_type = ZIP_CONTENT_TYPE
    return [datev_archive(files, stem=request.datev_file_stem, moment=header.created_at)]


def _csv_chunks(request: ExportRequest, table: ExportTable, progress: Progress | None):
    yield csv_header(table, request.dialect)
    for chunk in csv_rows(table, dialect=request.dialect, zone=request.fleet.zone):
        if progress is not None:
            progress(chunk.count(b"\n"))
        yield chunk


@dataclass
class _Fingerprint:
    """What is learnt of a file while it is written: its SHA-256 and size, and where the
    request's name and content type do not say it (a DATEV batch split into a ZIP), its
    own."""

    sha256: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    size: int = 0
    file_name: str = ""
    content_type: str = ""

    def add(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.size += len(chunk)


def _manifest_record(
    *,
    request: ExportRequest,
    fingerprint: _Fingerprint,
    totals: tuple,
    requested_by,
    requested_by_name: str,
    now: dt.datetime,
    file_name: str = "",
    kept_file=None,
) -> ExportManifest:
    rows, net, vat, gross = totals
    manifest = ExportManifest(
        fleet=request.fleet,
        kind=request.kind,
        file_format=request.file_format,
        period_label=request.period.label,
        period_start=request.period.start,
        period_end=request.period.end,
        parameters=request.parameters,
        file_name=file_name or fingerprint.file_name or request.file_name,
        content_type=fingerprint.content_type or request.content_type,
        size_bytes=fingerprint.size,
        sha256=fingerprint.sha256.hexdigest(),
        row_count=rows,
        currency=request.fleet.currency,
        net_total=net,
        vat_total=vat,
        gross_total=gross,
        requested_by=requested_by,
        requested_by_name=requested_by_name,
        created_at=now,
    )
    if kept_file is None:
        manifest.save()
    else:
        manifest.expires_at = now + dt.timedelta(days=settings.EXPORT_FILE_DAYS)
        manifest.file.save(manifest.file_name, kept_file, save=False)
        try:
            with transaction.atomic():
                manifest.save()
        except Exception:
            manifest.file.delete(save=False)
            raise
    logger.info(
        "exports.exported",
        extra={
            "manifest_id": manifest.pk,
            "fleet_id": request.fleet.pk,
            "kind": request.kind,
            "format": request.file_format,
            "rows": rows,
            "sha256": manifest.sha256,
        },
    )
    return manifest


def _file_read(
    request: ExportRequest, progress: Progress | None, fingerprint: "_Fingerprint"
) -> Generator[bytes, None, tuple]:
    """The file's bytes, read in one transaction from one snapshot of the database (on
    PostgreSQL REPEATABLE READ, when the transaction is its own) and added to `fingerprint`;
    returns the control totals read from the same snapshot once the last byte is out."""
    with transaction.atomic():
        _isolation_repeatable_read()
        table = request.table()
        totals = table.control_totals()
        # The chunks' iterator is held by the loop alone: left early, it is closed (a COPY
        # cancelled and read to its end) before the transaction rolls back.
        for chunk in (
            _datev_chunks(request, table, progress, fingerprint)
            if request.file_format == ExportFormat.DATEV
            else _file_chunks(request, table, progress)
        ):
            fingerprint.add(chunk)
            yield chunk
    return totals


def export_stream(
    *,
    request: ExportRequest,
    requested_by=None,
    requested_by_name: str,
    now: dt.datetime | None = None,
) -> Iterator[bytes]:
    """The export file's bytes, as they are written; its manifest is recorded when the last
    byte is out. Stopped early (the client went away) or failed, it leaves no manifest."""
    now = now or timezone.now()
    fingerprint = _Fingerprint()
    totals = yield from _file_read(request, None, fingerprint)
    with transaction.atomic():
        _manifest_record(
            request=request,
            fingerprint=fingerprint,
            totals=totals,
            requested_by=requested_by,
            requested_by_name=requested_by_name,
            now=now,
        )


def _isolation_repeatable_read() -> None:
    """Let the transaction just begun read one snapshot throughout, totals and rows alike.
    Inside a caller's transaction (tests, a command run in one) its isolation stays."""
    if connection.vendor != "postgresql" or len(connection.atomic_blocks) != 1:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def export_write(
    *,
    request: ExportRequest,
    out: BinaryIO,
    requested_by=None,
    requested_by_name: str,
    keep: bool = False,
    progress: Progress | None = None,
    recorded: Callable[[ExportManifest], None] | None = None,
    now: dt.datetime | None = None,
) -> ExportManifest:
    """Write the export file to `out` (a binary file open for writing and reading when
    `keep`), then record its manifest; `keep` also stores the file for download until it
    expires, and `recorded` is called with the manifest in the transaction that records it.
    Nothing is recorded if writing fails."""
    now = now or timezone.now()
    fingerprint = _Fingerprint()
    totals = _file_write(_file_read(request, progress, fingerprint), out)
    kept = None
    if keep:
        out.seek(0)
        kept = File(out, name=request.file_name)
    manifest = None
    try:
        with transaction.atomic():
            manifest = _manifest_record(
                request=request,
                fingerprint=fingerprint,
                totals=totals,
                requested_by=requested_by,
                requested_by_name=requested_by_name,
                now=now,
                kept_file=kept,
            )
            if recorded is not None:
                recorded(manifest)
    except BaseException:
        if manifest is not None and manifest.file:
            manifest.file.delete(save=False)
        raise
    return manifest


def _file_write(reading: Generator[bytes, None, tuple], out: BinaryIO) -> tuple:
    """Write what `reading` yields to `out`; returns what it returns. Stopped by an error, the
    reading is closed (its transaction rolled back) before the error goes on."""
    try:
        while True:
            out.write(next(reading))
    except StopIteration as finished:
        out.flush()
        return finished.value
    finally:
        reading.close()


# Background jobs ----------------------------------------------------------------------------


@transaction.atomic
def export_job_start(
    *, request: ExportRequest, requested_by=None, requested_by_name: str
) -> ExportJob:
    """Queue a large export for a Celery worker; the task starts once this commits."""
    job = ExportJob.objects.create(
        fleet=request.fleet,
        kind=request.kind,
        file_format=request.file_format,
        parameters=request.parameters,
        requested_by=requested_by,
        requested_by_name=requested_by_name,
    )
    from apps.exports.tasks import run_export_job

    transaction.on_commit(lambda: run_export_job.delay(job.pk))
    logger.info("exports.job_queued", extra={"job_id": job.pk, "kind": request.kind})
    return job


def export_request_of_job(job: ExportJob) -> ExportRequest:
    """The job's request, checked again as it was made (its role was checked then)."""
    parameters = job.parameters
    return export_request_check(
        fleet=job.fleet,
        kind=job.kind,
        file_format=job.file_format,
        role=MembershipRole.ADMIN,
        period=parameters.get("period") or "",
        first_day=parameters.get("from") or None,
        last_day=parameters.get("to") or None,
        selection=parameters.get("selection"),
        dialect=CsvDialect(
            delimiter=parameters["delimiter"],
            decimal_separator=parameters["decimal_separator"],
            bom=parameters["bom"],
        ),
    )


class _JobProgress:
    """Tells the admin how far a job has come while its file is written. The file is read in
    one transaction (and on PostgreSQL through a COPY that holds the connection), so progress
    is written through a connection of its own, committed at once, every
    EXPORT_PROGRESS_ROWS rows. SQLite allows one writer at a time: there the job's end says
    it."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.done = 0
        self.saved = 0
        self.own_connection = (
            connections.create_connection(DEFAULT_DB_ALIAS)
            if connection.vendor == "postgresql"
            else None
        )

    def __call__(self, rows: int) -> None:
        self.done += rows
        if self.own_connection is None or self.done - self.saved < settings.EXPORT_PROGRESS_ROWS:
            return
        self.saved = self.done
        table = connection.ops.quote_name(ExportJob._meta.db_table)
        with self.own_connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET rows_done = %s, updated_at = %s WHERE id = %s",  # noqa: S608 - quoted table name
                [self.done, timezone.now(), self.job_id],
            )

    def close(self) -> None:
        if self.own_connection is not None:
            self.own_connection.close()


def _job_done(job_id: int, manifest: ExportManifest) -> None:
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportJobStatus.DONE,
        manifest=manifest,
        rows_done=manifest.row_count,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def export_job_run(*, job_id: int, now: dt.datetime | None = None) -> ExportJob:
    """Build a queued export's file and keep it with its manifest; on failure the job says
    why, and no file or manifest is left. A job done or failed already is left as it is."""
    claimed = ExportJob.objects.filter(
        pk=job_id, status__in=[ExportJobStatus.PENDING, ExportJobStatus.RUNNING]
    ).update(status=ExportJobStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now())
    job = ExportJob.objects.select_related("fleet", "requested_by").get(pk=job_id)
    if not claimed:
        return job
    try:
        request = export_request_of_job(job)
        rows_total = request.table().control_totals()[0]
        ExportJob.objects.filter(pk=job_id).update(rows_total=rows_total, rows_done=0)
        progress = _JobProgress(job_id)
        try:
            with tempfile.TemporaryFile() as out:
                export_write(
                    request=request,
                    out=out,
                    requested_by=job.requested_by,
                    requested_by_name=job.requested_by_name,
                    keep=True,
                    progress=progress,
                    recorded=lambda manifest: _job_done(job_id, manifest),
                    now=now,
                )
        finally:
            progress.close()
    except Exception as error:
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportJobStatus.FAILED,
            error=f"{type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        logger.exception("exports.job_failed", extra={"job_id": job_id})
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    return job


def export_files_expire(*, now: dt.datetime | None = None) -> int:
    """Delete kept files past their expiry; their manifests stay. Returns how many."""
    now = now or timezone.now()
    expired = ExportManifest.objects.filter(
        expires_at__lte=now, file_deleted_at__isnull=True
    ).exclude(file="")
    count = 0
    for manifest in expired.iterator():
        manifest.file.delete(save=False)
        ExportManifest.objects.filter(pk=manifest.pk).update(file="", file_deleted_at=now)
        count += 1
    if count:
        logger.info("exports.files_expired", extra={"count": count})
    return count
