"""The admin's first page: the dashboard of the manager's fleet."""

from django.http import HttpRequest


def dashboard_context(request: HttpRequest, context: dict) -> dict:
    """Unfold's dashboard callback: the template context of the admin's index page."""
    return context
