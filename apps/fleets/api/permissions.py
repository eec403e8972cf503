"""Who may use the fleet endpoints (/api/v1/fleet/…), and on which fleets: a member of a fleet
with a role, or a fleet API key with its role. Viewers read; managers edit fleet data; finance
runs billing and records money; admins do everything. Rows of fleets outside the caller's reach
do not exist for them (404)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Fleet, FleetApiKey, Membership

ALL_ROLES = frozenset(MembershipRole.values)
EDITING_ROLES = frozenset({MembershipRole.ADMIN, MembershipRole.MANAGER})
FINANCE_ROLES = frozenset({MembershipRole.ADMIN, MembershipRole.FINANCE})
ADMIN_ROLES = frozenset({MembershipRole.ADMIN})


def request_fleet_roles(request) -> dict[int, str]:
    """The caller's role per fleet id, read once per request."""
    http_request = getattr(request, "_request", request)
    cached = getattr(http_request, "_voltop_fleet_roles", None)
    if cached is not None:
        return cached
    if isinstance(request.auth, FleetApiKey):
        roles = {request.auth.fleet_id: request.auth.role}
    elif not request.user.is_authenticated:
        roles = {}
    elif request.user.is_superuser:
        roles = dict.fromkeys(Fleet.objects.values_list("pk", flat=True), MembershipRole.ADMIN)
    else:
        roles = dict(Membership.objects.filter(user=request.user).values_list("fleet_id", "role"))
    http_request._voltop_fleet_roles = roles
    return roles


def request_fleet_ids(request, roles: frozenset[str]) -> set[int]:
    """The fleets where the caller holds one of `roles`."""
    return {fleet_id for fleet_id, role in request_fleet_roles(request).items() if role in roles}


class HasFleetRole(BasePermission):
    """The caller holds, in some fleet, a role the request needs: the view's `read_roles` for
    reads, its `write_roles` (or `action_roles[action]`) for writes."""

    message = "Your role in the fleet does not allow this."

    def has_permission(self, request, view) -> bool:
        return bool(request_fleet_ids(request, view_roles(request, view)))


def view_roles(request, view) -> frozenset[str]:
    action_roles = getattr(view, "action_roles", {})
    action = getattr(view, "action", None)
    if action in action_roles:
        return action_roles[action]
    if request.method in SAFE_METHODS:
        return getattr(view, "read_roles", ALL_ROLES)
    return getattr(view, "write_roles", EDITING_ROLES)


def acting_user(request):
    """The person behind the request, or None for a fleet API key (services record who acted)."""
    return None if isinstance(request.auth, FleetApiKey) else request.user
