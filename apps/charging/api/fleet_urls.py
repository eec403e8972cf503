"""Fleet routes of the charging app, mounted under /api/v1/fleet/."""

from rest_framework.routers import SimpleRouter

from apps.charging.api import fleet_views as views

router = SimpleRouter()
router.register("stations", views.ChargingStationViewSet, basename="fleet-station")
router.register("connectors", views.ConnectorViewSet, basename="fleet-connector")
router.register("tariffs", views.TariffViewSet, basename="fleet-tariff")
router.register("sessions", views.ChargingSessionViewSet, basename="fleet-session")

fleet_urlpatterns: list = router.urls
