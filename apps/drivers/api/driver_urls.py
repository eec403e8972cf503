"""Driver routes of the drivers app, mounted under /api/v1/me/."""

driver_urlpatterns: list = []
