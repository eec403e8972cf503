"""Admin actions that ask why before they act (suspending drivers, blocking tokens, rejecting
home sessions): a confirmation page with the selected rows and a reason, as deleting asks
first; once it is sent, each row goes through the action's service."""

from collections.abc import Callable

from django import forms
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

REASON_MAX_LENGTH = 200


class ReasonForm(forms.Form):
    """Why the selected rows are acted on; the people concerned may read it."""

    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )

    def __init__(self, *args, help_text: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = help_text


def act_with_reason(
    model_admin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str,
    question: str,
    submit: str,
    reason_help: str,
    act: Callable[[Model, str], object],
    done: str,
) -> TemplateResponse | None:
    """The work of an action named `action` that needs a reason: the page asking for it, then,
    once sent with one, `act(row, reason)` on each selected row through act_per_row, which
    reports what was done and what was refused."""
    form = ReasonForm(request.POST if "post" in request.POST else None, help_text=reason_help)
    if form.is_bound and form.is_valid():
        reason = form.cleaned_data["reason"]
        model_admin.act_per_row(request, queryset, lambda row: act(row, reason), done)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "submit": submit,
        "form": form,
        "rows": queryset,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": model_admin.opts,
    }
    return TemplateResponse(request, "admin/voltop/reason_action.html", context)
