"""Public charging files, pure: OCPI 2.2.1 CDR JSON and the documented CSV, read into rows.

Every row is read; each bad one is reported with its line (CSV) or position (JSON) and the
reason, so a whole file is judged before anything is imported.

CSV columns (header row required, comma-separated, UTF-8):
    cdr_id, token_uid, start, end, energy_kwh, cost_excl_vat, cost_incl_vat, currency
    and optionally location, purpose (business / private)
Times are ISO 8601 with an offset (2026-06-01T08:00:00+02:00); numbers use a dot.
A file whose quoting is broken cannot be read to its end, so it is refused as a whole.

A JSON CDR must state its total_cost: it becomes the session's price.

Refused here, row by row: energy below 1 Wh as given, before rounding, and energy no charger
could deliver in the time (MAX_CHARGER_KW). Refused once the time and the cards are known (the
import service): sessions in the future, and sessions of one card that overlap
(`overlapping_row_errors`).
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from apps.charging.ocpi import OcpiFormatError, cdr_from_ocpi
from apps.charging.pricing import ChargingPeriod, Price
from voltop.core.json_input import JsonInputRefused, json_input_parse
from voltop.core.money import is_known_currency, wh_of_kwh

CSV_COLUMNS = (
    "cdr_id",
    "token_uid",
    "start",
    "end",
    "energy_kwh",
    "cost_excl_vat",
    "cost_incl_vat",
    "currency",
)
OPTIONAL_CSV_COLUMNS = ("location", "purpose")
PURPOSES = ("business", "private")
# The session's external_id column holds the CDR id.
CDR_ID_MAX_LENGTH = 64
# The session's price columns hold 10 digits before the point.
MAX_COST = Decimal("9999999999.99")
# Far above what any vehicle takes in one session; a larger figure is a broken file.
MAX_ENERGY_KWH = Decimal(100_000)
# A reader given `on_progress` reports the rows it has read and checked after every this many,
# and once all are.
PROGRESS_EVERY = 1_000
# The least a session charges: 1 Wh, the unit energy is stored in, as the file gives it.
MIN_ENERGY_KWH = Decimal("0.001")
# The most any charger delivers: the Megawatt Charging System's 3,000 A at 1,250 V. A row
# averaging more (500 kWh in one second) is a broken figure, not a fast charge.
MAX_CHARGER_KW = Decimal(3_750)


@dataclass(frozen=True)
class PublicSessionRow:
    """One charge at a public charger, as the provider reported it."""

    line: int
    cdr_id: str
    token_uid: str
    started_at: datetime
    ended_at: datetime
    energy_wh: int
    cost: Price | None
    currency: str
    location: str
    purpose: str | None
    periods: tuple[ChargingPeriod, ...]
    document: dict


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass(frozen=True)
class ParsedFile:
    """The good rows, an error for each bad one, and how many rows the file holds (a file that
    cannot be read at all holds none: its one error has line 0, or 1 for a CSV header)."""

    rows: tuple[PublicSessionRow, ...]
    errors: tuple[RowError, ...]
    row_count: int


def _decimal(value: str, column: str) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation as error:
        raise ValueError(f"{column} {value!r} is not a number") from error
    if not number.is_finite() or number < 0:
        raise ValueError(f"{column} must be a number of 0 or more, got {value!r}")
    return number


def _moment(value: str, column: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(f"{column} {value!r} is not an ISO 8601 date-time") from error
    if moment.tzinfo is None:
        raise ValueError(f"{column} {value!r} has no UTC offset")
    return moment


def _out_of_range(cdr_id: str, energy_wh: int, cost: Price | None) -> str:
    """Why a row's id, energy or cost cannot be stored, or "" when they can."""
    if len(cdr_id) > CDR_ID_MAX_LENGTH:
        return f"the CDR id is longer than {CDR_ID_MAX_LENGTH} characters"
    if energy_wh > MAX_ENERGY_KWH * 1000:
        return f"the energy is above {MAX_ENERGY_KWH} kWh"
    amounts = (cost.excl_vat, cost.incl_vat) if cost is not None else ()
    if any(amount is not None and amount > MAX_COST for amount in amounts):
        return f"the cost is above {MAX_COST}"
    return ""


def _energy_refusal(
    energy_kwh: Decimal, energy_wh: int, started_at: datetime, ended_at: datetime
) -> str:
    """Why a row's energy cannot have been charged, or "" when it can: less than 1 Wh as the
    file gives it (before it is rounded to whole Wh, so 0.0005 kWh does not become 1 Wh), or
    more than any charger delivers in the time."""
    if energy_kwh < MIN_ENERGY_KWH:
        return (
            f"the energy {energy_kwh} kWh is below {MIN_ENERGY_KWH} kWh (1 Wh); "
            "a session charges 1 Wh or more"
        )
    seconds = Decimal((ended_at - started_at).total_seconds())
    if Decimal(energy_wh) * 3600 > MAX_CHARGER_KW * 1000 * seconds:
        return (
            f"{Decimal(energy_wh) / 1000} kWh in {seconds:f} s is more than any charger "
            f"delivers ({MAX_CHARGER_KW} kW)"
        )
    return ""


