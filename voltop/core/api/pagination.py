"""Pagination of API lists: a cursor over time-ordered lists (stable while rows arrive), page
numbers elsewhere."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class NewestFirstCursorPagination(CursorPagination):
    """Newest first by the view's `cursor_ordering` (default `-created_at`), then by id."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", ("-created_at", "-id"))


class NumberedPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
