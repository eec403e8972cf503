"""URL routes: landing page, admin, API, health check."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.dashboard.views import fleet_pick
from apps.fleets.admin_two_factor import two_factor_setup_view
from apps.fleets.views import invitation_accept_view
from voltop.core.admin_forms import AdminLoginForm
from voltop.core.views import healthz, home, not_found, server_error

admin.site.site_header = "Voltop fleet administration"
admin.site.site_title = "Voltop"
admin.site.index_title = "Fleet administration"
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", home, name="home"),
    path("admin/fleet-picker/", admin.site.admin_view(fleet_pick), name="admin_fleet_pick"),
    path("invitations/<str:secret>/", invitation_accept_view, name="invitation-accept"),
    path(
        "admin/two-factor/",
        admin.site.admin_view(two_factor_setup_view),
        name="two-factor-setup",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("voltop.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
]

handler404 = not_found
handler500 = server_error
