"""DATEV Buchungsstapel (EXTF 700, format version 13): the pure writer proven byte for byte
against a golden file, its refusals naming the entry, the booking and the field, the split at
DATEV_MAX_ROWS rows; and the export through the service, the command, the Exports page and
the API, with the fleet's settings in the header."""

import datetime as dt
import hashlib
import io
import zipfile
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from apps.exports import datev, selectors
from apps.exports.choices import ExportJobStatus
from apps.exports.datev import (
    COLUMNS,
    DatevHeader,
    datev_files,
    datev_header_line,
    datev_rows,
    fiscal_year_start,
)
from apps.exports.exceptions import (
    ExportDatevInvalid,
    ExportDatevSettingsMissing,
    ExportDatevUnencodable,
    ExportPeriodInvalid,
)
from apps.exports.journal import ledger_entries
from apps.exports.ledger import Booking, Entry, EntryKind, TaxedSide
from apps.exports.models import ExportJob, ExportManifest
from apps.exports.services import (
    export_job_run,
    export_job_start,
    export_request_check,
    export_write,
)
from apps.fleets.choices import MembershipRole
from apps.fleets.models import VatRateAccounts
from tests.factories import MembershipFactory, StaffUserFactory, UserFactory

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


# The export ---------------------------------------------------------------------------------

NOVEMBER = ("--from", "2026-11-01", "--to", "2026-11-30")
IN_DECEMBER = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
DATEV_TYPE = "text/csv; charset=windows-1252"
DATEV_EXPORT = "/api/v1/fleet/exports/datev/"


@pytest.fixture
def datev_fleet(billed_fleet):
    """The billed fleet (its October invoiced on 3 November) with DATEV settings, a fiscal
    year from July, and accounts for its VAT rate of 21 %; the clock in December."""
    billed_fleet.datev_consultant_number = 29098
    billed_fleet.datev_client_number = 55003
    billed_fleet.fiscal_year_start_month = 7
    billed_fleet.account_length = 4
    billed_fleet.save()
    VatRateAccounts.objects.create(
        fleet=billed_fleet,
        vat_rate=Decimal("21.00"),
        revenue_account="8200",
        vat_account="1770",
        input_vat_account="1570",
        input_tax_code="9",
    )
    with time_machine.travel(IN_DECEMBER, tick=False):
        yield billed_fleet


