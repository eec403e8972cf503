"""Fleet routes of the fleets app, mounted under /api/v1/fleet/."""

fleet_urlpatterns: list = []
