"""Admin form support: run a service's checks in form validation so refusals show on the form."""

from collections.abc import Callable

from django import forms

from voltop.core.errors import DomainError


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
