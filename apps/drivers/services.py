"""Writes of the drivers app: drivers (added, changed, suspended, deleted) and their charge
tokens. A driver leaving also ends their vehicle assignments, so that flow is
apps.vehicles.services.driver_leave; driver_departure_record here is its drivers' part."""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.exceptions import (
    DriverHasHistory,
    DriverNotActive,
    DriverStatusRefused,
    InvalidTokenPeriod,
    InvalidTokenUid,
    ReasonMissing,
    TokenChangedMeanwhile,
    TokenInUse,
    TokenOtherFleet,
    TokenUidInUse,
)
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.selectors import referring_rows_text, rows_referring_to
from voltop.core.models import fields_save_checked, fixed_fields_check
from voltop.core.timeutils import require_aware

logger = logging.getLogger(__name__)

TOKEN_EDITABLE_FIELDS = frozenset({"driver", "uid", "kind", "valid_from", "valid_until"})


def normalize_token_uid(uid: str) -> str:
    return uid.strip().upper()


def _driver_status_write(*, driver: Driver, status: DriverStatus) -> Driver:
    """Lock the driver, give them `status` and, unless it is active, deactivate all their
    tokens."""
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    if driver.status != status:
        driver.status = status
        driver.save(update_fields=["status", "updated_at"])
    if status != DriverStatus.ACTIVE:
        ChargeToken.objects.filter(driver=driver, is_active=True).update(
            is_active=False, updated_at=timezone.now()
        )
    return driver


@transaction.atomic
def driver_set_status(*, driver: Driver, status: DriverStatus) -> Driver:
    """Suspend or reactivate a driver; suspending a driver deactivates all their tokens. A
    driver who leaves goes through apps.vehicles.services.driver_leave, which also ends their
    vehicle assignments, so LEFT is refused here."""
    if status == DriverStatus.LEFT:
        raise ValueError(
            "driver_set_status does not mark a driver as left: "
            "apps.vehicles.services.driver_leave does, and ends their vehicle assignments."
        )
    return _driver_status_write(driver=driver, status=status)


SUSPENSION_BLOCK_PREFIX = "Driver suspended: "


