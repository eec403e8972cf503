"""PostgreSQL guards that the ORM cannot declare portably.

- No two assignments of one vehicle overlap in time (exclusion constraint over a tstzrange).
- An odometer reading never goes below an earlier one nor above a later one (trigger).
On SQLite the services enforce both rules.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

from voltop.core.migration_operations import PostgreSQLOnlySQL


class Migration(migrations.Migration):
    dependencies = [("vehicles", "0001_initial")]

    operations = [
        BtreeGistExtension(),
        PostgreSQLOnlySQL(
            sql="""
                ALTER TABLE vehicles_vehicleassignment
                ADD CONSTRAINT assignment_no_overlap_per_vehicle
                EXCLUDE USING gist (
                    vehicle_id WITH =,
                    tstzrange(starts_at, ends_at, '[)') WITH &&
                );
            """,
            reverse_sql="""
                ALTER TABLE vehicles_vehicleassignment
                DROP CONSTRAINT assignment_no_overlap_per_vehicle;
            """,
        ),
        PostgreSQLOnlySQL(
            sql="""
                CREATE FUNCTION vehicles_odometer_monotonic() RETURNS trigger AS $$
                BEGIN
                    IF EXISTS (
                        SELECT 1 FROM vehicles_odometerreading r
                        WHERE r.vehicle_id = NEW.vehicle_id AND r.id <> NEW.id AND (
                            (r.recorded_at < NEW.recorded_at AND r.km > NEW.km)
                            OR (r.recorded_at > NEW.recorded_at AND r.km < NEW.km)
                        )
                    ) THEN
                        RAISE EXCEPTION 'odometer reading % km at % is out of order for vehicle %',
                            NEW.km, NEW.recorded_at, NEW.vehicle_id
                            USING ERRCODE = 'check_violation',
                                  CONSTRAINT = 'odometer_monotonic_per_vehicle';
                    END IF;
                    RETURN NEW;
                END;
                $$ LANGUAGE plpgsql;

                CREATE TRIGGER odometer_monotonic_per_vehicle
                BEFORE INSERT OR UPDATE ON vehicles_odometerreading
                FOR EACH ROW EXECUTE FUNCTION vehicles_odometer_monotonic();
            """,
            reverse_sql="""
                DROP TRIGGER odometer_monotonic_per_vehicle ON vehicles_odometerreading;
                DROP FUNCTION vehicles_odometer_monotonic();
            """,
        ),
    ]
