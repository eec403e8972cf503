"""Shows the admin in the fleet's own time zone when the user works for fleets of one zone."""

import zoneinfo

from django.utils import timezone

from apps.fleets.selectors import time_zones_for_user


class FleetTimeZoneMiddleware:
    """Activates the zone of the user's fleets for admin pages; UTC when their fleets differ."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone_name = None
        if request.path.startswith("/admin/") and request.user.is_authenticated:
            zones = time_zones_for_user(request.user)
            if len(zones) == 1:
                zone_name = zones.pop()
        if zone_name:
            timezone.activate(zoneinfo.ZoneInfo(zone_name))
        else:
            timezone.deactivate()
        return self.get_response(request)
