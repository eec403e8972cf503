"""How amounts, energy, durations and moments read in the admin."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.formats import date_format

from voltop.core.display import duration_text, energy_text, moment_text, money_text

UTC = dt.UTC


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("12.345"), "EUR", "12.35 EUR"),
        (Decimal("12.3"), "EUR", "12.30 EUR"),
        (Decimal("-0.005"), "EUR", "-0.01 EUR"),
        (Decimal("1234.5"), "JPY", "1235 JPY"),
        (None, "EUR", "—"),
    ],
)
def test_money_reads_with_its_currency_to_the_minor_unit(amount, currency, expected):
    assert money_text(amount, currency) == expected


@pytest.mark.parametrize(
    ("energy_wh", "expected"),
    [(12_345, "12.345 kWh"), (0, "0.000 kWh"), (7, "0.007 kWh"), (None, "—")],
)
def test_energy_reads_in_kwh_with_three_places(energy_wh, expected):
    assert energy_text(energy_wh) == expected


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (dt.timedelta(hours=3, minutes=5, seconds=59), "3:05"),
        (dt.timedelta(minutes=9), "0:09"),
        (dt.timedelta(hours=26), "26:00"),
        (3_725, "1:02"),
        (None, "—"),
    ],
)
def test_duration_reads_as_hours_and_minutes(duration, expected):
    assert duration_text(duration) == expected


def test_a_moment_reads_in_the_active_zone_with_its_offset():
    moment = dt.datetime(2026, 12, 2, 7, 37, 12, tzinfo=UTC)
    with timezone.override(ZoneInfo("Europe/Berlin")):
        assert moment_text(moment) == "2 Dec 2026 08:37 +0100"
        assert moment_text(moment, seconds=True) == "2 Dec 2026 08:37:12 +0100"
    with timezone.override(ZoneInfo("Europe/Berlin")):
        assert moment_text(dt.datetime(2026, 7, 1, 6, 0, tzinfo=UTC)) == "1 Jul 2026 08:00 +0200"
    with timezone.override(ZoneInfo("America/New_York")):
        assert moment_text(moment) == "2 Dec 2026 02:37 -0500"
    assert moment_text(None) == "—"


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"])
@pytest.mark.parametrize("month", range(1, 13))
def test_a_moment_reads_as_the_admins_datetime_format_writes_it(zone, month):
    moment = dt.datetime(2026, month, 9, 23, 5, tzinfo=UTC)
    with timezone.override(ZoneInfo(zone)):
        assert moment_text(moment) == date_format(timezone.localtime(moment), "DATETIME_FORMAT")
