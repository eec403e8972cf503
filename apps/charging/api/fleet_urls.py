"""Fleet routes of the charging app, mounted under /api/v1/fleet/."""

fleet_urlpatterns: list = []
