"""Writes of the drivers app: driver status changes and charge tokens."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.exceptions import (
    DriverNotActive,
    InvalidTokenPeriod,
    InvalidTokenUid,
    TokenUidInUse,
)
from apps.drivers.models import ChargeToken, Driver
from voltop.core.timeutils import require_aware


def normalize_token_uid(uid: str) -> str:
    return uid.strip().upper()


@transaction.atomic
def driver_set_status(*, driver: Driver, status: DriverStatus) -> Driver:
    """Change a driver's status; suspending or removing a driver deactivates all their tokens."""
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    if driver.status != status:
        driver.status = status
        driver.save(update_fields=["status", "updated_at"])
    if status != DriverStatus.ACTIVE:
        ChargeToken.objects.filter(driver=driver, is_active=True).update(
            is_active=False, updated_at=timezone.now()
        )
    return driver


def _check_token_uid_shape(uid: str) -> None:
    max_length = ChargeToken._meta.get_field("uid").max_length
    if not uid:
        raise InvalidTokenUid("A token needs a UID.", field="uid")
    if len(uid) > max_length:
        raise InvalidTokenUid(
            f"A token UID has at most {max_length} characters; {uid} has {len(uid)}.", field="uid"
        )


def _check_token_uid_free(uid: str, *, exclude_pk: int | None) -> None:
    clash = ChargeToken.objects.filter(uid=uid, is_active=True).exclude(pk=exclude_pk)
    if clash.exists():
        raise TokenUidInUse(f"An active token with UID {uid} already exists.", field="uid")


def charge_token_check(
    *,
    driver: Driver,
    uid: str,
    valid_from: datetime,
    valid_until: datetime | None,
    is_active: bool,
    exclude_pk: int | None = None,
) -> None:
    """Raise the first rule a token with these values would break."""
    require_aware(valid_from, field="valid_from")
    require_aware(valid_until, field="valid_until")
    _check_token_uid_shape(normalize_token_uid(uid))
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidTokenPeriod("Valid until must be after valid from.", field="valid_until")
    if is_active and driver.status != DriverStatus.ACTIVE:
        raise DriverNotActive(
            f"Driver {driver} is not active ({driver.get_status_display().lower()}); "
            "only active drivers get active tokens.",
            field="is_active",
        )
    if is_active:
        _check_token_uid_free(normalize_token_uid(uid), exclude_pk=exclude_pk)


@transaction.atomic
def charge_token_issue(
    *,
    driver: Driver,
    uid: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    kind: TokenKind = TokenKind.RFID,
) -> ChargeToken:
    """Give a driver a new active token."""
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    charge_token_check(
        driver=driver, uid=uid, valid_from=valid_from, valid_until=valid_until, is_active=True
    )
    token = ChargeToken(
        driver=driver,
        uid=normalize_token_uid(uid),
        kind=kind,
        valid_from=valid_from,
        valid_until=valid_until,
        is_active=True,
    )
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError as error:
        raise TokenUidInUse(
            f"An active token with UID {token.uid} already exists.", field="uid"
        ) from error
    return token


@transaction.atomic
def charge_token_save(*, token: ChargeToken) -> ChargeToken:
    """Save a token edited in the admin, after the same checks as issuing one."""
    driver = Driver.objects.select_for_update().get(pk=token.driver_id)
    charge_token_check(
        driver=driver,
        uid=token.uid,
        valid_from=token.valid_from,
        valid_until=token.valid_until,
        is_active=token.is_active,
        exclude_pk=token.pk,
    )
    token.uid = normalize_token_uid(token.uid)
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError as error:
        raise TokenUidInUse(
            f"An active token with UID {token.uid} already exists.", field="uid"
        ) from error
    return token


@transaction.atomic
def charge_token_deactivate(*, token: ChargeToken) -> ChargeToken:
    """Block a token, e.g. a lost card; it can no longer start a session."""
    token = ChargeToken.objects.select_for_update().get(pk=token.pk)
    if token.is_active:
        token.is_active = False
        token.save(update_fields=["is_active", "updated_at"])
    return token


def _driver_fields_save_checked(driver: Driver, changes: dict) -> None:
    """Apply `changes`, run the model's full_clean() and save only what changed; a refusal
    raises Django's ValidationError naming the field, and nothing is saved."""
    for name, value in changes.items():
        setattr(driver, name, value)
    driver.full_clean()
    if driver.pk is None:
        driver.save()
    elif changes:
        driver.save(update_fields=[*changes, "updated_at"])


@transaction.atomic
def driver_create(
    *, fleet, employee_number: str, first_name: str, last_name: str, email: str, **details
) -> Driver:
    """Add an active driver to `fleet` after the model's checks (employee number and email
    unique in the fleet, IBAN, cost center of the same fleet). `details` are the optional
    fields: phone, licence_number, licence_expires_on, cost_center, home_rate_per_kwh, iban."""
    driver = Driver(fleet=fleet, status=DriverStatus.ACTIVE)
    _driver_fields_save_checked(
        driver,
        {
            "employee_number": employee_number,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            **details,
        },
    )
    return driver


@transaction.atomic
def driver_update(*, driver: Driver, changes: dict) -> Driver:
    """Change a driver's details after the model's checks. Fleet, login and status are not
    changed here: status goes through driver_set_status, which also deactivates tokens."""
    refused = {"fleet", "fleet_id", "user", "user_id", "status"} & set(changes)
    if refused:
        raise ValueError(f"driver_update does not change {', '.join(sorted(refused))}.")
    driver = Driver.objects.select_for_update().select_related("fleet").get(pk=driver.pk)
    _driver_fields_save_checked(driver, changes)
    return driver


@transaction.atomic
def driver_phone_set(*, driver: Driver, phone: str) -> Driver:
    """A driver changes their own phone number, the one thing they may change about themselves."""
    driver.phone = phone.strip()
    driver.save(update_fields=["phone", "updated_at"])
    return driver
