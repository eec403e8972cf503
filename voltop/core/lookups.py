"""Lookups Django does not have, registered on every field when the core app is ready."""

import json

from django.db.models import Field, Lookup


class InArray(Lookup):
    """`field__in_array=values`: the field is one of `values`, sent to the database as one
    parameter however many there are.

    `__in` sends each value as a parameter of its own, which Django prepares, the driver
    splices and the database parses one by one; for the tens of thousands of ids billing
    marks, that is most of the statement's cost. Here PostgreSQL gets one array
    (`= ANY(%s)`) and SQLite one JSON array (`IN (SELECT value FROM json_each(%s))`). The
    values are sent as they are: numbers or strings, not model instances.
    """

    lookup_name = "in_array"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} IN (SELECT value FROM json_each(%s))", (  # noqa: S608 - compiled column
            *lhs_params,
            json.dumps(list(self.rhs)),
        )

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, list(self.rhs))


def lookups_register() -> None:
    Field.register_lookup(InArray)
