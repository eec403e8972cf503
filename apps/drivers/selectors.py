"""Reads of the drivers app, scoped to one driver."""

import datetime as dt
from functools import cache

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.models import Fleet, Membership
from apps.fleets.two_factor import TWO_FACTOR_ROLES


@cache
def _login_with_driver_columns() -> tuple[list, list]:
    """The columns of a login and its driver, each with the converters the ORM would apply to
    its value on this database (times made aware and decimals read on SQLite, say)."""
    user_model = get_user_model()
    columns = []
    for model in (user_model, Driver):
        for field in model._meta.concrete_fields:
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            columns.append((field.attname, column, converters))
    user_count = len(user_model._meta.concrete_fields)
    return columns[:user_count], columns[user_count:]


@cache
def _login_with_driver_sql() -> str:
    user_model = get_user_model()
    quote = connection.ops.quote_name
    user_table, driver_table = quote(user_model._meta.db_table), quote(Driver._meta.db_table)
    selected = ", ".join(
        f"{quote(column.alias)}.{quote(column.target.column)}"
        for columns in _login_with_driver_columns()
        for _, column, _ in columns
    )
    user_pk = quote(user_model._meta.pk.column)
    driver_user = quote(Driver._meta.get_field("user").column)
    return (
        f"SELECT {selected}, {_second_factor_needed_sql()} "  # noqa: S608 - names from _meta
        f"FROM {user_table} "
        f"LEFT OUTER JOIN {driver_table} ON {driver_table}.{driver_user} = {user_table}.{user_pk} "
        f"WHERE {user_table}.{user_pk} = %s"
    )


def _second_factor_needed_sql() -> str:
    """Whether the login needs a second factor: it has a confirmed authenticator app, or it is
    an admin or finance member of a fleet that requires one (apps.fleets.two_factor). Takes
    the parameters of SECOND_FACTOR_PARAMETERS."""
    quote = connection.ops.quote_name
    user_model = get_user_model()

    def column(model, field_name: str) -> str:
        table = quote(model._meta.db_table)
        return f"{table}.{quote(model._meta.get_field(field_name).column)}"

    user = column(user_model, user_model._meta.pk.name)
    roles = ", ".join(["%s"] * len(TWO_FACTOR_ROLES))
    return (
        f"(EXISTS (SELECT 1 FROM {quote(TOTPDevice._meta.db_table)} "  # noqa: S608 - names from _meta
        f"WHERE {column(TOTPDevice, 'user')} = {user} AND {column(TOTPDevice, 'confirmed')} = %s) "
        f"OR EXISTS (SELECT 1 FROM {quote(Membership._meta.db_table)} "
        f"INNER JOIN {quote(Fleet._meta.db_table)} "
        f"ON {column(Fleet, 'id')} = {column(Membership, 'fleet')} "
        f"WHERE {column(Membership, 'user')} = {user} "
        f"AND {column(Fleet, 'require_two_factor')} = %s "
        f"AND {column(Membership, 'role')} IN ({roles})))"
    )


SECOND_FACTOR_PARAMETERS = [True, True, *sorted(TWO_FACTOR_ROLES)]


def _converted(columns: list, values) -> list:
    row = []
    for (_, column, converters), value in zip(columns, values, strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        row.append(value)
    return row


def login_with_driver_get(*, user_id: int):
    """The login with its driver profile already read (`user.driver`, None when the login
    belongs to no driver), or None when there is no such login. `user.second_factor_needed`
    says whether the login needs the code of an authenticator app (apps.fleets.two_factor).

    The same instances as `User.objects.select_related("driver").get(pk=user_id)`, from SQL
    built once per process: the API's authentication reads this on every request, and
    compiling the ORM query each time cost more than running it."""
    user_model = get_user_model()
    with connection.cursor() as cursor:
        cursor.execute(_login_with_driver_sql(), [*SECOND_FACTOR_PARAMETERS, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    *row, second_factor_needed = row
    user_columns, driver_columns = _login_with_driver_columns()
    user_values, driver_values = row[: len(user_columns)], row[len(user_columns) :]
    user = user_model.from_db(
        DEFAULT_DB_ALIAS,
        [attname for attname, _, _ in user_columns],
        _converted(user_columns, user_values),
    )
    driver_pk_index = [attname for attname, _, _ in driver_columns].index(Driver._meta.pk.attname)
    if driver_values[driver_pk_index] is None:
        user_model.driver.related.set_cached_value(user, None)
    else:
        user.driver = Driver.from_db(
            DEFAULT_DB_ALIAS,
            [attname for attname, _, _ in driver_columns],
            _converted(driver_columns, driver_values),
        )
    user.second_factor_needed = bool(second_factor_needed)
    return user


def driver_profile_get(*, driver_id: int) -> Driver:
    """A driver with the fleet and cost center their profile shows."""
    return Driver.objects.select_related("fleet", "cost_center").get(pk=driver_id)


def charge_token_list(*, driver_id: int) -> QuerySet[ChargeToken]:
    """A driver's charge tokens: active ones first, then by UID."""
    return ChargeToken.objects.filter(driver_id=driver_id).order_by("-is_active", "uid", "pk")


LICENCE_WARNING_DAYS = 30


def driver_list_licence_expiring(drivers: QuerySet[Driver], *, today: dt.date) -> QuerySet[Driver]:
    """Of `drivers`, those still with the fleet whose driving licence has expired or expires
    within LICENCE_WARNING_DAYS days of `today`."""
    return drivers.filter(
        licence_expires_on__lte=today + dt.timedelta(days=LICENCE_WARNING_DAYS)
    ).exclude(status=DriverStatus.LEFT)
