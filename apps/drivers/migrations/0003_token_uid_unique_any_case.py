"""An active token's UID is unique without regard to case, in the database itself: the unique
rule on the UID of active tokens becomes one on UPPER(uid). Active tokens whose UIDs differ only
in case are reported with their ids first, and the migration then refuses to run."""

from django.db import migrations, models
from django.db.models import Q
from django.db.models.functions import Upper

from voltop.core.migration_operations import refuse_clashes


class Migration(migrations.Migration):
    dependencies = [
        ("drivers", "0002_orderings_end_with_the_primary_key"),
    ]

    operations = [
        refuse_clashes(
            model="drivers.ChargeToken",
            key={"uid": Upper("uid")},
            condition=Q(is_active=True),
            rule="an active token's UID becomes unique without regard to case",
            fix=(
                "Deactivate all but one of each group in the admin (Charge tokens), or give "
                "them their own UIDs."
            ),
        ),
        migrations.RemoveConstraint(
            model_name="chargetoken",
            name="token_uid_unique_among_active",
        ),
        migrations.AddConstraint(
            model_name="chargetoken",
            constraint=models.UniqueConstraint(
                Upper("uid"),
                condition=models.Q(("is_active", True)),
                name="token_uid_unique_among_active",
                violation_error_code="token_uid_unique_among_active",
                violation_error_message="An active token with this UID already exists (case does not matter).",
            ),
        ),
    ]
