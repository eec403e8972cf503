"""Middleware of the admin: the time zone of the fleet the user works on; the two-factor page
for those a fleet requires two-factor logins of."""

import zoneinfo

from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from apps.fleets.selectors import time_zones_for_user
from apps.fleets.tenancy import request_current_fleet, request_memberships
from apps.fleets.two_factor import two_factor_required_by_grants


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


class TwoFactorRequiredMiddleware:
    """Admin pages for a staff user a fleet requires two-factor logins of (its admins and
    finance members) whose session is not verified by an authenticator app: they are sent to
    the two-factor page, and may only log out, until they have confirmed one there. Runs after
    django-otp's OTPMiddleware, which tells whether the session is verified."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._must_set_up(request):
            return redirect(reverse("two-factor-setup"))
        return self.get_response(request)

    @staticmethod
    def _must_set_up(request) -> bool:
        if not request.path.startswith("/admin/"):
            return False
        user = request.user
        if not user.is_authenticated or not user.is_staff or user.is_verified():
            return False
        allowed = {reverse("two-factor-setup"), reverse("admin:logout"), reverse("admin:login")}
        if request.path in allowed or request.path.startswith(reverse("admin:jsi18n")):
            return False
        return two_factor_required_by_grants(request_memberships(request))
