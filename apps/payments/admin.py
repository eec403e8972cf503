"""Admin of the payments app, for a fleet's finance people: billing runs started and followed
while they work, invoices with their documents, credit notes and payments, statements per driver
and period, cost allocations, reimbursement decisions and payouts, and payroll deductions. What
billing writes is read-only here: every change goes through a service."""

import uuid
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import F, Model, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.decorators import action as unfold_action

from apps.charging.models import ChargingSession
from apps.charging.selectors import charging_session_recent_for_driver
from apps.drivers.models import Driver
from apps.fleets.admin_writes import SavesThroughServices, WritesThroughServices
from apps.fleets.models import Fleet
from apps.fleets.selectors import EDITING_ROLES
from apps.fleets.tenancy import (
    FINANCE_ROLES,
    FleetScopedAdmin,
    FleetScopedTabularInline,
    request_fleet_ids,
)
from apps.payments import payouts, payroll, selectors, services
from apps.payments.choices import (
    BillingRunStatus,
    InvoiceStatus,
    LeftOutReason,
    PaymentMethod,
    PayrollDeductionStatus,
)
from apps.payments.documents import (
    credit_note_html,
    credit_note_pdf,
    credit_note_pdf_filename,
    invoice_html,
    invoice_pdf,
    invoice_pdf_filename,
    period_days_text,
    statement_context,
    statement_pdf,
    statement_pdf_filename,
)
from apps.payments.models import (
    BillingLeftOut,
    BillingRun,
    BillingUnit,
    CostAllocation,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
    PayoutBatch,
    PayoutItem,
    PayrollDeduction,
    PayrollDeductionItem,
    Refund,
    Reimbursement,
    ReimbursementLine,
    Statement,
)
from apps.payments.selectors import (
    billing_run_left_out,
    billing_run_list_failed_or_stalled,
    billing_run_progress,
    invoice_balance_of_row,
    invoice_list_overdue,
    invoice_list_with_balance,
    reimbursement_list_without_payout_details,
    statement_get,
)
from apps.vehicles.admin import DriverAdmin
from voltop.core.admin_forms import run_domain_check
from voltop.core.display import energy_text, moment_text, money_text, rows_table
from voltop.core.downloads import attachment_response
from voltop.core.errors import DomainError
from voltop.core.money import kwh_of_wh

REIMBURSEMENT_DECIDING_ROLES = FINANCE_ROLES | EDITING_ROLES
CREDITABLE_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PAID)
PAYABLE_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PAID)


def changelist_link(model: type[Model], text: str, **filters) -> str:
    query = "&".join(f"{name}={value}" for name, value in filters.items())
    url = reverse(f"admin:payments_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, query, text)


class BillingRunFilter(admin.RelatedOnlyFieldListFilter):
    """Filter by the billing runs of the rows the user sees, each run read with its fleet (its
    name is in the run's label) rather than one query per run."""

    def field_choices(self, field, request: HttpRequest, model_admin) -> list[tuple[int, str]]:
        run_ids = (
            model_admin.get_queryset(request)
            .distinct()
            .values_list(f"{self.field_path}__pk", flat=True)
        )
        runs = BillingRun.objects.filter(pk__in=run_ids).select_related("fleet")
        return [(run.pk, str(run)) for run in runs]


class YesFilter(admin.SimpleListFilter):
    """A list filter with one choice, "yes", that narrows the list to the rows `rows` selects
    (the rows a dashboard's work-to-do item counts)."""

    choice_label = ""

    def lookups(self, request, model_admin):
        return [("yes", self.choice_label)]

    def queryset(self, request, queryset):
        return self.rows(queryset) if self.value() == "yes" else queryset

    def rows(self, queryset: QuerySet) -> QuerySet:
        raise NotImplementedError


class FailedOrStalledFilter(YesFilter):
    title = "needs attention"
    parameter_name = "failed_or_stalled"
    choice_label = "Failed or stalled"

    def rows(self, queryset: QuerySet) -> QuerySet:
        return billing_run_list_failed_or_stalled(queryset, now=timezone.now())


class OverdueFilter(YesFilter):
    title = "overdue"
    parameter_name = "overdue"
    choice_label = "Overdue"

    def rows(self, queryset: QuerySet) -> QuerySet:
        return invoice_list_overdue(queryset, now=timezone.now())


class PayoutDetailsMissingFilter(YesFilter):
    title = "payout details"
    parameter_name = "payout_details_missing"
    choice_label = "Approved, driver without IBAN or account holder"

    def rows(self, queryset: QuerySet) -> QuerySet:
        return reimbursement_list_without_payout_details(queryset)


class ServiceWriteForm(forms.ModelForm):
    """An add form whose service writes the row while the form is validated, so that the
    service's refusals land on the form's fields (on the whole form when they name no field of
    it). The admin's add page is one transaction: a refusal, or any later error, leaves nothing
    written. `save()` returns what the service wrote.

    The service is the one to validate the row: the model's own checks, which a ModelForm runs
    after `clean()` on a copy it does not save, are not run, since they would refuse the row
    the service has just written, or a replay the service answers with the first row.
    """

    written: Model | None = None

    def service_write(self) -> Model:
        """Override: call the service with the cleaned data and return the row it wrote."""
        raise NotImplementedError

    def clean(self) -> dict:
        cleaned_data = super().clean()
        if not self.errors:
            run_domain_check(self, self._write)
        return cleaned_data

    def _write(self) -> None:
        self.written = self.service_write()

    def _post_clean(self) -> None:
        """The service has validated the row."""

    def save(self, commit: bool = True) -> Model:
        return self.written

    def save_m2m(self) -> None:
        """The service wrote the row whole."""


class ReadOnlyInline(FleetScopedTabularInline):
    """Rows of a document, shown on its page and never edited there."""

    editing_roles = frozenset()
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return list(self.fields)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AppendOnlyAdmin(WritesThroughServices, SavesThroughServices, FleetScopedAdmin):
    """Admin of rows a service adds and nobody changes or deletes by hand. Every member of the
    fleet views them; the finance and admin roles act on them through the admin's actions and
    pages, which call the services."""

    editing_roles = FINANCE_ROLES

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def may_act(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """Whether the user holds one of `editing_roles` in the row's fleet (in some fleet when
        no row is given): what the admin's actions and service pages require."""
        return self._allowed(request, obj, self.editing_roles)


class ReadOnlyAdmin(AppendOnlyAdmin):
    """Admin of rows only billing writes: nobody adds them by hand either."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# Billing runs --------------------------------------------------------------------------------


class BillingRunStartForm(ServiceWriteForm):
    """Bills a fleet for a period: the run is started in the background once the page's
    transaction commits, and its page follows it."""

    period = forms.CharField(
        max_length=8,
        help_text="A month such as 2026-10, or an ISO week such as 2026-W44 for a fleet billed "
        "weekly. The period must have ended in the fleet's time zone.",
    )
    requested_by = None

    class Meta:
        model = BillingRun
        fields = ["fleet"]

    def service_write(self) -> BillingRun:
        fleet = self.cleaned_data["fleet"]
        period = services.billing_period_for(fleet=fleet, label=self.cleaned_data["period"])
        run, _ = services.billing_run_start(
            fleet=fleet, period=period, requested_by=self.requested_by
        )
        return run


class BillingUnitInline(ReadOnlyInline):
    """The batches of drivers a run bills, each done once."""

    model = BillingUnit
    fleet_path = "run__fleet"
    fields = ["number", "driver_count", "status", "finished_at"]
    ordering = ["number"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("run__fleet")

    @admin.display(description="drivers")
    def driver_count(self, unit: BillingUnit) -> int:
        return len(unit.driver_ids)


class BillingLeftOutInline(ReadOnlyInline):
    """The sessions a completed run left out, each with the reason it recorded."""

    model = BillingLeftOut
    fleet_path = "run__fleet"
    fields = ["session", "started", "reason"]
    ordering = ["session_id"]
    verbose_name_plural = "sessions left out, with why"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("run__fleet", "session__driver")

    @admin.display(description="started")
    def started(self, left_out: BillingLeftOut) -> str:
        return moment_text(left_out.session.started_at)


@admin.register(BillingRun)
class BillingRunAdmin(AppendOnlyAdmin):
    """Billing runs: started from the add page, followed live while they work, resumed when
    they failed; never changed or deleted by hand."""

    list_display = [
        "period_label",
        "fleet",
        "status",
        "progress",
        "session_count",
        "left_out_count",
        "invoice_count",
        "invoiced",
        "allocated",
        "reimbursed",
        "started_at",
        "finished_at",
    ]
    list_filter = ["fleet", "status", "period_kind", FailedOrStalledFilter]
    list_select_related = ["fleet"]
    search_fields = ["period_label", "fleet__name"]
    autocomplete_fields = ["fleet"]
    date_hierarchy = "period_start"
    inlines = [BillingUnitInline, BillingLeftOutInline]
    actions = ["resume_runs"]
    write_services = {"add": services.billing_run_start, "resume_runs": services.billing_run_resume}
    change_form_template = "admin/payments/billingrun/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "fleet",
                    "period_label",
                    "period_kind",
                    "period_start",
                    "period_end",
                    "status",
                    "progress",
                    "error",
                ]
            },
        ),
        (
            "Results",
            {
                "fields": [
                    "session_count",
                    "sessions_billed",
                    "left_out_count",
                    "left_out",
                    "statement_count",
                    "invoice_count",
                    "invoiced",
                    "allocated",
                    "reimbursed",
                    "documents",
                ]
            },
        ),
        ("Record", {"fields": ["requested_by", "started_at", "finished_at", "created_at"]}),
    ]

    class Media:
        js = ["payments/billing_run_progress.js"]

    actions_list = ["start_run"]

    def get_fieldsets(self, request: HttpRequest, obj=None) -> list:
        if obj is None:
            return [(None, {"fields": ["fleet", "period"]})]
        return self.fieldsets

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        """The user's fleet, when they run billing in one only."""
        initial = super().get_changeform_initial_data(request)
        fleets = list(self.editable_fleets(request)[:2])
        if len(fleets) == 1:
            initial.setdefault("fleet", fleets[0].pk)
        return initial

    @unfold_action(
        description="Start a billing run", url_path="start", permissions=["run"], icon="play_arrow"
    )
    def start_run(self, request: HttpRequest) -> HttpResponseRedirect:
        """The list's button to the page that starts a run."""
        return HttpResponseRedirect(reverse("admin:payments_billingrun_add"))

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        if obj is None:
            kwargs["form"] = BillingRunStartForm
        form_class = super().get_form(request, obj, change=change, **kwargs)
        form_class.requested_by = request.user
        return form_class

    def get_inlines(self, request: HttpRequest, obj=None) -> list:
        return self.inlines if obj is not None else []

    def has_run_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.may_act(request, obj)

    def save_model(self, request: HttpRequest, obj: BillingRun, form, change: bool) -> None:
        """The service has saved the run."""

    def response_add(self, request: HttpRequest, obj: BillingRun, post_url_continue=None):
        if obj.status == BillingRunStatus.COMPLETED:
            message = f"{obj.fleet} is billed for {obj.period_label} already: this is its run."
            level = messages.WARNING
        else:
            message = f"Billing {obj.fleet} for {obj.period_label} is under way."
            level = messages.SUCCESS
        self.message_user(request, message, level)
        return HttpResponseRedirect(reverse("admin:payments_billingrun_change", args=[obj.pk]))

    def get_urls(self):
        return [
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="payments_billingrun_progress",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        run = get_object_or_404(self.get_queryset(request), pk=pk)
        return JsonResponse(billing_run_progress(run_id=run.pk))

    @admin.display(description="progress (units)")
    def progress(self, run: BillingRun) -> str:
        return format_html(
            '<span class="billing-run-progress" data-progress-url="{}" data-status="{}">{}</span>',
            reverse("admin:payments_billingrun_progress", args=[run.pk]),
            run.status,
            run.progress_text,
        )

    @admin.display(description="sessions billed, by part")
    def sessions_billed(self, run: BillingRun) -> str:
        text = (
            f"{run.invoiced_session_count} invoiced, {run.allocated_session_count} allocated "
            f"to cost centers, {run.reimbursed_session_count} reimbursed"
        )
        if run.earlier_session_count:
            text += f"; {run.earlier_session_count} of them ended in earlier periods"
        return text

    @admin.display(description="why sessions were left out")
    def left_out(self, run: BillingRun) -> str:
        if run.status != BillingRunStatus.COMPLETED:
            return "-"
        if not run.left_out_reasons:
            return "Every session of the period was billed."
        labels = dict(LeftOutReason.choices)
        return format_html(
            '<table class="billing-run-left-out"><tbody>{}</tbody></table>',
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td></tr>",
                (
                    (labels.get(reason, reason), count)
                    for reason, count in billing_run_left_out(run)
                ),
            ),
        )

    @admin.display(description="invoiced", ordering="invoiced_total")
    def invoiced(self, run: BillingRun) -> str:
        return money_text(run.invoiced_total, run.currency)

    @admin.display(description="business cost", ordering="allocated_total")
    def allocated(self, run: BillingRun) -> str:
        return money_text(run.allocated_total, run.currency)

    @admin.display(description="home reimbursed", ordering="reimbursed_total")
    def reimbursed(self, run: BillingRun) -> str:
        return money_text(run.reimbursed_total, run.currency)

    @admin.display(description="what it made")
    def documents(self, run: BillingRun) -> str:
        models = [
            (Invoice, "Invoices"),
            (Statement, "Statements"),
            (CostAllocation, "Cost allocations"),
            (Reimbursement, "Reimbursements"),
        ]
        links = [
            (changelist_link(model, text, billing_run__id__exact=run.pk),) for model, text in models
        ]
        return format_html_join(" · ", "{}", links)

    @admin.action(description="Resume selected runs", permissions=["run"])
    def resume_runs(self, request: HttpRequest, queryset: QuerySet) -> None:
        def resume(run: BillingRun) -> None:
            if run.status == BillingRunStatus.COMPLETED:
                raise DomainError("The run is completed; there is nothing to resume.")
            services.billing_run_resume(run=run)

        self.act_per_row(request, queryset, resume, "resumed")


# Invoices and credit notes -------------------------------------------------------------------


class InvoiceLineInline(ReadOnlyInline):
    """An invoice's lines, with the credit note that credited each, if any."""

    model = InvoiceLine
    fleet_path = "invoice__fleet"
    fields = [
        "position",
        "description",
        "quantity_kwh",
        "unit_price",
        "net",
        "vat_rate",
        "credited_in",
    ]
    ordering = ["position"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(credit_note_number=F("credit_lines__credit_note__number"))
        )

    @admin.display(description="credited in")
    def credited_in(self, line: InvoiceLine) -> str:
        return line.credit_note_number or "-"


class CreditNoteInline(ReadOnlyInline):
    """The credit notes that corrected an invoice."""

    model = CreditNote
    fields = ["number", "issued_at", "gross_total", "reason"]
    show_change_link = True


class PaymentInline(ReadOnlyInline):
    """The payments received against an invoice."""

    model = Payment
    fields = ["received_at", "amount", "method", "provider_reference", "status", "recorded_by"]
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("invoice", "recorded_by")


def refund_set_off_against_text(refund: Refund) -> str:
    """The invoice a refund was set off against, or "-"."""
    if refund.set_off_payment is None:
        return "-"
    return str(refund.set_off_payment.invoice)


class RefundInline(ReadOnlyInline):
    """The refunds owed back to the driver on an invoice, and what became of each."""

    model = Refund
    fields = ["created_at", "reason", "amount", "status", "set_off_against", "settled_at"]
    ordering = ["created_at", "pk"]
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("set_off_payment__invoice")

    @admin.display(description="set off against")
    def set_off_against(self, refund: Refund) -> str:
        return refund_set_off_against_text(refund)


class CreditNoteIssueForm(forms.Form):
    """Why an invoice is credited, and which of its lines; all those not credited yet are
    ticked to begin with."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Printed on the credit note, e.g. “Session charged twice”.",
    )
    lines = forms.ModelMultipleChoiceField(
        queryset=InvoiceLine.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The lines to credit, whole. A line is credited once.",
    )

    def __init__(self, *args, invoice: Invoice, lines: QuerySet, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["lines"]
        field.queryset = lines
        field.initial = [line.pk for line in lines if not line.credit_note_number]
        field.label_from_instance = lambda line: (
            f"{line.position}. {line.description}: {money_text(line.net, invoice.currency)} "
            f"excl. VAT at {line.vat_rate.normalize():f} %"
            + (f" (credited in {line.credit_note_number})" if line.credit_note_number else "")
        )


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    """Invoices as billing issued them, with their balance, their HTML and PDF, and the pages
    that issue drafts and credit notes."""

    list_display = ["document_number", "driver", "period", "status", "gross", "paid", "balance"]
    list_filter = ["fleet", "status", OverdueFilter, ("billing_run", BillingRunFilter)]
    list_select_related = ["driver", "fleet", "billing_run"]
    search_fields = [
        "number",
        "driver__employee_number",
        "driver__last_name",
        "driver__first_name",
    ]
    date_hierarchy = "period_start"
    inlines = [InvoiceLineInline, CreditNoteInline, PaymentInline, RefundInline]
    actions = ["issue_drafts"]
    write_services = {"issue_drafts": services.invoice_issue}
    change_form_template = "admin/payments/invoice/change_form.html"
    fieldsets = [
        (None, {"fields": ["number", "fleet", "driver", "billing_run", "period", "status"]}),
        ("Amounts", {"fields": ["net_total", "vat_total", "gross", "credited", "paid", "balance"]}),
        ("Dates", {"fields": ["issued_at", "due_at", "paid_at", "emailed_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return payroll.invoice_list_with_payroll_hold(
            invoice_list_with_balance(super().get_queryset(request))
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """A payment's invoice is picked among the invoices that take payments."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        source_admin = self._autocomplete_source_admin(request)
        if source_admin is not None and source_admin.model is Payment:
            queryset = queryset.filter(status__in=PAYABLE_STATUSES)
        return queryset, may_have_duplicates

    def has_issue_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.may_act(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        may_issue = obj is not None and self.has_issue_permission(request, obj)
        context["may_credit"] = may_issue and obj.status in CREDITABLE_STATUSES
        context["may_record_payment"] = may_issue and obj.status == InvoiceStatus.ISSUED
        if context["may_record_payment"]:
            query = urlencode({"fleet": obj.fleet_id, "invoice": obj.pk})
            context["record_payment_url"] = f"{reverse('admin:payments_payment_add')}?{query}"
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="number", ordering="number")
    def document_number(self, invoice: Invoice) -> str:
        return str(invoice)

    @admin.display(description="period", ordering="period_start")
    def period(self, invoice: Invoice) -> str:
        if invoice.billing_run_id:
            return invoice.billing_run.period_label
        return period_days_text(invoice.period_start, invoice.period_end, invoice.fleet.zone)

    @admin.display(description="gross", ordering="gross_total")
    def gross(self, invoice: Invoice) -> str:
        return money_text(invoice.gross_total, invoice.currency)

    @admin.display(description="credited", ordering="credited_total")
    def credited(self, invoice: Invoice) -> str:
        return money_text(invoice.credited_total, invoice.currency)

    @admin.display(description="paid", ordering="paid_total")
    def paid(self, invoice: Invoice) -> str:
        return money_text(invoice.paid_total, invoice.currency)

    @admin.display(description="due / overpaid")
    def balance(self, invoice: Invoice) -> str:
        if not invoice.is_issued:
            return "not issued"
        balance = invoice_balance_of_row(invoice)
        if balance.overpaid:
            return f"{money_text(balance.overpaid, invoice.currency)} overpaid"
        if balance.due and invoice.held_by_payroll:
            return f"{money_text(balance.due, invoice.currency)} due, to be settled by payroll"
        if balance.due:
            return f"{money_text(balance.due, invoice.currency)} due"
        return "settled"

    @admin.action(description="Issue selected drafts", permissions=["issue"])
    def issue_drafts(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request, queryset, lambda invoice: services.invoice_issue(invoice=invoice), "issued"
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/document/", view(self.document_view), name="payments_invoice_document"),
            path("<int:pk>/pdf/", view(self.pdf_view), name="payments_invoice_pdf"),
            path(
                "<int:pk>/credit-note/",
                view(self.credit_note_view),
                name="payments_invoice_credit_note",
            ),
            *super().get_urls(),
        ]

    def _invoice_or_404(self, request: HttpRequest, pk: int) -> Invoice:
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def document_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return HttpResponse(invoice_html(self._invoice_or_404(request, pk)))

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = self._invoice_or_404(request, pk)
        return attachment_response(
            invoice_pdf(invoice), "application/pdf", invoice_pdf_filename(invoice)
        )

    def credit_note_view(self, request: HttpRequest, pk: int) -> TemplateResponse:
        invoice = self._invoice_or_404(request, pk)
        if not self.has_issue_permission(request, invoice):
            raise PermissionDenied
        lines = invoice.lines.annotate(
            credit_note_number=F("credit_lines__credit_note__number")
        ).order_by("position")
        form = CreditNoteIssueForm(request.POST or None, invoice=invoice, lines=lines)
        if request.method == "POST" and form.is_valid():
            try:
                credit_note = services.credit_note_issue(
                    invoice=invoice,
                    reason=form.cleaned_data["reason"],
                    line_ids=[line.pk for line in form.cleaned_data["lines"]],
                    issued_by=request.user,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                self.message_user(
                    request,
                    f"Issued credit note {credit_note.number} for "
                    f"{money_text(credit_note.gross_total, credit_note.currency)}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:payments_creditnote_change", args=[credit_note.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Issue a credit note for invoice {invoice}",
            "form": form,
            "invoice": invoice,
            "balance": invoice_balance_of_row(invoice),
            "opts": self.opts,
            "original": invoice,
        }
        return TemplateResponse(request, "admin/payments/invoice/credit_note.html", context)


class CreditNoteLineInline(ReadOnlyInline):
    """The invoice lines a credit note credits."""

    model = CreditNoteLine
    fleet_path = "credit_note__fleet"
    fields = ["description", "net", "vat_rate"]


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    """Credit notes, as issued from their invoice's page, with their HTML and PDF."""

    list_display = ["number", "invoice", "driver", "gross", "issued_at", "issued_by"]
    list_filter = ["fleet"]
    list_select_related = ["invoice__driver", "issued_by"]
    search_fields = [
        "number",
        "invoice__number",
        "reason",
        "invoice__driver__employee_number",
        "invoice__driver__last_name",
    ]
    date_hierarchy = "issued_at"
    inlines = [CreditNoteLineInline]
    fieldsets = [
        (None, {"fields": ["number", "fleet", "invoice", "reason"]}),
        ("Amounts", {"fields": ["currency", "net_total", "vat_total", "gross_total"]}),
        ("Record", {"fields": ["issued_at", "issued_by"]}),
    ]

    change_form_template = "admin/payments/creditnote/change_form.html"

    @admin.display(description="driver", ordering="invoice__driver__last_name")
    def driver(self, credit_note: CreditNote) -> str:
        return str(credit_note.invoice.driver)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/document/",
                view(self.document_view),
                name="payments_creditnote_document",
            ),
            path("<int:pk>/pdf/", view(self.pdf_view), name="payments_creditnote_pdf"),
            *super().get_urls(),
        ]

    def _credit_note_or_404(self, request: HttpRequest, pk: int) -> CreditNote:
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def document_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return HttpResponse(credit_note_html(self._credit_note_or_404(request, pk)))

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        credit_note = self._credit_note_or_404(request, pk)
        return attachment_response(
            credit_note_pdf(credit_note), "application/pdf", credit_note_pdf_filename(credit_note)
        )

    @admin.display(description="gross", ordering="gross_total")
    def gross(self, credit_note: CreditNote) -> str:
        return money_text(credit_note.gross_total, credit_note.currency)


# Cost allocations, reimbursements, statements ------------------------------------------------


@admin.register(CostAllocation)
class CostAllocationAdmin(ReadOnlyAdmin):
    """Business charging booked to cost centers, by run and cost center, with its total."""

    list_display = [
        "cost_center",
        "driver",
        "session",
        "amount_excl_vat",
        "input_vat",
        "billing_run",
    ]
    list_filter = [("billing_run", BillingRunFilter), "cost_center"]
    list_select_related = ["cost_center", "driver", "session__driver", "billing_run__fleet"]
    search_fields = [
        "cost_center__code",
        "cost_center__name",
        "driver__employee_number",
        "driver__last_name",
    ]
    date_hierarchy = "period_start"
    change_list_template = "admin/payments/costallocation/change_list.html"
    fieldsets = [
        (None, {"fields": ["fleet", "billing_run", "cost_center", "driver", "session"]}),
        ("Amounts", {"fields": ["currency", "amount", "vat", "period_start", "period_end"]}),
    ]

    @admin.display(description="amount (excl. VAT)", ordering="amount")
    def amount_excl_vat(self, allocation: CostAllocation) -> str:
        return money_text(allocation.amount, allocation.currency)

    @admin.display(description="input VAT", ordering="vat")
    def input_vat(self, allocation: CostAllocation) -> str:
        return money_text(allocation.vat, allocation.currency)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        """The list; once narrowed by a filter (a run, a cost center, a date), with the sum of
        the rows it shows per currency."""
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None and changelist.has_active_filters:
            response.context_data["totals"] = [
                {
                    "amount": money_text(row["amount"], row["currency"]),
                    "vat": money_text(row["vat"], row["currency"]),
                }
                for row in changelist.queryset.values("currency")
                .annotate(amount=Sum("amount"), vat=Sum("vat"))
                .order_by("currency")
            ]
        return response


class PayoutForm(forms.Form):
    """When the reimbursements were paid out to the drivers."""

    paid_at = forms.DateTimeField(
        label="Paid at",
        initial=timezone.now,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="When the money left the fleet's account, in your time zone.",
    )


class RejectionForm(forms.Form):
    """The reason given to the drivers whose reimbursements are rejected."""

    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the reimbursement is rejected; the driver reads it.",
    )


class ReimbursementLineInline(ReadOnlyInline):
    """The home sessions a reimbursement pays for."""

    model = ReimbursementLine
    fleet_path = "reimbursement__fleet"
    fields = [
        "session",
        "started",
        "energy_wh",
        "meter_source",
        "price_basis",
        "rate_per_kwh",
        "amount",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("session__driver")

    @admin.display(description="started")
    def started(self, line: ReimbursementLine) -> str:
        return moment_text(line.session.started_at)


@admin.register(Reimbursement)
class ReimbursementAdmin(ReadOnlyAdmin):
    """Home charging the fleet owes its drivers: approved for payout or rejected with a
    reason, by finance, managers and admins; the payout recorded by finance and admins."""

    editing_roles = REIMBURSEMENT_DECIDING_ROLES
    list_display = ["driver", "period", "energy_kwh", "amount_text", "status", "decided_at"]
    list_filter = ["status", PayoutDetailsMissingFilter, ("billing_run", BillingRunFilter)]
    list_select_related = ["driver", "billing_run"]
    search_fields = ["driver__employee_number", "driver__last_name", "driver__first_name"]
    date_hierarchy = "period_start"
    inlines = [ReimbursementLineInline]
    actions = ["approve", "reject", "mark_paid", "pay_by_sepa"]
    write_services = {
        "approve": services.reimbursement_decide,
        "reject": services.reimbursement_decide,
        "mark_paid": services.reimbursement_mark_paid,
        "pay_by_sepa": payouts.payout_batch_create,
    }
    fieldsets = [
        (None, {"fields": ["fleet", "driver", "billing_run", "period", "status"]}),
        ("Amounts", {"fields": ["energy_kwh", "amount_text"]}),
        ("Decision", {"fields": ["decided_by", "decided_at", "decision_note"]}),
        ("Payout", {"fields": ["paid_at", "paid_by"]}),
    ]

    def has_decide_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.may_act(request, obj)

    def has_pay_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._allowed(request, obj, FINANCE_ROLES)

    @admin.display(description="period", ordering="period_start")
    def period(self, reimbursement: Reimbursement) -> str:
        return reimbursement.billing_run.period_label

    @admin.display(description="energy (kWh)", ordering="energy_wh")
    def energy_kwh(self, reimbursement: Reimbursement) -> Decimal:
        return kwh_of_wh(reimbursement.energy_wh)

    @admin.display(description="amount", ordering="amount")
    def amount_text(self, reimbursement: Reimbursement) -> str:
        return money_text(reimbursement.amount, reimbursement.currency)

    def _decide(self, request: HttpRequest, queryset: QuerySet, approve: bool, note: str = ""):
        self.act_per_row(
            request,
            queryset,
            lambda reimbursement: services.reimbursement_decide(
                reimbursement=reimbursement, approve=approve, decided_by=request.user, note=note
            ),
            "approved" if approve else "rejected",
        )

    @admin.action(description="Approve selected reimbursements", permissions=["decide"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, approve=True)

    @admin.action(description="Reject selected reimbursements…", permissions=["decide"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Asks why on a confirmation page first, as deleting does; rejects once it is sent."""
        form = RejectionForm(request.POST if "post" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._decide(request, queryset, approve=False, note=form.cleaned_data["note"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject reimbursements",
            "form": form,
            "reimbursements": queryset.select_related("driver", "billing_run"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/payments/reimbursement/reject.html", context)

    @admin.action(description="Mark selected reimbursements paid…", permissions=["pay"])
    def mark_paid(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Asks when they were paid on a confirmation page first; records it once it is sent,
        for the reimbursements of fleets where the user does finance."""
        form = PayoutForm(request.POST if "post" in request.POST else None)
        if form.is_bound and form.is_valid():
            paid_at = form.cleaned_data["paid_at"]
            self.act_per_row(
                request,
                queryset,
                lambda reimbursement: services.reimbursement_mark_paid(
                    reimbursement=reimbursement, paid_at=paid_at, paid_by=request.user
                ),
                "marked paid",
                roles=FINANCE_ROLES,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Mark reimbursements paid",
            "form": form,
            "reimbursements": queryset.select_related("driver", "billing_run"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/payments/reimbursement/mark_paid.html", context)

    @admin.action(
        description="Create a SEPA payout batch of the selected reimbursements", permissions=["pay"]
    )
    def pay_by_sepa(self, request: HttpRequest, queryset: QuerySet) -> None:
        """One batch per fleet of the selection, for the fleets where the user does finance,
        to be executed today; each refusal is reported and leaves that fleet's batch unmade."""
        rows = self.scope_queryset(request, queryset, FINANCE_ROLES)
        by_fleet: dict[int, list[Reimbursement]] = {}
        for reimbursement in rows.select_related("fleet"):
            by_fleet.setdefault(reimbursement.fleet_id, []).append(reimbursement)
        for chosen in by_fleet.values():
            fleet = chosen[0].fleet
            try:
                created = payouts.payout_batch_create(
                    fleet=fleet, created_by=request.user, reimbursements=chosen
                )
            except DomainError as error:
                self.message_user(request, f"{fleet}: {error.message}", messages.WARNING)
                continue
            payout_batch_report(self, request, created)
        skipped = queryset.count() - rows.count()
        if skipped:
            self.message_user(
                request,
                f"{skipped} reimbursements left out: your role in their fleet does not allow "
                "paying them.",
                messages.WARNING,
            )


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    """Each driver's period at a glance, and a page per statement with the sessions behind
    each part."""

    list_display = [
        "period_label",
        "driver",
        "owed",
        "business",
        "reimbursement_text",
        "net",
        "statement_page",
    ]
    list_filter = ["fleet", ("billing_run", BillingRunFilter)]
    list_select_related = ["driver"]
    search_fields = [
        "period_label",
        "driver__employee_number",
        "driver__last_name",
        "driver__first_name",
    ]
    date_hierarchy = "period_start"
    change_form_template = "admin/payments/statement/change_form.html"
    fieldsets = [
        (None, {"fields": ["fleet", "driver", "billing_run", "period_label", "statement_page"]}),
        (
            "What the period comes to",
            {
                "fields": [
                    "currency",
                    ("private_owed", "private_session_count", "invoice"),
                    ("business_cost", "business_session_count"),
                    ("reimbursement_due", "home_session_count", "reimbursement"),
                    "net_to_driver",
                ]
            },
        ),
    ]

    @admin.display(description="owed by the driver", ordering="private_owed")
    def owed(self, statement: Statement) -> str:
        return money_text(statement.private_owed, statement.currency)

    @admin.display(description="borne by the fleet", ordering="business_cost")
    def business(self, statement: Statement) -> str:
        return money_text(statement.business_cost, statement.currency)

    @admin.display(description="home reimbursement", ordering="reimbursement_due")
    def reimbursement_text(self, statement: Statement) -> str:
        return money_text(statement.reimbursement_due, statement.currency)

    @admin.display(description="net to the driver", ordering="net_to_driver")
    def net(self, statement: Statement) -> str:
        return money_text(statement.net_to_driver, statement.currency)

    @admin.display(description="statement")
    def statement_page(self, statement: Statement) -> str:
        url = reverse("admin:payments_statement_page", args=[statement.pk])
        return format_html('<a href="{}">View the statement</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:pk>/statement/",
                self.admin_site.admin_view(self.statement_view),
                name="payments_statement_page",
            ),
            path(
                "<int:pk>/statement/pdf/",
                self.admin_site.admin_view(self.statement_pdf_view),
                name="payments_statement_pdf",
            ),
            *super().get_urls(),
        ]

    def _statement_or_404(self, request: HttpRequest, pk: int) -> Statement:
        fleet_ids = (
            Fleet.objects.values("pk") if request.user.is_superuser else request_fleet_ids(request)
        )
        try:
            return statement_get(statement_id=pk, fleet_ids=fleet_ids)
        except Statement.DoesNotExist as error:
            raise Http404("No such statement in your fleets.") from error

    def statement_pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        statement = self._statement_or_404(request, pk)
        return attachment_response(
            statement_pdf(statement), "application/pdf", statement_pdf_filename(statement)
        )

    def statement_view(self, request: HttpRequest, pk: int) -> TemplateResponse:
        statement = self._statement_or_404(request, pk)
        context = statement_context(statement)
        for part in context["parts"]:
            document = part["document"]
            if document is not None:
                part["document_url"] = reverse(
                    f"admin:payments_{document._meta.model_name}_change", args=[document.pk]
                )
                part["document_status"] = document.get_status_display()
        context.update(
            self.admin_site.each_context(request),
            title=f"Statement {statement.period_label} of {statement.driver}",
            opts=self.opts,
            original=statement,
        )
        return TemplateResponse(request, "admin/payments/statement.html", context)


# Refunds -------------------------------------------------------------------------------------


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Money owed back to drivers on overpaid or credited invoices: made as payments and credit
    notes are recorded, set off against the driver's next invoice or paid out in a SEPA batch,
    as the fleet settles refunds. Read-only: the services move them on."""

    list_display = [
        "created_at",
        "driver",
        "invoice",
        "reason",
        "amount_text",
        "status",
        "set_off_against",
        "settled_at",
    ]
    list_filter = ["fleet", "status", "reason"]
    list_select_related = ["driver", "invoice", "set_off_payment__invoice"]
    search_fields = [
        "invoice__number",
        "driver__employee_number",
        "driver__last_name",
        "driver__first_name",
    ]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["fleet", "driver", "invoice", "reason", "status"]}),
        ("Amount", {"fields": ["amount_text", "remainder_of"]}),
        ("Settled", {"fields": ["set_off_payment", "settled_at"]}),
    ]

    @admin.display(description="amount", ordering="amount")
    def amount_text(self, refund: Refund) -> str:
        return money_text(refund.amount, refund.currency)

    @admin.display(description="set off against")
    def set_off_against(self, refund: Refund) -> str:
        return refund_set_off_against_text(refund)


# Payments ------------------------------------------------------------------------------------


class PaymentRecordForm(ServiceWriteForm):
    """Records money received against an invoice. The idempotency key is made when the form is
    shown and sent back with it, so a form sent twice records the payment once. Set-offs are
    not offered: Voltop makes them from refunds as invoices are issued."""

    recorded_by = None
    created = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "method" in self.fields:
            method = self.fields["method"]
            method.choices = [
                choice for choice in method.choices if choice[0] != PaymentMethod.SET_OFF
            ]

    class Meta:
        model = Payment
        fields = [
            "fleet",
            "invoice",
            "amount",
            "method",
            "received_at",
            "provider_reference",
            "idempotency_key",
        ]
        widgets = {"idempotency_key": forms.HiddenInput}
        help_texts = {"amount": "In the invoice's currency."}

    def clean(self) -> dict:
        fleet, invoice = self.cleaned_data.get("fleet"), self.cleaned_data.get("invoice")
        if fleet and invoice and invoice.fleet_id != fleet.pk:
            self.add_error("invoice", "The invoice is another fleet's.")
        return super().clean()

    def service_write(self) -> Payment:
        data = self.cleaned_data
        payment, self.created = services.payment_record(
            invoice=data["invoice"],
            amount=data["amount"],
            currency=data["invoice"].currency,
            method=data["method"],
            idempotency_key=data["idempotency_key"],
            received_at=data["received_at"],
            provider_reference=data["provider_reference"],
            recorded_by=self.recorded_by,
        )
        return payment


@admin.register(Payment)
class PaymentAdmin(AppendOnlyAdmin):
    """Payments received: recorded once on the add page, then never changed or deleted."""

    list_display = [
        "received_at",
        "invoice",
        "driver",
        "amount_text",
        "method",
        "provider_reference",
        "status",
    ]
    list_filter = ["fleet", "method", "status"]
    list_select_related = ["invoice__driver"]
    search_fields = [
        "invoice__number",
        "provider_reference",
        "invoice__driver__employee_number",
        "invoice__driver__last_name",
    ]
    autocomplete_fields = ["fleet", "invoice"]
    date_hierarchy = "received_at"
    form = PaymentRecordForm
    write_services = {"add": services.payment_record}
    fieldsets = [
        (None, {"fields": ["fleet", "invoice", "amount_text", "method", "received_at"]}),
        ("Reference", {"fields": ["provider_reference", "status"]}),
        ("Record", {"fields": ["recorded_by", "idempotency_key", "created_at"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj=None) -> list:
        if obj is None:
            return [(None, {"fields": PaymentRecordForm._meta.fields})]
        return self.fieldsets

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        form_class.recorded_by = request.user
        return form_class

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "invoice":
            field.queryset = field.queryset.filter(status__in=PAYABLE_STATUSES)
        return field

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = {
            "idempotency_key": uuid.uuid4().hex,
            "received_at": timezone.now(),
            **super().get_changeform_initial_data(request),
        }
        fleets = list(self.editable_fleets(request)[:2])
        if len(fleets) == 1:
            initial.setdefault("fleet", fleets[0].pk)
        return initial

    def save_model(self, request: HttpRequest, obj: Payment, form, change: bool) -> None:
        """The service has recorded the payment, or found it when the form was sent twice."""
        amount = money_text(obj.amount, obj.currency)
        if form.created:
            self.message_user(
                request, f"Recorded {amount} against invoice {obj.invoice}.", messages.SUCCESS
            )
        else:
            self.message_user(
                request,
                f"This payment of {amount} against invoice {obj.invoice} was recorded already "
                "(the form was sent twice); it is recorded once.",
                messages.WARNING,
            )

    def response_add(self, request: HttpRequest, obj: Payment, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:payments_invoice_change", args=[obj.invoice_id]))

    @admin.display(description="driver", ordering="invoice__driver__last_name")
    def driver(self, payment: Payment) -> str:
        return str(payment.invoice.driver)

    @admin.display(description="amount", ordering="amount")
    def amount_text(self, payment: Payment) -> str:
        return money_text(payment.amount, payment.currency)


# SEPA payouts --------------------------------------------------------------------------------


def payout_batch_report(model_admin: admin.ModelAdmin, request: HttpRequest, created) -> None:
    """Say what a new batch pays, with a link to it, and each payee left out of it and why."""
    batch = created.batch
    link = format_html(
        '<a href="{}">{}</a>',
        reverse("admin:payments_payoutbatch_change", args=[batch.pk]),
        batch.message_id,
    )
    model_admin.message_user(
        request,
        format_html(
            "SEPA payout batch {} made: {} transfers, {}. Download its file for the bank.",
            link,
            batch.item_count,
            money_text(batch.total, batch.currency),
        ),
        messages.SUCCESS,
    )
    for left_out in created.left_out:
        model_admin.message_user(request, f"Left out: {left_out}.", messages.WARNING)


class PayoutBatchCreateForm(ServiceWriteForm):
    """Pays all of a fleet's approved, unpaid reimbursements and, when it pays refunds out, its
    owed refunds by one SEPA credit transfer file."""

    fleet = forms.ModelChoiceField(queryset=Fleet.objects.all())
    execution_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="When the bank is to pay; today in the fleet's zone when left empty.",
    )
    created_by = None
    created = None
    fleet_choices: QuerySet | None = None

    class Meta:
        model = PayoutBatch
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.fleet_choices is not None:
            self.fields["fleet"].queryset = self.fleet_choices

    def service_write(self) -> PayoutBatch:
        self.created = payouts.payout_batch_create(
            fleet=self.cleaned_data["fleet"],
            created_by=self.created_by,
            execution_date=self.cleaned_data["execution_date"],
        )
        return self.created.batch


class PayoutItemInline(ReadOnlyInline):
    """The transfers of a batch, as its file has them."""

    model = PayoutItem
    fleet_path = "batch__fleet"
    fields = [
        "end_to_end_id",
        "pays",
        "driver",
        "amount",
        "creditor_name",
        "creditor_iban",
        "remittance",
        "released",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("driver")

    @admin.display(description="pays")
    def pays(self, item: PayoutItem) -> str:
        if item.reimbursement_id is not None:
            return changelist_link(
                Reimbursement, f"reimbursement {item.reimbursement_id}", id=item.reimbursement_id
            )
        return f"refund {item.refund_id}"


@admin.register(PayoutBatch)
class PayoutBatchAdmin(AppendOnlyAdmin):
    """SEPA payout batches: made from the add page (or the reimbursements' action), their file
    downloaded for the bank, then marked executed once the bank paid, or cancelled before."""

    list_display = [
        "message_id",
        "fleet",
        "status",
        "item_count",
        "total_text",
        "requested_execution_date",
        "created_at",
    ]
    list_filter = ["fleet", "status"]
    list_select_related = ["fleet"]
    search_fields = ["message_id", "items__end_to_end_id"]
    date_hierarchy = "created_at"
    inlines = [PayoutItemInline]
    actions = ["execute", "cancel"]
    write_services = {
        "add": payouts.payout_batch_create,
        "execute": payouts.payout_batch_execute,
        "cancel": payouts.payout_batch_cancel,
    }
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "fleet",
                    "message_id",
                    "status",
                    "requested_execution_date",
                    "item_count",
                    "total_text",
                    "file",
                ]
            },
        ),
        ("Debtor", {"fields": ["debtor_name", "debtor_iban", "debtor_bic", "debtor_address"]}),
        (
            "Record",
            {
                "fields": [
                    "created_by",
                    "created_at",
                    "executed_by",
                    "executed_at",
                    "cancelled_by",
                    "cancelled_at",
                ]
            },
        ),
    ]

    def get_fieldsets(self, request: HttpRequest, obj=None) -> list:
        if obj is None:
            return [(None, {"fields": ["fleet", "execution_date"]})]
        return self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is None:
            return []
        return [field for _name, options in self.fieldsets for field in options["fields"]]

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        if obj is None:
            kwargs["form"] = PayoutBatchCreateForm
            kwargs["fields"] = []
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            form_class.created_by = request.user
            form_class.fleet_choices = self._finance_fleets(request)
        return form_class

    def _finance_fleets(self, request: HttpRequest) -> QuerySet:
        if request.user.is_superuser:
            return Fleet.objects.all()
        return Fleet.objects.filter(pk__in=request_fleet_ids(request, FINANCE_ROLES))

    def get_inlines(self, request: HttpRequest, obj=None) -> list:
        return self.inlines if obj is not None else []

    def has_pay_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.may_act(request, obj)

    def save_model(self, request: HttpRequest, obj: PayoutBatch, form, change: bool) -> None:
        """The service has made the batch; say what it pays and whom it left out."""
        payout_batch_report(self, request, form.created)

    def response_add(self, request: HttpRequest, obj: PayoutBatch, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:payments_payoutbatch_change", args=[obj.pk]))

    def get_urls(self):
        return [
            path(
                "<int:pk>/file/",
                self.admin_site.admin_view(self.file_view),
                name="payments_payoutbatch_file",
            ),
            *super().get_urls(),
        ]

    def file_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The batch's pain.001.001.09 file, rebuilt from its rows and validated."""
        batch = get_object_or_404(self.get_queryset(request), pk=pk)
        return attachment_response(
            payouts.payout_batch_xml(batch),
            "application/xml",
            payouts.payout_batch_filename(batch),
        )

    @admin.display(description="total", ordering="total")
    def total_text(self, batch: PayoutBatch) -> str:
        return money_text(batch.total, batch.currency)

    @admin.display(description="file for the bank")
    def file(self, batch: PayoutBatch) -> str:
        return format_html(
            '<a href="{}">{}</a> (SHA-256 {})',
            reverse("admin:payments_payoutbatch_file", args=[batch.pk]),
            payouts.payout_batch_filename(batch),
            batch.sha256,
        )

    @admin.display(description="debtor address")
    def debtor_address(self, batch: PayoutBatch) -> str:
        parts = [batch.debtor_street, batch.debtor_postal_code, batch.debtor_town]
        return ", ".join(part for part in [*parts, batch.debtor_country] if part) or "-"

    @admin.action(
        description="Mark selected batches executed (the bank paid them)", permissions=["pay"]
    )
    def execute(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request,
            queryset,
            lambda batch: payouts.payout_batch_execute(batch=batch, by=request.user),
            "marked executed",
        )

    @admin.action(description="Cancel selected batches (not sent to the bank)", permissions=["pay"])
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.act_per_row(
            request,
            queryset,
            lambda batch: payouts.payout_batch_cancel(batch=batch, by=request.user),
            "cancelled",
        )


# Payroll deductions --------------------------------------------------------------------------


class PayrollDeductionPrepareForm(ServiceWriteForm):
    """Prepares a fleet's payroll deduction of a billed period: its open invoices, held for
    the payroll. A period prepared already shows its deduction."""

    fleet = forms.ModelChoiceField(queryset=Fleet.objects.none())
    period = forms.CharField(
        max_length=8,
        help_text="A billed period, such as 2026-10 (2026-W44 for a fleet billed weekly): its "
        "invoices and older ones still open are deducted.",
    )
    fleets = Fleet.objects.none()
    prepared_by = None
    created = False

    class Meta:
        model = PayrollDeduction
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fleet"].queryset = self.fleets

    def service_write(self) -> PayrollDeduction:
        deduction, self.created = payroll.payroll_deduction_prepare(
            fleet=self.cleaned_data["fleet"],
            period_label=self.cleaned_data["period"],
            by=self.prepared_by,
        )
        return deduction


class PayrollRunForm(forms.Form):
    """When the payroll deducted the selected deductions."""

    received_at = forms.DateTimeField(
        label="Deducted on",
        initial=timezone.now,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="When the payroll ran, in your time zone.",
    )


class PayrollDeductionItemInline(ReadOnlyInline):
    """A deduction's invoices: what is deducted for each and what recording settled."""

    model = PayrollDeductionItem
    fleet_path = "deduction__fleet"
    fields = ["invoice", "driver", "amount", "settled_amount", "owed_back", "payment", "released"]
    ordering = ["driver__employee_number", "invoice__number"]
    verbose_name_plural = "invoices deducted"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("deduction__fleet", "invoice", "driver", "payment")
        )

    @admin.display(description="owed back to the driver")
    def owed_back(self, item: PayrollDeductionItem) -> str:
        if item.settled_amount is None or item.settled_amount == item.amount:
            return "-"
        return (
            f"{money_text(item.amount - item.settled_amount, item.deduction.currency)}: paid "
            "or credited before the payroll run was recorded"
        )


@admin.register(PayrollDeduction)
class PayrollDeductionAdmin(AppendOnlyAdmin):
    """Payroll deductions: prepared on the add page, their file on the Exports page, then the
    payroll run recorded or the deduction cancelled by the actions; never changed by hand."""

    list_display = [
        "period_label",
        "fleet",
        "status",
        "item_count",
        "driver_count",
        "total_text",
        "settled_text",
        "prepared_at",
        "recorded_at",
    ]
    list_filter = ["fleet", "status"]
    list_select_related = ["fleet"]
    search_fields = ["period_label", "fleet__name"]
    date_hierarchy = "period_start"
    inlines = [PayrollDeductionItemInline]
    actions = ["record_runs", "cancel_deductions"]
    write_services = {
        "add": payroll.payroll_deduction_prepare,
        "record_runs": payroll.payroll_deduction_record,
        "cancel_deductions": payroll.payroll_deduction_cancel,
    }
    fieldsets = [
        (None, {"fields": ["fleet", "period_label", "status", "currency"]}),
        (
            "Amounts",
            {"fields": ["item_count", "driver_count", "total_text", "settled_text"]},
        ),
        (
            "Record",
            {
                "fields": [
                    "prepared_at",
                    "prepared_by",
                    "recorded_at",
                    "recorded_by",
                    "idempotency_key",
                    "cancelled_at",
                    "cancelled_by",
                ]
            },
        ),
    ]

    def get_fieldsets(self, request: HttpRequest, obj=None) -> list:
        if obj is None:
            return [(None, {"fields": ["fleet", "period"]})]
        return self.fieldsets

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        kwargs.update(form=PayrollDeductionPrepareForm, fields=[])
        form_class = super().get_form(request, obj, change=change, **kwargs)
        form_class.prepared_by = request.user
        form_class.fleets = self.editable_fleets(request)
        return form_class

    def get_inlines(self, request: HttpRequest, obj=None) -> list:
        return self.inlines if obj is not None else []

    def has_payroll_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.may_act(request, obj)

    def save_model(self, request: HttpRequest, obj: PayrollDeduction, form, change: bool):
        """The service has prepared the deduction, or found the period's."""
        total = money_text(obj.total, obj.currency)
        if form.created:
            self.message_user(
                request,
                f"Prepared: {obj.item_count} invoices of {obj.driver_count} drivers, {total} "
                "to deduct. Export its file (payroll-deductions) for the payroll.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                f"{obj.period_label} has this deduction already ({obj.get_status_display()}).",
                messages.WARNING,
            )

    @admin.display(description="to deduct", ordering="total")
    def total_text(self, deduction: PayrollDeduction) -> str:
        return money_text(deduction.total, deduction.currency)

    @admin.display(description="settled", ordering="settled_total")
    def settled_text(self, deduction: PayrollDeduction) -> str:
        if deduction.settled_total is None:
            return "-"
        return money_text(deduction.settled_total, deduction.currency)

    @admin.action(
        description="Record the payroll run of selected deductions…", permissions=["payroll"]
    )
    def record_runs(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        """Asks when the payroll ran on a confirmation page first; records each deduction once
        it is sent, under the key made when the page was shown and the deduction's id, so a
        page sent twice records each once."""
        form = PayrollRunForm(request.POST if "post" in request.POST else None)
        if form.is_bound and form.is_valid():
            received_at = form.cleaned_data["received_at"]
            key = request.POST.get("idempotency_key", "").strip()[:60]
            if not key:
                self.message_user(
                    request, "Nothing was recorded: open the page again.", messages.ERROR
                )
                return None
            self.act_per_row(
                request,
                queryset,
                lambda deduction: payroll.payroll_deduction_record(
                    deduction=deduction,
                    idempotency_key=f"{key}-{deduction.pk}",
                    received_at=received_at,
                    by=request.user,
                ),
                "recorded",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Record the payroll run",
            "form": form,
            "deductions": queryset.select_related("fleet"),
            "idempotency_key": uuid.uuid4().hex,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/payments/payrolldeduction/record.html", context)

    @admin.action(
        description="Cancel selected deductions (frees their invoices)", permissions=["payroll"]
    )
    def cancel_deductions(self, request: HttpRequest, queryset: QuerySet) -> None:
        def cancel(deduction: PayrollDeduction) -> None:
            if deduction.status == PayrollDeductionStatus.CANCELLED:
                raise DomainError("The deduction is cancelled already.")
            payroll.payroll_deduction_cancel(deduction=deduction, by=request.user)

        self.act_per_row(request, queryset, cancel, "cancelled")


# The driver's page ---------------------------------------------------------------------------

DRIVER_PAGE_ROWS = 12
DRIVER_PAGE_TABS = {
    "Sessions": "recent_sessions",
    "Statements": "statements",
    "Invoices": "invoices",
    "Reimbursements": "reimbursements",
}


def _driver_list_url(model: type[Model], driver: Driver) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + (
        f"?driver__id__exact={driver.pk}"
    )


def _change_link(obj: Model, text: str) -> str:
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text)


class DriverPageAdmin(DriverAdmin):
    """The drivers; a driver's page also shows their tokens (inline), and their latest
    sessions, statements, invoices and reimbursements in tabs, each linking to the whole
    filtered list: a fixed number of queries, whatever the driver's history."""

    page_fields = list(DRIVER_PAGE_TABS.values())

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, *self.page_fields] if obj is not None else readonly

    def get_fieldsets(self, request: HttpRequest, obj=None) -> list:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        return [
            *fieldsets,
            *(
                (title, {"fields": [field], "classes": ["tab"]})
                for title, field in DRIVER_PAGE_TABS.items()
            ),
        ]

    def _documents(self, driver: Driver) -> dict[str, list]:
        if not hasattr(driver, "_voltop_documents"):
            driver._voltop_documents = selectors.driver_money_documents(
                driver_id=driver.pk, limit=DRIVER_PAGE_ROWS
            )
        return driver._voltop_documents

    @admin.display(description="latest sessions")
    def recent_sessions(self, driver: Driver) -> str:
        sessions = charging_session_recent_for_driver(driver_id=driver.pk, limit=DRIVER_PAGE_ROWS)
        return rows_table(
            ["started", "vehicle", "where · why", "energy", "price", "status"],
            [
                [
                    _change_link(session, moment_text(session.started_at)),
                    session.vehicle.plate if session.vehicle_id else "—",
                    f"{session.get_location_kind_display()} · {session.get_purpose_display()}",
                    energy_text(session.energy_wh),
                    money_text(session.price_incl_vat, session.price_currency),
                    session.get_status_display(),
                ]
                for session in sessions
            ],
            empty_text="No session yet.",
            more_url=_driver_list_url(ChargingSession, driver),
            more_text="All of this driver's sessions →",
        )

    @admin.display(description="latest statements")
    def statements(self, driver: Driver) -> str:
        return rows_table(
            ["period", "owed by the driver", "borne by the fleet", "home reimbursement", "net"],
            [
                [
                    _change_link(statement, statement.period_label),
                    money_text(statement.private_owed, statement.currency),
                    money_text(statement.business_cost, statement.currency),
                    money_text(statement.reimbursement_due, statement.currency),
                    money_text(statement.net_to_driver, statement.currency),
                ]
                for statement in self._documents(driver)["statements"]
            ],
            empty_text="No statement yet.",
            more_url=_driver_list_url(Statement, driver),
            more_text="All of this driver's statements →",
        )

    @admin.display(description="latest invoices")
    def invoices(self, driver: Driver) -> str:
        rows = []
        for invoice in self._documents(driver)["invoices"]:
            period = (
                invoice.billing_run.period_label
                if invoice.billing_run_id
                else period_days_text(invoice.period_start, invoice.period_end, invoice.fleet.zone)
            )
            balance = invoice_balance_of_row(invoice) if invoice.is_issued else None
            rows.append(
                [
                    _change_link(invoice, str(invoice)),
                    period,
                    invoice.get_status_display(),
                    money_text(invoice.gross_total, invoice.currency),
                    "—" if balance is None else money_text(balance.due, invoice.currency),
                ]
            )
        return rows_table(
            ["number", "period", "status", "gross", "due"],
            rows,
            empty_text="No invoice yet.",
            more_url=_driver_list_url(Invoice, driver),
            more_text="All of this driver's invoices →",
        )

    @admin.display(description="latest reimbursements")
    def reimbursements(self, driver: Driver) -> str:
        return rows_table(
            ["period", "energy", "amount", "status", "decided"],
            [
                [
                    _change_link(reimbursement, reimbursement.billing_run.period_label),
                    energy_text(reimbursement.energy_wh),
                    money_text(reimbursement.amount, reimbursement.currency),
                    reimbursement.get_status_display(),
                    moment_text(reimbursement.decided_at),
                ]
                for reimbursement in self._documents(driver)["reimbursements"]
            ],
            empty_text="No reimbursement yet.",
            more_url=_driver_list_url(Reimbursement, driver),
            more_text="All of this driver's reimbursements →",
        )


admin.site.unregister(Driver)
admin.site.register(Driver, DriverPageAdmin)
