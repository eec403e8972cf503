"""Public pages of the fleets app: accepting an invitation to a fleet's team."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from unfold.widgets import BASE_INPUT_CLASSES

from apps.fleets.exceptions import InvitationNotFound
from apps.fleets.invitations import invitation_accept, invitation_login_exists, invitation_open_get
from voltop.core.admin_forms import run_domain_check
from voltop.core.errors import DomainError


def _password_input(autocomplete: str) -> forms.PasswordInput:
    return forms.PasswordInput(
        attrs={"class": " ".join(BASE_INPUT_CLASSES), "autocomplete": autocomplete}
    )


class InvitationAcceptForm(forms.Form):
    """A new login's password, typed twice."""

    password = forms.CharField(
        label="Password", strip=False, widget=_password_input("new-password")
    )
    password_confirm = forms.CharField(
        label="Password again", strip=False, widget=_password_input("new-password")
    )

    def clean(self) -> dict:
        cleaned_data = super().clean()
        password, confirm = cleaned_data.get("password"), cleaned_data.get("password_confirm")
        if password and confirm and password != confirm:
            self.add_error("password_confirm", "The two passwords differ.")
        return cleaned_data


class InvitationAcceptExistingLoginForm(forms.Form):
    """The password of the login the invited address has already."""

    password = forms.CharField(
        label="Your current password", strip=False, widget=_password_input("current-password")
    )


@never_cache
@sensitive_post_parameters("password", "password_confirm")
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, secret: str) -> HttpResponse:
    """The invitation link's page: set a password (or give the existing login's) and join."""
    context = {**admin.site.each_context(request), "title": "Join your team"}
    try:
        invitation = invitation_open_get(secret=secret, now=timezone.now())
    except DomainError as error:
        return render(
            request,
            "fleets/invitation_accept.html",
            {**context, "refusal": error.message},
            status=404 if isinstance(error, InvitationNotFound) else 410,
        )
    form_class = (
        InvitationAcceptExistingLoginForm
        if invitation_login_exists(invitation=invitation)
        else InvitationAcceptForm
    )
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        run_domain_check(
            form,
            lambda: invitation_accept(
                secret=secret, password=form.cleaned_data["password"], now=timezone.now()
            ),
        )
        if not form.errors:
            messages.success(
                request,
                f"Welcome to {invitation.fleet.name}. Log in with {invitation.email} and your "
                "password.",
            )
            return redirect(f"{reverse('admin:login')}?next={reverse('admin:index')}")
    return render(
        request,
        "fleets/invitation_accept.html",
        {**context, "invitation": invitation, "form": form},
    )
