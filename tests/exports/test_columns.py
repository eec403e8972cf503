"""How a cell is written: times with their offset as PostgreSQL writes it, empty text apart
from no value, quoting, and the escaping of text a spreadsheet would run."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from apps.exports.columns import (
    Column,
    CsvDialect,
    ValueType,
    cell_text,
    csv_field,
    time_text,
)

MOMENT = dt.datetime(2026, 7, 1, 6, 30, 15, 999_999, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("UTC", "2026-07-01T06:30:15+00"),
        ("Europe/Amsterdam", "2026-07-01T08:30:15+02"),
        ("Asia/Kolkata", "2026-07-01T12:00:15+05:30"),
        ("America/St_Johns", "2026-07-01T04:00:15-02:30"),
        ("America/New_York", "2026-07-01T02:30:15-04"),
    ],
)
def test_a_time_is_written_in_the_zone_to_the_second_with_its_offset(zone, expected):
    assert time_text(MOMENT, zoneinfo.ZoneInfo(zone)) == expected


def test_a_winter_time_carries_the_winter_offset():
    winter = dt.datetime(2026, 1, 15, 7, 0, tzinfo=dt.UTC)

    assert time_text(winter, zoneinfo.ZoneInfo("Europe/Amsterdam")) == "2026-01-15T08:00:00+01"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ""),
        ("", '""'),
        ("plain", "plain"),
        ("a;b", '"a;b"'),
        ('say "hi"', '"say ""hi"""'),
        ("two\nlines", '"two\nlines"'),
        ("carriage\rreturn", '"carriage\rreturn"'),
    ],
)
def test_cells_are_quoted_as_copy_quotes_them(text, expected):
    assert csv_field(text, ";") == expected


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_text_starting_like_a_formula_is_escaped_and_a_negative_amount_is_not(start):
    dialect, zone = CsvDialect(), zoneinfo.ZoneInfo("UTC")
    text = Column("name", ValueType.TEXT, "name")
    amount = Column("amount", ValueType.DECIMAL, "amount", places=2)

    assert cell_text(text, f"{start}SUM(A1)", dialect=dialect, zone=zone) == f"'{start}SUM(A1)"
    assert cell_text(amount, Decimal("-1.5"), dialect=dialect, zone=zone) == "-1.50"


def test_a_code_is_written_as_it_is():
    code = Column("status", ValueType.TEXT, "status", is_code=True)

    text = cell_text(code, "issued", dialect=CsvDialect(), zone=zoneinfo.ZoneInfo("UTC"))

    assert text == "issued"


def test_an_empty_code_is_no_value():
    code = Column("price_basis", ValueType.TEXT, "price_basis", is_code=True)

    assert cell_text(code, "", dialect=CsvDialect(), zone=zoneinfo.ZoneInfo("UTC")) is None
