"""Serializers of the driver endpoints of the payments app: my statements, invoices,
reimbursements and payments. Money is a string with its currency beside it; energy is integer
Wh with the kWh beside it as a string."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.payments.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
    Reimbursement,
    ReimbursementLine,
    Statement,
)
from voltop.core.money import kwh_of_wh


def _money(**options) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, **options)


@extend_schema_field({"type": "string", "format": "decimal", "example": "20.500"})
class KilowattHoursField(serializers.Field):
    """Integer Wh shown in kWh with three decimals, as a string ("20.000")."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: int) -> str:
        return str(kwh_of_wh(value))


class StatementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Statement
        fields = [
            "id",
            "period_label",
            "period_start",
            "period_end",
            "currency",
            "private_session_count",
            "business_session_count",
            "home_session_count",
            "private_owed",
            "business_cost",
            "reimbursement_due",
            "net_to_driver",
            "invoice_id",
            "reimbursement_id",
        ]
        read_only_fields = fields


class StatementInvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = ["id", "number", "status"]


class StatementReimbursementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reimbursement
        fields = ["id", "status"]


class StatementRefundSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(
        source="invoice.number", read_only=True, help_text="The invoice it is owed back on."
    )
    set_off_against = serializers.CharField(
        source="set_off_payment.invoice.number",
        read_only=True,
        allow_null=True,
        help_text="The invoice it was set off against; null unless set off.",
    )

    class Meta:
        model = Refund
        fields = [
            "id",
            "invoice_number",
            "reason",
            "amount",
            "currency",
            "status",
            "set_off_against",
            "settled_at",
            "created_at",
        ]
        read_only_fields = fields


class StatementDetailSerializer(StatementSerializer):
    """A statement with its invoice and reimbursement, and the refunds of its invoice: the
    serializer context carries them (apps.payments.selectors.statement_refunds)."""

    invoice = StatementInvoiceSerializer(read_only=True, allow_null=True)
    reimbursement = StatementReimbursementSerializer(read_only=True, allow_null=True)
    refunds_set_off = serializers.SerializerMethodField(
        help_text="Refunds owed on earlier invoices, set off against this statement's invoice."
    )
    refunds_arising = serializers.SerializerMethodField(
        help_text="Refunds owed back on this statement's invoice (paid beyond it, or credited "
        "after it was paid), owed, set off or paid out."
    )

    class Meta(StatementSerializer.Meta):
        fields = [
            *StatementSerializer.Meta.fields,
            "invoice",
            "reimbursement",
            "refunds_set_off",
            "refunds_arising",
        ]
        read_only_fields = fields

    @extend_schema_field(StatementRefundSerializer(many=True))
    def get_refunds_set_off(self, statement: Statement) -> list:
        return StatementRefundSerializer(self.context["refunds"].set_off, many=True).data

    @extend_schema_field(StatementRefundSerializer(many=True))
    def get_refunds_arising(self, statement: Statement) -> list:
        return StatementRefundSerializer(self.context["refunds"].arising, many=True).data


class InvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "status",
            "currency",
            "period_start",
            "period_end",
            "issued_at",
            "due_at",
            "paid_at",
            "net_total",
            "vat_total",
            "gross_total",
        ]
        read_only_fields = fields


class InvoiceLineSerializer(serializers.ModelSerializer):
    energy_wh = serializers.IntegerField(source="session.energy_wh", read_only=True)
    energy_kwh = serializers.DecimalField(
        source="quantity_kwh", max_digits=12, decimal_places=3, read_only=True
    )

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "position",
            "session_id",
            "description",
            "energy_wh",
            "energy_kwh",
            "unit_price",
            "net",
            "vat_rate",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "net": {"help_text": "The session's cost excl. VAT."},
            "vat_rate": {
                "help_text": "Percent. A line has no VAT amount of its own: the invoice's VAT "
                "is computed per rate over all its lines (vat_breakdown), as EN 16931 has it."
            },
        }


class VatSubtotalSerializer(serializers.Serializer):
    rate = serializers.DecimalField(
        max_digits=5, decimal_places=2, read_only=True, help_text="Percent."
    )
    taxable = _money()
    vat = _money()


class InvoiceBalanceSerializer(serializers.Serializer):
    gross = _money()
    credited = _money(help_text="The gross of the invoice's credit notes.")
    paid = _money(help_text="Payments received, less reversed ones.")
    due = _money(help_text="Still to pay; below zero when more was paid than owed.")
    overpaid = _money()


class InvoiceCreditNoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditNote
        fields = ["id", "number", "issued_at", "reason", "net_total", "vat_total", "gross_total"]
        read_only_fields = fields


class InvoiceDetailSerializer(InvoiceSerializer):
    """An invoice as its document shows it: the serializer context carries the document's
    `lines`, `vat_breakdown` and `balance` (apps.payments.documents.invoice_context)."""

    lines = serializers.SerializerMethodField()
    vat_breakdown = serializers.SerializerMethodField()
    balance = serializers.SerializerMethodField()
    credit_notes = InvoiceCreditNoteSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = [
            *InvoiceSerializer.Meta.fields,
            "lines",
            "vat_breakdown",
            "balance",
            "credit_notes",
        ]
        read_only_fields = fields

    @extend_schema_field(InvoiceLineSerializer(many=True))
    def get_lines(self, invoice: Invoice) -> list:
        return InvoiceLineSerializer(self.context["lines"], many=True).data

    @extend_schema_field(VatSubtotalSerializer(many=True))
    def get_vat_breakdown(self, invoice: Invoice) -> list:
        return VatSubtotalSerializer(self.context["vat_breakdown"], many=True).data

    @extend_schema_field(InvoiceBalanceSerializer)
    def get_balance(self, invoice: Invoice) -> dict:
        return InvoiceBalanceSerializer(self.context["balance"]).data


class ReimbursementSerializer(serializers.ModelSerializer):
    energy_kwh = KilowattHoursField(source="energy_wh")

    class Meta:
        model = Reimbursement
        fields = [
            "id",
            "period_start",
            "period_end",
            "currency",
            "energy_wh",
            "energy_kwh",
            "amount",
            "status",
            "decided_at",
            "decision_note",
            "paid_at",
        ]
        read_only_fields = fields


class ReimbursementLineSerializer(serializers.ModelSerializer):
    session_started_at = serializers.DateTimeField(source="session.started_at", read_only=True)
    energy_kwh = KilowattHoursField(source="energy_wh")

    class Meta:
        model = ReimbursementLine
        fields = ["id", "session_id", "session_started_at", "energy_wh", "energy_kwh", "amount"]
        read_only_fields = fields


class ReimbursementDetailSerializer(ReimbursementSerializer):
    lines = ReimbursementLineSerializer(many=True, read_only=True)

    class Meta(ReimbursementSerializer.Meta):
        fields = [*ReimbursementSerializer.Meta.fields, "lines"]
        read_only_fields = fields


class PaymentInvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = ["id", "number"]


class PaymentSerializer(serializers.ModelSerializer):
    invoice = PaymentInvoiceSerializer(read_only=True)

    class Meta:
        model = Payment
        fields = ["id", "invoice", "amount", "currency", "method", "status", "received_at"]
        read_only_fields = fields
