"""The period an export covers: a billing period by its label ("2026-10", "2026-W44") or any
days from and to in the fleet's zone, as aware [start, end) instants. Pure."""

import datetime as dt
import zoneinfo
from typing import NamedTuple

from apps.payments.periods import PeriodLabelInvalid, billing_period_of_label, local_midnight


class ExportPeriod(NamedTuple):
    """[start, end), both at local midnight of the fleet's zone; `label` names it in files."""

    label: str
    first_day: dt.date
    last_day: dt.date
    start: dt.datetime
    end: dt.datetime
    is_billing_period: bool


class ExportPeriodUnreadable(ValueError):
    """The period is not one that can be read; `field` says which input is wrong."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def export_period_of_label(*, kind: str, label: str, zone: zoneinfo.ZoneInfo) -> ExportPeriod:
    """The billing period of a fleet billed `kind` (monthly, weekly) that `label` names."""
    try:
        period = billing_period_of_label(kind, label, zone)
    except PeriodLabelInvalid as error:
        raise ExportPeriodUnreadable(str(error), "period") from error
    except (ValueError, OverflowError) as error:
        raise ExportPeriodUnreadable(
            f"{label!r} lies beyond the calendar's ends.", "period"
        ) from error
    return ExportPeriod(
        label=period.label,
        first_day=period.first_day,
        last_day=period.last_day,
        start=period.start,
        end=period.end,
        is_billing_period=True,
    )


def _day(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as error:
        raise ExportPeriodUnreadable(
            f"{text!r} is not a day written as YYYY-MM-DD.", field
        ) from error


def export_period_of_days(
    *, first_day: str | dt.date, last_day: str | dt.date, zone: zoneinfo.ZoneInfo
) -> ExportPeriod:
    """The days from `first_day` to `last_day`, both included, in `zone`."""
    first = first_day if isinstance(first_day, dt.date) else _day(first_day, "from")
    last = last_day if isinstance(last_day, dt.date) else _day(last_day, "to")
    if last < first:
        raise ExportPeriodUnreadable(
            f"The last day {last:%Y-%m-%d} comes before the first day {first:%Y-%m-%d}.", "to"
        )
    try:
        start = local_midnight(first, zone)
        end = local_midnight(last + dt.timedelta(days=1), zone)
    except OverflowError as error:
        raise ExportPeriodUnreadable(
            f"The days {first.isoformat()} to {last.isoformat()} lie beyond the calendar's ends.",
            "from",
        ) from error
    return ExportPeriod(
        label=f"{first:%Y-%m-%d}_{last:%Y-%m-%d}",
        first_day=first,
        last_day=last,
        start=start,
        end=end,
        is_billing_period=False,
    )
