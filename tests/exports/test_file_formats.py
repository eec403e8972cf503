"""The sessions export as XLSX (typed cells, times in the fleet's zone, an About sheet, rows
carried over to further sheets past the row limit, the same bytes every time, its manifest
and a background job's kept file) and as a JSON array of OCPI 2.2.1 CDRs."""

import datetime as dt
import hashlib
import io
import json
import tempfile
import zipfile
import zoneinfo
from xml.etree import ElementTree

import pytest
import time_machine
from django.core.files.storage import storages
from django.db import DatabaseError

from apps.charging.models import ChargingSession
from apps.charging.services import tariff_publish
from apps.exports import file_formats
from apps.exports.choices import ExportJobStatus
from apps.exports.columns import Column, ValueType
from apps.exports.models import ExportManifest
from apps.exports.selectors import SESSION_COLUMNS, ExportTable
from apps.exports.services import (
    export_job_run,
    export_job_start,
    export_request_check,
    export_write,
)
from apps.fleets.choices import MembershipRole
from tests.exports.conftest import AFTER_OCTOBER, OCTOBER
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    TariffElementFactory,
    TariffFactory,
)

pytestmark = pytest.mark.django_db

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONSHIPS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # noqa: DTZ001 - Excel's serial days are naive
BUILT_IN_NUMBER_FORMATS = {0: "General", 1: "0", 2: "0.00"}
HEADERS = [column.header for column in SESSION_COLUMNS]


def _request(fleet, file_format, **options):
    options.setdefault("period", "2026-10")
    return export_request_check(
        fleet=fleet,
        kind="sessions",
        file_format=file_format,
        role=MembershipRole.FINANCE,
        **options,
    )


def _written(request) -> bytes:
    out = io.BytesIO()
    export_write(request=request, out=out, requested_by_name="test")
    return out.getvalue()


def _session_ids(fleet) -> list[int]:
    return list(
        ChargingSession.objects.filter(fleet=fleet)
        .order_by("started_at", "pk")
        .values_list("pk", flat=True)
    )


class Workbook:
    """An XLSX file read back with the standard library: each sheet's cells by row as
    (kind, value, number format), kind "n" for a number and "s" for text."""

    def __init__(self, content: bytes):
        self.zip = zipfile.ZipFile(io.BytesIO(content))
        self.number_formats, self.bold_styles = self._styles()
        workbook = self._xml("xl/workbook.xml")
        self.sheet_names = [sheet.get("name") for sheet in workbook.iter(f"{MAIN}sheet")]

    def _xml(self, name: str) -> ElementTree.Element:
        return ElementTree.fromstring(self.zip.read(name))  # noqa: S314 - a file we wrote

    def _styles(self) -> tuple[list[str], set[int]]:
        styles = self._xml("xl/styles.xml")
        codes = dict(BUILT_IN_NUMBER_FORMATS)
        for fmt in styles.iter(f"{MAIN}numFmt"):
            codes[int(fmt.get("numFmtId"))] = fmt.get("formatCode")
        fonts = list(styles.find(f"{MAIN}fonts"))
        formats, bold = [], set()
        for index, xf in enumerate(styles.find(f"{MAIN}cellXfs")):
            formats.append(codes[int(xf.get("numFmtId"))])
            if fonts[int(xf.get("fontId"))].find(f"{MAIN}b") is not None:
                bold.add(index)
        return formats, bold

    def sheet_xml(self, name: str) -> ElementTree.Element:
        return self._xml(f"xl/worksheets/sheet{self.sheet_names.index(name) + 1}.xml")

    def rows(self, name: str) -> list[dict[str, tuple]]:
        """The sheet's rows, each as {column letters: (kind, value, number format, bold)}."""
        found = []
        for row in self.sheet_xml(name).iter(f"{MAIN}row"):
            cells = {}
            for cell in row.iter(f"{MAIN}c"):
                letters = "".join(char for char in cell.get("r") if char.isalpha())
                style = int(cell.get("s", 0))
                kind = cell.get("t", "n")
                if kind == "inlineStr":
                    value = "".join(text.text or "" for text in cell.iter(f"{MAIN}t"))
                    kind = "s"
                else:
                    value = cell.find(f"{MAIN}v").text
                cells[letters] = (
                    kind,
                    value,
                    self.number_formats[style],
                    style in self.bold_styles,
                )
            found.append(cells)
        return found

    def table(self, name: str) -> tuple[list[str], list[dict[str, tuple]]]:
        """The sheet's header and its rows by header."""
        header_row, *rows = self.rows(name)
        letters = list(header_row)
        headers = [header_row[letter][1] for letter in letters]
        by_header = [
            {headers[letters.index(letter)]: cell for letter, cell in row.items()} for row in rows
        ]
        return headers, by_header


