"""Migration operations: raw SQL that only applies on PostgreSQL (exclusion constraints,
triggers), and the check that refuses a migration adding a unique rule while rows break it."""

from django.core.management.base import CommandError
from django.db import migrations
from django.db.models import Count, Expression, Q


class PostgreSQLOnlySQL(migrations.RunSQL):
    """Raw SQL run on PostgreSQL and skipped on other databases (the services check the rule)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class ClashesFound(CommandError):
    """Rows break the unique rule a migration is about to add; `migrate` stops with this message
    (a CommandError, so the command prints it without a traceback) and changes nothing."""


def refuse_clashes(
    *, model: str, key: dict[str, Expression], rule: str, fix: str, condition: Q | None = None
) -> migrations.RunPython:
    """An operation to put before the one that adds a unique rule: it finds the rows of `model`
    ("app_label.ModelName", those matching `condition`) that share a value of `key` (name:
    expression), and if there are any raises ClashesFound naming each group with its ids, what
    `rule` is and how to `fix` it. Nothing else runs then, so the migration never stops half-way."""
    app_label, model_name = model.split(".")

    def check(apps, schema_editor) -> None:
        rows = apps.get_model(app_label, model_name)._default_manager.using(
            schema_editor.connection.alias
        )
        if condition is not None:
            rows = rows.filter(condition)
        annotations = {f"clash_{name}": expression for name, expression in key.items()}
        rows = rows.annotate(**annotations)
        groups = (
            rows.order_by()
            .values(*annotations)
            .annotate(rows=Count("pk"))
            .filter(rows__gt=1)
            .order_by(*annotations)
        )
        clashes = []
        for group in groups:
            values = {name: group[f"clash_{name}"] for name in key}
            ids = rows.filter(**{f"clash_{name}": value for name, value in values.items()})
            id_list = ", ".join(str(pk) for pk in ids.order_by("pk").values_list("pk", flat=True))
            shared = ", ".join(f"{name} {value}" for name, value in values.items())
            clashes.append(f"  - ids {id_list} ({shared})")
        if clashes:
            table = rows.model._meta.db_table
            raise ClashesFound(
                f"A migration of {app_label} was refused and changed nothing: {rule}, and "
                f"{len(clashes)} group(s) of rows of {table} break that rule:\n"
                + "\n".join(clashes)
                + f"\n{fix} Then run migrate again."
            )

    return migrations.RunPython(check, migrations.RunPython.noop, elidable=False)
