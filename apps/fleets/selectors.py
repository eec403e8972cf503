"""Reads of the fleets app: which fleets a user may see or change, and which rows still refer
to a row that is to be deleted."""

from collections.abc import Collection, Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import PROTECT, RESTRICT, ForeignObjectRel, Model, QuerySet

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Fleet, Membership
from voltop.core.logins import login_get_by_email


def fleet_ids_for_user(
    user: AbstractBaseUser | AnonymousUser, *, roles: Iterable[str] | None = None
) -> set[int]:
    """Ids of the fleets where `user` holds a membership (with one of `roles`, if given)."""
    if not user.is_authenticated:
        return set()
    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=list(roles))
    return set(memberships.values_list("fleet_id", flat=True))


def membership_roles_for_user(user: AbstractBaseUser | AnonymousUser) -> list[tuple[int, str]]:
    """(fleet id, role) of each membership of `user`, in one query."""
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user).values_list("fleet_id", "role"))


def fleet_list_for_user(user: AbstractBaseUser | AnonymousUser):
    """The fleets `user` may see: all for a superuser, else those of their memberships."""
    if user.is_superuser:
        return Fleet.objects.all()
    return Fleet.objects.filter(id__in=fleet_ids_for_user(user))


EDITING_ROLES = frozenset({MembershipRole.ADMIN, MembershipRole.MANAGER})


def time_zones_for_user(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    """The time zones of the fleets a user works for (all fleets' zones for a superuser)."""
    fleets = (
        Fleet.objects.all() if user.is_superuser else Fleet.objects.filter(memberships__user=user)
    )
    return set(fleets.values_list("time_zone", flat=True).order_by("time_zone").distinct()[:2])


def member_candidate_get(*, email: str):
    """The active login with `email` (whatever its case: it names one login) that can be given
    a role in a fleet, or None."""
    login = login_get_by_email(email=email)
    return login if login is not None and login.is_active else None


def rows_referring_to(
    rows: QuerySet, *, except_through: Collection[str] = ()
) -> list[tuple[type[Model], int]]:
    """How many rows of each table refer to any of `rows` through a foreign key, for the tables
    that do, in the order their relations are declared (one COUNT per relation). Read from the
    models' relations, so a table added later is counted without a change here. Relations named
    in `except_through` (by accessor, e.g. "tokens") are left out."""
    counts = []
    for relation in rows.model._meta.related_objects:
        if relation.many_to_many or relation.get_accessor_name() in except_through:
            continue
        referring = relation.related_model._base_manager.filter(
            **{f"{relation.field.name}__in": rows.values("pk")}
        )
        count = referring.count()
        if count:
            counts.append((relation.related_model, count))
    return counts


def rows_keeping_from_deletion(rows: QuerySet) -> list[tuple[type[Model], int]]:
    """How many rows of each table refer to any of `rows` through a foreign key that forbids
    deleting them (PROTECT or RESTRICT), those without a reverse accessor (related_name "+")
    included, in rows_referring_to's form (one COUNT per relation, summed per table)."""
    counts: dict[type[Model], int] = {}
    for relation in rows.model._meta.get_fields(include_hidden=True):
        if not isinstance(relation, ForeignObjectRel) or relation.on_delete not in (
            PROTECT,
            RESTRICT,
        ):
            continue
        count = relation.related_model._base_manager.filter(
            **{f"{relation.field.name}__in": rows.values("pk")}
        ).count()
        if count:
            counts[relation.related_model] = counts.get(relation.related_model, 0) + count
    return list(counts.items())


def referring_rows_text(counts: list[tuple[type[Model], int]]) -> str:
    """`rows_referring_to`'s answer as a person reads it: "3 charging sessions and 1 invoice"."""
    parts = [
        f"{count} {model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural}"
        for model, count in counts
    ]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
