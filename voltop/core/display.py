"""How amounts, energy, durations and moments read in the admin: money with its currency,
energy in kWh, durations as h:mm, moments in the active time zone (the fleet's) with its
offset from UTC. One place, so every list, title and page writes them alike."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import timezone

from voltop.core.money import kwh_of_wh, round_money

# As voltop/formats/en/formats.py's "j M Y H:i O", written without Django's date formatting,
# whose translated month names cost more than the rest of a list row.
MONTH_ABBREVIATIONS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
EMPTY = "—"


def money_text(amount: Decimal | None, currency: str) -> str:
    """An amount to the currency's minor unit with its code, e.g. "12.34 EUR" ("—" if None).
    SQLite sums come back with float noise; the rounding takes it away."""
    if amount is None:
        return EMPTY
    return f"{round_money(Decimal(amount), currency)} {currency}"


def energy_text(energy_wh: int | None) -> str:
    """Whole Wh as kWh with three places, e.g. 12345 → "12.345 kWh" ("—" if None)."""
    if energy_wh is None:
        return EMPTY
    return f"{kwh_of_wh(energy_wh)} kWh"


def duration_text(duration: timedelta | int | None) -> str:
    """A duration (or whole seconds) as h:mm, minutes cut, e.g. 3 h 5 min 59 s → "3:05"."""
    if duration is None:
        return EMPTY
    seconds = int(duration.total_seconds()) if isinstance(duration, timedelta) else int(duration)
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours}:{rest // 60:02d}"


def moment_text(moment: datetime | None, *, seconds: bool = False) -> str:
    """An aware moment in the active time zone with its offset from UTC, e.g.
    "2 Dec 2026 08:37 +0100" ("—" if None)."""
    if moment is None:
        return EMPTY
    local = timezone.localtime(moment)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{local.day} {MONTH_ABBREVIATIONS[local.month - 1]} {local.year} {clock} {local:%z}"


def rows_table(
    headers: list[str],
    rows: list[list],
    *,
    empty_text: str,
    more_url: str = "",
    more_text: str = "",
) -> str:
    """A small read-only table on an object's admin page, with a link to the whole filtered
    list when `more_url` is given."""
    return render_to_string(
        "admin/voltop/rows_table.html",
        {
            "headers": headers,
            "rows": rows,
            "empty_text": empty_text,
            "more_url": more_url,
            "more_text": more_text,
        },
    )
