"""Admin form support: run a service's checks in form validation so refusals show on the form;
the admin's login form, under the per-username failure throttle the API's login has too."""

from collections.abc import Callable

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from voltop.core.errors import DomainError
from voltop.core.login_failures import (
    TooManyLoginFailures,
    login_attempt_begin,
    login_attempt_succeeded,
)


class ServiceCheckedForm(forms.ModelForm):
    """A ModelForm whose `service_check()` raises DomainError; errors land on the named field."""

    def service_check(self) -> None:
        """Override: call the service's check function with the cleaned data."""

    def clean(self) -> dict:
        cleaned_data = super().clean()
        if not self.errors:
            run_domain_check(self, self.service_check)
        return cleaned_data


def run_domain_check(form: forms.BaseForm, check: Callable[[], None]) -> None:
    try:
        check()
    except DomainError as error:
        field = error.field if error.field in form.fields else None
        form.add_error(field, error.message)


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login, counted by the per-username failure throttle
    (`voltop.core.login_failures`) before the password is checked: beyond the limit the form
    refuses at once, whatever the password."""

    def clean(self) -> dict:
        username = self.cleaned_data.get("username")
        if not username or not self.cleaned_data.get("password"):
            return super().clean()
        try:
            attempt = login_attempt_begin(username=username)
        except TooManyLoginFailures as error:
            raise ValidationError(error.message, code=error.code) from error
        cleaned_data = super().clean()
        login_attempt_succeeded(attempt)
        return cleaned_data
