"""Writes of the fleets app: fleet settings, depots, cost centers, memberships, fleet API keys,
and the logins (Django users) that memberships give roles to."""

import datetime as dt
import hashlib
import logging
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.fleets.chart_of_accounts import SKR03_RATE_ACCOUNTS
from apps.fleets.choices import MembershipRole
from apps.fleets.exceptions import (
    ApiKeyInvalid,
    CostCenterInUse,
    DepotInUse,
    FleetInUse,
    LastFleetAdmin,
    LoginInUse,
    LoginNameInUse,
)
from apps.fleets.models import (
    CostCenter,
    Depot,
    Fleet,
    FleetApiKey,
    Membership,
    VatRateAccounts,
)
from apps.fleets.selectors import (
    referring_rows_text,
    rows_keeping_from_deletion,
    rows_referring_to,
)
from voltop.core.logins import LOGIN_EMAIL_INDEX, login_email_check, login_email_in_use
from voltop.core.models import fields_save_checked, fixed_fields_check

logger = logging.getLogger(__name__)

KEY_PREFIX = "vt"


def api_key_secret_hash(secret: str) -> str:
    """The stored form of a key's secret. The secret is 32 random bytes, so a plain SHA-256
    cannot be reversed by guessing; it is compared in constant time."""
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def fleet_api_key_issue(*, fleet: Fleet, name: str, role: str, created_by=None):
    """Make a key for `fleet` with `role`; returns (key, the full key text, shown only now)."""
    if not name.strip():
        raise ApiKeyInvalid("Name the key after what will use it.", field="name")
    if role not in MembershipRole.values:
        raise ApiKeyInvalid(
            f"The role must be one of {', '.join(MembershipRole.values)}.", field="role"
        )
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = FleetApiKey.objects.create(
        fleet=fleet,
        name=name.strip(),
        role=role,
        prefix=prefix,
        secret_hash=api_key_secret_hash(secret),
        created_by=created_by,
    )
    logger.info("fleets.api_key_issued", extra={"fleet_id": fleet.pk, "api_key_id": key.pk})
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


API_KEY_USE_RECORDED_EVERY = dt.timedelta(minutes=1)


def fleet_api_key_use_record(*, key: FleetApiKey, now: dt.datetime) -> bool:
    """Record that `key` was used at `now`, at most once a minute: a key calling many times a
    second costs no write per request. `key` is the row as authentication just read it; when
    it was used in the last minute nothing is sent to the database. Otherwise one conditional
    UPDATE writes it, so of requests racing each other only one writes. Returns whether it
    wrote."""
    recorded_since = now - API_KEY_USE_RECORDED_EVERY
    if key.last_used_at is not None and key.last_used_at > recorded_since:
        return False
    written = (
        FleetApiKey.objects.filter(pk=key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=recorded_since))
        .update(last_used_at=now)
    )
    if written:
        key.last_used_at = now
    return bool(written)


@transaction.atomic
def fleet_api_key_revoke(*, key: FleetApiKey) -> FleetApiKey:
    """Stop a key from working, from the next request on. Revoking it again changes nothing."""
    key = FleetApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        logger.info("fleets.api_key_revoked", extra={"api_key_id": key.pk})
    return key


@transaction.atomic
def fleet_create(**fields) -> Fleet:
    """Make a fleet with `fields` (name, slug, country, currency, time zone, VAT rate, billing
    period, payment terms, and the optional seller, bank, export, accounting and DATEV
    settings) after the model's checks: a VAT id of the fleet's country, an IBAN and a BIC
    valid and of one country, a CSV delimiter other than the decimal separator, ledger
    accounts of at most the account length. The fleet starts with SKR03's accounts for the
    VAT rates 19 %, 7 % and 0 %."""
    fleet = Fleet()
    fields_save_checked(fleet, fields)
    VatRateAccounts.objects.bulk_create(
        VatRateAccounts(fleet=fleet, **rate_accounts._asdict())
        for rate_accounts in SKR03_RATE_ACCOUNTS
    )
    logger.info("fleets.fleet_created", extra={"fleet_id": fleet.pk})
    return fleet


