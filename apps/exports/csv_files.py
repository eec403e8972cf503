"""CSV files of an export table, streamed as bytes: on PostgreSQL by one COPY whose SELECT
formats every cell (the fast path), elsewhere row by row in Python. Both write the same
bytes for the same rows."""

import contextlib
import zoneinfo
from collections.abc import Iterator

import psycopg
from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.db.models import DecimalField

from apps.exports.columns import Column, CsvDialect, ValueType, cell_sql, cell_text, csv_line
from apps.exports.selectors import ExportTable

BOM = "\ufeff".encode()
CHUNK_BYTES = 256 * 1024
PYTHON_BATCH_ROWS = 2000


def csv_header(table: ExportTable, dialect: CsvDialect) -> bytes:
    start = BOM if dialect.bom else b""
    return start + csv_line(table.headers, dialect.delimiter).encode()


def csv_rows_python(
    table: ExportTable, *, dialect: CsvDialect, zone: zoneinfo.ZoneInfo
) -> Iterator[bytes]:
    """The rows' lines, formatted in Python, in batches."""
    columns, delimiter = table.columns, dialect.delimiter
    lines = []
    values = table.values()
    rows = values.iterator(chunk_size=PYTHON_BATCH_ROWS) if table.is_query else values
    for row in rows:
        cells = [
            cell_text(column, column.value(row), dialect=dialect, zone=zone) for column in columns
        ]
        lines.append(csv_line(cells, delimiter))
        if len(lines) == PYTHON_BATCH_ROWS:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


def _stored_with_places(model, column: Column) -> bool:
    """Whether the column's value is a stored decimal field with the column's places."""
    if column.type != ValueType.DECIMAL or not column.source or column.places is None:
        return False
    *hops, name = column.source.split("__")
    try:
        for hop in hops:
            model = model._meta.get_field(hop).related_model
        field = model._meta.get_field(name)
    except (FieldDoesNotExist, AttributeError):
        return False
    return isinstance(field, DecimalField) and field.decimal_places == column.places


def copy_statement(table: ExportTable, dialect: CsvDialect) -> tuple[str, tuple]:
    """The COPY … TO STDOUT that writes the table's rows as CSV lines, and its parameters."""
    query = table.values().query
    references = {name: f"export_row.{connection.ops.quote_name(name)}" for name in table.sources}
    model = table.rows.model
    cells = ", ".join(
        cell_sql(
            column,
            column.sql_value(references),
            dialect=dialect,
            exact=_stored_with_places(model, column),
        )
        for column in table.columns
    )
    order = ", ".join(references[name] for name in table.order)
    inner, params = query.sql_with_params()
    delimiter = "E'\\t'" if dialect.delimiter == "\t" else f"'{dialect.delimiter}'"
    statement = (
        f"COPY (SELECT {cells} FROM ({inner}) AS export_row "  # noqa: S608 - column SQL is built from fixed templates, values are parameters
        f"ORDER BY {order}) TO STDOUT WITH (FORMAT csv, DELIMITER {delimiter})"
    )
    return statement, params


def csv_rows_copy(
    table: ExportTable, *, dialect: CsvDialect, zone: zoneinfo.ZoneInfo
) -> Iterator[bytes]:
    """The rows' lines as PostgreSQL's COPY writes them, in chunks. Must run in a transaction
    (the fleet's zone is set for the COPY alone, and goes with the transaction's rollback if
    the COPY does not finish). Closed early (a client that went away), the COPY is cancelled
    and read to its end, so the connection can be used again once the transaction is rolled
    back."""
    statement, params = copy_statement(table, dialect)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('TimeZone'), current_setting('DateStyle')")
        connection_zone, connection_date_style = cursor.fetchone()
        cursor.execute(
            "SELECT set_config('TimeZone', %s, true), set_config('DateStyle', 'ISO, YMD', true)",
            [zone.key],
        )
        yield from _copy_chunks(cursor, statement, params)
        cursor.execute(
            "SELECT set_config('TimeZone', %s, true), set_config('DateStyle', %s, true)",
            [connection_zone, connection_date_style],
        )


def _copy_chunks(cursor, statement: str, params) -> Iterator[bytes]:
    with cursor.cursor.copy(statement, params) as copy:
        try:
            chunk, size = [], 0
            for data in copy:
                chunk.append(data)
                size += len(data)
                if size >= CHUNK_BYTES:
                    yield b"".join(chunk)
                    chunk, size = [], 0
            if chunk:
                yield b"".join(chunk)
        except GeneratorExit:
            cursor.cursor.connection.cancel_safe()
            with contextlib.suppress(psycopg.Error):
                for _ in copy:
                    pass
            raise


def csv_rows(
    table: ExportTable, *, dialect: CsvDialect, zone: zoneinfo.ZoneInfo
) -> Iterator[bytes]:
    """The rows' lines, by COPY on PostgreSQL where the rows are a query."""
    if connection.vendor == "postgresql" and table.is_query:
        return csv_rows_copy(table, dialect=dialect, zone=zone)
    return csv_rows_python(table, dialect=dialect, zone=zone)
