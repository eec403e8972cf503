"""Reads of the drivers app, scoped to one driver."""

from django.db.models import QuerySet

from apps.drivers.models import ChargeToken, Driver


def driver_profile_get(*, driver_id: int) -> Driver:
    """A driver with the fleet and cost center their profile shows."""
    return Driver.objects.select_related("fleet", "cost_center").get(pk=driver_id)


def charge_token_list(*, driver_id: int) -> QuerySet[ChargeToken]:
    """A driver's charge tokens: active ones first, then by UID."""
    return ChargeToken.objects.filter(driver_id=driver_id).order_by("-is_active", "uid", "pk")