def _csv_row(line: int, record: dict[str, str]) -> PublicSessionRow:
    missing = [column for column in CSV_COLUMNS if not (record.get(column) or "").strip()]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    started_at = _moment(record["start"], "start")
    ended_at = _moment(record["end"], "end")
    if ended_at < started_at:
        raise ValueError("end is before start")
    currency = record["currency"].strip().upper()
    if not is_known_currency(currency):
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code")
    energy_kwh = _decimal(record["energy_kwh"], "energy_kwh")
    cost = Price(
        _decimal(record["cost_excl_vat"], "cost_excl_vat"),
        _decimal(record["cost_incl_vat"], "cost_incl_vat"),
    )
    if cost.incl_vat < cost.excl_vat:
        raise ValueError("cost_incl_vat is below cost_excl_vat")
    purpose = (record.get("purpose") or "").strip().lower() or None
    if purpose is not None and purpose not in PURPOSES:
        raise ValueError(f"purpose must be business or private, got {purpose!r}")
    energy_wh = wh_of_kwh(energy_kwh)
    cdr_id = record["cdr_id"].strip()
    if reason := _out_of_range(cdr_id, energy_wh, cost) or _energy_refusal(
        energy_kwh, energy_wh, started_at, ended_at
    ):
        raise ValueError(reason)
    return PublicSessionRow(
        line=line,
        cdr_id=cdr_id,
        token_uid=record["token_uid"].strip().upper(),
        started_at=started_at,
        ended_at=ended_at,
        energy_wh=energy_wh,
        cost=cost,
        currency=currency,
        location=(record.get("location") or "").strip(),
        purpose=purpose,
        periods=(ChargingPeriod(started_at, ended_at, Decimal(energy_wh), True),)
        if ended_at > started_at
        else (),
        document={},
    )


def _progress_report(on_progress: Callable[[int], None] | None, rows_read: int) -> None:
    if on_progress is not None and rows_read and rows_read % PROGRESS_EVERY == 0:
        on_progress(rows_read)


