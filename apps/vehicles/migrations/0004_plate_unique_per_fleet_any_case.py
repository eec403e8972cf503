"""A licence plate is unique in its fleet without regard to case, in the database itself: the
unique rule on (fleet, plate) becomes one on (fleet, UPPER(plate)). Vehicles whose plates differ
only in case are reported with their ids first, and the migration then refuses to run. The
vehicles' ordering ends with the primary key, as the unique rule no longer names the columns."""

from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Upper

from voltop.core.migration_operations import refuse_clashes


class Migration(migrations.Migration):
    dependencies = [
        ("fleets", "0004_orderings_end_with_the_primary_key"),
        ("vehicles", "0003_orderings_end_with_the_primary_key"),
    ]

    operations = [
        refuse_clashes(
            model="vehicles.Vehicle",
            key={"fleet": F("fleet_id"), "plate": Upper("plate")},
            rule="a licence plate becomes unique in its fleet without regard to case",
            fix="Give each of these vehicles its own plate in the admin (Vehicles).",
        ),
        migrations.AlterModelOptions(
            name="vehicle",
            options={"ordering": ["fleet", "plate", "pk"]},
        ),
        migrations.RemoveConstraint(
            model_name="vehicle",
            name="vehicle_plate_unique_per_fleet",
        ),
        migrations.AddConstraint(
            model_name="vehicle",
            constraint=models.UniqueConstraint(
                models.F("fleet"),
                Upper("plate"),
                name="vehicle_plate_unique_per_fleet",
                violation_error_code="vehicle_plate_unique_per_fleet",
                violation_error_message="A vehicle of this fleet already has this licence plate (case does not matter).",
            ),
        ),
    ]
