"""XLSX and OCPI CDR JSON files of an export table, written as bytes.

XLSX: typed cells (text, numbers with their places, dates and times in the fleet's zone),
written row by row in xlsxwriter's constant-memory mode to a temporary file, so a million rows
take no more memory than ten; past Excel's row limit the rows go on to another sheet. An
"About" sheet says the zone of the times, the kind, the period and what each column means.

OCPI: a JSON array of OCPI 2.2.1 CDRs, one per session row, in the table's order.

The same rows always give the same bytes."""

import datetime as dt
import tempfile
import zoneinfo
from collections.abc import Callable, Iterable, Iterator

import xlsxwriter

from apps.charging.models import ChargingSession
from apps.charging.selectors import charging_session_as_cdr
from apps.exports.columns import Column, ValueType, decimal_of, text_escaped
from apps.exports.periods import ExportPeriod
from apps.exports.selectors import ExportTable
from apps.fleets.models import Fleet
from voltop.core.json_text import json_text

Progress = Callable[[int], None]

XLSX_MAX_ROWS = 1_048_576
XLSX_CHUNK_BYTES = 1024 * 1024
XLSX_CREATED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
XLSX_DATE_FORMAT = "yyyy-mm-dd"
XLSX_MIN_WIDTHS = {ValueType.DATETIME: 20, ValueType.DATE: 12}
ABOUT_SHEET = "About"
ROWS_READ_AT_ONCE = 2000
PROGRESS_EVERY_ROWS = 2000
CDR_BATCH_SESSIONS = 1000
CDR_RELATED = ("fleet", "driver", "token", "tariff_version", "connector__station__depot")


def _table_rows(table: ExportTable, chunk_size: int) -> Iterable[dict]:
    values = table.values()
    return values.iterator(chunk_size=chunk_size) if table.is_query else values


class _ProgressCounter:
    """Tells `progress` how many rows were written, every PROGRESS_EVERY_ROWS rows and once
    at the end for the rest."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.pending = 0

    def add(self, rows: int) -> None:
        self.pending += rows
        if self.pending >= PROGRESS_EVERY_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.progress is not None and self.pending:
            self.progress(self.pending)
        self.pending = 0


# XLSX -----------------------------------------------------------------------------------------


class _XlsxCells:
    """The workbook's cell formats, one per column, and how each column's value is written."""

    def __init__(self, workbook, columns: tuple[Column, ...], zone: zoneinfo.ZoneInfo):
        self.zone = zone
        self.header = workbook.add_format({"bold": True})
        self.formats = [workbook.add_format(self._format_of(column)) for column in columns]

    @staticmethod
    def _format_of(column: Column) -> dict:
        if column.type == ValueType.INTEGER:
            return {"num_format": "0"}
        if column.type == ValueType.DECIMAL and column.places is not None:
            return {"num_format": "0." + "0" * column.places if column.places else "0"}
        if column.type == ValueType.DATETIME:
            return {"num_format": XLSX_DATETIME_FORMAT}
        if column.type == ValueType.DATE:
            return {"num_format": XLSX_DATE_FORMAT}
        return {}

    def write(self, sheet, row: int, index: int, column: Column, value) -> None:
        if value is None:
            return
        cell_format = self.formats[index]
        if column.type == ValueType.TEXT:
            text = str(value)
            if text:
                sheet.write_string(row, index, text_escaped(text))
        elif column.type == ValueType.INTEGER:
            sheet.write_number(row, index, int(value), cell_format)
        elif column.type == ValueType.DECIMAL:
            sheet.write_number(row, index, float(decimal_of(value, column.places)), cell_format)
        elif column.type == ValueType.DATETIME:
            local = value.astimezone(self.zone).replace(tzinfo=None)
            sheet.write_datetime(row, index, local, cell_format)
        else:
            sheet.write_datetime(row, index, value, cell_format)


def _xlsx_sheet_add(workbook, table: ExportTable, cells: _XlsxCells, number: int):
    """A sheet of rows, its header bold and frozen, its columns as wide as their headers."""
    name = str(table.kind) if number == 1 else f"{table.kind} {number}"
    sheet = workbook.add_worksheet(name)
    for index, column in enumerate(table.columns):
        width = max(len(column.header) + 2, XLSX_MIN_WIDTHS.get(column.type, 0))
        sheet.set_column(index, index, width)
        sheet.write_string(0, index, column.header, cells.header)
    sheet.freeze_panes(1, 0)
    return sheet


def _period_text(period: ExportPeriod) -> str:
    days = f"{period.first_day:%Y-%m-%d} to {period.last_day:%Y-%m-%d}"
    return f"{period.label} ({days})" if period.is_billing_period else days


def _xlsx_about_add(
    workbook,
    table: ExportTable,
    cells: _XlsxCells,
    *,
    zone: zoneinfo.ZoneInfo,
    period: ExportPeriod | None,
    rows: int,
) -> None:
    """The "About" sheet: the zone of the times, the export's kind and period, its rows, and
    each column's description."""
    sheet = workbook.add_worksheet(ABOUT_SHEET)
    facts = [
        ("Export", str(table.kind)),
        ("Period", _period_text(period) if period is not None else ""),
        ("Times", f"Times are in {zone.key}"),
    ]
    for row, (name, text) in enumerate(facts):
        sheet.write_string(row, 0, name, cells.header)
        if text:
            sheet.write_string(row, 1, text)
    sheet.write_string(len(facts), 0, "Rows", cells.header)
    sheet.write_number(len(facts), 1, rows)
    first = len(facts) + 2
    sheet.write_string(first, 0, "Column", cells.header)
    sheet.write_string(first, 1, "Description", cells.header)
    for offset, column in enumerate(table.columns, start=1):
        sheet.write_string(first + offset, 0, column.header)
        if column.description:
            sheet.write_string(first + offset, 1, column.description)
    sheet.set_column(0, 0, max(len(column.header) for column in table.columns) + 2)
    sheet.set_column(1, 1, 60)


