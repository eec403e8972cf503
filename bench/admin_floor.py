"""The floor of bench/admin.py: a plain Django view, no admin and no authentication, rendering
the same 100 rows as the session list's first page (the fleet's latest sessions, with what
its columns show) from one .values() query into a bare HTML table through Django's template
engine. Served only by the bench (bench/admin_settings.py), never by Voltop itself."""

from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from apps.charging.models import ChargingSession

FIELDS = (
    "id",
    "started_at",
    "ended_at",
    "driver__first_name",
    "driver__last_name",
    "vehicle__plate",
    "location_kind",
    "purpose",
    "energy_wh",
    "price_incl_vat",
    "price_currency",
    "status",
    "is_suspect",
)
TABLE = engines["django"].from_string(
    "<!doctype html><title>sessions</title><table><tr><th>started</th><th>driver</th>"
    "<th>vehicle</th><th>where · why</th><th>energy (Wh)</th><th>ended</th><th>price</th>"
    "<th>status</th></tr>{% for row in rows %}<tr><td>{{ row.started_at }}</td>"
    "<td>{{ row.driver__first_name }} {{ row.driver__last_name }}</td>"
    "<td>{{ row.vehicle__plate }}</td><td>{{ row.location_kind }} · {{ row.purpose }}</td>"
    "<td>{{ row.energy_wh }}</td><td>{{ row.ended_at }}</td>"
    "<td>{{ row.price_incl_vat }} {{ row.price_currency }}</td>"
    "<td>{{ row.status }}{% if row.is_suspect %} · suspect{% endif %}</td></tr>"
    "{% endfor %}</table>"
)


def sessions_floor(request):
    rows = (
        ChargingSession.objects.filter(fleet_id=int(request.GET["fleet"]))
        .order_by("-started_at", "-id")
        .values(*FIELDS)[:100]
    )
    return HttpResponse(TABLE.render({"rows": rows}))


urlpatterns = [
    path("bench/floor/sessions/", sessions_floor),
    path("", include("voltop.urls")),
]
