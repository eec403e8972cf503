"""The columns of an export file and how each value is written as text: the same characters
whether Python writes the row or PostgreSQL formats it inside the COPY that streams the file.
Pure: values in, text out.

Text a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage
return) is written with a leading apostrophe; numbers, amounts and times never are.
"""

import datetime as dt
import enum
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_ESCAPE = "'"
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
DECIMAL_SEPARATORS = {".": "point", ",": "comma"}
ONE_SECOND = dt.timedelta(seconds=1)
SECONDS_PER_HOUR = Decimal(3600)


class ValueType(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    DATE = "date"


@dataclass(frozen=True)
class Column:
    """One column: its stable header (with its unit, e.g. `energy_kwh`), the type it is
    written as, and where its value comes from: the row's value named `source`, or a value
    computed from the row, by `compute` in Python and by the `sql` template (the row's values
    as `{name}`) in PostgreSQL, which must agree. A TEXT column `is_code` when its values
    come from a fixed list (a status, a currency): none starts like a formula, so they are
    written as they are, and an empty one as no value."""

    header: str
    type: ValueType
    source: str = ""
    places: int | None = None
    description: str = ""
    compute: Callable[[dict], object] | None = None
    sql: str = ""
    is_code: bool = False

    def value(self, row: dict):
        return self.compute(row) if self.compute is not None else row[self.source]

    def sql_value(self, references: dict[str, str]) -> str:
        return self.sql.format(**references) if self.sql else references[self.source]


@dataclass(frozen=True)
class CsvDialect:
    """How a fleet's spreadsheets read CSV: the delimiter, the decimal separator, and whether
    the file starts with a byte-order mark (Excel on Windows needs one to read UTF-8)."""

    delimiter: str = ","
    decimal_separator: str = "."
    bom: bool = False

    def problems(self) -> dict[str, str]:
        """What is wrong with this dialect, by field; empty when it can be written."""
        found = {}
        if self.delimiter not in DELIMITERS:
            found["delimiter"] = "The delimiter must be a comma, a semicolon or a tab."
        if self.decimal_separator not in DECIMAL_SEPARATORS:
            found["decimal_separator"] = "The decimal separator must be a point or a comma."
        elif self.decimal_separator == self.delimiter:
            found["decimal_separator"] = (
                "The decimal separator must differ from the delimiter, or amounts split in two."
            )
        return found


def seconds_of(duration: dt.timedelta | None) -> int | None:
    """Whole seconds of a duration, rounded down."""
    return None if duration is None else duration // ONE_SECOND


def seconds_of_hours(hours) -> int | None:
    """Hours (a decimal, or its text) as whole seconds, rounded half-up."""
    if hours is None or hours == "":
        return None
    return int((Decimal(str(hours)) * SECONDS_PER_HOUR).to_integral_value(ROUND_HALF_UP))


def decimal_of(value, places: int | None) -> Decimal | None:
    """A number as a Decimal with `places` digits after the point (rounded half-up), never
    negative zero; text and floats (SQLite computes in floats) are read by their digits."""
    if value is None or value == "":
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return abs(number) if number.is_zero() else number


def text_escaped(text: str) -> str:
    """Text as a spreadsheet shows it, never as a formula it would run."""
    return FORMULA_ESCAPE + text if text.startswith(FORMULA_STARTS) else text


def time_text(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """An instant in `zone` as ISO 8601 to the second, its offset written as PostgreSQL
    writes it: `2026-10-04T08:00:00+02`, with minutes only where the offset has them
    (`+05:30`)."""
    local = moment.astimezone(zone)
    offset_seconds = int(local.utcoffset().total_seconds())
    sign = "-" if offset_seconds < 0 else "+"
    hours, rest = divmod(abs(offset_seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    offset = f"{sign}{hours:02d}"
    if minutes or seconds:
        offset += f":{minutes:02d}"
    if seconds:
        offset += f":{seconds:02d}"
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
        f"T{local.hour:02d}:{local.minute:02d}:{local.second:02d}{offset}"
    )


def cell_text(column: Column, value, *, dialect: CsvDialect, zone: zoneinfo.ZoneInfo) -> str | None:
    """The value of `column` as a CSV cell's text, before quoting; None for no value."""
    if value is None:
        return None
    if column.type == ValueType.TEXT:
        return (str(value) or None) if column.is_code else text_escaped(str(value))
    if column.type == ValueType.INTEGER:
        return str(int(value))
    if column.type == ValueType.DECIMAL:
        text = format(decimal_of(value, column.places), "f")
        return text.replace(".", dialect.decimal_separator)
    if column.type == ValueType.DATETIME:
        return time_text(value, zone)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def csv_field(text: str | None, delimiter: str) -> str:
    """A cell as PostgreSQL's COPY writes it in CSV: nothing for no value, quoted when it
    holds the delimiter, a quote or a line break, or when it is empty text (which is how
    an empty text differs from no value)."""
    if text is None:
        return ""
    if not text or delimiter in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(cells: list[str | None], delimiter: str) -> str:
    return delimiter.join(csv_field(cell, delimiter) for cell in cells) + "\n"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


FORMULA_START_CODES = ", ".join(str(ord(start)) for start in FORMULA_STARTS)


def cell_sql(column: Column, expression: str, *, dialect: CsvDialect, exact: bool = False) -> str:
    """The SQL whose value COPY writes as `cell_text` does; the session's time zone must be
    the fleet's and its DateStyle ISO. `exact` says a DECIMAL value has its places already
    (a stored amount), so it needs no rounding."""
    if column.type == ValueType.TEXT:
        if column.is_code:
            return f"NULLIF(({expression})::text, '')"
        text = f"({expression})::text"
        return (
            f"CASE WHEN ascii({text}) IN ({FORMULA_START_CODES}) "
            f"THEN {_sql_literal(FORMULA_ESCAPE)} || {text} ELSE {text} END"
        )
    if column.type == ValueType.INTEGER:
        return f"({expression})::bigint"
    if column.type == ValueType.DECIMAL:
        if exact:
            number = f"({expression})"
        elif column.places is not None:
            number = f"round(({expression})::numeric, {int(column.places)})"
        else:
            number = f"({expression})::numeric"
        if dialect.decimal_separator != ".":
            return f"replace(({number})::text, '.', {_sql_literal(dialect.decimal_separator)})"
        return number
    if column.type == ValueType.DATETIME:
        return f"replace(date_trunc('second', {expression})::text, ' ', 'T')"
    return f"to_char({expression}, 'YYYY-MM-DD')"
