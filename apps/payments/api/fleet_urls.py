"""Fleet routes of the payments app, mounted under /api/v1/fleet/."""

from rest_framework.routers import SimpleRouter

from apps.payments.api import fleet_views as views

router = SimpleRouter()
router.register("billing-runs", views.BillingRunViewSet, basename="fleet-billing-run")
router.register("invoices", views.InvoiceViewSet, basename="fleet-invoice")
router.register("credit-notes", views.CreditNoteViewSet, basename="fleet-credit-note")
router.register("reimbursements", views.ReimbursementViewSet, basename="fleet-reimbursement")
router.register("payments", views.PaymentViewSet, basename="fleet-payment")
router.register("cost-allocations", views.CostAllocationViewSet, basename="fleet-cost-allocation")
router.register(
    "payroll-deductions", views.PayrollDeductionViewSet, basename="fleet-payroll-deduction"
)

fleet_urlpatterns: list = router.urls
