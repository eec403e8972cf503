"""Where the demo places its data in time, with the clock set to the dates that trip calendars:
a month's last day, the first of a month, both DST changes, 29 February and 31 December."""

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest

from apps.demo.seed import demo_billing_periods, seed_window
from apps.fleets.choices import BillingPeriodKind

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")

CLOCKS = pytest.mark.parametrize(
    ("local_now", "first_day", "anchor", "months_billed"),
    [
        pytest.param(
            datetime(2026, 1, 31, 23, 59, tzinfo=AMSTERDAM),
            date(2025, 10, 31),
            datetime(2026, 1, 30, 23, 0, tzinfo=UTC),
            ["2025-10", "2025-11", "2025-12"],
            id="a month's last day",
        ),
        pytest.param(
            datetime(2026, 12, 1, 0, 0, tzinfo=AMSTERDAM),
            date(2026, 9, 1),
            datetime(2026, 11, 30, 23, 0, tzinfo=UTC),
            ["2026-09", "2026-10", "2026-11"],
            id="the first of a month at midnight",
        ),
        pytest.param(
            datetime(2026, 3, 29, 1, 30, tzinfo=AMSTERDAM),
            date(2025, 12, 29),
            datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
            ["2025-12", "2026-01", "2026-02"],
            id="spring forward, before the jump",
        ),
        pytest.param(
            datetime(2026, 3, 29, 12, 0, tzinfo=AMSTERDAM),
            date(2025, 12, 29),
            datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
            ["2025-12", "2026-01", "2026-02"],
            id="spring forward, after the jump",
        ),
        pytest.param(
            datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=AMSTERDAM),
            date(2026, 7, 25),
            datetime(2026, 10, 24, 22, 0, tzinfo=UTC),
            ["2026-07", "2026-08", "2026-09"],
            id="fall back, in the repeated hour",
        ),
        pytest.param(
            datetime(2028, 2, 29, 9, 0, tzinfo=AMSTERDAM),
            date(2027, 11, 29),
            datetime(2028, 2, 28, 23, 0, tzinfo=UTC),
            ["2027-11", "2027-12", "2028-01"],
            id="29 February",
        ),
        pytest.param(
            datetime(2026, 12, 31, 23, 30, tzinfo=AMSTERDAM),
            date(2026, 9, 30),
            datetime(2026, 12, 30, 23, 0, tzinfo=UTC),
            ["2026-09", "2026-10", "2026-11"],
            id="31 December",
        ),
        pytest.param(
            datetime(2026, 5, 31, 8, 0, tzinfo=AMSTERDAM),
            date(2026, 2, 28),
            datetime(2026, 5, 30, 22, 0, tzinfo=UTC),
            ["2026-02", "2026-03", "2026-04"],
            id="31 May goes back to the end of February",
        ),
    ],
)


@CLOCKS
def test_the_window_runs_three_months_back_from_local_midnight_today(
    local_now, first_day, anchor, months_billed
):
    start, window_anchor = seed_window(AMSTERDAM, now=local_now.astimezone(UTC))

    assert window_anchor == anchor
    assert window_anchor.astimezone(AMSTERDAM).date() == local_now.date()
    assert window_anchor.astimezone(AMSTERDAM).time() == time(0, 0)
    assert start.astimezone(AMSTERDAM).date() == first_day
    assert start.astimezone(AMSTERDAM).time() == time(0, 0)
    assert start.tzinfo is UTC
    assert window_anchor.tzinfo is UTC


@CLOCKS
def test_the_months_billed_are_the_ended_ones_from_the_windows_first_day(
    local_now, first_day, anchor, months_billed
):
    periods = demo_billing_periods(
        BillingPeriodKind.MONTHLY, zone=AMSTERDAM, now=local_now.astimezone(UTC)
    )

    assert [period.label for period in periods] == months_billed
    assert periods[0].first_day <= first_day < periods[0].end_day
    assert periods[-1].end <= anchor


@CLOCKS
def test_the_weeks_billed_meet_without_gaps_and_all_ended_before_today(
    local_now, first_day, anchor, months_billed
):
    periods = demo_billing_periods(
        BillingPeriodKind.WEEKLY, zone=AMSTERDAM, now=local_now.astimezone(UTC)
    )

    assert periods[0].first_day <= first_day < periods[0].end_day
    assert all(earlier.end == later.start for earlier, later in pairwise(periods))
    assert {period.last_day - period.first_day for period in periods} == {timedelta(days=6)}
    assert periods[-1].end <= anchor < periods[-1].end + timedelta(days=7)
