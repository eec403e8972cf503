"""Driver routes of the vehicles app, mounted under /api/v1/me/."""

from django.urls import path

from apps.vehicles.api import views

driver_urlpatterns: list = [
    path("vehicle/", views.CurrentVehicleView.as_view(), name="me-vehicle"),
]
