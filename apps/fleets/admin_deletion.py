"""Deletes in the admin through the app's delete service: the confirmation page shows the
service's refusal (what still refers to the row) instead of Django's list of protected rows,
and a confirmed delete calls the service, so the admin refuses and deletes what the API does."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponseRedirect

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
        for obj in queryset:
            try:
                self.delete_with_service(obj)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)

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
