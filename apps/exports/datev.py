"""DATEV Buchungsstapel (EXTF, header version 700, format category 21, format version 13): the
fleet's ledger entries as the files a tax advisor imports into DATEV. Pure: settings and
entries in, bytes out; no ORM, no clock (the creation time is given).

One row per booking. The account the tax key (BU-Schlüssel) belongs to, the revenue or cost
account on the booking's taxed side, is the Gegenkonto; the other account is the Konto, and
the Soll/Haben-Kennzeichen says whether the Konto is debited (S) or credited (H). A booking
without VAT has its debit account as Konto, its credit account as Gegenkonto, and S. Umsatz is
the booking's amount, gross where VAT is in it, always positive, with a decimal comma.
Belegdatum is the entry's posting date (DDMM; the year is the header's fiscal year): DATEV
posts a row in the month of its Belegdatum and takes only rows dated within the batch's
Datum vom and bis.

Windows-1252 (cp1252), strictly: a character it cannot hold stops the export with a message
naming the entry, the booking and the field; nothing is ever replaced. Fields are separated
by ';', lines end in CRLF, text is quoted with '"' (a '"' in it doubled). A file holds at
most DATEV_MAX_ROWS rows; more are split into several files, each with its own header."""

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from apps.exports.exceptions import ExportDatevInvalid, ExportDatevUnencodable
from apps.exports.ledger import Entry, TaxedSide

DATEV_MAX_ROWS = 99_999
ENCODING = "cp1252"
LINE_END = "\r\n"
SEPARATOR = ";"
HEADER_VERSION = 700
FORMAT_CATEGORY = 21
FORMAT_NAME = "Buchungsstapel"
FORMAT_VERSION = 13
ORIGIN = "RE"
BOOKING_TYPE_FINANCIAL_ACCOUNTING = 1
ACCOUNTING_PURPOSE_NONE = 0
NOT_LOCKED = 0
TITLE_LENGTH = 30
TEXT_LENGTH = 60
DOCUMENT_LENGTH = 36
COST_CENTER_LENGTH = 36
AMOUNT_INTEGER_DIGITS = 10
CENT = Decimal("0.01")
DOCUMENT_CHARACTERS = re.compile(r"[A-Za-z0-9$%\-/]*")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

# The 125 columns of format version 13, in DATEV's order; DATEV reads them by position.
COLUMNS: tuple[str, ...] = (
    "Umsatz (ohne Soll/Haben-Kz)",
    "Soll/Haben-Kennzeichen",
    "WKZ Umsatz",
    "Kurs",
    "Basis-Umsatz",
    "WKZ Basis-Umsatz",
    "Konto",
    "Gegenkonto (ohne BU-Schlüssel)",
    "BU-Schlüssel",
    "Belegdatum",
    "Belegfeld 1",
    "Belegfeld 2",
    "Skonto",
    "Buchungstext",
    "Postensperre",
    "Diverse Adressnummer",
    "Geschäftspartnerbank",
    "Sachverhalt",
    "Zinssperre",
    "Beleglink",
    *(f"Beleginfo - {part} {number}" for number in range(1, 9) for part in ("Art", "Inhalt")),
    "KOST1 - Kostenstelle",
    "KOST2 - Kostenstelle",
    "Kost-Menge",
    "EU-Land u. UStID (Bestimmung)",
    "EU-Steuersatz (Bestimmung)",
    "Abw. Versteuerungsart",
    "Sachverhalt L+L",
    "Funktionsergänzung L+L",
    "BU 49 Hauptfunktionstyp",
    "BU 49 Hauptfunktionsnummer",
    "BU 49 Funktionsergänzung",
    *(
        heading
        for number in range(1, 21)
        for heading in (f"Zusatzinformation - Art {number}", f"Zusatzinformation- Inhalt {number}")
    ),
    "Stück",
    "Gewicht",
    "Zahlweise",
    "Forderungsart",
    "Veranlagungsjahr",
    "Zugeordnete Fälligkeit",
    "Skontotyp",
    "Auftragsnummer",
    "Buchungstyp",
    "USt-Schlüssel (Anzahlungen)",
    "EU-Land (Anzahlungen)",
    "Sachverhalt L+L (Anzahlungen)",
    "EU-Steuersatz (Anzahlungen)",
    "Erlöskonto (Anzahlungen)",
    "Herkunft-Kz",
    "Buchungs GUID",
    "KOST-Datum",
    "SEPA-Mandatsreferenz",
    "Skontosperre",
    "Gesellschaftername",
    "Beteiligtennummer",
    "Identifikationsnummer",
    "Zeichnernummer",
    "Postensperre bis",
    "Bezeichnung SoBil-Sachverhalt",
    "Kennzeichen SoBil-Buchung",
    "Festschreibung",
    "Leistungsdatum",
    "Datum Zuord. Steuerperiode",
    "Fälligkeit",
    "Generalumkehr (GU)",
    "Steuersatz",
    "Land",
    "Abrechnungsreferenz",
    "BVV-Position",
    "EU-Land u. UStID (Ursprung)",
    "EU-Steuersatz (Ursprung)",
    "Abw. Skontokonto",
)
AMOUNT = COLUMNS.index("Umsatz (ohne Soll/Haben-Kz)")
SIDE = COLUMNS.index("Soll/Haben-Kennzeichen")
ACCOUNT = COLUMNS.index("Konto")
CONTRA_ACCOUNT = COLUMNS.index("Gegenkonto (ohne BU-Schlüssel)")
TAX_CODE = COLUMNS.index("BU-Schlüssel")
DOCUMENT_DATE = COLUMNS.index("Belegdatum")
DOCUMENT = COLUMNS.index("Belegfeld 1")
TEXT = COLUMNS.index("Buchungstext")
COST_CENTER = COLUMNS.index("KOST1 - Kostenstelle")


