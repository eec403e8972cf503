"""The fleet's billing endpoints under /api/v1/fleet/: billing runs and their progress, invoices
(with their PDF, and issuing drafts), credit notes, reimbursements with their approval and
payout, payments received, cost allocations, and payroll deductions.

Every member reads; admins and finance run billing, issue documents, record payments, decide
reimbursements and record their payout, and alone read and act on payroll deductions. Rows of
other fleets are not found."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.fleets.api.permissions import FINANCE_ROLES, acting_user
from apps.fleets.api.viewsets import FleetScopedViewSet
from apps.payments.api.fleet_filtersets import (
    CostAllocationFilterSet,
    FleetInvoiceFilterSet,
    FleetReimbursementFilterSet,
)
from apps.payments.api.fleet_serializers import (
    BillingRunSerializer,
    BillingRunStartSerializer,
    CostAllocationSerializer,
    CreditNoteIssueSerializer,
    CreditNoteSerializer,
    FleetInvoiceDetailSerializer,
    FleetInvoiceSerializer,
    FleetPaymentSerializer,
    FleetReimbursementDetailSerializer,
    FleetReimbursementSerializer,
    PaymentRecordSerializer,
    PayrollDeductionPrepareSerializer,
    PayrollDeductionRecordSerializer,
    PayrollDeductionSerializer,
    ReimbursementApproveSerializer,
    ReimbursementMarkPaidSerializer,
    ReimbursementRejectSerializer,
)
from apps.payments.documents import invoice_context, invoice_pdf, invoice_pdf_filename
from apps.payments.models import (
    BillingRun,
    CostAllocation,
    CreditNote,
    Invoice,
    Payment,
    PayrollDeduction,
    Reimbursement,
)
from apps.payments.payroll import (
    invoice_list_with_payroll_hold,
    payroll_deduction_cancel,
    payroll_deduction_prepare,
    payroll_deduction_record,
)
from apps.payments.selectors import reimbursements_with_lines
from apps.payments.services import (
    billing_period_for,
    billing_run_resume,
    billing_run_start,
    credit_note_issue,
    invoice_issue,
    payment_record,
    reimbursement_decide,
    reimbursement_mark_paid,
)
from voltop.core.api.filters import QueryFilterBackend
from voltop.core.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from voltop.core.api.idempotency import idempotent
from voltop.core.api.pagination import NewestFirstCursorPagination
from voltop.core.downloads import attachment_response


def _idempotency_key(*, required: bool, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        IDEMPOTENCY_HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=required,
        description=description,
    )


REPLAYABLE = _idempotency_key(
    required=False,
    description=(
        "Send the same key again to get the first answer instead of a second run; the same "
        "key with another body is refused with 422."
    ),
)
PAYROLL_RUN_KEY = _idempotency_key(
    required=True,
    description=(
        "Required. Your id for this payroll run: sending it again returns the deduction as "
        "recorded first; the same key with another body is refused with 422, another key on a "
        "recorded deduction with 409."
    ),
)
PAYMENT_KEY = _idempotency_key(
    required=True,
    description=(
        "Required. Your id for this payment: sending it again returns the payment recorded "
        "first, with the same status; the same key with another body is refused with 422."
    ),
)


class BillingRunViewSet(
    FleetScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin
):
    """The fleet's billing runs, newest period first, with their progress; admins and finance
    start and resume them."""

    queryset = BillingRun.objects.order_by("-period_start", "-id")
    serializer_class = BillingRunSerializer
    filter_backends = [QueryFilterBackend]
    filterset_fields = ["status"]
    action_roles = {"create": FINANCE_ROLES, "resume": FINANCE_ROLES}

    @extend_schema(
        request=BillingRunStartSerializer,
        responses={201: BillingRunSerializer, 200: BillingRunSerializer},
        parameters=[REPLAYABLE],
        description=(
            "Start billing a period that has ended, in the background (201). A fleet has one run "
            "per period: asking again returns that run (200), resumed if it had not completed."
        ),
    )
    @idempotent
    def create(self, request: Request) -> Response:
        payload = BillingRunStartSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        fleet = payload.validated_data["fleet"]
        period = billing_period_for(fleet=fleet, label=payload.validated_data["period"])
        run, created = billing_run_start(
            fleet=fleet, period=period, requested_by=acting_user(request)
        )
        return Response(
            self.get_serializer(run).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=None, responses=BillingRunSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: int) -> Response:
        """Take up a run that failed or stalled; a completed run is returned as it is."""
        run = billing_run_resume(run=self.get_object())
        return Response(self.get_serializer(run).data)


class InvoiceViewSet(FleetScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The fleet's invoices, drafts included, newest period first; admins and finance issue
    drafts."""

    queryset = Invoice.objects.select_related("driver")
    pagination_class = NewestFirstCursorPagination
    cursor_ordering = ("-period_start", "-id")
    filter_backends = [QueryFilterBackend]
    filterset_class = FleetInvoiceFilterSet
    action_roles = {"issue": FINANCE_ROLES}

    def get_queryset(self):
        invoices = invoice_list_with_payroll_hold(super().get_queryset())
        if self.action == "list":
            return invoices
        return invoices.select_related("fleet").prefetch_related("credit_notes")

    def get_serializer_class(self):
        return FleetInvoiceSerializer if self.action == "list" else FleetInvoiceDetailSerializer

    def _document(self, invoice: Invoice) -> Response:
        context = {**self.get_serializer_context(), **invoice_context(invoice)}
        return Response(FleetInvoiceDetailSerializer(invoice, context=context).data)

    def retrieve(self, request: Request, pk: int) -> Response:
        """An invoice as its document shows it: lines, VAT per rate, credit notes and the
        balance (credited, paid, due, overpaid)."""
        return self._document(self.get_object())

    def perform_content_negotiation(self, request, force=False):
        """The PDF bypasses the renderers; refusals are JSON whatever the Accept header asks."""
        return super().perform_content_negotiation(request, force=force or self.action == "pdf")

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def pdf(self, request: Request, pk: int) -> HttpResponse:
        """The invoice as a PDF document."""
        invoice = self.get_object()
        return attachment_response(
            invoice_pdf(invoice), "application/pdf", invoice_pdf_filename(invoice)
        )

    @extend_schema(request=None, responses=FleetInvoiceDetailSerializer)
    @action(detail=True, methods=["post"])
    def issue(self, request: Request, pk: int) -> Response:
        """Give a draft the next number of the fleet's year and freeze it; it is e-mailed to
        the driver."""
        invoice = invoice_issue(invoice=self.get_object())
        return self._document(self.get_queryset().get(pk=invoice.pk))