FLEET_OWN_SETTINGS = ("vat_rate_accounts",)


def fleet_delete_check(*, fleet: Fleet) -> None:
    """Refuse to delete a fleet anything refers to (members, depots, drivers, sessions, …):
    only a fleet made by mistake, still empty, is deleted. Its own settings (the accounts per
    VAT rate it was made with) go with it."""
    references = rows_referring_to(
        Fleet.objects.filter(pk=fleet.pk), except_through=FLEET_OWN_SETTINGS
    )
    if references:
        raise FleetInUse(
            f"Fleet {fleet} cannot be deleted: it is still referred to by "
            f"{referring_rows_text(references)}."
        )


@transaction.atomic
def fleet_delete(*, fleet: Fleet) -> None:
    """Delete an empty fleet; one anything refers to is refused and kept. The row is locked
    first, so nothing can come to refer to it while it is judged."""
    fleet = Fleet.objects.select_for_update().get(pk=fleet.pk)
    fleet_delete_check(fleet=fleet)
    fleet_id = fleet.pk
    fleet.delete()
    logger.info("fleets.fleet_deleted", extra={"fleet_id": fleet_id})


FLEET_FIXED_FIELDS = {
    "slug": "A fleet's slug cannot be changed: commands and exports name the fleet by it.",
    "currency": "A fleet's currency cannot be changed: its tariffs, sessions and invoices are "
    "in it.",
    "time_zone": "A fleet's time zone cannot be changed: its billing periods and tariff hours "
    "were counted in it.",
    "country": "A fleet's country cannot be changed: the tariffs and charge records it "
    "publishes carry it.",
}


@transaction.atomic
def fleet_update(*, fleet: Fleet, changes: dict) -> Fleet:
    """Change a fleet's settings (name, VAT rate, billing period, payment terms; the seller's
    legal name, address and VAT id; IBAN and BIC; CSV export preferences; ledger accounts,
    account length, fiscal year start, refund method; DATEV consultant and client numbers)
    after the model's checks, as fleet_create has them (an account length shorter than an
    account of its VAT rates is refused too). Its slug, currency, time zone and country stay as the
    fleet was made: a change to one is refused (FieldFixed naming it) and nothing changes."""
    fixed_fields_check(Fleet, changes, FLEET_FIXED_FIELDS)
    fleet = Fleet.objects.select_for_update().get(pk=fleet.pk)
    fields_save_checked(fleet, changes)
    return fleet


def _vat_rate_accounts_save(accounts: VatRateAccounts, changes: dict) -> None:
    for name, value in changes.items():
        setattr(accounts, name, value)
    accounts.full_clean()
    if accounts.pk is None:
        accounts.save()
    elif changes:
        accounts.save(update_fields=list(changes))


@transaction.atomic
def vat_rate_accounts_create(*, fleet: Fleet, vat_rate, **accounts) -> VatRateAccounts:
    """Give `fleet` ledger accounts and tax codes for one more VAT rate (revenue and its tax
    code, VAT payable, input VAT and its tax code); one row per rate, each account of at most
    the fleet's account length."""
    fleet = Fleet.objects.select_for_update().get(pk=fleet.pk)
    rate_accounts = VatRateAccounts(fleet=fleet)
    _vat_rate_accounts_save(rate_accounts, {"vat_rate": vat_rate, **accounts})
    logger.info(
        "fleets.vat_rate_accounts_created",
        extra={"fleet_id": fleet.pk, "vat_rate_accounts_id": rate_accounts.pk},
    )
    return rate_accounts


@transaction.atomic
def vat_rate_accounts_update(*, accounts: VatRateAccounts, changes: dict) -> VatRateAccounts:
    """Change a VAT rate's accounts or tax codes, as vat_rate_accounts_create checks them. They
    stay with their fleet: a change of fleet is refused (FieldFixed) and nothing changes."""
    fixed_fields_check(
        VatRateAccounts,
        changes,
        {"fleet": "A VAT rate's accounts stay with their fleet; the fleet cannot be changed."},
    )
    accounts = (
        VatRateAccounts.objects.select_related("fleet").select_for_update().get(pk=accounts.pk)
    )
    _vat_rate_accounts_save(accounts, changes)
    return accounts


