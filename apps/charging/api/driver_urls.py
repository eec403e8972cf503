"""Driver routes of the charging app, mounted under /api/v1/me/."""

from django.urls import path

from apps.charging.api import views

driver_urlpatterns: list = [
    path("sessions/", views.DriverSessionListView.as_view(), name="me-session-list"),
    path("sessions/<int:pk>/", views.DriverSessionDetailView.as_view(), name="me-session-detail"),
    path(
        "sessions/<int:pk>/meter-photo/",
        views.DriverSessionMeterPhotoView.as_view(),
        name="me-session-meter-photo",
    ),
    path("sessions/<int:pk>/stop/", views.DriverSessionStopView.as_view(), name="me-session-stop"),
    path(
        "sessions/<int:pk>/purpose/",
        views.DriverSessionPurposeView.as_view(),
        name="me-session-purpose",
    ),
    path("stations/", views.DriverStationListView.as_view(), name="me-station-list"),
    path(
        "start-requests/<int:pk>/",
        views.DriverStartRequestView.as_view(),
        name="me-start-request-detail",
    ),
    path(
        "stop-requests/<int:pk>/",
        views.DriverStopRequestView.as_view(),
        name="me-stop-request-detail",
    ),
    path("home-sessions/", views.HomeSessionReportView.as_view(), name="me-home-session-report"),
]
