"""Driver routes of the charging app, mounted under /api/v1/me/."""

driver_urlpatterns: list = []
