"""Filters of the fleet's billing lists: invoices by status, driver and period; reimbursements
by status, driver and run; cost allocations by run and cost center."""

from django_filters import rest_framework as filters

from apps.payments.models import CostAllocation, Invoice, Reimbursement


class FleetInvoiceFilterSet(filters.FilterSet):
    period = filters.CharFilter(
        field_name="billing_run__period_label",
        label='The billing period, as the fleet counts them: "2026-10" or "2026-W44".',
    )

    class Meta:
        model = Invoice
        fields = ["status", "driver", "period"]


class FleetReimbursementFilterSet(filters.FilterSet):
    class Meta:
        model = Reimbursement
        fields = ["status", "driver", "billing_run"]


class CostAllocationFilterSet(filters.FilterSet):
    class Meta:
        model = CostAllocation
        fields = ["billing_run", "cost_center"]
