"""Driver routes of the payments app, mounted under /api/v1/me/."""

driver_urlpatterns: list = []