def _reason_checked(reason: str, *, field: str = "reason") -> str:
    """The reason stripped of surrounding spaces; a missing one is refused on `field`."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonMissing("Say why.", field=field)
    max_length = ChargeToken._meta.get_field("blocked_reason").max_length
    if len(reason) > max_length:
        raise ReasonMissing(
            f"A reason has at most {max_length} characters; this one has {len(reason)}.",
            field=field,
        )
    return reason


@transaction.atomic
def driver_suspend(*, driver: Driver, reason: str) -> Driver:
    """Suspend an active driver for `reason`: they can no longer sign in, and each of their
    active tokens is blocked and marked as blocked by the suspension, so that reactivating
    them unblocks exactly those. A driver who is not active (suspended already, or left) is
    refused, as is a missing reason; a refusal changes nothing. The driver is locked, then
    their tokens."""
    reason = _reason_checked(reason)
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    if driver.status != DriverStatus.ACTIVE:
        raise DriverStatusRefused(
            f"Driver {driver} is not active ({driver.get_status_display().lower()}); only an "
            "active driver can be suspended.",
            field="status",
        )
    tokens = list(
        ChargeToken.objects.select_for_update().filter(driver=driver, is_active=True).order_by("pk")
    )
    blocked_reason = f"{SUSPENSION_BLOCK_PREFIX}{reason}"[
        : ChargeToken._meta.get_field("blocked_reason").max_length
    ]
    ChargeToken.objects.filter(pk__in=[token.pk for token in tokens]).update(
        is_active=False,
        blocked_by_suspension=True,
        blocked_reason=blocked_reason,
        updated_at=timezone.now(),
    )
    driver.status = DriverStatus.SUSPENDED
    driver.suspension_reason = reason
    driver.save(update_fields=["status", "suspension_reason", "updated_at"])
    logger.info(
        "drivers.driver_suspended", extra={"driver_id": driver.pk, "tokens_blocked": len(tokens)}
    )
    return driver


@transaction.atomic
def driver_reactivate(*, driver: Driver) -> Driver:
    """Make a suspended driver active again and unblock exactly the tokens their suspension
    blocked; a token blocked for another reason (a lost card) stays blocked. A token whose UID
    another active token has taken meanwhile stays blocked too, with that as its reason. A
    driver who is not suspended is refused and nothing changes. The driver is locked, then
    their tokens."""
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    if driver.status != DriverStatus.SUSPENDED:
        raise DriverStatusRefused(
            f"Driver {driver} is not suspended ({driver.get_status_display().lower()}); only a "
            "suspended driver can be reactivated.",
            field="status",
        )
    tokens = list(
        ChargeToken.objects.select_for_update()
        .filter(driver=driver, blocked_by_suspension=True)
        .order_by("pk")
    )
    now = timezone.now()
    for token in tokens:
        token.blocked_by_suspension = False
        if ChargeToken.objects.filter(uid__iexact=token.uid, is_active=True).exists():
            token.blocked_reason = "Its UID was given to another active token meanwhile."
        else:
            token.is_active = True
            token.blocked_reason = ""
        token.updated_at = now
    ChargeToken.objects.bulk_update(
        tokens, ["is_active", "blocked_by_suspension", "blocked_reason", "updated_at"]
    )
    driver.status = DriverStatus.ACTIVE
    driver.suspension_reason = ""
    driver.save(update_fields=["status", "suspension_reason", "updated_at"])
    logger.info(
        "drivers.driver_reactivated",
        extra={
            "driver_id": driver.pk,
            "tokens_unblocked": sum(1 for token in tokens if token.is_active),
        },
    )
    return driver


@transaction.atomic
def driver_departure_record(*, driver: Driver) -> Driver:
    """The drivers' part of a driver leaving the company: their status becomes left and their
    tokens are deactivated, so their login is refused from the next request on. Recording it
    again changes nothing. apps.vehicles.services.driver_leave calls it once it has ended the
    vehicle assignments the driver holds; a driver leaves through driver_leave, not this."""
    return _driver_status_write(driver=driver, status=DriverStatus.LEFT)


def driver_delete_check(*, driver: Driver) -> None:
    """Refuse to delete a driver anything refers to besides their own charge tokens (sessions,
    assignments, invoices, statements, …), or whose tokens something refers to: their history
    stays, and marking them as left is the way to see them off."""
    references = rows_referring_to(
        Driver.objects.filter(pk=driver.pk), except_through={"tokens"}
    ) or rows_referring_to(ChargeToken.objects.filter(driver_id=driver.pk))
    if references:
        raise DriverHasHistory(
            f"Driver {driver} cannot be deleted: their history is still referred to by "
            f"{referring_rows_text(references)}. Mark the driver as left instead."
        )


@transaction.atomic
def driver_delete(*, driver: Driver) -> None:
    """Delete a driver without history, with their charge tokens; a driver with history is
    refused and nothing is deleted. The driver and their tokens are locked first, so no session
    can start on them while they are judged. Their login, if any, stays, linked to no driver."""
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    tokens = ChargeToken.objects.select_for_update().filter(driver=driver).order_by("pk")
    token_count = len(tokens)
    driver_delete_check(driver=driver)
    driver_id, fleet_id = driver.pk, driver.fleet_id
    ChargeToken.objects.filter(driver=driver).delete()
    driver.delete()
    logger.info(
        "drivers.driver_deleted",
        extra={"fleet_id": fleet_id, "driver_id": driver_id, "tokens_deleted": token_count},
    )


def _check_token_uid_shape(uid: str) -> None:
    max_length = ChargeToken._meta.get_field("uid").max_length
    if not uid:
        raise InvalidTokenUid("A token needs a UID.", field="uid")
    if len(uid) > max_length:
        raise InvalidTokenUid(
            f"A token UID has at most {max_length} characters; {uid} has {len(uid)}.", field="uid"
        )


def _check_token_uid_free(uid: str, *, exclude_pk: int | None) -> None:
    clash = ChargeToken.objects.filter(uid__iexact=uid, is_active=True).exclude(pk=exclude_pk)
    if clash.exists():
        raise TokenUidInUse(f"An active token with UID {uid} already exists.", field="uid")


def _check_token_stays_in_its_fleet(*, token_pk: int, driver: Driver) -> None:
    stored_fleet_id = (
        ChargeToken.objects.filter(pk=token_pk).values_list("driver__fleet_id", flat=True).first()
    )
    if stored_fleet_id is not None and stored_fleet_id != driver.fleet_id:
        raise TokenOtherFleet(
            f"Driver {driver} belongs to another fleet; a token stays in its fleet, so issue "
            "them a new one there.",
            field="driver",
        )


def charge_token_check(
    *,
    driver: Driver,
    uid: str,
    valid_from: datetime,
    valid_until: datetime | None,
    is_active: bool,
    exclude_pk: int | None = None,
) -> None:
    """Raise the first rule a token with these values would break; an existing token
    (`exclude_pk`) stays with drivers of its fleet."""
    require_aware(valid_from, field="valid_from")
    require_aware(valid_until, field="valid_until")
    _check_token_uid_shape(normalize_token_uid(uid))
    if exclude_pk is not None:
        _check_token_stays_in_its_fleet(token_pk=exclude_pk, driver=driver)
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
    if token.is_active:
        token.blocked_reason = ""
        token.blocked_by_suspension = False
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError as error:
        raise TokenUidInUse(
            f"An active token with UID {token.uid} already exists.", field="uid"
        ) from error
    return token


def drivers_lock(*, driver_ids) -> dict[int, Driver]:
    """Lock these drivers' rows, in id order as every service takes them; returns them by id
    (a driver deleted meanwhile is not among them)."""
    return {
        driver.pk: driver
        for driver in Driver.objects.select_for_update().filter(pk__in=driver_ids).order_by("pk")
    }


@transaction.atomic
def charge_token_update(*, token: ChargeToken, changes: dict) -> ChargeToken:
    """Change a token's driver, UID, kind or validity, after the checks of charge_token_save.
    Whether it is active is not changed here (charge_token_deactivate turns it off): the token
    is read again under lock, so a deactivation made meanwhile stays. Its drivers, old and new,
    are locked before it, in id order. When it was given to another driver before its old
    driver's lock was held, the locks are let go and taken again once with the driver it has
    now; given away a second time, it is refused (409) and left as it is."""
    refused = set(changes) - TOKEN_EDITABLE_FIELDS
    if refused:
        raise ValueError(f"charge_token_update does not change {', '.join(sorted(refused))}.")
    try:
        with transaction.atomic():  # a savepoint: rolling back to it lets go of its row locks
            return _charge_token_update_locked(token_pk=token.pk, changes=changes)
    except TokenChangedMeanwhile:
        return _charge_token_update_locked(token_pk=token.pk, changes=changes)


def _charge_token_update_locked(*, token_pk: int, changes: dict) -> ChargeToken:
    """Lock the token's drivers (its stored one and the one in `changes`, in id order) and the
    token, then apply `changes` to it; raise TokenChangedMeanwhile when its driver is no longer
    the one locked."""
    stored_driver_id = ChargeToken.objects.values_list("driver_id", flat=True).get(pk=token_pk)
    driver_ids = {stored_driver_id}
    if "driver" in changes:
        driver_ids.add(changes["driver"].pk)
    drivers_lock(driver_ids=driver_ids)
    stored = ChargeToken.objects.select_for_update().get(pk=token_pk)
    if stored.driver_id not in driver_ids:
        raise TokenChangedMeanwhile(
            f"Token {stored.uid} was given to another driver while this change was made; load "
            "it again and retry.",
            field="driver",
        )
    for name, value in changes.items():
        setattr(stored, name, value)
    return charge_token_save(token=stored)


@transaction.atomic
def charge_token_deactivate(*, token: ChargeToken) -> ChargeToken:
    """Block a token, e.g. a lost card; it can no longer start a session, and reactivating its
    driver after a suspension leaves it blocked. charge_token_block does the same with a
    reason."""
    token = ChargeToken.objects.select_for_update().get(pk=token.pk)
    if token.is_active or token.blocked_by_suspension:
        token.is_active = False
        token.blocked_by_suspension = False
        token.save(update_fields=["is_active", "blocked_by_suspension", "updated_at"])
    return token


@transaction.atomic
def charge_token_block(*, token: ChargeToken, reason: str) -> ChargeToken:
    """Block a token for `reason` (a lost or stolen card): it can no longer start a session,
    and reactivating its driver after a suspension leaves it blocked. A missing reason is
    refused and nothing changes; blocking a blocked token again changes nothing but its
    reason, which is then its own (no longer the suspension's). Its driver is locked, then the
    token."""
    reason = _reason_checked(reason)
    drivers_lock(driver_ids=[token.driver_id])
    token = ChargeToken.objects.select_for_update().get(pk=token.pk)
    token.is_active = False
    token.blocked_by_suspension = False
    token.blocked_reason = reason
    token.save(update_fields=["is_active", "blocked_by_suspension", "blocked_reason", "updated_at"])
    logger.info("drivers.token_blocked", extra={"driver_id": token.driver_id, "token_id": token.pk})
    return token


@transaction.atomic
def driver_create(
    *, fleet, employee_number: str, first_name: str, last_name: str, email: str, **details
) -> Driver:
    """Add an active driver to `fleet` after the model's checks (employee number and email
    unique in the fleet, IBAN, cost center of the same fleet). `details` are the optional
    fields: phone, licence_number, licence_expires_on, cost_center, home_rate_per_kwh, iban,
    and the address invoices are made out to: street, postal_code, city, country."""
    driver = Driver(fleet=fleet, status=DriverStatus.ACTIVE)
    fields_save_checked(
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
    """Change a driver's details after the model's checks. Their fleet stays: a change of
    fleet is refused (FieldFixed) and nothing changes. Login and status are not changed here:
    the login goes through driver_user_link, status through driver_set_status, which also
    deactivates tokens, or apps.vehicles.services.driver_leave for a driver who leaves."""
    fixed_fields_check(
        Driver,
        changes,
        {"fleet": "A driver stays in the fleet they were added to; their fleet cannot be changed."},
    )
    refused = {"user", "user_id", "status"} & set(changes)
    if refused:
        raise ValueError(f"driver_update does not change {', '.join(sorted(refused))}.")
    driver = Driver.objects.select_for_update().select_related("fleet").get(pk=driver.pk)
    fields_save_checked(driver, changes)
    return driver


@transaction.atomic
def driver_user_link(*, driver: Driver, user) -> Driver:
    """Give a driver the login they sign in to the driver app with (None: none); a login
    belongs to one driver at most."""
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    driver.user = user
    driver.full_clean()
    driver.save(update_fields=["user", "updated_at"])
    logger.info(
        "drivers.driver_user_linked",
        extra={"driver_id": driver.pk, "user_id": getattr(user, "pk", None)},
    )
    return driver


@transaction.atomic
def driver_phone_set(*, driver: Driver, phone: str) -> Driver:
    """A driver changes their own phone number, the one thing they may change about themselves."""
    driver.phone = phone.strip()
    driver.save(update_fields=["phone", "updated_at"])
    return driver


def charge_token_delete_check(*, token: ChargeToken) -> None:
    """Refuse to delete a token that sessions refer to: they stay the card's history, and
    deactivating it is the way to stop it."""
    references = rows_referring_to(ChargeToken.objects.filter(pk=token.pk))
    if references:
        raise TokenInUse(
            f"Token {token.uid} cannot be deleted: it is still referred to by "
            f"{referring_rows_text(references)}. Deactivate it instead."
        )


@transaction.atomic
def charge_token_delete(*, token: ChargeToken) -> None:
    """Delete a token nothing refers to (a card entered by mistake); one in use is refused and
    kept. Its driver is locked, then the token, so no session can start on it while it is
    judged."""
    drivers_lock(driver_ids=[token.driver_id])
    token = ChargeToken.objects.select_for_update().get(pk=token.pk)
    charge_token_delete_check(token=token)
    token_id = token.pk
    token.delete()
    logger.info("drivers.token_deleted", extra={"driver_id": token.driver_id, "token_id": token_id})