def parse_csv(content: bytes, *, on_progress: Callable[[int], None] | None = None) -> ParsedFile:
    """Rows of the documented CSV; the header is line 1, the first row line 2. `on_progress`,
    if given, is called with the number of rows read and checked so far (PROGRESS_EVERY)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ParsedFile((), (RowError(0, "the file is not UTF-8 text"),), 0)
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as error:
        return ParsedFile((), (RowError(1, f"malformed CSV: {error}"),), 0)
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        return ParsedFile((), (RowError(1, f"the header lacks {', '.join(missing)}"),), 0)
    reader.fieldnames = header
    rows, errors = [], []
    row_count = 0
    try:
        for record in reader:
            _progress_report(on_progress, row_count)
            line = reader.line_num
            row_count += 1
            if None in record:
                errors.append(RowError(line, "more values than columns"))
                continue
            try:
                rows.append(_csv_row(line, record))
            except ValueError as error:
                errors.append(RowError(line, str(error)))
    except csv.Error as error:
        # line_num is where the last good record ended; the broken one starts on the next line.
        return ParsedFile(
            (),
            (
                RowError(
                    reader.line_num + 1,
                    f"malformed CSV, the file cannot be read from this line on: {error}",
                ),
            ),
            row_count,
        )
    if on_progress is not None:
        on_progress(row_count)
    return _without_duplicates(rows, errors, row_count)


def parse_cdr_json(
    content: bytes, *, on_progress: Callable[[int], None] | None = None
) -> ParsedFile:
    """Rows of a JSON file holding one OCPI CDR, a list of CDRs, or an OCPI response whose
    `data` holds them; a row's line is its position in the list, from 1. `on_progress`, if
    given, is called with the number of rows read and checked so far (PROGRESS_EVERY)."""
    try:
        document = json_input_parse(content)
    except JsonInputRefused as error:
        return ParsedFile((), (RowError(0, error.message),), 0)
    if isinstance(document, dict) and "data" in document:
        document = document["data"]
    cdrs = document if isinstance(document, list) else [document]
    rows, errors = [], []
    for position, cdr in enumerate(cdrs, start=1):
        _progress_report(on_progress, position - 1)
        try:
            parsed = cdr_from_ocpi(cdr)
        except OcpiFormatError as error:
            errors.append(RowError(position, error.message))
            continue
        if not parsed.token_uid.strip():
            errors.append(RowError(position, "cdr.cdr_token.uid is required."))
            continue
        if parsed.total_cost is None:
            errors.append(RowError(position, "cdr.total_cost is required."))
            continue
        if (
            parsed.total_cost.incl_vat is not None
            and parsed.total_cost.incl_vat < parsed.total_cost.excl_vat
        ):
            errors.append(RowError(position, "cdr.total_cost.incl_vat is below excl_vat."))
            continue
        if reason := _out_of_range(
            parsed.cdr_id, parsed.total_energy_wh, parsed.total_cost
        ) or _energy_refusal(
            parsed.total_energy_kwh, parsed.total_energy_wh, parsed.start, parsed.end
        ):
            errors.append(RowError(position, reason))
            continue
        location = cdr.get("cdr_location")
        location = location.get("name") if isinstance(location, dict) else None
        rows.append(
            PublicSessionRow(
                line=position,
                cdr_id=parsed.cdr_id,
                token_uid=parsed.token_uid.strip().upper(),
                started_at=parsed.start,
                ended_at=parsed.end,
                energy_wh=parsed.total_energy_wh,
                cost=parsed.total_cost,
                currency=parsed.currency,
                location=str(location or ""),
                purpose=None,
                periods=parsed.periods,
                # Numbers stay JSON numbers: the provider's document, not strings of it.
                document=json.loads(json.dumps(cdr, default=float)),
            )
        )
    if on_progress is not None:
        on_progress(len(cdrs))
    return _without_duplicates(rows, errors, len(cdrs))


def _without_duplicates(
    rows: list[PublicSessionRow], errors: list[RowError], row_count: int
) -> ParsedFile:
    seen: dict[str, int] = {}
    kept = []
    for row in rows:
        if row.cdr_id in seen:
            errors.append(
                RowError(row.line, f"CDR id {row.cdr_id} repeats line {seen[row.cdr_id]}")
            )
            continue
        seen[row.cdr_id] = row.line
        kept.append(row)
    return ParsedFile(tuple(kept), tuple(sorted(errors, key=lambda error: error.line)), row_count)


def future_row_errors(rows: Iterable[PublicSessionRow], *, latest: datetime) -> list[RowError]:
    """An error for each row that starts or ends after `latest` (now, plus the clock skew the
    caller allows): a provider reports sessions that happened."""
    errors = []
    for row in rows:
        if row.started_at > latest or row.ended_at > latest:
            moment = row.started_at if row.started_at > latest else row.ended_at
            which = "starts" if row.started_at > latest else "ends"
            errors.append(
                RowError(row.line, f"the session {which} in the future ({_utc_text(moment)})")
            )
    return errors


def overlapping_row_errors(rows: Iterable[PublicSessionRow]) -> list[RowError]:
    """An error for every row whose time overlaps another row's on the same card, naming one
    such row: a card charges one session at a time. Which of the two is wrong is not known, so
    both are refused. A session that starts when another ends does not overlap it."""
    by_card: dict[str, list[PublicSessionRow]] = {}
    for row in rows:
        by_card.setdefault(row.token_uid, []).append(row)
    errors: dict[int, RowError] = {}
    for uid, card_rows in by_card.items():
        # Sweep in start order, keeping the row that reaches furthest: any row that overlaps an
        # earlier one starts before that row's end.
        reach = None
        for row in sorted(card_rows, key=lambda row: (row.started_at, row.line)):
            if reach is not None and row.started_at < reach.ended_at:
                for this, other in ((row, reach), (reach, row)):
                    errors.setdefault(
                        this.line, RowError(this.line, f"overlaps line {other.line} on card {uid}")
                    )
            if reach is None or row.ended_at > reach.ended_at:
                reach = row
    return sorted(errors.values(), key=lambda error: error.line)


@dataclass(frozen=True)
class StoredSession:
    """A session already stored for a card: its id and time (no end while it charges)."""

    session_id: int
    token_uid: str
    started_at: datetime
    ended_at: datetime | None


def stored_overlap_errors(
    rows: Iterable[PublicSessionRow], stored: Sequence[StoredSession]
) -> list[RowError]:
    """An error for each row whose time overlaps a session already stored for its card (one
    still charging reaches to any later time), naming that session."""
    by_card: dict[str, list[StoredSession]] = {}
    for session in sorted(stored, key=lambda session: (session.started_at, session.session_id)):
        by_card.setdefault(session.token_uid, []).append(session)
    # Per card, the starts in order and, for each prefix, the session that reaches furthest.
    reaches: dict[str, tuple[list[datetime], list[StoredSession]]] = {}
    for uid, sessions in by_card.items():
        furthest: list[StoredSession] = []
        for session in sessions:
            best = furthest[-1] if furthest else None
            furthest.append(session if best is None or _reaches_past(session, best) else best)
        reaches[uid] = ([session.started_at for session in sessions], furthest)
    errors = []
    for row in rows:
        if row.token_uid not in reaches:
            continue
        starts, furthest = reaches[row.token_uid]
        before_end = bisect.bisect_left(starts, row.ended_at)
        if before_end == 0:
            continue
        session = furthest[before_end - 1]
        if session.ended_at is None or session.ended_at > row.started_at:
            until = "still charging" if session.ended_at is None else _utc_text(session.ended_at)
            errors.append(
                RowError(
                    row.line,
                    f"overlaps session {session.session_id} on card {row.token_uid} "
                    f"({_utc_text(session.started_at)} to {until})",
                )
            )
    return errors


def _reaches_past(session: StoredSession, other: StoredSession) -> bool:
    if other.ended_at is None:
        return False
    return session.ended_at is None or session.ended_at > other.ended_at


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
