"""Test assertions about refusals: which database constraint refused a write, and which fields
and codes a ValidationError carries."""

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import CheckConstraint, UniqueConstraint

_SQLITE_CHECK = re.compile(r"^CHECK constraint failed: (?P<name>\w+)$")
_SQLITE_UNIQUE_INDEX = re.compile(r"^UNIQUE constraint failed: index '(?P<name>\w+)'$")
_SQLITE_UNIQUE = re.compile(r"^UNIQUE constraint failed: (?P<columns>.+)$")


def _unique_constraint_names() -> dict[tuple[str, ...], str]:
    """Every unique rule of the project's models, by its "table.column" list as SQLite names it.

    Unique fields (unique=True) get PostgreSQL's name for them, "<table>_<column>_key", so one
    assertion reads the same on both databases.
    """
    names = {}
    for model in apps.get_models():
        table = model._meta.db_table
        for constraint in model._meta.constraints:
            if isinstance(constraint, UniqueConstraint) and constraint.fields:
                columns = tuple(
                    f"{table}.{model._meta.get_field(name).column}" for name in constraint.fields
                )
                names[columns] = constraint.name
        for field in model._meta.local_fields:
            if field.unique and not field.primary_key:
                names[(f"{table}.{field.column}",)] = f"{table}_{field.column}_key"
    return names


def _column_check_names() -> dict[str, set[str]]:
    """The checks Django puts on a column of its own (positive integer fields), by the column's
    name as SQLite reports them, each under PostgreSQL's name for it, "<table>_<column>_check"."""
    names: dict[str, set[str]] = {}
    for model in apps.get_models():
        table = model._meta.db_table
        for field in model._meta.local_fields:
            if field.db_check(connection):
                names.setdefault(field.column, set()).add(f"{table}_{field.column}_check")
    return names


def _sqlite_check_name(name: str) -> str:
    """A named check constraint keeps its name; a column's own check is reported by SQLite with
    the column's name, and is given PostgreSQL's name when one table alone has that column."""
    named_checks = {
        constraint.name
        for model in apps.get_models()
        for constraint in model._meta.constraints
        if isinstance(constraint, CheckConstraint)
    }
    if name in named_checks:
        return name
    candidates = _column_check_names().get(name, set())
    if len(candidates) != 1:
        raise AssertionError(f"the check on column {name!r} is not one table's: {candidates}")
    return candidates.pop()


def violated_constraint(error: IntegrityError) -> str:
    """The name of the constraint (or trigger) that made the database refuse a write."""
    if connection.vendor == "postgresql":
        return error.__cause__.diag.constraint_name
    message = str(error)
    if match := _SQLITE_CHECK.match(message):
        return _sqlite_check_name(match["name"])
    if match := _SQLITE_UNIQUE_INDEX.match(message):  # an index over expressions: its name
        return match["name"]
    if match := _SQLITE_UNIQUE.match(message):
        columns = tuple(match["columns"].split(", "))
        return _unique_constraint_names()[columns]
    raise AssertionError(f"not a constraint violation: {message}")


@contextmanager
def refused_by_database(constraint: str) -> Iterator[None]:
    """Expect the block's write to be refused by `constraint`, and roll the block back."""
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        yield
    assert violated_constraint(excinfo.value) == constraint


def error_codes(error: ValidationError) -> dict[str, list[str | None]]:
    """{field: [code, …]} of a ValidationError raised by full_clean(); "__all__" for the model."""
    return {field: [item.code for item in items] for field, items in error.error_dict.items()}


def full_clean_errors(instance) -> ValidationError:
    """The ValidationError `instance.full_clean()` raises (fails the test if it raises none)."""
    with pytest.raises(ValidationError) as excinfo:
        instance.full_clean()
    return excinfo.value


NON_FIELD = NON_FIELD_ERRORS


def constraints_needing_a_message(app_label: str) -> list:
    """Constraints of an app whose Django default message would not name the rule: every check
    constraint, and unique constraints with a condition ("Constraint “…” is violated.")."""
    found = []
    for model in apps.get_app_config(app_label).get_models():
        for constraint in model._meta.constraints:
            if isinstance(constraint, CheckConstraint) or (
                isinstance(constraint, UniqueConstraint) and constraint.condition is not None
            ):
                found.append(pytest.param(constraint, id=constraint.name))
    return found