@dataclass(frozen=True)
class DatevHeader:
    """What the header line of every file says: the tax advisor's consultant number and the
    fleet's client number with them, the fiscal year's first day, the digits of a ledger
    account, the batch's days (`first_day` to `last_day`, within one fiscal year), its title
    (Bezeichnung), its currency, and when it was made (local time of the fleet)."""

    consultant_number: int
    client_number: int
    fiscal_year_start: dt.date
    account_length: int
    first_day: dt.date
    last_day: dt.date
    title: str
    currency: str
    created_at: dt.datetime


@dataclass(frozen=True)
class DatevRow:
    """One booking as a row of the batch, with the entry and booking (1-based) it comes
    from."""

    entry: int
    booking: int
    amount: Decimal
    vat: Decimal
    side: str
    account: str
    contra_account: str
    tax_code: str
    day: dt.date
    document: str
    text: str
    cost_center: str


def fiscal_year_start(*, day: dt.date, start_month: int) -> dt.date:
    """The first day of the fiscal year, beginning in `start_month`, that `day` lies in."""
    year = day.year if day.month >= start_month else day.year - 1
    return dt.date(year, start_month, 1)


def _where(entry: Entry, booking: int) -> str:
    return f"Entry {entry.number} (document {entry.document!r}), booking {booking}"


def _encodable(text: str, *, entry: Entry, booking: int, field: str) -> str:
    """`text` as written, or a refusal naming the first character cp1252 cannot hold."""
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError as error:
        character = text[error.start]
        raise ExportDatevUnencodable(
            f"{_where(entry, booking)}, {field}: {character!r} (U+{ord(character):04X}) is not "
            "in Windows-1252 (cp1252), the character set of DATEV files, and is never replaced. "
            "Correct it where it comes from, then export again.",
            field=field,
        ) from error
    if CONTROL_CHARACTERS.search(text):
        raise ExportDatevInvalid(
            f"{_where(entry, booking)}, {field}: a line break or other control character "
            "cannot stand in a DATEV field. Correct it where it comes from, then export again.",
            field=field,
        )
    return text


def _invalid(entry: Entry, booking: int, field: str, rule: str) -> ExportDatevInvalid:
    return ExportDatevInvalid(f"{_where(entry, booking)}, {field}: {rule}", field=field)


