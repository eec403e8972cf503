"""Change lists that render in time proportional to their rows. Unfold (0.91) works out the
list's column headers again for every row it renders, and renders each row's selection
checkbox through the form template engine: on a page of 100 rows that is most of the page's
time. Here the headers are worked out once per list, and the checkbox is rendered once and
filled in with each row's key. And the list names no expandable row sections: unfold's
template asks for them on every row, and a name missing on the admin costs a dir() of it."""

from functools import wraps

from django.contrib.admin import helpers
from django.utils.html import escape
from django.utils.safestring import mark_safe
from unfold import admin as unfold_admin
from unfold.decorators import display
from unfold.templatetags import unfold_list

KEY_MARK = "voltop-row-key"
_CHECKBOX = unfold_admin.checkbox.render(helpers.ACTION_CHECKBOX_NAME, KEY_MARK)


def headers_once_per_list() -> None:
    """Make unfold's change list read its column headers once per list, not once per row.
    The headers depend on the list alone (its columns, ordering and sort), never on a row."""
    if getattr(unfold_list.result_headers, "once_per_list", False):
        return
    original = unfold_list.result_headers

    @wraps(original)
    def result_headers(cl):
        headers = getattr(cl, "_voltop_result_headers", None)
        if headers is None:
            headers = list(original(cl))
            cl._voltop_result_headers = headers
        return iter(headers)

    result_headers.once_per_list = True
    unfold_list.result_headers = result_headers


class FastChangeListMixin:
    """The selection checkbox of each row, unfold's own markup rendered once at import; no
    expandable row sections."""

    list_sections: tuple = ()

    @display(description=unfold_admin.ModelAdmin.action_checkbox.short_description)
    def action_checkbox(self, obj) -> str:
        return mark_safe(_CHECKBOX.replace(KEY_MARK, escape(str(obj.pk))))  # noqa: S308 - escaped key in fixed markup
