"""Admin form support: run a service's checks in form validation so refusals show on the form;
the admin's login form, under the per-username failure throttle the API's login has too; and
JSON a person types, read within the limits of all outside JSON."""

from collections.abc import Callable

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.utils.text import capfirst
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.widgets import BASE_INPUT_CLASSES

from voltop.core.client_address import client_address
from voltop.core.errors import DomainError
from voltop.core.json_input import JsonInputRefused, JsonMalformed, json_input_parse
from voltop.core.login_failures import (
    TooManyLoginFailures,
    login_attempt_begin,
    login_attempt_succeeded,
)


class LimitedJSONFormField(forms.JSONField):
    """Django's JSON form field, reading what is typed through `json_input_parse`: JSON larger
    than JSON_MAX_BYTES or nested deeper than JSON_MAX_DEPTH is refused on the field, naming
    the limit, instead of ending in a RecursionError (also when the form is shown again)."""

    def _parse(self, value: str):
        return json_input_parse(value, parse_float=float)

    def to_python(self, value):
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            converted = self._parse(value)
        except JsonMalformed as error:
            raise forms.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            ) from error
        except JsonInputRefused as error:
            raise forms.ValidationError(capfirst(error.message), code=error.code) from error
        return forms.fields.JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return self._parse(data)
        except JsonInputRefused:
            return InvalidJSONInput(data)


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


class AdminLoginForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    """The admin's login, counted by the per-username failure throttle
    (`voltop.core.login_failures`) before the password is checked: beyond the limit the form
    refuses at once, whatever the password, unless the username logged in from this address
    lately. A login with a confirmed authenticator app (django-otp TOTP) must also give its
    current code (`otp_token`, django-otp's field); a missing or wrong code is a failed login,
    and the session is marked verified by django-otp when it succeeds."""

    otp_token = forms.CharField(
        label="Code from your authenticator app",
        required=False,
        help_text="Only when two-factor login is on for you.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "class": " ".join(BASE_INPUT_CLASSES),
            }
        ),
    )
    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": "Two-factor login is on for you: enter the code your authenticator "
        "app shows.",
        "invalid_token": "The code is wrong or no longer valid; enter the one your app shows now.",
    }

    def _chosen_device(self, user) -> TOTPDevice | None:
        return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()

    def _update_form(self, user) -> None:
        """Unlike django-otp's own form, the password is not sent back into the page."""

    def clean_otp(self, user) -> None:
        """A login without a confirmed authenticator app gives no code."""
        if user is not None and self._chosen_device(user) is not None:
            super().clean_otp(user)

    def clean(self) -> dict:
        username = self.cleaned_data.get("username")
        if not username or not self.cleaned_data.get("password"):
            return super().clean()
        try:
            attempt = login_attempt_begin(
                username=username, client_address=client_address(self.request)
            )
        except TooManyLoginFailures as error:
            raise ValidationError(error.message, code=error.code) from error
        cleaned_data = super().clean()
        self.clean_otp(self.get_user())
        login_attempt_succeeded(attempt)
        return cleaned_data
