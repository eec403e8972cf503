"""DATEV Buchungsstapel (EXTF 700, format version 13): the pure writer proven byte for byte
against a golden file, its refusals naming the entry, the booking and the field, the split at
DATEV_MAX_ROWS rows; and the export through the service, the command, the Exports page and
the API, with the fleet's settings in the header."""

import datetime as dt
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest

from apps.exports import datev
from apps.exports.datev import (
    COLUMNS,
    DatevHeader,
    datev_files,
    datev_header_line,
    datev_rows,
    fiscal_year_start,
)
from apps.exports.exceptions import ExportDatevInvalid, ExportDatevUnencodable
from apps.exports.ledger import Booking, Entry, EntryKind, TaxedSide

GOLDEN = Path(__file__).parent / "golden" / "EXTF_Buchungsstapel_golden.csv"
OCTOBER_LAST = dt.date(2026, 10, 31)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
LONG_TEXT = (
    'Heimladen Jürgen Weiß, Straße "Am Fluß" 3, 12,5 kWh à 0,30 € \u2013 Oktober 2026 und mehr'
)

HEADER = DatevHeader(
    consultant_number=29098,
    client_number=55003,
    fiscal_year_start=dt.date(2026, 1, 1),
    account_length=4,
    first_day=dt.date(2026, 10, 1),
    last_day=OCTOBER_LAST,
    title="Voltop 2026-10",
    currency="EUR",
    created_at=dt.datetime(2026, 11, 1, 0, 0, 0, 250000, tzinfo=BERLIN),
)


def _entry(number: int, *bookings: Booking, document: str = "VT-2026-000001", **fields) -> Entry:
    values = {
        "kind": EntryKind.INVOICE,
        "number": number,
        "posting_date": OCTOBER_LAST,
        "document_date": OCTOBER_LAST,
        "document": document,
        "currency": "EUR",
        "bookings": bookings,
    }
    return Entry(**(values | fields))


def golden_entries() -> list[Entry]:
    """An invoice at two rates (automatic revenue accounts, no tax key), a credit note, a
    period's allocation with input VAT (tax key 9) to a cost center, a reimbursement with a
    long text in umlauts, ß, € and quotes, and a payment of more than a million."""
    return [
        _entry(
            1,
            Booking(
                debit_account="1400",
                credit_account="8400",
                amount=Decimal("119.00"),
                text="Rechnung VT-2026-000001 Jürgen Weiß 19 %",
                vat_rate=Decimal("19.00"),
                vat=Decimal("19.00"),
                vat_account="1776",
                taxed_side=TaxedSide.CREDIT,
            ),
            Booking(
                debit_account="1400",
                credit_account="8300",
                amount=Decimal("10.70"),
                text="Rechnung VT-2026-000001 Jürgen Weiß 7 %",
                vat_rate=Decimal("7.00"),
                vat=Decimal("0.70"),
                vat_account="1771",
                taxed_side=TaxedSide.CREDIT,
            ),
            posting_date=dt.date(2026, 10, 3),
            document_date=dt.date(2026, 10, 3),
        ),
        _entry(
            2,
            Booking(
                debit_account="8400",
                credit_account="1400",
                amount=Decimal("23.80"),
                text="Gutschrift CN-2026-000001",
                vat_rate=Decimal("19.00"),
                vat=Decimal("3.80"),
                vat_account="1776",
                taxed_side=TaxedSide.DEBIT,
            ),
            kind=EntryKind.CREDIT_NOTE,
            document="CN-2026-000001",
            posting_date=dt.date(2026, 10, 9),
        ),
        _entry(
            3,
            Booking(
                debit_account="4530",
                credit_account="1600",
                amount=Decimal("595.00"),
                text="Dienstladen KST-100 19 %",
                vat_rate=Decimal("19.00"),
                vat=Decimal("95.00"),
                vat_account="1576",
                taxed_side=TaxedSide.DEBIT,
                tax_code="9",
                cost_center="KST-100",
            ),
            kind=EntryKind.ALLOCATION,
            document="ALLOC-2026-10",
        ),
        _entry(
            4,
            Booking(
                debit_account="4530",
                credit_account="1740",
                amount=Decimal("3.75"),
                text=LONG_TEXT,
                cost_center="Außendienst",
            ),
            kind=EntryKind.REIMBURSEMENT,
            document="R17",
        ),
        _entry(
            5,
            Booking(
                debit_account="1200",
                credit_account="1400",
                amount=Decimal("1234567.89"),
                text="Zahlung VT-2026-000001",
            ),
            kind=EntryKind.PAYMENT,
            posting_date=dt.date(2026, 10, 1),
        ),
    ]


