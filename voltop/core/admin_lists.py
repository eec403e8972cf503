"""Change lists that render in time proportional to their rows. Unfold (0.91) works out the
list's column headers again for every row it renders, and renders each row's selection
checkbox through the form template engine: on a page of 100 rows that is most of the page's
time. Here the headers are worked out once per list, and the checkbox is rendered once and
filled in with each row's key. And the list names no expandable row sections: unfold's
template asks for them on every row, and a name missing on the admin costs a dir() of it.

Lists whose columns are all the admin's own display methods (the session list, say) have
their cells written from a plan made once per list: the same markup unfold writes, without
looking each column up again, as a model field first, for every cell."""

import datetime
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.admin import helpers
from django.contrib.admin.templatetags.admin_list import _coerce_field_name
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_value, quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
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


UNFOLD_DISPLAY_FLAGS = ("boolean", "label", "header", "dropdown")
SELECT_RECORD_LABEL = "Select record"


@dataclass(frozen=True)
class _Column:
    """How one column's cells are written: the display method, and the cell's tag, classes,
    label and whether it links to the row's page, all fixed for the list."""

    display: Any
    empty_value_display: str
    tag: str
    classes: str
    label: str
    links: bool


def _row_plan(cl) -> list[_Column] | None:
    """The columns of `cl` as unfold would write them, or None when a column is anything but
    a plain display method of the admin (a model field, a boolean, a label, a dropdown), or
    the list edits rows, opens as a popup, hides its ordering field or links its rows its own
    way: unfold writes those."""
    model_admin = cl.model_admin
    if getattr(cl, "formset", None) or cl.is_popup or cl.to_field:
        return None
    if getattr(model_admin, "ordering_field", None):
        return None
    if type(cl).url_for_result is not ChangeList.url_for_result:
        return None
    headers = list(unfold_list.result_headers(cl))
    links = cl.list_display_links
    columns: list[_Column] = []
    first = True
    for index, name in enumerate(cl.list_display):
        display = _display_method(cl, name)
        if display is None:
            return None
        link = links is not None and ((first and not links) or name in links)
        tag = "th" if link and first else "td"
        if link:
            first = False
        classes = (
            unfold_list.CHECKBOX_CLASSES
            if name == "action_checkbox"
            else [f"field-{_coerce_field_name(name, index)}", *unfold_list.ROW_CLASSES]
        )
        label = headers[index]["text"] if link or index != 0 else gettext(SELECT_RECORD_LABEL)
        columns.append(
            _Column(
                display=display,
                empty_value_display=getattr(
                    display, "empty_value_display", model_admin.get_empty_value_display()
                ),
                tag=tag,
                classes=" ".join(classes),
                label=conditional_escape(label),
                links=link,
            )
        )
    return columns


def _display_method(cl, name):
    """The admin's display method `name`, as lookup_field would find it, or None when the
    name is a model field, a lookup through relations, or no plain method of the admin."""
    if callable(name) or name == "__str__" or "__" in name:
        return None
    try:
        cl.lookup_opts.get_field(name)
    except FieldDoesNotExist:
        pass
    else:
        return None
    display = getattr(cl.model_admin, name, None)
    if not callable(display) or any(getattr(display, flag, False) for flag in UNFOLD_DISPLAY_FLAGS):
        return None
    return display


def _cell(cl, column: _Column, result) -> SafeString:
    try:
        value = column.display(result)
    except ObjectDoesNotExist:
        value = None
        shown = column.empty_value_display
    else:
        shown = (
            value
            if type(value) is str or isinstance(value, SafeString)
            else display_for_value(value, column.empty_value_display, False)
        )
    classes = column.classes
    if isinstance(value, datetime.date | datetime.time):
        classes = f"{classes} nowrap"
    content = conditional_escape(shown)
    if column.links:
        url = _change_link(cl, result)
        if url is not None:
            link_classes = " ".join(unfold_list.LINK_CLASSES)
            content = f'<a href="{url}" class="{link_classes}" >{content}</a>'
    return mark_safe(  # noqa: S308 - every part escaped above, the classes fixed
        f'<{column.tag} class="{classes}" data-label="{column.label}">{content}</{column.tag}>'
    )


def _change_link(cl, result) -> str | None:
    """The row's change page with the list's filters to return to, escaped, as unfold links it
    (None when the page has no such route). The link is worked out once per list, with a mark
    where the key goes: each row puts in its own key, quoted as the admin quotes keys."""
    if not hasattr(cl, "_voltop_change_link"):
        cl._voltop_change_link = _change_link_with_mark(cl)
    link = cl._voltop_change_link
    if link is None:
        return None
    return link.replace(KEY_MARK, str(quote(getattr(result, cl.pk_attname))))


def _change_link_with_mark(cl) -> str | None:
    opts = cl.opts
    try:
        url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=(KEY_MARK,),
            current_app=cl.model_admin.admin_site.name,
        )
    except NoReverseMatch:
        return None
    url = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": opts}, url)
    return conditional_escape(url)


def cells_from_a_plan() -> None:
    """Make unfold write the cells of lists of display methods from a plan made once per
    list (_row_plan); any other list is written by unfold itself."""
    if getattr(unfold_list.items_for_result, "from_a_plan", False):
        return
    original = unfold_list.items_for_result

    @wraps(original)
    def items_for_result(cl, result, form):
        if not hasattr(cl, "_voltop_row_plan"):
            cl._voltop_row_plan = _row_plan(cl)
        plan = cl._voltop_row_plan
        if plan is None or form is not None:
            yield from original(cl, result, form)
            return
        for column in plan:
            yield _cell(cl, column, result)

    items_for_result.from_a_plan = True
    unfold_list.items_for_result = items_for_result


class ListColumnsOnlyMixin:
    """A ModelAdmin whose list reads only the columns its cells show (`list_only`, paths as
    QuerySet.only takes them, the related rows' included): a page of 100 rows then builds no
    more of each row than it writes. The change page and the actions read whole rows."""

    list_only: tuple[str, ...] = ()

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        columns = self.list_only
        if not columns:
            return changelist

        class ColumnsOnlyChangeList(changelist):
            def get_results(self, request):
                self.queryset = self.queryset.only(*columns)
                super().get_results(request)

        return ColumnsOnlyChangeList
