"""Billing periods in the fleet's zone: month ends, ISO weeks, DST, leap days, labels."""

import datetime as dt
import zoneinfo

import pytest

from apps.fleets.choices import BillingPeriodKind
from apps.payments.periods import (
    PeriodLabelInvalid,
    billing_period_last_ended,
    billing_period_of_day,
    billing_period_of_label,
    local_midnight,
)

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
SANTIAGO = zoneinfo.ZoneInfo("America/Santiago")
MONTHLY, WEEKLY = BillingPeriodKind.MONTHLY, BillingPeriodKind.WEEKLY


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_a_month_runs_from_local_midnight_to_local_midnight_across_the_dst_end():
    october = billing_period_of_label(MONTHLY, "2026-10", AMSTERDAM)

    assert october.start == utc(2026, 9, 30, 22)  # CEST, UTC+2
    assert october.end == utc(2026, 10, 31, 23)  # CET, UTC+1
    assert (october.first_day, october.last_day) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert october.end - october.start == dt.timedelta(days=31, hours=1)


def test_the_month_of_the_dst_start_is_an_hour_short():
    march = billing_period_of_label(MONTHLY, "2026-03", AMSTERDAM)

    assert march.end - march.start == dt.timedelta(days=31, hours=-1)


def test_february_of_a_leap_year_has_29_days():
    february = billing_period_of_label(MONTHLY, "2028-02", AMSTERDAM)

    assert february.last_day == dt.date(2028, 2, 29)
    assert february.end == utc(2028, 2, 29, 23)


def test_december_ends_at_the_new_year():
    december = billing_period_of_label(MONTHLY, "2026-12", AMSTERDAM)

    assert december.end_day == dt.date(2027, 1, 1)
    assert december.end == utc(2026, 12, 31, 23)


def test_an_iso_week_runs_monday_to_monday_and_week_53_crosses_the_year():
    week = billing_period_of_label(WEEKLY, "2026-W53", AMSTERDAM)

    assert (week.first_day, week.end_day) == (dt.date(2026, 12, 28), dt.date(2027, 1, 4))
    assert week.label == "2026-W53"


def test_consecutive_periods_meet_without_gap_or_overlap():
    day = dt.date(2026, 1, 1)
    for kind in (MONTHLY, WEEKLY):
        period = billing_period_of_day(kind, day, AMSTERDAM)
        for _ in range(60):
            following = billing_period_of_day(kind, period.end_day, AMSTERDAM)
            assert following.start == period.end
            period = following


def test_a_day_in_a_zone_that_skips_midnight_starts_when_the_clocks_jump():
    assert local_midnight(dt.date(2026, 9, 6), SANTIAGO) == utc(2026, 9, 6, 4)
    assert local_midnight(dt.date(2026, 9, 5), SANTIAGO) == utc(2026, 9, 5, 4)
    assert local_midnight(dt.date(2026, 9, 7), SANTIAGO) == utc(2026, 9, 7, 3)


def test_the_last_ended_period_is_the_previous_one_in_the_fleets_zone():
    just_after_local_midnight = utc(2026, 10, 31, 23, 5)  # 1 Nov 00:05 in Amsterdam
    just_before = utc(2026, 10, 31, 22, 55)

    assert billing_period_last_ended(MONTHLY, just_after_local_midnight, AMSTERDAM).label == (
        "2026-10"
    )
    assert billing_period_last_ended(MONTHLY, just_before, AMSTERDAM).label == "2026-09"
    assert billing_period_last_ended(WEEKLY, utc(2026, 11, 23, 12), AMSTERDAM).label == ("2026-W47")


@pytest.mark.parametrize(
    ("kind", "label", "message"),
    [
        (MONTHLY, "2026-13", "not a month such as 2026-10"),
        (MONTHLY, "October", "not a month such as 2026-10"),
        (MONTHLY, "2026-W44", "not a month such as 2026-10"),
        (WEEKLY, "2026-10", "not an ISO week such as 2026-W44"),
        (WEEKLY, "2025-W53", "2025 has no such week"),
    ],
)
def test_a_label_that_is_not_a_period_of_the_fleets_kind_is_refused(kind, label, message):
    with pytest.raises(PeriodLabelInvalid, match=message):
        billing_period_of_label(kind, label, AMSTERDAM)
