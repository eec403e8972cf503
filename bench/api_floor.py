"""The floor of bench/api.py: a plain Django view, no DRF and no authentication, answering the
same 50 rows as GET /api/v1/me/sessions/ as JSON from one .values() query. Served only by the
bench (bench/api_settings.py), never by Voltop itself."""

from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse
from django.urls import include, path

from apps.charging.models import ChargingSession

FIELDS = (
    "id",
    "status",
    "location_kind",
    "purpose",
    "started_at",
    "ended_at",
    "energy_wh",
    "vehicle__plate",
    "connector__station__depot__name",
    "price_currency",
    "price_excl_vat",
    "price_vat",
    "price_incl_vat",
    "billed_at",
    "home_approval",
)


def sessions_floor(request):
    rows = (
        ChargingSession.objects.filter(driver_id=int(request.GET["driver"]))
        .order_by("-started_at", "-id")
        .values(*FIELDS)[:50]
    )
    return JsonResponse({"results": list(rows)}, encoder=DjangoJSONEncoder)


urlpatterns = [
    path("bench/floor/sessions/", sessions_floor),
    path("", include("voltop.urls")),
]
