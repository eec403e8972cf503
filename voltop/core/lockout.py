"""What a locked-out login sees (django-axes): API clients keep the API's JSON refusal, people
at the admin's login page get a page that says why and for how long."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    if original_response is not None and request.path.startswith("/api/"):
        return original_response
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return HttpResponse(
        render_to_string("lockout.html", {"minutes": minutes}, request=request), status=429
    )