def _number(cell: tuple) -> tuple[float, str]:
    """A number cell's value (the double Excel reads) and its number format."""
    kind, value, number_format, _ = cell
    assert kind == "n"
    return float(value), number_format


def _excel_serial(moment: dt.datetime) -> str:
    days = (moment - EXCEL_EPOCH) / dt.timedelta(days=1)
    return f"{days:.16G}"


# XLSX ----------------------------------------------------------------------------------------


def test_xlsx_lists_every_session_in_start_order_under_a_bold_frozen_header(billed_fleet):
    book = Workbook(_written(_request(billed_fleet, "xlsx")))

    assert book.sheet_names == ["sessions", "About"]
    header_row = book.rows("sessions")[0]
    assert [cell[1] for cell in header_row.values()] == HEADERS
    assert all(cell[0] == "s" and cell[3] for cell in header_row.values())
    _, rows = book.table("sessions")
    assert [int(row["session_id"][1]) for row in rows] == _session_ids(billed_fleet)
    assert len(rows) == 23
    pane = book.sheet_xml("sessions").find(f".//{MAIN}pane")
    assert (pane.get("ySplit"), pane.get("topLeftCell"), pane.get("state")) == (
        "1",
        "A2",
        "frozen",
    )
    widths = {}
    for col in book.sheet_xml("sessions").iter(f"{MAIN}col"):
        for number in range(int(col.get("min")), int(col.get("max")) + 1):
            widths[HEADERS[number - 1]] = int(float(col.get("width")))
    assert widths == {
        header: 20 if header in ("started_at", "ended_at") else len(header) + 2
        for header in HEADERS
    }


def test_xlsx_cells_are_typed_numbers_with_their_places_and_times_in_the_fleet_zone(
    billed_fleet,
):
    session = ChargingSession.objects.get(fleet=billed_fleet, price_breakdown__isnull=False)
    _, rows = Workbook(_written(_request(billed_fleet, "xlsx"))).table("sessions")
    [row] = [row for row in rows if row["session_id"][1] == str(session.pk)]

    assert row["session_id"][:3] == ("n", str(session.pk), "0")
    assert row["started_at"][:3] == (
        "n",
        _excel_serial(dt.datetime(2026, 10, 4, 8, 0)),  # noqa: DTZ001 - Amsterdam wall time
        "yyyy-mm-dd hh:mm:ss",
    )
    assert row["ended_at"][:3] == (
        "n",
        _excel_serial(dt.datetime(2026, 10, 4, 10, 30, 7)),  # noqa: DTZ001 - Amsterdam wall time
        "yyyy-mm-dd hh:mm:ss",
    )
    assert _number(row["energy_kwh"]) == (20, "0.000")
    assert row["parking_s"][:3] == ("n", "900", "0")
    assert row["charging_s"][:3] == ("n", str(2 * 3600 + 30 * 60 + 7 - 900), "0")
    assert _number(row["energy_vat"]) == (1.05, "0.00")
    assert _number(row["total_excl_vat"]) == (7.41, "0.00")
    assert _number(row["total_vat"]) == (1.56, "0.00")
    assert _number(row["total_incl_vat"]) == (8.97, "0.00")
    assert row["status"][:2] == ("s", session.status)
    assert row["billed_as"][:2] == ("s", "invoice_line")
    assert row["billed_on"][:2] == ("s", session.invoice_lines.get().invoice.number)
    assert row["driver"][:2] == ("s", "'=HYPERLINK(1) O\"Brien; Jr")


def test_xlsx_leaves_a_cell_without_a_value_empty(billed_fleet):
    charging = ChargingSession.objects.get(fleet=billed_fleet, ended_at__isnull=True)
    _, rows = Workbook(_written(_request(billed_fleet, "xlsx"))).table("sessions")
    [row] = [row for row in rows if row["session_id"][1] == str(charging.pk)]

    assert "ended_at" not in row
    assert "total_excl_vat" not in row
    assert "billed_as" not in row
    assert row["started_at"][0] == "n"


