"""The base of every fleet endpoint: rows scoped to the fleets where the caller's role allows
the request, so another fleet's rows answer 404."""

from rest_framework import exceptions, viewsets

from apps.fleets.api.permissions import HasFleetRole, request_fleet_ids, view_roles


class FleetScopedViewSet(viewsets.GenericViewSet):
    """Set `queryset`, `fleet_lookup` (the path to the row's fleet, e.g. "driver__fleet"),
    and the roles: `read_roles`, `write_roles`, or `action_roles` per action."""

    permission_classes = [HasFleetRole]
    fleet_lookup = "fleet"

    def get_queryset(self):
        fleet_ids = request_fleet_ids(self.request, view_roles(self.request, self))
        return super().get_queryset().filter(**{f"{self.fleet_lookup}__in": fleet_ids})

    def writable_fleet_ids(self) -> set[int]:
        return request_fleet_ids(self.request, view_roles(self.request, self))

    def check_fleet_writable(self, fleet_id: int, *, field: str = "fleet") -> None:
        """Refuse to write into a fleet the caller cannot write to, as if it did not exist."""
        if fleet_id not in self.writable_fleet_ids():
            raise exceptions.ValidationError(
                {field: ["No such fleet among yours."]}, code="does_not_exist"
            )
