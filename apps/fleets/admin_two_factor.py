"""The admin's two-factor page: a staff user turns on an authenticator app (a QR code and the
secret, then a code to confirm it), or, with an app already on, confirms this session with a
code. TwoFactorRequiredMiddleware sends those a fleet requires it of here until they have."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import mark_safe
from django_otp import login as otp_login
from unfold.widgets import BASE_INPUT_CLASSES

from apps.fleets.two_factor import (
    totp_device_confirm,
    totp_device_confirmed_get,
    totp_device_start,
    totp_device_verify,
    totp_qr_svg,
    totp_secret_text,
    two_factor_required,
)
from voltop.core.admin_forms import run_domain_check

WRONG_CODE = "The code is not the one your app shows now; try the next one."


class TwoFactorCodeForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "class": " ".join(BASE_INPUT_CLASSES),
            }
        ),
    )


def two_factor_setup_view(request: HttpRequest) -> HttpResponse:
    """Turn on an authenticator app, or verify this session with the one that is on."""
    user = request.user
    confirmed = totp_device_confirmed_get(user=user)
    form = TwoFactorCodeForm(request.POST or None)
    device = confirmed if confirmed is not None else totp_device_start(user=user)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["otp_token"]
        if confirmed is None:
            run_domain_check(form, lambda: totp_device_confirm(device=device, token=token))
        elif not totp_device_verify(device=confirmed, token=token):
            form.add_error("otp_token", WRONG_CODE)
        if not form.errors:
            device.refresh_from_db()
            otp_login(request, device)
            messages.success(request, "Two-factor login is on: your logins now need a code.")
            return redirect(reverse("admin:index"))
    context = {
        **admin.site.each_context(request),
        "title": "Two-factor login",
        "form": form,
        "confirmed": confirmed is not None,
        "verified": user.is_verified(),
        "required": two_factor_required(user),
    }
    if confirmed is None:
        context["qr_svg"] = mark_safe(totp_qr_svg(device))  # noqa: S308 - SVG made by segno
        context["secret"] = totp_secret_text(device)
    return TemplateResponse(request, "admin/fleets/two_factor.html", context)