def test_xlsx_about_sheet_names_the_zone_the_kind_the_period_and_each_column(billed_fleet):
    book = Workbook(_written(_request(billed_fleet, "xlsx")))

    about = [[cell[1] for cell in row.values()] for row in book.rows("About")]
    assert about[:4] == [
        ["Export", "sessions"],
        ["Period", "2026-10 (2026-10-01 to 2026-10-31)"],
        ["Times", "Times are in Europe/Amsterdam"],
        ["Rows", "23"],
    ]
    assert about[4] == ["Column", "Description"]
    described = {row[0]: row[1:] for row in about[5:]}
    assert list(described) == HEADERS
    assert described["started_at"] == ["In the fleet's zone."]
    assert described["total_vat"] == ["The VAT the session was charged."]
    assert described["plate"] == []


def test_xlsx_rows_past_the_row_limit_go_on_to_further_sheets_each_with_the_header(
    billed_fleet, monkeypatch
):
    monkeypatch.setattr(file_formats, "XLSX_MAX_ROWS", 5)

    book = Workbook(_written(_request(billed_fleet, "xlsx")))

    sheets = ["sessions", *(f"sessions {number}" for number in range(2, 7))]
    assert book.sheet_names == [*sheets, "About"]
    ids = []
    for name in sheets:
        headers, rows = book.table(name)
        assert headers == HEADERS
        assert len(rows) == (3 if name == "sessions 6" else 4)
        ids += [int(row["session_id"][1]) for row in rows]
    assert ids == _session_ids(billed_fleet)


def test_xlsx_of_exactly_a_full_sheet_has_no_empty_second_sheet(billed_fleet, monkeypatch):
    monkeypatch.setattr(file_formats, "XLSX_MAX_ROWS", 24)

    book = Workbook(_written(_request(billed_fleet, "xlsx")))

    assert book.sheet_names == ["sessions", "About"]
    assert len(book.table("sessions")[1]) == 23


def test_xlsx_of_the_same_rows_is_the_same_bytes_later_and_carries_no_current_time(
    billed_fleet,
):
    first = _written(_request(billed_fleet, "xlsx"))
    with time_machine.travel(AFTER_OCTOBER + dt.timedelta(days=1, seconds=1), tick=False):
        second = _written(_request(billed_fleet, "xlsx"))

    assert first == second
    book = Workbook(first)
    assert {entry.date_time[0] for entry in book.zip.infolist()} == {1980}
    core = book.zip.read("docProps/core.xml").decode()
    assert '<dcterms:created xsi:type="dcterms:W3CDTF">2026-10-31T23:00:00Z' in core


def test_xlsx_tells_its_progress_by_the_rows_written(billed_fleet, monkeypatch):
    monkeypatch.setattr(file_formats, "PROGRESS_EVERY_ROWS", 10)
    told = []

    export_write(
        request=_request(billed_fleet, "xlsx"),
        out=io.BytesIO(),
        requested_by_name="test",
        progress=told.append,
    )

    assert told == [10, 10, 3]


