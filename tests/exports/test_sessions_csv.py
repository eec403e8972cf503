"""The charging sessions export as CSV: its columns, cells in the fleet's zone and dialect,
formula escaping, the same bytes from PostgreSQL's COPY as from Python, and its manifest."""

import csv
import hashlib
import io
from decimal import Decimal

import pytest
from django.db import connection

from apps.charging.models import ChargingSession
from apps.exports import csv_files
from apps.exports.columns import CsvDialect
from apps.exports.models import ExportManifest
from apps.exports.services import export_request_check, export_stream, export_write
from apps.fleets.choices import MembershipRole
from apps.fleets.models import Fleet

pytestmark = pytest.mark.django_db


def _request(fleet, **options):
    options.setdefault("period", "2026-10")
    return export_request_check(
        fleet=fleet, kind="sessions", file_format="csv", role=MembershipRole.FINANCE, **options
    )


def _written(request) -> bytes:
    out = io.BytesIO()
    export_write(request=request, out=out, requested_by_name="test")
    return out.getvalue()


def _python_bytes(request) -> bytes:
    table = request.table()
    return csv_files.csv_header(table, request.dialect) + b"".join(
        csv_files.csv_rows_python(table, dialect=request.dialect, zone=request.fleet.zone)
    )


def _rows(content: bytes, delimiter: str = ",") -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


def test_every_session_of_the_period_is_one_row_in_start_order(billed_fleet):
    rows = _rows(_written(_request(billed_fleet)))

    expected = list(
        ChargingSession.objects.filter(fleet=billed_fleet)
        .order_by("started_at", "pk")
        .values_list("pk", flat=True)
    )
    assert [int(row["session_id"]) for row in rows] == expected
    assert len(expected) == 23


def test_a_session_row_holds_its_times_in_the_fleet_zone_and_its_price_per_dimension(
    billed_fleet,
):
    session = ChargingSession.objects.get(fleet=billed_fleet, price_breakdown__isnull=False)
    [row] = [
        row
        for row in _rows(_written(_request(billed_fleet)))
        if row["session_id"] == str(session.pk)
    ]

    assert row["started_at"] == "2026-10-04T08:00:00+02"
    assert row["ended_at"] == "2026-10-04T10:30:07+02"
    assert row["energy_kwh"] == "20.000"
    assert row["parking_s"] == "900"
    assert row["charging_s"] == str(2 * 3600 + 30 * 60 + 7 - 900)
    assert (row["energy_excl_vat"], row["energy_vat"], row["energy_incl_vat"]) == (
        "5.00",
        "1.05",
        "6.05",
    )
    assert (row["flat_excl_vat"], row["flat_vat"], row["flat_incl_vat"]) == ("1.00", "0.21", "1.21")
    assert (row["total_excl_vat"], row["total_vat"], row["total_incl_vat"]) == (
        "7.41",
        "1.56",
        "8.97",
    )
    line = session.invoice_lines.get()
    assert row["billed_as"] == "invoice_line"
    assert row["billed_on"] == line.invoice.number
    assert (row["billed_net"], row["billed_vat"], row["billed_gross"]) == (
        "7.41",
        "1.56",
        "8.97",
    )


def test_text_a_spreadsheet_would_run_is_escaped_and_amounts_are_not(billed_fleet):
    rows = _rows(_written(_request(billed_fleet)))

    names = {row["driver"] for row in rows}
    assert "'=HYPERLINK(1) O\"Brien; Jr" in names
    assert all(not row["total_excl_vat"].startswith("'") for row in rows)


def test_german_excel_dialect_writes_semicolons_decimal_commas_and_a_bom(billed_fleet):
    dialect = CsvDialect(delimiter=";", decimal_separator=",", bom=True)
    content = _written(_request(billed_fleet, dialect=dialect))

    assert content.startswith("\ufeff".encode() + b"session_id;employee_number;")
    session = ChargingSession.objects.get(fleet=billed_fleet, price_breakdown__isnull=False)
    [row] = [row for row in _rows(content, ";") if row["session_id"] == str(session.pk)]
    assert row["total_excl_vat"] == "7,41"
    assert row["energy_kwh"] == "20,000"
    assert row["driver"] == "'=HYPERLINK(1) O\"Brien; Jr"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.parametrize(
    "dialect",
    [CsvDialect(), CsvDialect(delimiter=";", decimal_separator=",", bom=True), CsvDialect("\t")],
)
def test_copy_writes_the_same_bytes_as_python(billed_fleet, dialect):
    request = _request(billed_fleet, dialect=dialect)

    assert _written(request) == _python_bytes(request)


def test_the_same_export_twice_gives_the_same_bytes_and_a_manifest_each(billed_fleet):
    first, second = _written(_request(billed_fleet)), _written(_request(billed_fleet))

    assert first == second
    manifests = list(ExportManifest.objects.order_by("pk"))
    assert len(manifests) == 2
    assert {manifest.sha256 for manifest in manifests} == {hashlib.sha256(first).hexdigest()}


def test_the_manifest_holds_the_rows_and_control_totals(billed_fleet, finance_user):
    content = b"".join(
        export_stream(
            request=_request(billed_fleet),
            requested_by=finance_user,
            requested_by_name=finance_user.username,
        )
    )

    manifest = ExportManifest.objects.get()
    sessions = ChargingSession.objects.filter(fleet=billed_fleet)
    assert manifest.row_count == 23
    assert manifest.size_bytes == len(content)
    assert manifest.sha256 == hashlib.sha256(content).hexdigest()
    assert manifest.net_total == sum(
        (s.price_excl_vat for s in sessions if s.price_excl_vat is not None), Decimal(0)
    )
    assert manifest.gross_total == manifest.net_total + manifest.vat_total
    assert manifest.requested_by == finance_user
    assert manifest.parameters["period"] == "2026-10"


def test_a_stream_stopped_early_leaves_no_manifest_and_the_connection_works(billed_fleet):
    stream = export_stream(request=_request(billed_fleet), requested_by_name="test")
    next(stream)
    next(stream)
    stream.close()

    assert not ExportManifest.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 41 + 1")
        assert cursor.fetchone() == (42,)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/St_Johns", "UTC"])
def test_copy_and_python_agree_in_zones_with_odd_offsets(billed_fleet, zone):
    Fleet.objects.filter(pk=billed_fleet.pk).update(time_zone=zone)
    billed_fleet.refresh_from_db()
    request = _request(billed_fleet, period="", first_day="2026-09-25", last_day="2026-10-31")

    written = _written(request)

    assert written == _python_bytes(request)
    assert written.count(b"\n") > 20
