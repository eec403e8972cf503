"""The migration that makes licence plates unique per fleet without regard to case refuses to
run while vehicles break that rule, and names them."""

import pytest
from django.db import connection

from apps.vehicles.models import Vehicle
from tests.factories import FleetFactory, VehicleFactory
from tests.migrations import (
    applied_migrations,
    migrate_to,
    migrate_to_latest,
    table_constraint_names,
)
from voltop.core.migration_operations import ClashesFound

BEFORE = ("vehicles", "0003_orderings_end_with_the_primary_key")
MIGRATION = ("vehicles", "0004_plate_unique_per_fleet_any_case")


@pytest.mark.django_db(transaction=True)
def test_the_migration_names_vehicles_of_a_fleet_sharing_a_plate_and_refuses_to_run():
    migrate_to(BEFORE)
    try:
        fleet = FleetFactory()
        first = VehicleFactory(fleet=fleet, plate="EV-001-X")
        second = VehicleFactory(fleet=fleet, plate="EV-002-X")
        Vehicle.objects.filter(pk=second.pk).update(plate="ev-001-x")
        VehicleFactory(fleet=FleetFactory(), plate="EV-001-X")
        constraints_before = table_constraint_names("vehicles_vehicle")

        with pytest.raises(ClashesFound) as refusal:
            migrate_to(MIGRATION)

        message = str(refusal.value)
        assert f"  - ids {first.pk}, {second.pk} (fleet {fleet.pk}, plate EV-001-X)\n" in message
        assert "1 group(s) of rows of vehicles_vehicle" in message
        assert MIGRATION[1] not in applied_migrations("vehicles")
        assert table_constraint_names("vehicles_vehicle") == constraints_before

        Vehicle.objects.filter(pk=second.pk).update(plate="EV-002-X")
        migrate_to(MIGRATION)

        assert MIGRATION[1] in applied_migrations("vehicles")
    finally:
        delete_vehicles_at_an_older_schema()
        migrate_to_latest()


def delete_vehicles_at_an_older_schema() -> None:
    """Delete the test's vehicles while the schema is older than the models: the ORM's delete
    would also clear references from tables that do not exist yet (a charger call's vehicle)."""
    with connection.cursor() as cursor:
        cursor.execute('DELETE FROM "vehicles_vehicle"')
