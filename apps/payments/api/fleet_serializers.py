"""What fleet staff and fleet integrations send and read about billing under /api/v1/fleet/:
billing runs, invoices, credit notes, reimbursements, payments, cost allocations and payroll
deductions.

Money is a string with its currency beside it, energy an integer `*_wh` with a `*_kwh` string,
times ISO 8601 with offset. Output serializers are read-only; input serializers name only what a
client may say, and related rows are looked up only among the caller's writable fleets."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.charging.api.fleet_serializers import SessionDriverSerializer
from apps.charging.api.serializers import AwareDateTimeField
from apps.fleets.api.fleet_serializers import FleetScopedRelatedField, RefusesUnsettableFields
from apps.fleets.models import Fleet
from apps.payments.api.driver_serializers import (
    InvoiceDetailSerializer,
    InvoiceSerializer,
    PaymentSerializer,
    ReimbursementDetailSerializer,
    ReimbursementSerializer,
)
from apps.payments.choices import LeftOutReason, PaymentMethod
from apps.payments.models import (
    BillingRun,
    CostAllocation,
    CreditNote,
    CreditNoteLine,
    Invoice,
    Payment,
    PayrollDeduction,
    PayrollDeductionItem,
)
from apps.payments.selectors import billing_run_left_out


class LeftOutSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=LeftOutReason.choices)
    count = serializers.IntegerField()


class BillingRunSerializer(serializers.ModelSerializer):
    """A billing run and how far it got: `units_done` of `units_total` batches of drivers. Once
    completed, it accounts for the sessions of its period: those it billed (invoiced, allocated,
    reimbursed; `earlier_session_count` of them ended in earlier periods) and those it left
    out, counted by reason in `left_out`."""

    left_out = serializers.SerializerMethodField()

    class Meta:
        model = BillingRun
        fields = [
            "id",
            "fleet",
            "period_kind",
            "period_label",
            "period_start",
            "period_end",
            "status",
            "currency",
            "units_done",
            "units_total",
            "session_count",
            "invoiced_session_count",
            "allocated_session_count",
            "reimbursed_session_count",
            "earlier_session_count",
            "left_out_count",
            "left_out",
            "statement_count",
            "invoice_count",
            "invoiced_total",
            "allocated_total",
            "reimbursed_total",
            "started_at",
            "finished_at",
            "error",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(LeftOutSerializer(many=True))
    def get_left_out(self, run: BillingRun) -> list[dict]:
        return [{"reason": reason, "count": count} for reason, count in billing_run_left_out(run)]


class BillingRunStartSerializer(serializers.Serializer):
    fleet = FleetScopedRelatedField(queryset=Fleet.objects.all(), fleet_lookup="pk")
    period = serializers.CharField(
        max_length=8,
        help_text='The period to bill, as the fleet counts them: "2026-10" or "2026-W44".',
    )


HELD_BY_PAYROLL_HELP = (
    "A prepared payroll deduction holds the invoice: it is to be settled by payroll, the "
    "amount deducted from the driver's pay."
)


class FleetInvoiceSerializer(InvoiceSerializer):
    driver = SessionDriverSerializer(read_only=True)
    held_by_payroll = serializers.BooleanField(read_only=True, help_text=HELD_BY_PAYROLL_HELP)

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "driver", "billing_run", "held_by_payroll"]
        read_only_fields = fields


class FleetInvoiceDetailSerializer(InvoiceDetailSerializer):
    """An invoice as its document shows it, with its driver; drafts included."""

    driver = SessionDriverSerializer(read_only=True)
    held_by_payroll = serializers.BooleanField(read_only=True, help_text=HELD_BY_PAYROLL_HELP)

    class Meta(InvoiceDetailSerializer.Meta):
        fields = [*InvoiceDetailSerializer.Meta.fields, "driver", "billing_run", "held_by_payroll"]
        read_only_fields = fields


class CreditNoteLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditNoteLine
        fields = ["id", "invoice_line", "description", "net", "vat_rate"]
        read_only_fields = fields
        extra_kwargs = {
            "vat_rate": {
                "help_text": "Percent. A line has no VAT amount of its own: the credit note's "
                "VAT is computed per rate over all its lines (vat_total), as EN 16931 has it."
            },
        }


class CreditedInvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = ["id", "number"]
        read_only_fields = fields


class CreditNoteSerializer(serializers.ModelSerializer):
    invoice = CreditedInvoiceSerializer(read_only=True)
    lines = CreditNoteLineSerializer(many=True, read_only=True)

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "invoice",
            "reason",
            "currency",
            "net_total",
            "vat_total",
            "gross_total",
            "issued_at",
            "lines",
        ]
        read_only_fields = fields


class CreditNoteIssueSerializer(serializers.Serializer):
    invoice = FleetScopedRelatedField(queryset=Invoice.objects.all())
    reason = serializers.CharField(help_text="Why the invoice is credited; the driver reads it.")
    lines = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Ids of the invoice's lines to credit; leave out to credit every line left.",
    )


class FleetReimbursementSerializer(ReimbursementSerializer):
    driver = SessionDriverSerializer(read_only=True)

    class Meta(ReimbursementSerializer.Meta):
        fields = [*ReimbursementSerializer.Meta.fields, "driver", "billing_run"]
        read_only_fields = fields


class FleetReimbursementDetailSerializer(ReimbursementDetailSerializer):
    driver = SessionDriverSerializer(read_only=True)

    class Meta(ReimbursementDetailSerializer.Meta):
        fields = [*ReimbursementDetailSerializer.Meta.fields, "driver", "billing_run"]
        read_only_fields = fields


class ReimbursementApproveSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, default="", allow_blank=True)


class ReimbursementRejectSerializer(serializers.Serializer):
    note = serializers.CharField(
        help_text="Why the reimbursement is rejected; the driver reads it."
    )


class ReimbursementMarkPaidSerializer(RefusesUnsettableFields, serializers.Serializer):
    """When the payout reached the driver; anything else sent (amount, status, …) is refused."""

    paid_at = AwareDateTimeField(
        help_text="When the driver was paid: not in the future, not before the approval."
    )


class FleetPaymentSerializer(PaymentSerializer):
    class Meta(PaymentSerializer.Meta):
        fields = [*PaymentSerializer.Meta.fields, "provider_reference", "created_at"]
        read_only_fields = fields


class PaymentRecordSerializer(serializers.Serializer):
    invoice = FleetScopedRelatedField(queryset=Invoice.objects.all())
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField(min_length=3, max_length=3)
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    received_at = AwareDateTimeField()
    provider_reference = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=Payment._meta.get_field("provider_reference").max_length,
    )


class CostAllocationSerializer(serializers.ModelSerializer):
    cost_center_code = serializers.CharField(
        source="cost_center.code", read_only=True, allow_null=True
    )

    class Meta:
        model = CostAllocation
        fields = [
            "id",
            "billing_run",
            "cost_center",
            "cost_center_code",
            "session",
            "driver",
            "period_start",
            "period_end",
            "currency",
            "amount",
            "vat",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "amount": {"help_text": "The business session's cost excl. VAT, allocated."},
            "vat": {
                "help_text": "The VAT the session was charged, beside the amount: the fleet's "
                "input VAT."
            },
        }


class PayrollDeductionItemSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    driver = SessionDriverSerializer(read_only=True)

    class Meta:
        model = PayrollDeductionItem
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "driver",
            "amount",
            "settled_amount",
            "payment",
            "released",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "settled_amount": {
                "help_text": "What recording settled on the invoice; less than the amount where "
                "it was paid or credited before, the difference owed back to the driver."
            },
        }


class PayrollDeductionSerializer(serializers.ModelSerializer):
    """A payroll deduction: prepared (its invoices held for the payroll), recorded (settled by
    payroll payments) or cancelled (its invoices freed), with its invoices."""

    items = PayrollDeductionItemSerializer(many=True, read_only=True)

    class Meta:
        model = PayrollDeduction
        fields = [
            "id",
            "fleet",
            "period_label",
            "period_start",
            "period_end",
            "status",
            "currency",
            "driver_count",
            "item_count",
            "total",
            "settled_total",
            "prepared_at",
            "recorded_at",
            "cancelled_at",
            "items",
        ]
        read_only_fields = fields


class PayrollDeductionPrepareSerializer(serializers.Serializer):
    fleet = FleetScopedRelatedField(queryset=Fleet.objects.all(), fleet_lookup="pk")
    period = serializers.CharField(
        max_length=8,
        help_text='A billed period, as the fleet counts them: "2026-10" or "2026-W44".',
    )


class PayrollDeductionRecordSerializer(RefusesUnsettableFields, serializers.Serializer):
    """When the payroll deducted it; anything else sent is refused."""

    received_at = AwareDateTimeField(
        required=False,
        default=None,
        allow_null=True,
        help_text="When the payroll ran: not in the future, not before the deduction was "
        "prepared; now when left out.",
    )
