"""Shows the admin in the time zone of the fleet the user works on."""

import zoneinfo

from django.utils import timezone

from apps.fleets.selectors import time_zones_for_user
from apps.fleets.tenancy import request_current_fleet


class FleetTimeZoneMiddleware:
    """Activates, for admin pages, the zone of the user's current fleet (the one picked, or
    their only fleet); without one, the zone their fleets share, else UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone_name = None
        if request.path.startswith("/admin/") and request.user.is_authenticated:
            fleet = request_current_fleet(request)
            if fleet is not None:
                zone_name = fleet.time_zone
            else:
                zones = time_zones_for_user(request.user)
                if len(zones) == 1:
                    zone_name = zones.pop()
        if zone_name:
            timezone.activate(zoneinfo.ZoneInfo(zone_name))
        else:
            timezone.deactivate()
        return self.get_response(request)