def _xlsx_created(period: ExportPeriod | None) -> dt.datetime:
    """The workbook's creation time as its properties say: the end of the period (in UTC,
    as xlsxwriter writes it), never the clock, so the same rows give the same bytes."""
    moment = period.end if period is not None else XLSX_CREATED
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def xlsx_chunks(
    table: ExportTable,
    *,
    zone: zoneinfo.ZoneInfo,
    progress: Progress | None,
    period: ExportPeriod | None = None,
) -> Iterator[bytes]:
    """The table as an XLSX workbook's bytes, in chunks of XLSX_CHUNK_BYTES. Times are written
    in `zone`; each sheet holds at most XLSX_MAX_ROWS rows, its header included. xlsxwriter's
    files of rows go in a directory of their own, removed however the writing ends."""
    counter = _ProgressCounter(progress)
    with (
        tempfile.TemporaryDirectory(prefix="voltop-xlsx-") as scratch,
        tempfile.TemporaryFile(dir=scratch) as out,
    ):
        workbook = xlsxwriter.Workbook(out, {"constant_memory": True, "tmpdir": scratch})
        workbook.set_properties({"title": str(table.kind), "created": _xlsx_created(period)})
        cells = _XlsxCells(workbook, table.columns, zone)
        sheets = 1
        sheet = _xlsx_sheet_add(workbook, table, cells, sheets)
        sheet_row = 1
        written = 0
        for values in _table_rows(table, ROWS_READ_AT_ONCE):
            if sheet_row == XLSX_MAX_ROWS:
                sheets += 1
                sheet = _xlsx_sheet_add(workbook, table, cells, sheets)
                sheet_row = 1
            for index, column in enumerate(table.columns):
                cells.write(sheet, sheet_row, index, column, column.value(values))
            sheet_row += 1
            written += 1
            counter.add(1)
        _xlsx_about_add(workbook, table, cells, zone=zone, period=period, rows=written)
        workbook.close()
        counter.flush()
        out.seek(0)
        while chunk := out.read(XLSX_CHUNK_BYTES):
            yield chunk


# OCPI CDRs ------------------------------------------------------------------------------------


def _cdr_batch(fleet: Fleet, ids: list[int]) -> bytes:
    """The CDRs of the sessions `ids`, in that order, read in one query."""
    sessions = ChargingSession.objects.filter(fleet=fleet, pk__in=ids).select_related(*CDR_RELATED)
    by_id = {session.pk: session for session in sessions}
    return ",\n".join(json_text(charging_session_as_cdr(by_id[pk])) for pk in ids).encode()


def _id_batches(table: ExportTable) -> Iterator[list[int]]:
    batch: list[int] = []
    for values in _table_rows(table, CDR_BATCH_SESSIONS):
        batch.append(values["id"])
        if len(batch) == CDR_BATCH_SESSIONS:
            yield batch
            batch = []
    if batch:
        yield batch


def ocpi_chunks(table: ExportTable, *, fleet: Fleet, progress: Progress | None) -> Iterator[bytes]:
    """The table's sessions as a JSON array of OCPI 2.2.1 CDRs, in the table's order, read
    CDR_BATCH_SESSIONS at a time."""
    counter = _ProgressCounter(progress)
    yield b"["
    for number, ids in enumerate(_id_batches(table)):
        batch = _cdr_batch(fleet, ids)
        yield batch if number == 0 else b",\n" + batch
        counter.add(len(ids))
    counter.flush()
    yield b"]\n"