def _amount_check(amount: Decimal, *, entry: Entry, booking: int) -> None:
    field = COLUMNS[AMOUNT]
    if amount < 0:
        raise _invalid(entry, booking, field, f"{amount} is negative; a booking is positive.")
    if amount != amount.quantize(CENT):
        raise _invalid(entry, booking, field, f"{amount} has more than two decimal places.")
    if amount >= Decimal(10) ** AMOUNT_INTEGER_DIGITS:
        raise _invalid(
            entry, booking, field, f"{amount} has more than {AMOUNT_INTEGER_DIGITS} digits."
        )


def _account_check(account: str, *, length: int, entry: Entry, booking: int, field: str) -> None:
    if not account.isascii() or not account.isdigit() or len(account) > length + 1:
        raise _invalid(
            entry,
            booking,
            field,
            f"{account!r} is not an account of at most {length} digits (the fleet's account "
            f"length), or {length + 1} for a personal account.",
        )


def _sides(booking) -> tuple[str, str, str]:
    """(Soll/Haben-Kennzeichen, Konto, Gegenkonto): the taxed account is the Gegenkonto."""
    if booking.taxed_side == TaxedSide.DEBIT:
        return "H", booking.credit_account, booking.debit_account
    return "S", booking.debit_account, booking.credit_account


def datev_rows(entries: Iterable[Entry], *, currency: str, account_length: int) -> list[DatevRow]:
    """The entries' bookings as rows of the batch, in order, each checked: amounts with at
    most two places and ten digits, accounts of the fleet's length, Belegfeld 1 of at most
    36 of the characters DATEV allows, KOST1 of at most 36 characters, every text in cp1252
    and without control characters; Buchungstext is cut to 60 characters. A booking of 0,00
    has no row: DATEV refuses an Umsatz of zero, and it moves nothing."""
    rows = []
    for entry in entries:
        for number, booking in enumerate(entry.bookings, start=1):
            if entry.currency != currency:
                raise _invalid(
                    entry,
                    number,
                    COLUMNS[2],
                    f"{entry.currency} differs from the batch's currency {currency}.",
                )
            _amount_check(booking.amount, entry=entry, booking=number)
            if not booking.amount:
                continue
            side, account, contra_account = _sides(booking)
            for field, value in (
                (COLUMNS[ACCOUNT], account),
                (COLUMNS[CONTRA_ACCOUNT], contra_account),
            ):
                _account_check(
                    value, length=account_length, entry=entry, booking=number, field=field
                )
            document = _encodable(
                entry.document, entry=entry, booking=number, field=COLUMNS[DOCUMENT]
            )
            if len(document) > DOCUMENT_LENGTH or not DOCUMENT_CHARACTERS.fullmatch(document):
                raise _invalid(
                    entry,
                    number,
                    COLUMNS[DOCUMENT],
                    f"at most {DOCUMENT_LENGTH} letters A-Z, digits and $ % - / are allowed.",
                )
            cost_center = _encodable(
                booking.cost_center, entry=entry, booking=number, field=COLUMNS[COST_CENTER]
            )
            if len(cost_center) > COST_CENTER_LENGTH:
                raise _invalid(
                    entry,
                    number,
                    COLUMNS[COST_CENTER],
                    f"{cost_center!r} is longer than {COST_CENTER_LENGTH} characters.",
                )
            rows.append(
                DatevRow(
                    entry=entry.number,
                    booking=number,
                    amount=booking.amount,
                    vat=booking.vat,
                    side=side,
                    account=account,
                    contra_account=contra_account,
                    tax_code=_encodable(
                        booking.tax_code, entry=entry, booking=number, field=COLUMNS[TAX_CODE]
                    ),
                    day=entry.posting_date,
                    document=document,
                    text=_encodable(
                        booking.text[:TEXT_LENGTH], entry=entry, booking=number, field=COLUMNS[TEXT]
                    ),
                    cost_center=cost_center,
                )
            )
    return rows


