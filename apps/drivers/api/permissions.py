"""Who may use the driver endpoints (/api/v1/me/…): a logged-in driver, whose account the
authentication has already checked is active."""

from rest_framework.permissions import BasePermission

from apps.drivers.models import Driver


class IsDriver(BasePermission):
    """The request comes from a login that belongs to a driver."""

    message = "These endpoints are for drivers; this login belongs to no driver."

    def has_permission(self, request, view) -> bool:
        return request.user.is_authenticated and request_driver(request) is not None


def request_driver(request) -> Driver | None:
    """The driver the request's login belongs to (read with the login by the authentication)."""
    return getattr(request.user, "driver", None)
