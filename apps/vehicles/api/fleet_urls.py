"""Fleet routes of the vehicles app, mounted under /api/v1/fleet/."""

fleet_urlpatterns: list = []
