"""One error shape for every API refusal:

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"code": "...", "detail": "a sentence a person understands", "attr": "field"}]}

`attr` names the field (dotted for nested fields, e.g. "lines.0.amount"), or is null when the
error concerns the whole request. Domain errors keep their stable dotted codes."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from voltop.core.errors import DomainError


def _flatten(detail, attr: str | None = None) -> list[dict]:
    if isinstance(detail, dict):
        errors = []
        for name, value in detail.items():
            field = None if name == "non_field_errors" else name
            errors.extend(_flatten(value, f"{attr}.{field}" if attr and field else attr or field))
        return errors
    if isinstance(detail, list):
        errors = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list) and not isinstance(value, exceptions.ErrorDetail):
                errors.extend(_flatten(value, f"{attr}.{index}" if attr else str(index)))
            else:
                errors.extend(_flatten(value, attr))
        return errors
    return [{"code": getattr(detail, "code", "invalid"), "detail": str(detail), "attr": attr}]


def _single_error(exc: exceptions.APIException) -> dict:
    detail, code = exc.detail, exc.get_codes()
    if isinstance(detail, dict):
        code = detail.get("code", exc.default_code)
        detail = detail.get("detail", exc.default_detail)
    return {
        "code": str(code if isinstance(code, str) else exc.default_code),
        "detail": str(detail),
        "attr": None,
    }


def error_body(error_type: str, errors: list[dict]) -> dict:
    return {"type": error_type, "errors": errors}


def api_exception_handler(exc, context) -> Response | None:
    """DRF's exception handler, in Voltop's error shape (settings EXCEPTION_HANDLER)."""
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(
            error_body(
                "client_error",
                [{"code": exc.code, "detail": exc.message, "attr": exc.field}],
            ),
            status=422 if exc.status == status.HTTP_400_BAD_REQUEST else exc.status,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("validation_error", _flatten(exc.detail))
    else:
        body = error_body("client_error", [_single_error(exc)])
    return Response(body, status=exc.status_code, headers=headers)
