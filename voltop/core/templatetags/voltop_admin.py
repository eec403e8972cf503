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
    or days it offers run from the earliest to the latest row instead of a DISTINCT over every
    row, and those two are each read as the first row in that order (an index answers it, where
    a MIN and MAX over a filtered join would read every row of the filter)."""

    def __init__(self, queryset):
        self._queryset = queryset
        self._bounds = {}

    def bounds(self, field_name: str) -> tuple:
        if field_name not in self._bounds:
            values = self._queryset.values_list(field_name, flat=True)
            self._bounds[field_name] = (
                values.order_by(field_name).first(),
                values.order_by(f"-{field_name}").first(),
            )
        return self._bounds[field_name]

    def aggregate(self, *, first: Min, last: Max) -> dict:
        """Django's drill-down asks for Min and Max of its field, under these names."""
        field = first.get_source_expressions()[0]
        earliest, latest = self.bounds(field.name)
        return {"first": earliest, "last": latest}

    def _periods(self, field_name: str, kind: str, *args, **kwargs) -> list[dt.date]:
        earliest, latest = self.bounds(field_name)
        if earliest is None:
            return []
        first, last = (
            timezone.localtime(moment).date() if isinstance(moment, dt.datetime) else moment
            for moment in (earliest, latest)
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
