"""Reads of the drivers app, scoped to one driver."""

from functools import cache

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import QuerySet

from apps.drivers.models import ChargeToken, Driver


@cache
def _login_with_driver_sql() -> str:
    user_model = get_user_model()
    quote = connection.ops.quote_name
    user_table, driver_table = quote(user_model._meta.db_table), quote(Driver._meta.db_table)
    columns = [f"{user_table}.{quote(f.column)}" for f in user_model._meta.concrete_fields] + [
        f"{driver_table}.{quote(f.column)}" for f in Driver._meta.concrete_fields
    ]
    user_pk = quote(user_model._meta.pk.column)
    driver_user = quote(Driver._meta.get_field("user").column)
    return (
        f"SELECT {', '.join(columns)} FROM {user_table} "  # noqa: S608 - names from _meta
        f"LEFT OUTER JOIN {driver_table} ON {driver_table}.{driver_user} = {user_table}.{user_pk} "
        f"WHERE {user_table}.{user_pk} = %s"
    )


def login_with_driver_get(*, user_id: int):
    """The login with its driver profile already read (`user.driver`, None when the login
    belongs to no driver), or None when there is no such login.

    The same instances as `User.objects.select_related("driver").get(pk=user_id)`, from SQL
    built once per process: the API's authentication reads this on every request, and
    compiling the ORM query each time cost more than running it."""
    user_model = get_user_model()
    with connection.cursor() as cursor:
        cursor.execute(_login_with_driver_sql(), [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    user_fields = [f.attname for f in user_model._meta.concrete_fields]
    driver_fields = [f.attname for f in Driver._meta.concrete_fields]
    user = user_model.from_db(DEFAULT_DB_ALIAS, user_fields, row[: len(user_fields)])
    driver_row = row[len(user_fields) :]
    driver_pk = driver_row[driver_fields.index(Driver._meta.pk.attname)]
    if driver_pk is None:
        user_model.driver.related.set_cached_value(user, None)
    else:
        user.driver = Driver.from_db(DEFAULT_DB_ALIAS, driver_fields, driver_row)
    return user


def driver_profile_get(*, driver_id: int) -> Driver:
    """A driver with the fleet and cost center their profile shows."""
    return Driver.objects.select_related("fleet", "cost_center").get(pk=driver_id)


def charge_token_list(*, driver_id: int) -> QuerySet[ChargeToken]:
    """A driver's charge tokens: active ones first, then by UID."""
    return ChargeToken.objects.filter(driver_id=driver_id).order_by("-is_active", "uid", "pk")
