"""Rows inserted in bulk at the lowest cost the database offers: PostgreSQL's COPY, which takes
plain tuples, where an INSERT through the ORM builds and prepares a model instance per row.
Meant for append-only tables written many times a second; other databases get bulk_create."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from psycopg import sql


def rows_copied(
    model: type[models.Model], field_names: Sequence[str], rows: Sequence[tuple]
) -> int:
    """Insert `rows`, each a tuple of the values of `field_names` in order (a foreign key by
    its id), and return how many. The primary key is the database's, no signal is sent (as
    with bulk_create), and the database's errors are Django's, as with any query."""
    if not rows:
        return 0
    fields = [model._meta.get_field(name) for name in field_names]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            model(**{field.attname: value for field, value in zip(fields, row, strict=True)})
            for row in rows
        )
        return len(rows)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table),
        sql.SQL(", ").join(sql.Identifier(field.column) for field in fields),
    )
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return len(rows)
