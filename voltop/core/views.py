"""Project-level views: the health check and the API root."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from voltop.core.health import broker_status, database_status


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