@transaction.atomic
def vat_rate_accounts_delete(*, accounts: VatRateAccounts) -> None:
    """Remove a VAT rate's accounts: the journal and DATEV then refuse a period with that
    rate until it has accounts again, and nothing booked so far changes."""
    VatRateAccounts.objects.filter(pk=accounts.pk).delete()
    logger.info(
        "fleets.vat_rate_accounts_deleted",
        extra={"fleet_id": accounts.fleet_id, "vat_rate_accounts_id": accounts.pk},
    )


@transaction.atomic
def depot_create(*, fleet: Fleet, name: str, grid_connection_limit_kw, address: str = "") -> Depot:
    """Add a depot to `fleet`; its name is unique within the fleet."""
    depot = Depot(fleet=fleet)
    fields_save_checked(
        depot,
        {"name": name, "address": address, "grid_connection_limit_kw": grid_connection_limit_kw},
    )
    return depot


@transaction.atomic
def depot_update(*, depot: Depot, changes: dict) -> Depot:
    """Change a depot's name, address or grid connection limit. It stays in its fleet, with its
    stations and vehicles: a change of fleet is refused (FieldFixed) and nothing changes."""
    fixed_fields_check(
        Depot,
        changes,
        {"fleet": "A depot stays in the fleet it was made in; its fleet cannot be changed."},
    )
    depot = Depot.objects.select_for_update().get(pk=depot.pk)
    fields_save_checked(depot, changes)
    return depot


@transaction.atomic
def cost_center_create(*, fleet: Fleet, code: str, name: str, is_active: bool = True) -> CostCenter:
    """Add a cost center to `fleet`; its code is unique within the fleet."""
    cost_center = CostCenter(fleet=fleet)
    fields_save_checked(cost_center, {"code": code, "name": name, "is_active": is_active})
    return cost_center


@transaction.atomic
def cost_center_update(*, cost_center: CostCenter, changes: dict) -> CostCenter:
    """Change a cost center's code, name or whether it is still in use. It stays in its fleet,
    with what is booked to it: a change of fleet is refused (FieldFixed) and nothing changes."""
    fixed_fields_check(
        CostCenter,
        changes,
        {"fleet": "A cost center stays in the fleet it was made in; its fleet cannot be changed."},
    )
    cost_center = CostCenter.objects.select_for_update().get(pk=cost_center.pk)
    fields_save_checked(cost_center, changes)
    return cost_center


def depot_delete_check(*, depot: Depot) -> None:
    """Refuse to delete a depot that vehicles, charging stations or tariffs still refer to."""
    references = rows_referring_to(Depot.objects.filter(pk=depot.pk))
    if references:
        raise DepotInUse(
            f"Depot {depot.name} cannot be deleted: it is still referred to by "
            f"{referring_rows_text(references)}. Move those to another depot first."
        )


@transaction.atomic
def depot_delete(*, depot: Depot) -> None:
    """Delete a depot nothing refers to any more; one still in use is refused and kept. The
    row is locked first, so nothing can come to refer to it while it is judged."""
    depot = Depot.objects.select_for_update().get(pk=depot.pk)
    depot_delete_check(depot=depot)
    depot_id = depot.pk
    depot.delete()
    logger.info("fleets.depot_deleted", extra={"fleet_id": depot.fleet_id, "depot_id": depot_id})


def cost_center_delete_check(*, cost_center: CostCenter) -> None:
    """Refuse to delete a cost center that drivers, vehicles, sessions or cost allocations
    still refer to: its history stays, and marking it inactive is the way to retire it."""
    references = rows_referring_to(CostCenter.objects.filter(pk=cost_center.pk))
    if references:
        raise CostCenterInUse(
            f"Cost center {cost_center} cannot be deleted: it is still referred to by "
            f"{referring_rows_text(references)}. Mark it inactive instead."
        )


