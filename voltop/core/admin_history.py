"""The admin's history page of a row that pghistory follows: its recorded changes, newest
first, with who made each and through what, instead of Django's log of admin form saves."""

from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.text import capfirst

from voltop.core.history import history_event_model, history_recorded, object_history

ENTRIES_PER_PAGE = 100


class RecordedHistoryAdminMixin:
    """Shows a followed model's recorded history on the admin's "History" page. Models that
    pghistory does not follow keep Django's page. The row is found through `get_object`, so
    the page shows exactly the rows the change page shows; any other is missing, as there.

    `history_related` names rows that point at the row and whose changes belong on its page:
    (model, foreign key name) pairs, e.g. a driver's charge tokens."""

    history_related: tuple[tuple[type[Model], str], ...] = ()
    recorded_history_template = "admin/voltop/recorded_history.html"

    def get_history_related(self, request: HttpRequest) -> tuple[tuple[type[Model], str], ...]:
        return self.history_related

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        if history_event_model(self.model) is None:
            return super().history_view(request, object_id, extra_context)
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return self.recorded_history_response(request, obj, extra_context)

    def recorded_history_response(
        self, request: HttpRequest, obj: Model, extra_context=None
    ) -> HttpResponse:
        entries = object_history(obj, related=self.get_history_related(request))
        page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get(PAGE_VAR, 1))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change history: {obj}",
            "subtitle": None,
            "entries": page,
            "page_range": page.paginator.get_elided_page_range(page.number),
            "page_var": PAGE_VAR,
            "pagination_required": page.paginator.num_pages > 1,
            "history_recorded": history_recorded(),
            "module_name": str(capfirst(self.opts.verbose_name_plural)),
            "object": obj,
            "original": obj,
            "opts": self.opts,
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.recorded_history_template, context)
