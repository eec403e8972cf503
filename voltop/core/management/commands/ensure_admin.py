"""`manage.py ensure_admin`: make sure a local superuser exists (settings from the environment)."""

from django.core.management.base import BaseCommand, CommandError

from voltop.core.errors import DomainError
from voltop.core.local_admin import DEFAULT_PASSWORD, DEFAULT_USERNAME, local_admin_ensure
from voltop.settings import env


class Command(BaseCommand):
    help = (
        "Create the local superuser from VOLTOP_ADMIN_USERNAME, VOLTOP_ADMIN_EMAIL and "
        "VOLTOP_ADMIN_PASSWORD (defaults admin / admin, for local use only)."
    )

    def handle(self, *args, **options) -> None:
        username = env("VOLTOP_ADMIN_USERNAME", default=DEFAULT_USERNAME)
        password = env("VOLTOP_ADMIN_PASSWORD", default=DEFAULT_PASSWORD)
        email = env("VOLTOP_ADMIN_EMAIL", default=f"{username}@localhost")
        try:
            result = local_admin_ensure(username=username, email=email, password=password)
        except DomainError as error:
            raise CommandError(error.message) from error
        verb = "Created" if result.created else "Kept existing"
        self.stdout.write(f"{verb} admin login '{result.username}' (sign in at /admin/)")
        if result.uses_default_password and result.created:
            self.stdout.write(
                self.style.WARNING(
                    f"Password: {DEFAULT_PASSWORD} (local use only; "
                    "set VOLTOP_ADMIN_PASSWORD for anything else)"
                )
            )
