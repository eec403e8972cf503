"""Rows inserted and updated in bulk at the lowest cost the database offers, for tables
written many times a second. Inserts go through PostgreSQL's COPY, which takes plain tuples,
where an INSERT through the ORM builds and prepares a model instance per row. Updates go
through one UPDATE joined to a list of VALUES, where bulk_update builds a CASE expression per
field and row. Other databases get bulk_create and bulk_update."""

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


def _cast_type(field: models.Field) -> str:
    """The type a VALUES column of `field` is cast to: the column's own, except that text
    keeps its length, so that a value too long for the column is refused on assignment
    rather than cut by the cast."""
    db_type = field.db_type(connection)
    if db_type.startswith(("varchar", "char")):
        return "text"
    return db_type


def rows_updated(
    model: type[models.Model], field_names: Sequence[str], rows: Sequence[tuple]
) -> int:
    """Set `field_names` on the rows of `model` that `rows` name, each a tuple of a primary
    key and the new values of `field_names` in order (a foreign key by its id), in one
    statement, and return how many rows were updated. Values are prepared as the ORM
    prepares them for saving; no signal is sent (as with bulk_update), and the database's
    errors are Django's, as with any query."""
    if not rows:
        return 0
    meta = model._meta
    fields = [meta.pk, *(meta.get_field(name) for name in field_names)]
    if connection.vendor != "postgresql":
        return model.objects.bulk_update(
            [
                model(**{field.attname: value for field, value in zip(fields, row, strict=True)})
                for row in rows
            ],
            list(field_names),
        )
    columns = [sql.Identifier(field.column) for field in fields]
    row_values = sql.SQL("({})").format(
        sql.SQL(", ").join(sql.SQL("%s::" + _cast_type(field)) for field in fields)
    )
    statement = sql.SQL(
        "UPDATE {table} SET {assignments} FROM (VALUES {rows}) AS changed ({columns}) "
        "WHERE {table}.{key} = changed.{key}"
    ).format(
        table=sql.Identifier(meta.db_table),
        assignments=sql.SQL(", ").join(
            sql.SQL("{column} = changed.{column}").format(column=column) for column in columns[1:]
        ),
        rows=sql.SQL(", ").join([row_values] * len(rows)),
        columns=sql.SQL(", ").join(columns),
        key=columns[0],
    )
    parameters = [
        field.get_db_prep_save(value, connection)
        for row in rows
        for field, value in zip(fields, row, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(cursor.cursor), parameters)
        return cursor.rowcount
