"""The admin of logins (Django's users), for superusers: Django's user admin, whose pages and
password form write through the fleets services, so a login's e-mail address stays its own
whatever its case, and a login that is the only admin of a fleet is not deleted."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from apps.fleets.admin_deletion import DeletesThroughServiceMixin
from apps.fleets.admin_writes import SavesThroughServices, WritesThroughServices, form_changes
from apps.fleets.services import (
    login_create,
    login_delete,
    login_delete_check,
    login_set_password,
    login_update,
)
from voltop.core.logins import LoginEmailInUse, login_email_check


class LoginEmailCheckedForm(forms.ModelForm):
    """A login's form whose e-mail address goes through login_email_check, so a clash shows
    on the field before the service is called (which checks it again)."""

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        try:
            login_email_check(email=email, exclude_pk=self.instance.pk)
        except LoginEmailInUse as error:
            raise forms.ValidationError(error.message, code=error.code) from error
        return email


class LoginCreationForm(LoginEmailCheckedForm, AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        fields = ("username", "email")


class LoginChangeForm(LoginEmailCheckedForm, UserChangeForm):
    pass


class LoginPasswordForm(AdminPasswordChangeForm):
    """Django's admin password form, whose save sets the password through login_set_password."""

    def save(self, commit: bool = True):
        password = (
            self.cleaned_data["password1"]
            if self.cleaned_data.get("set_usable_password", True)
            else None
        )
        if not commit:
            return super().save(commit=False)
        self.user = login_set_password(login=self.user, password=password)
        return self.user


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class LoginAdmin(
    WritesThroughServices, SavesThroughServices, DeletesThroughServiceMixin, UserAdmin, ModelAdmin
):
    """Logins, for superusers only (Django's user permissions). A fleet's roles are given on
    its memberships; deleting a login takes its memberships away through the services, and is
    refused while it is the only admin of a fleet."""

    form = LoginChangeForm
    add_form = LoginCreationForm
    change_password_form = LoginPasswordForm
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )
    write_services = {
        "add": login_create,
        "change": login_update,
        "delete": login_delete,
        "password": login_set_password,
    }

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        if change:
            login_update(login=obj, changes=form_changes(form))
            return
        obj.pk = login_create(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"]
            if form.cleaned_data["set_usable_password"]
            else None,
        ).pk

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Groups and permissions are set by login_update with the other changes; the form does
        not write them itself."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_check(self, obj) -> None:
        login_delete_check(login=obj)

    def delete_with_service(self, obj) -> None:
        login_delete(login=obj)
