"""Logins (Django users) and their e-mail addresses: among the logins that have one, an e-mail
address belongs to one login only, without regard to case, so a login by e-mail finds exactly
one. Everything that creates a login or changes its e-mail address checks it here; the database
holds the same rule (the unique index of core migration 0002)."""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet, Value
from django.db.models.functions import Upper

from voltop.core.errors import Conflict

LOGIN_EMAIL_INDEX = "login_email_unique_any_case"


class LoginEmailInUse(Conflict):
    code = "core.login_email_in_use"


def _logins_with_email() -> QuerySet:
    return get_user_model()._default_manager.exclude(email="")


def login_emails_check(*, emails: Iterable[str], exclude_pk: int | None = None) -> None:
    """Refuse e-mail addresses that another login has (`exclude_pk`: the login being changed),
    or that two of `emails` share, whatever their case; an empty address is no one's."""
    wanted: dict[str, str] = {}
    for email in emails:
        if not email:
            continue
        if email.upper() in wanted:
            raise LoginEmailInUse(
                f"The e-mail address {email} is given to two logins; each login needs its own.",
                field="email",
            )
        wanted[email.upper()] = email
    if not wanted:
        return
    taken = (
        _logins_with_email()
        .annotate(email_any_case=Upper("email"))
        .filter(email_any_case__in=[Upper(Value(email)) for email in wanted.values()])
        .exclude(pk=exclude_pk)
        .order_by("pk")
        .values_list("email", flat=True)
        .first()
    )
    if taken is not None:
        raise login_email_in_use(taken=taken)


def login_email_in_use(*, taken: str) -> LoginEmailInUse:
    """The refusal of an e-mail address another login has (`taken`, as that login has it), for
    the check above and for a write the database's unique index refused."""
    return LoginEmailInUse(
        f"Another login already has the e-mail address {taken} (case does not "
        "matter). Each login needs its own: a person who drives for two fleets has a login "
        "with another address for each.",
        field="email",
    )


def login_email_check(*, email: str, exclude_pk: int | None = None) -> None:
    """Refuse an e-mail address that a login other than `exclude_pk` has, whatever its case."""
    login_emails_check(emails=[email], exclude_pk=exclude_pk)


def login_get_by_email(*, email: str) -> AbstractBaseUser | None:
    """The one login with this e-mail address (surrounding spaces aside), whatever its case, or
    None."""
    email = email.strip()
    if not email:
        return None
    try:
        return _logins_with_email().get(email__iexact=email)
    except get_user_model().DoesNotExist:
        return None
