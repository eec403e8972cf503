"""The migration that makes active tokens' UIDs unique without regard to case refuses to run
while active tokens break that rule, and names them."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import DriverFactory
from tests.migrations import (
    applied_migrations,
    migrate_to,
    migrate_to_latest,
    table_constraint_names,
)
from voltop.core.migration_operations import ClashesFound

BEFORE = ("drivers", "0002_orderings_end_with_the_primary_key")
MIGRATION = ("drivers", "0003_token_uid_unique_any_case")


def token_model_at_the_earlier_schema():
    """The charge token model as it was before MIGRATION: later migrations add token columns
    that the table does not have yet."""
    state = MigrationExecutor(connection).loader.project_state([BEFORE])
    return state.apps.get_model("drivers", "ChargeToken")


def token_at_the_earlier_schema(*, driver_id: int, uid: str, is_active: bool):
    return token_model_at_the_earlier_schema().objects.create(
        driver_id=driver_id,
        uid=uid,
        kind="RFID",
        valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        is_active=is_active,
    )


@pytest.mark.django_db(transaction=True)
def test_the_migration_names_active_tokens_sharing_a_uid_and_refuses_to_run():
    driver = DriverFactory()  # made at the latest schema: later migrations add driver columns
    migrate_to(BEFORE)
    try:
        first = token_at_the_earlier_schema(driver_id=driver.pk, uid="04A1B2C3D4", is_active=True)
        second = token_at_the_earlier_schema(driver_id=driver.pk, uid="04a1b2c3d4", is_active=True)
        token_at_the_earlier_schema(driver_id=driver.pk, uid="04A1b2C3d4", is_active=False)
        constraints_before = table_constraint_names("drivers_chargetoken")

        with pytest.raises(ClashesFound) as refusal:
            migrate_to(MIGRATION)

        message = str(refusal.value)
        assert f"  - ids {first.pk}, {second.pk} (uid 04A1B2C3D4)\n" in message
        assert "1 group(s) of rows of drivers_chargetoken" in message
        assert MIGRATION[1] not in applied_migrations("drivers")
        assert table_constraint_names("drivers_chargetoken") == constraints_before

        token_model_at_the_earlier_schema().objects.filter(pk=second.pk).update(is_active=False)
        migrate_to(MIGRATION)

        assert MIGRATION[1] in applied_migrations("drivers")
    finally:
        token_model_at_the_earlier_schema().objects.all().delete()
        migrate_to_latest()
