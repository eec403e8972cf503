"""`manage.py export`: the export service's file from a shell, written whole or not at all
(a `.partial` file renamed once complete), its manifest summed up on standard error, and
every refusal a CommandError naming the field that leaves no file and no manifest."""

import hashlib
import io
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.exports.management.commands import export as export_command
from apps.exports.models import ExportManifest
from apps.exports.services import export_request_check, export_write
from apps.fleets.choices import MembershipRole

pytestmark = pytest.mark.django_db


def _export(*arguments: str) -> str:
    """Run the command; what it wrote on standard error."""
    err = StringIO()
    call_command("export", *arguments, stdout=StringIO(), stderr=err)
    return err.getvalue()


def _service_bytes(fleet) -> bytes:
    request = export_request_check(
        fleet=fleet, kind="sessions", file_format="csv", role=MembershipRole.ADMIN, period="2026-10"
    )
    out = io.BytesIO()
    export_write(request=request, out=out, requested_by_name="test")
    return out.getvalue()


def test_it_writes_the_services_file_and_sums_up_its_manifest_on_stderr(billed_fleet, tmp_path):
    target = tmp_path / "sessions.csv"

    summary = _export(
        "sessions", "--fleet", billed_fleet.slug, "--period", "2026-10", "-o", str(target)
    )

    content = target.read_bytes()
    manifest = ExportManifest.objects.get()
    assert summary == (
        f"{billed_fleet.slug}-sessions-2026-10.csv: 23 rows, {len(content)} bytes, "
        f"SHA-256 {hashlib.sha256(content).hexdigest()} (manifest {manifest.pk})\n"
    )
    assert manifest.sha256 == hashlib.sha256(content).hexdigest()
    assert manifest.requested_by is None
    assert manifest.requested_by_name == "command line"
    assert manifest.parameters["period"] == "2026-10"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sessions.csv"]
    assert content == _service_bytes(billed_fleet)


def test_days_from_and_to_are_exported_too(billed_fleet, tmp_path):
    target = tmp_path / "october.csv"

    _export(
        "sessions",
        "--fleet",
        billed_fleet.slug,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "-o",
        str(target),
    )

    manifest = ExportManifest.objects.get()
    assert manifest.period_label == "2026-10-01_2026-10-31"
    assert manifest.row_count == 23
    assert manifest.size_bytes == target.stat().st_size


def test_the_file_is_written_under_a_partial_name_and_renamed_once_complete(
    billed_fleet, tmp_path, monkeypatch
):
    target = tmp_path / "sessions.csv"
    target.write_bytes(b"last month's file\n")
    seen = {}

    def watched_write(*, out, **options):
        seen["written_to"] = out.name
        manifest = export_write(out=out, **options)
        seen["target_while_written"] = target.read_bytes()
        return manifest

    monkeypatch.setattr(export_command, "export_write", watched_write)

    _export("sessions", "--fleet", billed_fleet.slug, "--period", "2026-10", "-o", str(target))

    assert seen["written_to"] == str(tmp_path / "sessions.csv.partial")
    assert seen["target_while_written"] == b"last month's file\n"
    assert target.read_bytes() == _service_bytes(billed_fleet)
    assert not (tmp_path / "sessions.csv.partial").exists()


def test_a_write_that_fails_leaves_no_file_and_no_manifest(billed_fleet, tmp_path, monkeypatch):
    target = tmp_path / "sessions.csv"

    def failing_chunks(request, table, progress):
        yield b"session_id,started_at\n"
        raise OSError("No space left on device")

    monkeypatch.setattr("apps.exports.services._file_chunks", failing_chunks)

    with pytest.raises(OSError, match="No space left"):
        _export("sessions", "--fleet", billed_fleet.slug, "--period", "2026-10", "-o", str(target))

    assert list(tmp_path.iterdir()) == []
    assert not ExportManifest.objects.exists()


def test_dash_writes_the_file_to_standard_output(billed_fleet, capsysbinary):
    err = StringIO()

    call_command(
        "export",
        "sessions",
        "--fleet",
        billed_fleet.slug,
        "--period",
        "2026-10",
        "-o",
        "-",
        stderr=err,
    )

    content = capsysbinary.readouterr().out
    manifest = ExportManifest.objects.get()
    assert manifest.sha256 == hashlib.sha256(content).hexdigest()
    assert manifest.size_bytes == len(content)
    assert err.getvalue().startswith(f"{billed_fleet.slug}-sessions-2026-10.csv: 23 rows, ")
    assert content == _service_bytes(billed_fleet)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["sessions", "--fleet", "nope", "--period", "2026-10"], "fleet: There is no fleet 'nope'"),
        (["sessionz", "--period", "2026-10"], "kind: 'sessionz' is not an export"),
        (["sessions", "--period", "2026-10", "--format", "pdf"], "format: 'pdf' is not a format"),
        (["invoices", "--period", "2026-10", "--format", "ocpi"], "format: The invoices export"),
        (["sessions", "--period", "2026-11"], "period: The period 2026-11 runs until the end of"),
        (["sessions", "--period", "2026-09"], "period: The period 2026-09 has no billing run"),
        (["sessions", "--period", "Oct"], "period: 'Oct' is not a month"),
        (["sessions", "--from", "2026-10-01"], "to: Give both the first and the last day"),
        (
            ["sessions", "--period", "2026-10", "--from", "2026-10-01", "--to", "2026-10-31"],
            "period: Give either a billing period",
        ),
    ],
    ids=[
        "unknown fleet",
        "unknown kind",
        "unknown format",
        "format not of the kind",
        "unfinished period",
        "period with no run",
        "unreadable period",
        "no last day",
        "period and days",
    ],
)
def test_each_refusal_names_its_field_and_leaves_no_file_and_no_manifest(
    billed_fleet, tmp_path, arguments, message
):
    kind, *options = arguments
    if "--fleet" not in options:
        options = [*options, "--fleet", billed_fleet.slug]

    with pytest.raises(CommandError, match=f"^{message}"):
        _export(kind, *options, "-o", str(tmp_path / "export.csv"))

    assert list(tmp_path.iterdir()) == []
    assert not ExportManifest.objects.exists()


@pytest.mark.parametrize(
    ("output", "message"),
    [(".", "output: .+ is a directory"), ("missing/export.csv", "output: there is no directory")],
    ids=["a directory", "no such directory"],
)
def test_an_output_that_cannot_be_written_is_refused_before_exporting(
    billed_fleet, tmp_path, output, message
):
    with pytest.raises(CommandError, match=f"^{message}"):
        _export(
            "sessions",
            "--fleet",
            billed_fleet.slug,
            "--period",
            "2026-10",
            "-o",
            str(tmp_path / output),
        )

    assert list(tmp_path.iterdir()) == []
    assert not ExportManifest.objects.exists()