def test_xlsx_that_fails_midway_leaves_no_temporary_file(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def rows_until_the_database_fails():
        yield {"id": 1}
        yield {"id": 2}
        raise DatabaseError("connection lost")

    table = ExportTable(
        kind="sessions",
        columns=(Column("session_id", ValueType.INTEGER, "id"),),
        rows=rows_until_the_database_fails(),
        order=("id",),
    )

    with pytest.raises(DatabaseError):
        b"".join(file_formats.xlsx_chunks(table, zone=zoneinfo.ZoneInfo("UTC"), progress=None))

    assert list(tmp_path.iterdir()) == []


def test_xlsx_export_records_its_manifest_with_the_sha256_of_the_bytes(billed_fleet):
    content = _written(_request(billed_fleet, "xlsx"))

    manifest = ExportManifest.objects.get()
    assert manifest.file_format == "xlsx"
    assert manifest.file_name == f"{billed_fleet.slug}-sessions-2026-10.xlsx"
    assert manifest.sha256 == hashlib.sha256(content).hexdigest()
    assert manifest.size_bytes == len(content)
    assert manifest.row_count == 23
    assert not manifest.file


def test_xlsx_export_job_keeps_the_file_whose_bytes_match_its_manifest(
    billed_fleet, finance_user, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    monkeypatch.setattr(ExportManifest._meta.get_field("file"), "storage", storages["exports"])
    with django_capture_on_commit_callbacks(execute=False):
        job = export_job_start(
            request=_request(billed_fleet, "xlsx"),
            requested_by=finance_user,
            requested_by_name=finance_user.username,
        )

    job = export_job_run(job_id=job.pk)

    assert job.status == ExportJobStatus.DONE
    assert (job.rows_total, job.rows_done) == (23, 23)
    manifest = job.manifest
    kept = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert [path.name for path in kept] == [manifest.file.name.rsplit("/", 1)[-1]]
    content = kept[0].read_bytes()
    assert hashlib.sha256(content).hexdigest() == manifest.sha256
    assert manifest.size_bytes == len(content)
    assert Workbook(content).sheet_names == ["sessions", "About"]


# OCPI ----------------------------------------------------------------------------------------


def test_ocpi_file_is_one_cdr_per_session_in_the_table_order(billed_fleet):
    content = _written(_request(billed_fleet, "ocpi"))

    cdrs = json.loads(content)
    assert [cdr["id"] for cdr in cdrs] == [f"VT-{pk}" for pk in _session_ids(billed_fleet)]
    assert content.startswith(b"[{\n")
    assert content.endswith(b"}]\n")
    assert content.count(b"},\n{") == 22


def test_ocpi_cdr_holds_the_session_costs_as_exact_numbers(billed_fleet):
    session = ChargingSession.objects.get(fleet=billed_fleet, price_breakdown__isnull=False)
    content = _written(_request(billed_fleet, "ocpi"))

    [cdr] = [cdr for cdr in json.loads(content) if cdr["id"] == f"VT-{session.pk}"]
    assert cdr["total_cost"] == {"excl_vat": 7.41, "incl_vat": 8.97}
    assert cdr["total_parking_time"] == 0.25
    assert cdr["cdr_token"]["contract_id"] == session.driver.employee_number
    assert b'"excl_vat": 7.41,' in content
    assert b'"total_parking_time": 0.2500' in content


def test_ocpi_of_the_same_sessions_is_the_same_bytes(billed_fleet):
    assert _written(_request(billed_fleet, "ocpi")) == _written(_request(billed_fleet, "ocpi"))


def test_ocpi_reads_sessions_in_batches_and_tells_its_progress(
    billed_fleet, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(file_formats, "CDR_BATCH_SESSIONS", 10)
    monkeypatch.setattr(file_formats, "PROGRESS_EVERY_ROWS", 10)
    told = []
    table = _request(billed_fleet, "ocpi").table()

    with django_assert_num_queries(1 + 3):
        content = b"".join(
            file_formats.ocpi_chunks(table, fleet=billed_fleet, progress=told.append)
        )

    assert [cdr["id"] for cdr in json.loads(content)] == [
        f"VT-{pk}" for pk in _session_ids(billed_fleet)
    ]
    assert told == [10, 10, 3]


def _sessions_at_depot_chargers_add(fleet, count: int) -> None:
    """`count` sessions in October, each with its own token, charger and depot, priced by a
    published tariff: everything a CDR reads."""
    driver = ChargingSession.objects.filter(fleet=fleet).first().driver
    tariff = TariffFactory(fleet=fleet)
    TariffElementFactory(tariff=tariff)
    version = tariff_publish(tariff=tariff, effective_from=OCTOBER)
    start = OCTOBER + dt.timedelta(days=9, hours=6)
    for number in range(count):
        ChargingSessionFactory(
            fleet=fleet,
            driver=driver,
            token=ChargeTokenFactory(driver=driver),
            connector=ConnectorFactory(station=ChargingStationFactory(fleet=fleet)),
            tariff_version=version,
            started_at=start + dt.timedelta(hours=number),
            ended_at=start + dt.timedelta(hours=number, minutes=30),
        )


@pytest.mark.parametrize("more_sessions", [0, 30])
def test_ocpi_reads_a_constant_number_of_queries_whatever_the_sessions(
    billed_fleet, more_sessions, django_assert_num_queries
):
    _sessions_at_depot_chargers_add(billed_fleet, more_sessions)
    table = _request(billed_fleet, "ocpi").table()

    with django_assert_num_queries(2):
        content = b"".join(file_formats.ocpi_chunks(table, fleet=billed_fleet, progress=None))

    cdrs = json.loads(content)
    assert len(cdrs) == 23 + more_sessions
    if more_sessions:
        added = ChargingSession.objects.filter(fleet=billed_fleet, connector__isnull=False).first()
        [cdr] = [cdr for cdr in cdrs if cdr["id"] == f"VT-{added.pk}"]
        assert cdr["cdr_token"]["uid"] == added.token.uid
        assert cdr["cdr_location"]["id"] == added.connector.station.ocpp_identity
        assert cdr["cdr_location"]["name"] == added.connector.station.depot.name
        assert cdr["tariffs"] == [added.tariff_version.terms]
