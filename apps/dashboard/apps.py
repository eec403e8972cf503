from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The fleet manager's first page, work-to-do list and the admin's navigation."""

    name = "apps.dashboard"
    verbose_name = "Dashboard"
