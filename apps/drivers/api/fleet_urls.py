"""Fleet routes of the drivers app, mounted under /api/v1/fleet/."""

from rest_framework.routers import SimpleRouter

from apps.drivers.api import fleet_views

router = SimpleRouter()
router.register("drivers", fleet_views.FleetDriverViewSet, basename="fleet-driver")
router.register("charge-tokens", fleet_views.FleetChargeTokenViewSet, basename="fleet-charge-token")

fleet_urlpatterns = router.urls
