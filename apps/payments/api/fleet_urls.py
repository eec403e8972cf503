"""Fleet routes of the payments app, mounted under /api/v1/fleet/."""

fleet_urlpatterns: list = []
