"""The context of recorded history (django-pghistory): each change that a request makes is
stored with the request's method, path and user, so a change's page tells who made it and how."""

from typing import Any

import pghistory
from django.http import HttpRequest
from pghistory.middleware import HistoryMiddleware


class HistoryContextMiddleware(HistoryMiddleware):
    """pghistory's middleware, recording the user's login name beside their id (kept when the
    login is later deleted) and the request's method."""

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().get_context(request)
        user = getattr(request, "user", None)
        context["username"] = user.get_username() if user and user.is_authenticated else ""
        context["method"] = request.method
        return context


def history_tracked(*, inserts: bool = True, **options):
    """Track a model's inserts, updates and deletes in its history (a pghistory event model
    beside it), leaving out `updated_at`, so a save that changes nothing else records nothing.
    Without `inserts`, rows are followed from their first change on. `options` go to
    `pghistory.track` (say `fields` to follow only some fields: an update that changes none of
    them records nothing)."""
    if "fields" not in options:
        options.setdefault("exclude", ["updated_at"])
    trackers = [pghistory.UpdateEvent("change"), pghistory.DeleteEvent("delete")]
    if inserts:
        trackers.insert(0, pghistory.InsertEvent("create"))
    return pghistory.track(*trackers, **options)
