"""Billing periods: calendar months or ISO weeks, from local midnight to local midnight in the
fleet's zone, turned into aware datetimes. Pure: values in, values out."""

import datetime as dt
import re
import zoneinfo
from typing import NamedTuple

from apps.fleets.choices import BillingPeriodKind

MONTH_LABEL = re.compile(r"^(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])$")
WEEK_LABEL = re.compile(r"^(?P<year>\d{4})-W(?P<week>0[1-9]|[1-4]\d|5[0-3])$")


class BillingPeriod(NamedTuple):
    """[start, end) of a billing period; both aware, at local midnight of the fleet's zone."""

    kind: str
    label: str
    first_day: dt.date
    end_day: dt.date
    start: dt.datetime
    end: dt.datetime

    @property
    def last_day(self) -> dt.date:
        return self.end_day - dt.timedelta(days=1)


class PeriodLabelInvalid(ValueError):
    """The text is not a period of the fleet's kind ("2026-10" monthly, "2026-W44" weekly)."""


def local_midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant of `day` in `zone`, in UTC.

    Where a zone's clocks jump over midnight the day starts at the jump; where midnight comes
    twice the day starts at the first one. Consecutive periods always meet without a gap.
    """
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _first_day_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _period(kind: str, first_day: dt.date, zone: zoneinfo.ZoneInfo) -> BillingPeriod:
    if kind == BillingPeriodKind.WEEKLY:
        end_day = first_day + dt.timedelta(days=7)
        year, week, _ = first_day.isocalendar()
        label = f"{year}-W{week:02d}"
    else:
        end_day = _first_day_of_next_month(first_day)
        label = f"{first_day:%Y-%m}"
    return BillingPeriod(
        kind=kind,
        label=label,
        first_day=first_day,
        end_day=end_day,
        start=local_midnight(first_day, zone),
        end=local_midnight(end_day, zone),
    )


def billing_period_of_day(kind: str, day: dt.date, zone: zoneinfo.ZoneInfo) -> BillingPeriod:
    """The period of `kind` that contains the local `day`."""
    if kind == BillingPeriodKind.WEEKLY:
        return _period(kind, day - dt.timedelta(days=day.weekday()), zone)
    return _period(kind, day.replace(day=1), zone)


def billing_period_of_label(kind: str, label: str, zone: zoneinfo.ZoneInfo) -> BillingPeriod:
    """The period a person names: "2026-10" for a month, "2026-W44" for an ISO week."""
    text = label.strip()
    if kind == BillingPeriodKind.WEEKLY:
        match = WEEK_LABEL.match(text)
        if match is None:
            raise PeriodLabelInvalid(f"{label!r} is not an ISO week such as 2026-W44.")
        try:
            first_day = dt.date.fromisocalendar(int(match["year"]), int(match["week"]), 1)
        except ValueError as error:
            raise PeriodLabelInvalid(f"{label!r}: {match['year']} has no such week.") from error
        return _period(kind, first_day, zone)
    match = MONTH_LABEL.match(text)
    if match is None:
        raise PeriodLabelInvalid(f"{label!r} is not a month such as 2026-10.")
    return _period(kind, dt.date(int(match["year"]), int(match["month"]), 1), zone)


def billing_period_last_ended(
    kind: str, moment: dt.datetime, zone: zoneinfo.ZoneInfo
) -> BillingPeriod:
    """The most recent period that had ended by `moment` (aware)."""
    today = moment.astimezone(zone).date()
    current = billing_period_of_day(kind, today, zone)
    return billing_period_of_day(kind, current.first_day - dt.timedelta(days=1), zone)
