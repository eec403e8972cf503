"""Writes in the admin through the apps' services: every admin and inline that writes says
which service each of its writes calls, and inline rows are saved by those services.

tests/core/test_admin_writes_through_services.py walks every registered admin, its inlines and
its actions, and holds each one that may write to what it declares here, so an admin that saves
or deletes rows directly fails the suite."""

from collections.abc import Callable, Mapping

from django import forms
from django.contrib import messages
from django.db.models import Model
from django.http import HttpResponseRedirect

from apps.fleets.admin_deletion import DeletesThroughServiceFormSet
from voltop.core.errors import DomainError

WRITES = ("add", "change", "delete")


class WritesThroughServices:
    """For a ModelAdmin or an inline: `write_services` maps each write it allows ("add",
    "change", "delete", and each action that writes, by its name) to the service that write
    calls. A write left out is one the admin must not allow."""

    write_services: Mapping[str, Callable] = {}


class SavesThroughServices:
    """Add and change pages whose save calls a service. A refusal the form's checks could not
    foresee (another change committed in between, or a rule only the service knows) leaves the
    page's transaction, which Django's changeform_view opens, by its exception, so nothing of
    the save stays, the rows of the inlines included; the page then shows the refusal instead
    of failing.

    `fixed_once_made` names the fields a row keeps from when it was made (its fleet): they are
    read-only on the change page, as the update service refuses them."""

    fixed_once_made: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += [name for name in self.fixed_once_made if name not in readonly]
        return readonly

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            self.message_user(request, f"Nothing was saved. {error.message}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def form_changes(form: forms.ModelForm) -> dict:
    """The fields a person changed on `form`, with their cleaned values: what an update
    service is given."""
    return {name: form.cleaned_data[name] for name in form.changed_data}


class SavesThroughServiceFormSet(DeletesThroughServiceFormSet):
    """For an inline: new rows are made by `create_with_service(form)`, changed rows saved by
    `update_with_service(obj, changes)`, rows ticked for deletion judged and deleted as
    DeletesThroughServiceFormSet does. The inline's rows belong to the page's object, which
    Django sets on each new row before it is created."""

    def create_with_service(self, form: forms.ModelForm) -> Model:
        raise NotImplementedError

    def update_with_service(self, obj: Model, changes: dict) -> Model:
        raise NotImplementedError

    def save_new(self, form: forms.ModelForm, commit: bool = True) -> Model:
        setattr(form.instance, self.fk.name, self.instance)
        if not commit:
            return form.instance
        return self.create_with_service(form)

    def save_existing(self, form: forms.ModelForm, obj: Model, commit: bool = True) -> Model:
        if not commit:
            return obj
        return self.update_with_service(obj, form_changes(form))
