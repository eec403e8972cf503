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
    written as they are."""

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


def cell_text(column: Column, value, *, dialect: CsvDialect, zone: zoneinfo.ZoneInfo) -> str:
    """The value of `column` as a CSV cell's text, before quoting; None is empty."""
    if value is None:
        return ""
    if column.type == ValueType.TEXT:
        return str(value) if column.is_code else text_escaped(str(value))
    if column.type == ValueType.INTEGER:
        return str(int(value))
    if column.type == ValueType.DECIMAL:
        text = format(decimal_of(value, column.places), "f")
        return text.replace(".", dialect.decimal_separator)
    if column.type == ValueType.DATETIME:
        return value.astimezone(zone).isoformat(timespec="seconds")
    return value.isoformat()


def csv_field(text: str, delimiter: str) -> str:
    """A cell quoted as CSV needs it (as PostgreSQL's COPY quotes): when it holds the
    delimiter, a quote or a line break."""
    if delimiter in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(cells: list[str], delimiter: str) -> str:
    return delimiter.join(csv_field(cell, delimiter) for cell in cells) + "\n"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


FORMULA_START_CODES = ", ".join(str(ord(start)) for start in FORMULA_STARTS)


def cell_sql(column: Column, expression: str, *, dialect: CsvDialect) -> str:
    """The SQL that writes `expression` (the column's value) as `cell_text` does; the
    session's time zone must be the fleet's. NULL stands for an empty cell."""
    if column.type == ValueType.TEXT:
        text = f"({expression})::text"
        if column.is_code:
            return f"NULLIF({text}, '')"
        return (
            f"CASE WHEN ascii({text}) IN ({FORMULA_START_CODES}) "
            f"THEN {_sql_literal(FORMULA_ESCAPE)} || {text} ELSE NULLIF({text}, '') END"
        )
    if column.type == ValueType.INTEGER:
        return f"(({expression})::bigint)::text"
    if column.type == ValueType.DECIMAL:
        number = f"({expression})::numeric"
        if column.places is not None:
            number = f"round({number}, {int(column.places)})"
        text = f"({number})::text"
        if dialect.decimal_separator != ".":
            text = f"replace({text}, '.', {_sql_literal(dialect.decimal_separator)})"
        return text
    if column.type == ValueType.DATETIME:
        return f"to_char({expression}, 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM')"
    return f"to_char({expression}, 'YYYY-MM-DD')"