def _export(*arguments: str) -> str:
    err = io.StringIO()
    call_command("export", *arguments, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def _datev_request(fleet, **days):
    return export_request_check(
        fleet=fleet,
        kind="datev",
        file_format="datev",
        role=MembershipRole.FINANCE,
        first_day=days.get("first_day", "2026-11-01"),
        last_day=days.get("last_day", "2026-11-30"),
    )


def _lines(content: bytes) -> list[str]:
    text = content.decode("cp1252")
    assert text.endswith("\r\n")
    return text[:-2].split("\r\n")


def _nothing_recorded() -> bool:
    return not ExportManifest.objects.exists() and not ExportJob.objects.exists()


@pytest.mark.django_db
def test_the_command_writes_the_batch_with_the_fleets_settings_in_its_header(datev_fleet, tmp_path):
    target = tmp_path / "batch.csv"

    summary = _export("datev", "--fleet", datev_fleet.slug, *NOVEMBER, "-o", str(target))

    content = target.read_bytes()
    lines = _lines(content)
    header = lines[0].split(";")
    assert header[10:16] == ["29098", "55003", "20260701", "4", "20261101", "20261130"]
    assert header[5] == "20261201000000000"
    assert header[16] == '"Voltop 20261101-20261130"'
    assert header[20:22] == ["0", '"EUR"']
    assert lines[1].split(";") == list(COLUMNS)
    rows = [line.split(";") for line in lines[2:]]
    assert rows
    assert all(len(row) == 125 for row in rows)
    assert all(row[1] in ('"S"', '"H"') for row in rows)
    assert all(row[9].endswith("11") and len(row[9]) == 4 for row in rows)
    manifest = ExportManifest.objects.get()
    name = f"EXTF_Buchungsstapel_{datev_fleet.slug}_2026-11-01_2026-11-30.csv"
    assert (manifest.file_name, manifest.content_type) == (name, DATEV_TYPE)
    assert manifest.row_count == len(rows)
    assert manifest.gross_total == sum(
        (Decimal(row[0].replace(",", ".")) for row in rows), Decimal(0)
    )
    assert summary.startswith(f"{name}: {len(rows)} rows, {len(content)} bytes")


@pytest.mark.django_db
def test_the_same_request_gives_the_same_bytes(datev_fleet):
    first, second = io.BytesIO(), io.BytesIO()

    export_write(request=_datev_request(datev_fleet), out=first, requested_by_name="test")
    export_write(request=_datev_request(datev_fleet), out=second, requested_by_name="test")

    assert first.getvalue() == second.getvalue()


@pytest.mark.django_db
def test_each_booking_of_the_ledger_is_one_row_with_its_gross_amount(datev_fleet):
    request = _datev_request(datev_fleet)
    out = io.BytesIO()

    export_write(request=request, out=out, requested_by_name="test")

    entries = ledger_entries(fleet=datev_fleet, period=request.period)
    bookings = [booking for entry in entries for booking in entry.bookings if booking.amount]
    rows = [line.split(";") for line in _lines(out.getvalue())[2:]]
    assert [row[0] for row in rows] == [
        f"{booking.amount:.2f}".replace(".", ",") for booking in bookings
    ]
    assert {row[6] for row in rows} | {row[7] for row in rows} <= {
        "1200", "1400", "1570", "1600", "1740", "4530", "8200",
    }  # fmt: skip


@pytest.mark.django_db
def test_more_rows_than_a_file_holds_are_a_zip_of_files_each_with_its_own_header(
    datev_fleet, tmp_path, monkeypatch
):
    single = io.BytesIO()
    export_write(request=_datev_request(datev_fleet), out=single, requested_by_name="test")
    all_rows = _lines(single.getvalue())[2:]
    monkeypatch.setattr(datev, "DATEV_MAX_ROWS", 2)
    target = tmp_path / "batch.zip"

    _export("datev", "--fleet", datev_fleet.slug, *NOVEMBER, "-o", str(target))

    manifest = ExportManifest.objects.latest("pk")
    stem = f"EXTF_Buchungsstapel_{datev_fleet.slug}_2026-11-01_2026-11-30"
    assert (manifest.file_name, manifest.content_type) == (f"{stem}.zip", "application/zip")
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        files = [_lines(archive.read(name)) for name in names]
    parts = -(-len(all_rows) // 2)
    width = len(str(parts))
    assert names == [f"{stem}_{part:0{width}d}.csv" for part in range(1, parts + 1)]
    for part, lines in enumerate(files, start=1):
        title = lines[0].split(";")[16]
        assert title.startswith('"Voltop 2026110')
        assert title.endswith(f' {part}/{parts}"')
        assert len(title) - 2 <= 30
        assert lines[1].split(";") == list(COLUMNS)
        assert 1 <= len(lines) - 2 <= 2
    assert [row for lines in files for row in lines[2:]] == all_rows
    assert manifest.row_count == len(all_rows)


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["datev_consultant_number", "datev_client_number"])
def test_a_fleet_without_datev_settings_is_refused_naming_the_field(datev_fleet, tmp_path, missing):
    setattr(datev_fleet, missing, None)
    datev_fleet.save()
    target = tmp_path / "batch.csv"

    with pytest.raises(ExportDatevSettingsMissing) as refused:
        _datev_request(datev_fleet)
    with pytest.raises(CommandError, match=f"^{missing}: The fleet .* has no DATEV"):
        _export("datev", "--fleet", datev_fleet.slug, *NOVEMBER, "-o", str(target))

    assert refused.value.field == missing
    assert refused.value.code == "exports.datev_settings_missing"
    assert list(tmp_path.iterdir()) == []
    assert _nothing_recorded()


@pytest.mark.django_db
def test_days_across_two_fiscal_years_are_refused_before_anything_is_written(datev_fleet):
    with pytest.raises(ExportPeriodInvalid) as refused:
        _datev_request(datev_fleet, first_day="2026-06-01", last_day="2026-07-31")

    assert refused.value.field == "to"
    assert "runs into the one beginning 2026-07-01" in refused.value.message
    assert _nothing_recorded()


def _entries_with_a_polish_text(fleet, period):
    return [
        _entry(
            1,
            Booking(
                debit_account="1200",
                credit_account="1400",
                amount=Decimal("5.00"),
                text="Zahlung Łukasz",
            ),
            posting_date=dt.date(2026, 11, 4),
        )
    ]


@pytest.mark.django_db
def test_a_character_outside_cp1252_leaves_no_file_and_no_manifest(
    datev_fleet, tmp_path, monkeypatch
):
    monkeypatch.setattr(selectors, "ledger_entries", _entries_with_a_polish_text)
    target = tmp_path / "batch.csv"

    with pytest.raises(CommandError, match=r"^Buchungstext: Entry 1 .*'Ł' \(U\+0141\)"):
        _export("datev", "--fleet", datev_fleet.slug, *NOVEMBER, "-o", str(target))

    assert list(tmp_path.iterdir()) == []
    assert _nothing_recorded()


@pytest.mark.django_db
def test_a_character_outside_cp1252_fails_a_background_job_without_a_file(datev_fleet, monkeypatch):
    monkeypatch.setattr(selectors, "ledger_entries", _entries_with_a_polish_text)
    request = _datev_request(datev_fleet)
    job = export_job_start(request=request, requested_by_name="test")

    job = export_job_run(job_id=job.pk)

    assert job.status == ExportJobStatus.FAILED
    assert "U+0141" in job.error
    assert not ExportManifest.objects.exists()


@pytest.mark.django_db
def test_the_exports_page_delivers_the_batch_and_shows_a_refusal_on_the_page(
    client, datev_fleet, monkeypatch
):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=datev_fleet, role=MembershipRole.FINANCE)
    client.force_login(user)
    form = {
        "fleet": datev_fleet.pk,
        "kind": "datev",
        "file_format": "datev",
        "first_day": "2026-11-01",
        "last_day": "2026-11-30",
        "delimiter": ";",
        "decimal_separator": ",",
    }

    delivered = client.post(reverse("admin:exports_export"), form)
    monkeypatch.setattr(selectors, "ledger_entries", _entries_with_a_polish_text)
    refused = client.post(reverse("admin:exports_export"), form)

    name = f"EXTF_Buchungsstapel_{datev_fleet.slug}_2026-11-01_2026-11-30.csv"
    assert delivered.status_code == 200
    assert delivered["Content-Type"] == DATEV_TYPE
    assert name in delivered["Content-Disposition"]
    content = b"".join(delivered.streaming_content)
    assert content.startswith(b'"EXTF";700;21;')
    assert hashlib.sha256(content).hexdigest() == ExportManifest.objects.get().sha256
    assert refused.status_code == 200
    assert "U+0141" in str(refused.context["form"].non_field_errors())
    assert ExportManifest.objects.count() == 1


@pytest.mark.django_db
def test_the_api_serves_the_batch_and_refuses_a_fleet_without_datev_settings(datev_fleet):
    user = UserFactory()
    MembershipFactory(user=user, fleet=datev_fleet, role=MembershipRole.FINANCE)
    api = APIClient()
    api.force_authenticate(user)
    query = {"fleet": datev_fleet.slug, "from": "2026-11-01", "to": "2026-11-30"}

    delivered = api.get(DATEV_EXPORT, query)
    datev_fleet.datev_client_number = None
    datev_fleet.save()
    refused = api.get(DATEV_EXPORT, query)

    assert delivered.status_code == 200
    assert delivered["Content-Type"] == DATEV_TYPE
    content = b"".join(delivered.streaming_content)
    assert content.startswith(b'"EXTF";700;21;"Buchungsstapel";13;')
    assert hashlib.sha256(content).hexdigest() == ExportManifest.objects.get().sha256
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["attr"] == "datev_client_number"
    assert ExportManifest.objects.count() == 1
