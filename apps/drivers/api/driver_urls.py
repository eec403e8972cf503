"""Driver routes of the drivers app, mounted under /api/v1/me/."""

from django.urls import path

from apps.drivers.api import views

driver_urlpatterns: list = [
    path("", views.ProfileView.as_view(), name="me-profile"),
    path("tokens/", views.ChargeTokenListView.as_view(), name="me-token-list"),
    path(
        "tokens/<int:pk>/block/",
        views.ChargeTokenBlockView.as_view(),
        name="me-token-block",
    ),
]
