"""Reads of the fleets app: which fleets a user may see or change."""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Fleet, Membership


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
    return set(fleets.values_list("time_zone", flat=True).distinct()[:2])


def member_candidate_get(*, email: str):
    """The active login with `email` (case-insensitive) that can be given a role in a fleet."""
    return (
        get_user_model()
        .objects.filter(email__iexact=email.strip(), is_active=True)
        .order_by("pk")
        .first()
    )
