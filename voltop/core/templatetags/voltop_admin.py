"""Template tags of the admin: a date drill-down for lists of many rows."""

import datetime as dt

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.db.models import Max, Min
from django.utils import timezone

register = template.Library()


def periods_between(first: dt.date, last: dt.date, kind: str) -> list[dt.date]:
    """The first day of each year, month or day (`kind`) from `first`'s to `last`'s."""
    if kind == "year":
        return [dt.date(year, 1, 1) for year in range(first.year, last.year + 1)]
    if kind == "month":
        months = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
        return [dt.date(month // 12, month % 12 + 1, 1) for month in months]
    return [first + dt.timedelta(days=day) for day in range((last - first).days + 1)]


class _PeriodsFromBounds:
    """The list's rows as Django's date drill-down reads them, except that the years, months
    or days it offers run from the earliest to the latest row (one MIN/MAX, which an index
    answers) instead of a DISTINCT over every row."""

    def __init__(self, queryset):
        self._queryset = queryset

    def aggregate(self, **aggregates):
        return self._queryset.aggregate(**aggregates)

    def _periods(self, field_name: str, kind: str, *args, **kwargs) -> list[dt.date]:
        bounds = self._queryset.aggregate(first=Min(field_name), last=Max(field_name))
        if bounds["first"] is None:
            return []
        first, last = (
            timezone.localtime(moment).date() if isinstance(moment, dt.datetime) else moment
            for moment in (bounds["first"], bounds["last"])
        )
        return periods_between(first, last, kind)

    datetimes = _periods
    dates = _periods


class _ChangeListWithBoundedPeriods:
    def __init__(self, changelist):
        self._changelist = changelist
        self.queryset = _PeriodsFromBounds(changelist.queryset)

    def __getattr__(self, name: str):
        return getattr(self._changelist, name)


def bounded_date_hierarchy(cl):
    """Django's date drill-down, offering the periods between the list's first and last row."""
    return date_hierarchy(_ChangeListWithBoundedPeriods(cl))


@register.tag(name="bounded_date_hierarchy")
def bounded_date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        parser,
        token,
        func=bounded_date_hierarchy,
        template_name="date_hierarchy.html",
        takes_context=False,
    )
