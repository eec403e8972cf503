"""Routes under /api/v1/. Each app adds its router here."""

from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse


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
]