@transaction.atomic
def cost_center_delete(*, cost_center: CostCenter) -> None:
    """Delete a cost center nothing refers to any more; one still in use is refused and kept.
    The row is locked first, so nothing can come to refer to it while it is judged."""
    cost_center = CostCenter.objects.select_for_update().get(pk=cost_center.pk)
    cost_center_delete_check(cost_center=cost_center)
    cost_center_id = cost_center.pk
    cost_center.delete()
    logger.info(
        "fleets.cost_center_deleted",
        extra={"fleet_id": cost_center.fleet_id, "cost_center_id": cost_center_id},
    )


def membership_delete_check(*, membership: Membership) -> None:
    """Refuse to take away the fleet's only admin: nobody could manage it any more."""
    _check_fleet_keeps_an_admin(membership=membership, new_role=None)


def _check_fleet_keeps_an_admin(*, membership: Membership, new_role: str | None) -> None:
    """Refuse to demote or remove the fleet's only admin: nobody could manage it any more."""
    if membership.role != MembershipRole.ADMIN or new_role == MembershipRole.ADMIN:
        return
    other_admins = Membership.objects.filter(
        fleet_id=membership.fleet_id, role=MembershipRole.ADMIN
    ).exclude(pk=membership.pk)
    if not other_admins.exists():
        raise LastFleetAdmin(
            f"{membership.user} is the only admin of {membership.fleet}; make someone else "
            "admin first.",
            field="role",
        )


@transaction.atomic
def membership_create(*, fleet: Fleet, user, role: str) -> Membership:
    """Give an existing user a role in `fleet`; a user holds one membership per fleet."""
    membership = Membership(fleet=fleet, user=user)
    fields_save_checked(membership, {"role": role})
    logger.info(
        "fleets.membership_created",
        extra={"fleet_id": fleet.pk, "membership_id": membership.pk, "role": role},
    )
    return membership


@transaction.atomic
def membership_update_role(*, membership: Membership, role: str) -> Membership:
    """Change a member's role; the fleet's last admin stays admin."""
    Fleet.objects.select_for_update().get(pk=membership.fleet_id)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _check_fleet_keeps_an_admin(membership=membership, new_role=role)
    fields_save_checked(membership, {"role": role})
    logger.info(
        "fleets.membership_role_changed", extra={"membership_id": membership.pk, "role": role}
    )
    return membership


@transaction.atomic
def membership_delete(*, membership: Membership) -> None:
    """Take a user's role in a fleet away; the fleet's last admin cannot be removed."""
    Fleet.objects.select_for_update().get(pk=membership.fleet_id)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    membership_delete_check(membership=membership)
    membership_id = membership.pk
    membership.delete()
    logger.info("fleets.membership_deleted", extra={"membership_id": membership_id})


LOGIN_FIELDS = frozenset(
    {
        "username",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
    }
)
LOGIN_MANY_TO_MANY = frozenset({"groups", "user_permissions"})


def _login_save(login: AbstractUser, *, update_fields: list[str] | None = None) -> None:
    """Save `login`. When another request took its e-mail address or its username after the
    checks, the database's unique index refusing the save is a refusal naming the field
    (LoginEmailInUse, LoginNameInUse), not an error of the server."""
    try:
        with transaction.atomic():
            login.save(update_fields=update_fields)
    except IntegrityError as error:
        if LOGIN_EMAIL_INDEX in str(error):
            raise login_email_in_use(taken=login.email) from error
        if "username" in str(error):
            raise LoginNameInUse(
                f"Another login already has the username {login.get_username()}.",
                field="username",
            ) from error
        raise