def golden_bytes() -> bytes:
    rows = datev_rows(golden_entries(), currency="EUR", account_length=4)
    [content] = datev_files(HEADER, rows)
    return content


def _fields(line: bytes) -> list[str]:
    return line.decode("cp1252").split(";")


# The writer --------------------------------------------------------------------------------


def test_the_batch_is_the_golden_file_byte_for_byte():
    assert golden_bytes() == GOLDEN.read_bytes()


def test_the_golden_file_is_cp1252_with_crlf_and_its_umlauts_sharp_s_and_euro_sign():
    content = GOLDEN.read_bytes()

    assert content.count(b"\r\n") == 2 + 6
    assert b"\n" not in content.replace(b"\r\n", b"")
    assert "Jürgen Weiß".encode("cp1252") in content
    assert b"\x80" in content  # the euro sign in cp1252
    assert "€".encode() not in content


def test_the_header_line_carries_the_31_fields_of_version_700():
    fields = datev_header_line(HEADER).split(";")

    assert len(fields) == 31
    assert fields[:6] == ['"EXTF"', "700", "21", '"Buchungsstapel"', "13", "20261101000000250"]
    assert fields[7] == '"RE"'
    assert fields[10:16] == ["29098", "55003", "20260101", "4", "20261001", "20261031"]
    assert fields[16] == '"Voltop 2026-10"'
    assert fields[18:22] == ["1", "0", "0", '"EUR"']


def test_the_column_headings_are_the_125_of_format_version_13():
    headings = GOLDEN.read_bytes().split(b"\r\n")[1]

    assert len(COLUMNS) == 125
    assert _fields(headings) == list(COLUMNS)
    assert COLUMNS[36] == "KOST1 - Kostenstelle"
    assert COLUMNS[113] == "Festschreibung"


def test_a_revenue_booking_is_an_s_row_with_the_revenue_account_as_contra_account():
    lines = golden_bytes().split(b"\r\n")

    fields = _fields(lines[2])
    assert fields[:14] == [
        "119,00",
        '"S"',
        "",
        "",
        "",
        "",
        "1400",
        "8400",
        "",
        "0310",
        '"VT-2026-000001"',
        "",
        "",
        '"Rechnung VT-2026-000001 Jürgen Weiß 19 %"',
    ]
    assert len(fields) == 125


def test_a_cost_booking_is_an_h_row_with_the_cost_account_its_tax_key_and_cost_center():
    fields = _fields(golden_bytes().split(b"\r\n")[5])

    assert fields[0:2] == ["595,00", '"H"']
    assert fields[6:11] == ["1600", "4530", '"9"', "3110", '"ALLOC-2026-10"']
    assert fields[36] == '"KST-100"'


def test_a_credit_note_credits_the_receivables_in_an_h_row():
    fields = _fields(golden_bytes().split(b"\r\n")[4])

    assert fields[0:2] == ["23,80", '"H"']
    assert fields[6:8] == ["1400", "8400"]


def test_a_text_longer_than_60_characters_is_cut_to_60_and_its_quotes_doubled():
    fields = _fields(golden_bytes().split(b"\r\n")[6])

    cut = LONG_TEXT[:60]
    assert len(cut) == 60
    assert fields[13] == '"' + cut.replace('"', '""') + '"'
    assert fields[36] == '"Außendienst"'


def test_amounts_have_a_decimal_comma_and_no_thousands_separator():
    fields = _fields(golden_bytes().split(b"\r\n")[7])

    assert fields[0:2] == ["1234567,89", '"S"']
    assert fields[6:10] == ["1200", "1400", "", "0110"]


@pytest.mark.parametrize(
    ("field", "character", "changes"),
    [
        ("Buchungstext", "Ł", {"text": "Ładowanie Łódź"}),
        ("Buchungstext", "🔌", {"text": "Laden 🔌"}),
        ("KOST1 - Kostenstelle", "Ł", {"cost_center": "Łódź"}),
    ],
)
def test_a_character_outside_cp1252_is_refused_naming_the_entry_booking_and_field(
    field, character, changes
):
    entries = golden_entries()
    payment = entries[4]
    booking = payment.bookings[0]
    entries[4] = _entry(
        5,
        Booking(**(booking.__dict__ | changes)),
        kind=payment.kind,
        posting_date=payment.posting_date,
    )

    with pytest.raises(ExportDatevUnencodable) as refused:
        datev_rows(entries, currency="EUR", account_length=4)

    assert refused.value.code == "exports.datev_unencodable"
    assert refused.value.field == field
    assert refused.value.message.startswith(
        f"Entry 5 (document 'VT-2026-000001'), booking 1, {field}: {character!r} "
        f"(U+{ord(character):04X}) is not in Windows-1252 (cp1252)"
    )
    assert "never replaced" in refused.value.message


