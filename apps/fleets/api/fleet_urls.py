"""Fleet routes of the fleets app, mounted under /api/v1/fleet/."""

from rest_framework.routers import SimpleRouter

from apps.fleets.api import fleet_views

router = SimpleRouter()
router.register("fleets", fleet_views.FleetViewSet, basename="fleet-fleet")
router.register("depots", fleet_views.DepotViewSet, basename="fleet-depot")
router.register("cost-centers", fleet_views.CostCenterViewSet, basename="fleet-cost-center")
router.register("members", fleet_views.MembershipViewSet, basename="fleet-member")
router.register("api-keys", fleet_views.FleetApiKeyViewSet, basename="fleet-api-key")
router.register("invitations", fleet_views.InvitationViewSet, basename="fleet-invitation")

fleet_urlpatterns = router.urls