@transaction.atomic
def login_create(
    *,
    username: str,
    email: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> AbstractUser:
    """Make a login. `password` None makes one that cannot log in with a password (yet). An
    e-mail address another login has, whatever its case, is refused (LoginEmailInUse on
    "email"), also when another request takes it at the same moment; the model's own checks
    (username unique and well-formed) raise Django's ValidationError naming the field."""
    login = get_user_model()(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    if password is None:
        login.set_unusable_password()
    else:
        login.set_password(password)
    login_email_check(email=email)
    login.full_clean()
    _login_save(login)
    logger.info("fleets.login_created", extra={"login_id": login.pk})
    return login


@transaction.atomic
def login_update(*, login: AbstractUser, changes: dict) -> AbstractUser:
    """Change a login's fields (name, e-mail address, username, whether it is active, staff or
    superuser, its groups and permissions), after the model's checks and the e-mail check of
    login_create. The password is changed by login_set_password only."""
    unknown = set(changes) - LOGIN_FIELDS - LOGIN_MANY_TO_MANY
    if unknown:
        raise ValueError(
            f"login_update does not change {', '.join(sorted(unknown))}; "
            "a password is set by login_set_password."
        )
    login = get_user_model()._default_manager.select_for_update().get(pk=login.pk)
    fields = {name: value for name, value in changes.items() if name in LOGIN_FIELDS}
    if "email" in fields:
        login_email_check(email=fields["email"], exclude_pk=login.pk)
    for name, value in fields.items():
        setattr(login, name, value)
    login.full_clean()
    if fields:
        _login_save(login, update_fields=list(fields))
    for name in LOGIN_MANY_TO_MANY & set(changes):
        getattr(login, name).set(changes[name])
    logger.info("fleets.login_updated", extra={"login_id": login.pk, "fields": sorted(changes)})
    return login


@transaction.atomic
def login_set_password(*, login: AbstractUser, password: str | None) -> AbstractUser:
    """Give a login a new password; None leaves it unable to log in with a password. The
    password's strength is judged by the form that asks for it (Django's validators)."""
    login = get_user_model()._default_manager.select_for_update().get(pk=login.pk)
    if password is None:
        login.set_unusable_password()
    else:
        login.set_password(password)
    login.save(update_fields=["password"])
    logger.info("fleets.login_password_set", extra={"login_id": login.pk})
    return login


def login_delete_check(*, login: AbstractUser) -> None:
    """Refuse to delete a login that is the only admin of a fleet (nobody could manage the
    fleet any more: membership_delete_check's rule for each of its memberships), or that rows
    of record still refer to (invoices it issued, sessions it reviewed, …): such a login is
    made inactive instead."""
    sole_admin_of = []
    for membership in (
        Membership.objects.filter(user_id=login.pk, role=MembershipRole.ADMIN)
        .select_related("fleet", "user")
        .order_by("fleet__name", "fleet_id")
    ):
        try:
            membership_delete_check(membership=membership)
        except LastFleetAdmin:
            sole_admin_of.append(str(membership.fleet))
    if sole_admin_of:
        fleets = ", ".join(sole_admin_of)
        raise LastFleetAdmin(
            f"Login {login} cannot be deleted: it is the only admin of {fleets}; make someone "
            "else admin there first."
        )
    references = rows_keeping_from_deletion(get_user_model()._default_manager.filter(pk=login.pk))
    if references:
        raise LoginInUse(
            f"Login {login} cannot be deleted: it is still referred to by "
            f"{referring_rows_text(references)}. Make it inactive instead."
        )


@transaction.atomic
def login_delete(*, login: AbstractUser) -> None:
    """Delete a login with its memberships; one that is the only admin of a fleet, or that
    rows of record refer to, is refused and nothing is deleted (login_delete_check). The
    fleets it is a member of are locked first, in id order, then the login, so no other admin
    can leave those fleets while it is judged. Its memberships are taken away one by one by
    membership_delete, which holds the fleet's-last-admin rule, in this one transaction. What
    else refers to the login lets go of it as its foreign key says (a driver it logged in as
    keeps their record without a login; API keys it made and billing runs it asked for keep
    no author; its entries in the admin's history and its issued JWTs go with it, as Django
    and simplejwt have them)."""
    user_model = get_user_model()
    fleet_ids = list(Membership.objects.filter(user_id=login.pk).values_list("fleet_id", flat=True))
    list(Fleet.objects.select_for_update().filter(pk__in=fleet_ids).order_by("pk"))
    login = user_model._default_manager.select_for_update().get(pk=login.pk)
    login_delete_check(login=login)
    memberships = list(
        Membership.objects.filter(user_id=login.pk).select_related("fleet", "user").order_by("pk")
    )
    for membership in memberships:
        membership_delete(membership=membership)
    login_id = login.pk
    login.delete()
    logger.info(
        "fleets.login_deleted",
        extra={"login_id": login_id, "memberships_deleted": len(memberships)},
    )
