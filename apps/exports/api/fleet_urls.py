"""Fleet routes of the exports app, mounted under /api/v1/fleet/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.exports.api import views

router = SimpleRouter()
router.register("export-jobs", views.ExportJobViewSet, basename="fleet-export-job")
router.register("export-manifests", views.ExportManifestViewSet, basename="fleet-export-manifest")

fleet_urlpatterns: list = [
    path("exports/<str:kind>/", views.FleetExportView.as_view(), name="fleet-export"),
    *router.urls,
]
