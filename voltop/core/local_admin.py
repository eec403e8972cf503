"""The local administrator login that `make run` ensures, for trying Voltop on one's machine."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from voltop.core.errors import DomainError
from voltop.core.logins import login_email_check

DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "admin"  # noqa: S105 - the documented local-only default


class DefaultPasswordOutsideDebug(DomainError):
    code = "core.default_admin_password_outside_debug"


@dataclass(frozen=True)
class LocalAdmin:
    username: str
    created: bool
    uses_default_password: bool


@transaction.atomic
def local_admin_ensure(*, username: str, email: str, password: str) -> LocalAdmin:
    """Create the superuser `username` if missing; an existing one keeps its password.

    The default password is refused unless DEBUG is on, so it never reaches a real deployment.
    """
    uses_default = password == DEFAULT_PASSWORD
    if uses_default and not settings.DEBUG:
        raise DefaultPasswordOutsideDebug(
            "Set VOLTOP_ADMIN_PASSWORD: the default admin password is for DEBUG=true only.",
            field="VOLTOP_ADMIN_PASSWORD",
        )
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None:
        return LocalAdmin(username=username, created=False, uses_default_password=uses_default)
    login_email_check(email=email)
    user_model.objects.create_superuser(username=username, email=email, password=password)
    return LocalAdmin(username=username, created=True, uses_default_password=uses_default)