def test_a_document_number_with_characters_datev_refuses_in_belegfeld_1_is_refused():
    entry = _entry(
        7,
        Booking(debit_account="1200", credit_account="1400", amount=Decimal("1.00"), text="x"),
        document="VT 2026_1",
    )

    with pytest.raises(ExportDatevInvalid, match=r"Entry 7 .*booking 1, Belegfeld 1: at most 36"):
        datev_rows([entry], currency="EUR", account_length=4)


def test_an_account_longer_than_the_fleets_account_length_is_refused():
    entry = _entry(
        2,
        Booking(debit_account="120000", credit_account="1400", amount=Decimal("1.00"), text=""),
    )

    with pytest.raises(ExportDatevInvalid) as refused:
        datev_rows([entry], currency="EUR", account_length=4)

    assert refused.value.field == "Konto"
    assert "at most 4 digits" in refused.value.message


def test_a_line_break_in_a_text_is_refused_not_replaced():
    entry = _entry(
        2,
        Booking(debit_account="1200", credit_account="1400", amount=Decimal("1.00"), text="a\nb"),
    )

    with pytest.raises(ExportDatevInvalid, match="Buchungstext: a line break"):
        datev_rows([entry], currency="EUR", account_length=4)


def test_a_booking_of_zero_has_no_row():
    entry = _entry(
        2,
        Booking(debit_account="4530", credit_account="1600", amount=Decimal("0.00"), text=""),
        Booking(debit_account="4530", credit_account="1600", amount=Decimal("0.01"), text=""),
    )

    rows = datev_rows([entry], currency="EUR", account_length=4)

    assert [(row.entry, row.booking, row.amount) for row in rows] == [(2, 2, Decimal("0.01"))]


def test_an_entry_in_another_currency_is_refused():
    entry = _entry(
        3,
        Booking(debit_account="1200", credit_account="1400", amount=Decimal("1.00"), text=""),
        currency="CHF",
    )

    with pytest.raises(ExportDatevInvalid, match="CHF differs from the batch's currency EUR"):
        datev_rows([entry], currency="EUR", account_length=4)


def test_more_rows_than_the_limit_are_split_into_files_each_with_its_own_header(monkeypatch):
    monkeypatch.setattr(datev, "DATEV_MAX_ROWS", 2)
    rows = datev_rows(golden_entries(), currency="EUR", account_length=4)

    files = datev_files(HEADER, rows)

    assert len(rows) == 6
    assert [content.count(b"\r\n") - 2 for content in files] == [2, 2, 2]
    for part, content in enumerate(files, start=1):
        header, headings = content.split(b"\r\n")[:2]
        assert _fields(header)[16] == f'"Voltop 2026-10 {part}/3"'
        assert _fields(header)[10:16] == datev_header_line(HEADER).split(";")[10:16]
        assert _fields(headings) == list(COLUMNS)
    assert (
        b"".join(content.split(b"\r\n", 2)[2] for content in files)
        == (GOLDEN.read_bytes().split(b"\r\n", 2)[2])
    )


def test_no_rows_give_one_file_of_the_header_and_the_headings():
    [content] = datev_files(HEADER, [])

    assert content.count(b"\r\n") == 2


def test_days_across_two_fiscal_years_are_refused():
    header = DatevHeader(**(HEADER.__dict__ | {"last_day": dt.date(2027, 1, 2)}))

    with pytest.raises(ExportDatevInvalid, match="one fiscal year beginning 2026-01-01"):
        datev_files(header, [])


@pytest.mark.parametrize(
    ("day", "start_month", "start"),
    [
        (dt.date(2026, 10, 1), 1, dt.date(2026, 1, 1)),
        (dt.date(2026, 10, 1), 7, dt.date(2026, 7, 1)),
        (dt.date(2026, 3, 31), 7, dt.date(2025, 7, 1)),
        (dt.date(2026, 7, 1), 7, dt.date(2026, 7, 1)),
    ],
)
def test_the_fiscal_year_starts_in_the_fleets_month_on_or_before_the_day(day, start_month, start):
    assert fiscal_year_start(day=day, start_month=start_month) == start
