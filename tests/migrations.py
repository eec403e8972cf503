"""Migrations in a test: go back to an app's earlier state, write rows there, go forward again,
and read what the schema holds. For `django_db(transaction=True)` tests only, which must end
with every migration applied again (`migrate_to_latest`)."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder


def migrate_to(*targets: tuple[str, str]) -> None:
    """Apply or unapply migrations until each (app_label, name) is the latest applied."""
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets))


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def applied_migrations(app_label: str) -> set[str]:
    return {
        name
        for label, name in MigrationRecorder(connection).applied_migrations()
        if label == app_label
    }


def table_constraint_names(table: str) -> set[str]:
    """The names of the table's constraints and indexes, as the database reports them."""
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))
