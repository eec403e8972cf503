"""Project-level views: the landing page, the health check and the error pages."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from voltop.core.health import broker_status, database_status


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The site's front door: links to the admin, the API docs and the health check."""
    return render(request, "core/home.html")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = [database_status(), broker_status()]
    healthy = all(check.ok for check in checks)
    body = {
        "status": "ok" if healthy else "unavailable",
        **{check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _api_error(code: str, detail: str, status: int) -> JsonResponse:
    return JsonResponse(
        {
            "type": "server_error" if status >= 500 else "client_error",
            "errors": [{"code": code, "detail": detail, "attr": None}],
        },
        status=status,
    )


def not_found(request: HttpRequest, exception=None):
    """404 for an address no route matches: in the API's error shape under /api/."""
    if request.path.startswith("/api/"):
        return _api_error("not_found", "No such address in the API.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest):
    """500: in the API's error shape under /api/, so clients can always read an answer."""
    if request.path.startswith("/api/"):
        return _api_error("server_error", "Something went wrong on our side; it is logged.", 500)
    return defaults.server_error(request)
