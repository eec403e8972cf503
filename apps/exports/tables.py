"""The rows of an export file as the file writers read them: the columns, the rows in file
order, and the control totals of the file."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum, Value

from apps.exports.columns import Column


@dataclass(frozen=True)
class ExportTable:
    """An export kind's rows: `rows` yields dicts of the values the columns read, in the
    order the file lists them (`order` are its sort keys among the values); `totals` names the
    values whose sums are the file's control totals (net, VAT, gross); `selection_field` is
    the field an admin list's selected ids are matched on.

    `rows` is a query, or for the few rows of a summary computed in Python (VAT per rate,
    the reconciliation), a list of dicts already in order."""

    kind: str
    columns: tuple[Column, ...]
    rows: QuerySet | list[dict]
    order: tuple[str, ...]
    totals: tuple[str, str, str] | None = None
    selection_field: str = "pk"

    @property
    def is_query(self) -> bool:
        return isinstance(self.rows, QuerySet)

    @property
    def sources(self) -> tuple[str, ...]:
        """The values the query selects, each once, in a fixed order."""
        names = dict.fromkeys(self.order)
        for column in self.columns:
            if column.source:
                names[column.source] = None
        if self.is_query:
            for name in self.rows.query.annotations:
                names.setdefault(name, None)
        return tuple(names)

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def values(self) -> QuerySet | list[dict]:
        """The rows as dicts of every value, in file order."""
        if not self.is_query:
            return self.rows
        return self.rows.values(*self.sources).order_by(*self.order)

    def control_totals(self) -> tuple[int, Decimal | None, Decimal | None, Decimal | None]:
        """(rows, net, VAT, gross) of the whole file, from the same rows."""
        if not self.is_query:
            return self._listed_totals()
        sums = {"rows": Sum(Value(1))}
        if self.totals:
            for name, source in zip(("net", "vat", "gross"), self.totals, strict=True):
                sums[name] = Sum(source)
        figures = self.rows.order_by().aggregate(**sums)
        if not self.totals:
            return figures["rows"] or 0, None, None, None
        return (
            figures["rows"] or 0,
            *(Decimal(str(figures[name] or 0)) for name in ("net", "vat", "gross")),
        )

    def _listed_totals(self) -> tuple[int, Decimal | None, Decimal | None, Decimal | None]:
        if not self.totals:
            return len(self.rows), None, None, None
        return (
            len(self.rows),
            *(
                sum((Decimal(str(row[source] or 0)) for row in self.rows), Decimal(0))
                for source in self.totals
            ),
        )
