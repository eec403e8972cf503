"""Driver routes of the payments app, mounted under /api/v1/me/."""

from django.urls import path

from apps.payments.api import driver_views as views

driver_urlpatterns: list = [
    path("statements/", views.StatementListView.as_view(), name="me-statement-list"),
    path("statements/<int:pk>/", views.StatementDetailView.as_view(), name="me-statement-detail"),
    path("statements/<int:pk>/pdf/", views.StatementPdfView.as_view(), name="me-statement-pdf"),
    path("invoices/", views.InvoiceListView.as_view(), name="me-invoice-list"),
    path("invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="me-invoice-detail"),
    path("invoices/<int:pk>/pdf/", views.InvoicePdfView.as_view(), name="me-invoice-pdf"),
    path("reimbursements/", views.ReimbursementListView.as_view(), name="me-reimbursement-list"),
    path(
        "reimbursements/<int:pk>/",
        views.ReimbursementDetailView.as_view(),
        name="me-reimbursement-detail",
    ),
    path("payments/", views.PaymentListView.as_view(), name="me-payment-list"),
]
