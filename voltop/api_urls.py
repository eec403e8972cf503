"""Routes under /api/v1/. Each app adds its router here."""

from django.urls import include, path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.charging.api import driver_urls as charging_api
from apps.charging.api import fleet_urls as charging_fleet_api
from apps.drivers.api import driver_urls as drivers_api
from apps.drivers.api import fleet_urls as drivers_fleet_api
from apps.drivers.api.auth_views import LoginView, LogoutView, RefreshView
from apps.exports.api import fleet_urls as exports_fleet_api
from apps.fleets.api import fleet_urls as fleets_fleet_api
from apps.payments.api import driver_urls as payments_api
from apps.payments.api import fleet_urls as payments_fleet_api
from apps.vehicles.api import driver_urls as vehicles_api
from apps.vehicles.api import fleet_urls as vehicles_fleet_api


@extend_schema(
    responses=inline_serializer(
        "ApiRoot",
        {
            "name": serializers.CharField(),
            "version": serializers.CharField(),
            "health": serializers.URLField(),
        },
    ),
    auth=[],
)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request: Request) -> Response:
    return Response(
        {
            "name": "Voltop API",
            "version": "v1",
            "health": reverse("healthz", request=request),
        }
    )


urlpatterns = [
    path("", api_root, name="api-root"),
    path("auth/login/", LoginView.as_view(), name="auth-login"),
    path("auth/refresh/", RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path(
        "fleet/",
        include(
            [
                *fleets_fleet_api.fleet_urlpatterns,
                *drivers_fleet_api.fleet_urlpatterns,
                *vehicles_fleet_api.fleet_urlpatterns,
                *charging_fleet_api.fleet_urlpatterns,
                *payments_fleet_api.fleet_urlpatterns,
                *exports_fleet_api.fleet_urlpatterns,
            ]
        ),
    ),
    path(
        "me/",
        include(
            [
                *drivers_api.driver_urlpatterns,
                *vehicles_api.driver_urlpatterns,
                *charging_api.driver_urlpatterns,
                *payments_api.driver_urlpatterns,
            ]
        ),
    ),
]
