"""A login's e-mail address is unique without regard to case among logins that have one, so a
login by e-mail finds exactly one (voltop.core.logins checks the same for a clear message).

auth.User belongs to no app of Voltop: logins are shared by managers (fleets) and drivers, so
the shared kernel, which depends on no app, holds the rule. An expression index with a WHERE
clause reads the same on PostgreSQL and SQLite."""

from django.db import migrations
from django.db.models import Q
from django.db.models.functions import Upper

from voltop.core.migration_operations import refuse_clashes


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        refuse_clashes(
            model="auth.User",
            key={"email": Upper("email")},
            condition=~Q(email=""),
            rule="logins' e-mail addresses become unique without regard to case",
            fix=(
                "Give each of these logins its own e-mail address, or empty it, in the admin "
                "(Authentication and authorization > Users): a person who drives for two fleets "
                "has a login with another address for each."
            ),
        ),
        migrations.RunSQL(
            sql="CREATE UNIQUE INDEX login_email_unique_any_case ON auth_user (UPPER(email)) "
            "WHERE email <> ''",
            reverse_sql="DROP INDEX login_email_unique_any_case",
        ),
    ]
