"""Deletes in the admin through the app's delete service: the confirmation page shows the
service's refusal (what still refers to the row) instead of Django's list of protected rows,
and a confirmed delete calls the service, so the admin refuses and deletes what the API does.
The delete action deletes all the rows selected or none of them."""

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from voltop.core.errors import DomainError


def delete_refusals(check, objs) -> list[str]:
    """The messages of the refusals `check` raises for `objs`, one per refused row."""
    refusals = []
    for obj in objs:
        try:
            check(obj)
        except DomainError as error:
            refusals.append(error.message)
    return refusals


@admin.action(permissions=["delete"])
def delete_selected_all_or_none(modeladmin, request: HttpRequest, queryset) -> HttpResponse | None:
    """Django's delete action in one transaction: a refusal the service raises when the rows
    are deleted (after the confirmation page judged each one deletable by itself, as when two
    rows may each go but not both) undoes the whole batch, its entries in the admin's history
    included, and is shown instead of Django's count of rows deleted; nothing is deleted."""
    try:
        with transaction.atomic():
            return delete_selected(modeladmin, request, queryset)
    except DomainError as error:
        modeladmin.message_user(request, f"Nothing was deleted. {error.message}", messages.ERROR)
        return None


class DeletesThroughServiceMixin:
    """For a ModelAdmin: `delete_check(obj)` raises the DomainError that refuses deleting
    `obj`, and `delete_with_service(obj)` deletes it through the app's service."""

    def delete_check(self, obj: Model) -> None:
        raise NotImplementedError

    def delete_with_service(self, obj: Model) -> None:
        raise NotImplementedError

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, model_count, perms_needed, _protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, perms_needed, delete_refusals(self.delete_check, objs)

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        self.delete_with_service(obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        """Delete the rows one by one through the service, all or none: the first refusal
        undoes the rows deleted before it and is raised."""
        with transaction.atomic():
            for obj in queryset:
                self.delete_with_service(obj)

    def get_actions(self, request: HttpRequest) -> dict:
        """Django's delete action, made all or nothing by delete_selected_all_or_none."""
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _action, name, description = actions["delete_selected"]
            actions["delete_selected"] = (delete_selected_all_or_none, name, description)
        return actions

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None):
        """Django's delete page; a refusal the service raises after the page judged the row
        deletable (something came to refer to it meanwhile) is shown, and nothing is deleted."""
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class DeletesThroughServiceFormSet(BaseInlineFormSet):
    """For an inline: rows ticked for deletion are judged by `delete_check` when the formset is
    validated (a refusal is shown above the rows and nothing is saved) and deleted by
    `delete_with_service`."""

    def delete_check(self, obj: Model) -> None:
        raise NotImplementedError

    def delete_with_service(self, obj: Model) -> None:
        raise NotImplementedError

    def clean(self) -> None:
        """The service's refusals first: Django's own check of protected rows, in the base
        clean(), would otherwise answer with its list of rows instead."""
        ticked = [
            form.instance
            for form in self.forms
            if form.instance.pk is not None and self._should_delete_form(form)
        ]
        refusals = delete_refusals(self.delete_check, ticked)
        if refusals:
            raise ValidationError(refusals)
        super().clean()

    def delete_existing(self, obj: Model, commit: bool = True) -> None:
        if commit:
            self.delete_with_service(obj)
