"""Migration operations that only apply on PostgreSQL (exclusion constraints, triggers)."""

from django.db import migrations


class PostgreSQLOnlySQL(migrations.RunSQL):
    """Raw SQL run on PostgreSQL and skipped on other databases (the services check the rule)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
