"""The admin of logins: Django's user admin, whose forms refuse an e-mail address that another
login has, whatever its case (voltop.core.logins)."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from voltop.core.logins import LoginEmailInUse, login_email_check


class LoginEmailCheckedForm(forms.ModelForm):
    """A login's form whose e-mail address goes through login_email_check."""

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


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class LoginAdmin(UserAdmin):
    form = LoginChangeForm
    add_form = LoginCreationForm
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )
