"""Driver endpoints of the payments app: my statements and invoices (each with its PDF),
reimbursements and payments. Each list holds only the requesting driver's rows, and only what
a completed billing run made final: another driver's row is not found."""

import django_filters
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from apps.drivers.api.permissions import IsDriver, request_driver
from apps.payments.api.driver_serializers import (
    InvoiceDetailSerializer,
    InvoiceSerializer,
    PaymentSerializer,
    ReimbursementDetailSerializer,
    ReimbursementSerializer,
    StatementDetailSerializer,
    StatementSerializer,
)
from apps.payments.choices import InvoiceStatus
from apps.payments.documents import (
    invoice_context,
    invoice_pdf,
    invoice_pdf_filename,
    statement_pdf,
    statement_pdf_filename,
)
from apps.payments.models import Invoice, Statement
from apps.payments.selectors import (
    invoice_list_for_driver,
    payment_list_for_driver,
    reimbursement_list_for_driver,
    reimbursements_with_lines,
    statement_list_for_driver,
    statement_refunds,
)
from voltop.core.api.filters import QueryFilterBackend, UtcIsoDateTimeFromToRangeFilter
from voltop.core.api.pagination import NewestFirstCursorPagination
from voltop.core.downloads import attachment_response


class DriverReadView(generics.GenericAPIView):
    """Read-only endpoints for the requesting driver, without ordering or filtering unless a
    view offers them. Subclasses scope get_queryset to `driver_id`."""

    permission_classes = [IsDriver]
    filter_backends: list = []

    @property
    def driver_id(self) -> int:
        return request_driver(self.request).pk


class DriverPdfView(DriverReadView):
    """One of my documents as a PDF; a subclass names the rows and how one is printed."""

    def perform_content_negotiation(self, request, force=False):
        """The PDF bypasses the renderers; refusals are JSON whatever the Accept header asks."""
        return super().perform_content_negotiation(request, force=True)

    def pdf_with_filename(self, document) -> tuple[bytes, str]:
        """The document printed as a PDF, and the name it is saved under."""
        raise NotImplementedError

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        content, filename = self.pdf_with_filename(self.get_object())
        return attachment_response(content, "application/pdf", filename)


class MyStatements(DriverReadView):
    """My statements from completed billing runs, newest period first."""

    def get_queryset(self):
        return statement_list_for_driver(driver_id=self.driver_id)


class StatementListView(MyStatements, generics.ListAPIView):
    """My statements, newest period first."""

    serializer_class = StatementSerializer


class StatementDetailView(MyStatements, generics.RetrieveAPIView):
    """One of my statements, with its invoice and reimbursement, and the refunds of its
    invoice: those set off against it and those arising on it."""

    serializer_class = StatementDetailSerializer

    def get_queryset(self):
        return super().get_queryset().select_related("invoice", "reimbursement")

    def get(self, request: Request, pk: int) -> Response:
        statement = self.get_object()
        context = {
            **self.get_serializer_context(),
            "refunds": statement_refunds(statement=statement),
        }
        return Response(StatementDetailSerializer(statement, context=context).data)


class StatementPdfView(MyStatements, DriverPdfView):
    """One of my statements as a PDF document: what I owe for private charging, what the fleet
    bears and reimburses, session by session, and the net."""

    def get_queryset(self):
        return super().get_queryset().select_related("fleet", "driver", "invoice", "reimbursement")

    def pdf_with_filename(self, document: Statement) -> tuple[bytes, str]:
        return statement_pdf(document), statement_pdf_filename(document)


class InvoiceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[choice for choice in InvoiceStatus.choices if choice[0] != InvoiceStatus.DRAFT]
    )
    period_start = UtcIsoDateTimeFromToRangeFilter(
        help_text="Inclusive bounds on period_start, ISO 8601 with offset."
    )

    class Meta:
        model = Invoice
        fields = ["status", "period_start"]


class InvoiceListView(DriverReadView, generics.ListAPIView):
    """My issued invoices, newest period first (drafts are the fleet's work in progress)."""

    serializer_class = InvoiceSerializer
    pagination_class = NewestFirstCursorPagination
    cursor_ordering = ("-period_start", "-id")
    filter_backends = [QueryFilterBackend]
    filterset_class = InvoiceFilter
    queryset = Invoice.objects.none()  # names the model to the schema; get_queryset scopes it

    def get_queryset(self):
        return invoice_list_for_driver(driver_id=self.driver_id)


class InvoiceDetailView(DriverReadView):
    """One of my invoices as its document shows it: lines, VAT per rate, credit notes and the
    balance (credited, paid, due, overpaid)."""

    serializer_class = InvoiceDetailSerializer

    def get_queryset(self):
        return (
            invoice_list_for_driver(driver_id=self.driver_id)
            .select_related("fleet", "driver")
            .prefetch_related("credit_notes")
        )

    def get(self, request: Request, pk: int) -> Response:
        invoice = self.get_object()
        context = {**self.get_serializer_context(), **invoice_context(invoice)}
        return Response(InvoiceDetailSerializer(invoice, context=context).data)


class InvoicePdfView(DriverPdfView):
    """One of my invoices as a PDF document."""

    def get_queryset(self):
        return invoice_list_for_driver(driver_id=self.driver_id).select_related("fleet", "driver")

    def pdf_with_filename(self, document: Invoice) -> tuple[bytes, str]:
        return invoice_pdf(document), invoice_pdf_filename(document)


class MyReimbursements(DriverReadView):
    """My reimbursements from completed billing runs, newest period first."""

    def get_queryset(self):
        return reimbursement_list_for_driver(driver_id=self.driver_id)


class ReimbursementListView(MyReimbursements, generics.ListAPIView):
    """What the fleet owes me for approved business charging at home, newest period first."""

    serializer_class = ReimbursementSerializer


class ReimbursementDetailView(MyReimbursements, generics.RetrieveAPIView):
    """One of my reimbursements with its home sessions."""

    serializer_class = ReimbursementDetailSerializer

    def get_queryset(self):
        return reimbursements_with_lines(super().get_queryset())


class PaymentListView(DriverReadView, generics.ListAPIView):
    """Payments received on my invoices, newest first."""

    serializer_class = PaymentSerializer

    def get_queryset(self):
        return payment_list_for_driver(driver_id=self.driver_id).select_related("invoice")