class CreditNoteViewSet(
    FleetScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin
):
    """The fleet's credit notes, newest first; admins and finance credit issued invoices."""

    queryset = CreditNote.objects.select_related("invoice").prefetch_related("lines")
    serializer_class = CreditNoteSerializer
    filter_backends = [QueryFilterBackend]
    filterset_fields = ["invoice"]
    action_roles = {"create": FINANCE_ROLES}

    def get_queryset(self):
        return super().get_queryset().order_by("-issued_at", "-id")

    @extend_schema(
        request=CreditNoteIssueSerializer,
        responses={201: CreditNoteSerializer},
        parameters=[REPLAYABLE],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        """Credit some lines of an issued invoice, or all that are left; each line once."""
        payload = CreditNoteIssueSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        credit_note = credit_note_issue(
            invoice=payload.validated_data["invoice"],
            reason=payload.validated_data["reason"],
            line_ids=payload.validated_data.get("lines"),
            issued_by=acting_user(request),
        )
        return Response(
            self.get_serializer(self.get_queryset().get(pk=credit_note.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class ReimbursementViewSet(FleetScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """What the fleet owes its drivers for business charging at home, newest period first;
    admins and finance approve them for payout or reject them, and record the payout."""

    queryset = Reimbursement.objects.select_related("driver").order_by("-period_start", "-id")
    filter_backends = [QueryFilterBackend]
    filterset_class = FleetReimbursementFilterSet
    action_roles = {"approve": FINANCE_ROLES, "reject": FINANCE_ROLES, "mark_paid": FINANCE_ROLES}

    def get_queryset(self):
        reimbursements = super().get_queryset()
        if self.action == "list":
            return reimbursements
        return reimbursements_with_lines(reimbursements)

    def get_serializer_class(self):
        if self.action == "list":
            return FleetReimbursementSerializer
        return FleetReimbursementDetailSerializer

    def _decided(self, reimbursement: Reimbursement) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=reimbursement.pk)).data)

    def _decide(self, request: Request, *, approve: bool, payload_class) -> Response:
        reimbursement = self.get_object()
        payload = payload_class(data=request.data)
        payload.is_valid(raise_exception=True)
        reimbursement_decide(
            reimbursement=reimbursement,
            approve=approve,
            decided_by=acting_user(request),
            note=payload.validated_data["note"],
        )
        return self._decided(reimbursement)

    @extend_schema(
        request=ReimbursementApproveSerializer, responses=FleetReimbursementDetailSerializer
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: int) -> Response:
        """Approve a pending reimbursement for payout."""
        return self._decide(request, approve=True, payload_class=ReimbursementApproveSerializer)

    @extend_schema(
        request=ReimbursementRejectSerializer, responses=FleetReimbursementDetailSerializer
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: int) -> Response:
        """Reject a pending reimbursement, saying why."""
        return self._decide(request, approve=False, payload_class=ReimbursementRejectSerializer)

    @extend_schema(
        request=ReimbursementMarkPaidSerializer, responses=FleetReimbursementDetailSerializer
    )
    @action(detail=True, methods=["post"], url_path="mark-paid")
    def mark_paid(self, request: Request, pk: int) -> Response:
        """Record that an approved reimbursement was paid out to the driver. Sending the same
        moment again changes nothing; another moment, or a reimbursement not approved, is
        refused with 409."""
        reimbursement = self.get_object()
        payload = ReimbursementMarkPaidSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        reimbursement_mark_paid(
            reimbursement=reimbursement,
            paid_at=payload.validated_data["paid_at"],
            paid_by=acting_user(request),
        )
        return self._decided(reimbursement)


class PaymentViewSet(
    FleetScopedViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
):
    """Payments received on the fleet's invoices, newest first; admins and finance record them,
    each under an Idempotency-Key so that sending one twice records it once."""

    queryset = Payment.objects.select_related("invoice")
    serializer_class = FleetPaymentSerializer
    pagination_class = NewestFirstCursorPagination
    cursor_ordering = ("-received_at", "-id")
    filter_backends = [QueryFilterBackend]
    filterset_fields = ["invoice", "method", "status"]
    action_roles = {"create": FINANCE_ROLES}

    @extend_schema(
        request=PaymentRecordSerializer,
        responses={201: FleetPaymentSerializer},
        parameters=[PAYMENT_KEY],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        """Record money received against an issued invoice; the invoice is paid once nothing
        is due."""
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            raise exceptions.ValidationError(
                {IDEMPOTENCY_HEADER: ["Send an Idempotency-Key header naming this payment."]},
                code="required",
            )
        payload = PaymentRecordSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        payment, _ = payment_record(
            idempotency_key=key, recorded_by=acting_user(request), **payload.validated_data
        )
        return Response(
            self.get_serializer(self.get_queryset().get(pk=payment.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class CostAllocationViewSet(FleetScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Business charging cost booked to cost centers by the billing runs, one row per
    session."""

    queryset = CostAllocation.objects.select_related("cost_center").order_by(
        "-period_start", "cost_center__code", "id"
    )
    serializer_class = CostAllocationSerializer
    filter_backends = [QueryFilterBackend]
    filterset_class = CostAllocationFilterSet


class PayrollDeductionViewSet(
    FleetScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin
):
    """The fleet's payroll deductions, newest period first, with their invoices: what the
    employer's payroll deducts from drivers' pay. Admins and finance alone read them, prepare
    a period's, record the payroll run and cancel them."""

    queryset = (
        PayrollDeduction.objects.select_related("fleet")
        .prefetch_related("items__invoice", "items__driver")
        .order_by("-period_start", "-id")
    )
    serializer_class = PayrollDeductionSerializer
    filter_backends = [QueryFilterBackend]
    filterset_fields = ["status"]
    read_roles = FINANCE_ROLES
    write_roles = FINANCE_ROLES

    def _deduction(self, deduction: PayrollDeduction, created: bool = False) -> Response:
        return Response(
            self.get_serializer(self.get_queryset().get(pk=deduction.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=PayrollDeductionPrepareSerializer,
        responses={201: PayrollDeductionSerializer, 200: PayrollDeductionSerializer},
        parameters=[REPLAYABLE],
        description=(
            "Prepare the payroll deduction of a billed period (201): every open invoice whose "
            "supply period starts before the period's end, for its open balance, held until "
            "recorded or cancelled. A period prepared already returns its deduction (200). "
            "Its file is the payroll-deductions export."
        ),
    )
    @idempotent
    def create(self, request: Request) -> Response:
        payload = PayrollDeductionPrepareSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        deduction, created = payroll_deduction_prepare(
            fleet=payload.validated_data["fleet"],
            period_label=payload.validated_data["period"],
            by=acting_user(request),
        )
        return self._deduction(deduction, created)

    @extend_schema(
        request=PayrollDeductionRecordSerializer,
        responses=PayrollDeductionSerializer,
        parameters=[PAYROLL_RUN_KEY],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def record(self, request: Request, pk: int) -> Response:
        """Record that the payroll deducted a prepared deduction: each invoice is settled once
        by a payroll payment, for what is still open of its amount."""
        deduction = self.get_object()
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            raise exceptions.ValidationError(
                {IDEMPOTENCY_HEADER: ["Send an Idempotency-Key header naming this payroll run."]},
                code="required",
            )
        payload = PayrollDeductionRecordSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        payroll_deduction_record(
            deduction=deduction,
            idempotency_key=key,
            received_at=payload.validated_data["received_at"],
            by=acting_user(request),
        )
        return self._deduction(deduction)

    @extend_schema(request=None, responses=PayrollDeductionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: int) -> Response:
        """Cancel a prepared deduction, freeing its invoices; a recorded one is refused with
        409."""
        deduction = payroll_deduction_cancel(deduction=self.get_object(), by=acting_user(request))
        return self._deduction(deduction)
