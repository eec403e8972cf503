"""Fleet routes of the vehicles app, mounted under /api/v1/fleet/."""

from rest_framework.routers import SimpleRouter

from apps.vehicles.api import fleet_views

router = SimpleRouter()
router.register("vehicles", fleet_views.FleetVehicleViewSet, basename="fleet-vehicle")
router.register(
    "vehicle-assignments",
    fleet_views.FleetVehicleAssignmentViewSet,
    basename="fleet-vehicle-assignment",
)
router.register(
    "odometer-readings", fleet_views.FleetOdometerReadingViewSet, basename="fleet-odometer-reading"
)
router.register("drivers", fleet_views.FleetDriverLeaveViewSet, basename="fleet-driver")

fleet_urlpatterns = router.urls