def _text(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def datev_header_line(header: DatevHeader, *, part: int = 1, parts: int = 1) -> str:
    """The first line of a file: the 31 fields of header version 700. The title of a batch
    split into several files says which part it is ("… 2/3")."""
    suffix = "" if parts == 1 else f" {part}/{parts}"
    title = header.title[: TITLE_LENGTH - len(suffix)] + suffix
    created = header.created_at
    fields = [
        _text("EXTF"),
        str(HEADER_VERSION),
        str(FORMAT_CATEGORY),
        _text(FORMAT_NAME),
        str(FORMAT_VERSION),
        f"{created:%Y%m%d%H%M%S}{created.microsecond // 1000:03d}",
        "",
        _text(ORIGIN),
        _text(""),
        _text(""),
        str(header.consultant_number),
        str(header.client_number),
        f"{header.fiscal_year_start:%Y%m%d}",
        str(header.account_length),
        f"{header.first_day:%Y%m%d}",
        f"{header.last_day:%Y%m%d}",
        _text(title),
        _text(""),
        str(BOOKING_TYPE_FINANCIAL_ACCOUNTING),
        str(ACCOUNTING_PURPOSE_NONE),
        str(NOT_LOCKED),
        _text(header.currency),
        "",
        _text(""),
        "",
        "",
        _text(""),
        "",
        "",
        _text(""),
        _text(""),
    ]
    return SEPARATOR.join(fields)


def datev_row_line(row: DatevRow) -> str:
    """A row's line: the fields Voltop fills at their positions, the others empty."""
    fields = [""] * len(COLUMNS)
    fields[AMOUNT] = _amount(row.amount)
    fields[SIDE] = _text(row.side)
    fields[ACCOUNT] = row.account
    fields[CONTRA_ACCOUNT] = row.contra_account
    fields[TAX_CODE] = _text(row.tax_code) if row.tax_code else ""
    fields[DOCUMENT_DATE] = f"{row.day:%d%m}"
    fields[DOCUMENT] = _text(row.document) if row.document else ""
    fields[TEXT] = _text(row.text) if row.text else ""
    fields[COST_CENTER] = _text(row.cost_center) if row.cost_center else ""
    return SEPARATOR.join(fields)


def _day_check(header: DatevHeader, row: DatevRow) -> None:
    if not header.first_day <= row.day <= header.last_day:
        raise ExportDatevInvalid(
            f"Entry {row.entry}, booking {row.booking}, {COLUMNS[DOCUMENT_DATE]}: "
            f"{row.day:%Y-%m-%d} lies outside the batch's days {header.first_day:%Y-%m-%d} "
            f"to {header.last_day:%Y-%m-%d}.",
            field=COLUMNS[DOCUMENT_DATE],
        )


def datev_files(
    header: DatevHeader, rows: Sequence[DatevRow], *, max_rows: int | None = None
) -> list[bytes]:
    """The batch's files, each of at most `max_rows` (by default DATEV_MAX_ROWS) rows under
    its own header line and the column headings; one file of the two lines alone when there
    are no rows. Each row books its debit and credit whole, so a file split anywhere still
    balances."""
    next_year = header.fiscal_year_start.replace(year=header.fiscal_year_start.year + 1)
    if not header.fiscal_year_start <= header.first_day <= header.last_day < next_year:
        raise ExportDatevInvalid(
            f"The days {header.first_day:%Y-%m-%d} to {header.last_day:%Y-%m-%d} do not lie "
            f"in the one fiscal year beginning {header.fiscal_year_start:%Y-%m-%d}.",
            field="period",
        )
    for row in rows:
        _day_check(header, row)
    max_rows = max_rows or DATEV_MAX_ROWS
    chunks = [rows[start : start + max_rows] for start in range(0, len(rows), max_rows)] or [[]]
    headings = SEPARATOR.join(COLUMNS)
    files = []
    for part, chunk in enumerate(chunks, start=1):
        lines = [datev_header_line(header, part=part, parts=len(chunks)), headings]
        lines.extend(datev_row_line(row) for row in chunk)
        files.append((LINE_END.join(lines) + LINE_END).encode(ENCODING, errors="strict"))
    return files


def datev_archive(files: Sequence[bytes], *, stem: str, moment: dt.datetime) -> bytes:
    """The files of a split batch in one ZIP, named `<stem>_<part>.csv` (DATEV imports files
    named EXTF_…), every entry dated `moment`, so the same files give the same bytes."""
    out = io.BytesIO()
    width = len(str(len(files)))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for part, content in enumerate(files, start=1):
            info = zipfile.ZipInfo(f"{stem}_{part:0{width}d}.csv", date_time=moment.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return out.getvalue()
