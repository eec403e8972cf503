"""Fleet routes of the drivers app, mounted under /api/v1/fleet/."""

fleet_urlpatterns: list = []
