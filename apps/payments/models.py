"""Tables of the payments app: billing runs and their units, statements, invoices and credit
notes with their gapless counters, cost allocations, reimbursements and payments, refunds and
payouts, and payroll deductions."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.charging.choices import EnergySource, PriceBasis
from apps.charging.models import ChargingSession
from apps.drivers.models import Driver
from apps.fleets.choices import BillingPeriodKind
from apps.fleets.models import CostCenter, Fleet
from apps.payments.choices import (
    BillingRunStatus,
    BillingUnitStatus,
    DocumentSeries,
    InvoiceStatus,
    LeftOutReason,
    PaymentMethod,
    PaymentStatus,
    PayoutBatchStatus,
    PayrollDeductionStatus,
    RefundReason,
    RefundStatus,
    ReimbursementStatus,
)
from apps.payments.exceptions import InvoiceImmutable
from voltop.core.history import history_tracked
from voltop.core.models import TimeStampedModel

ZERO = Decimal("0.00")
HALF_CENT = Decimal("0.005")
LINE_ALONE_HELP = (
    "The line alone at its rate (what the driver was shown as charged for its session); not "
    "shown on the document, whose VAT is per rate over all its lines (EN 16931), so these "
    "need not add up to it."
)


def _sum_is(total: str, *parts: F) -> Q:
    """`total` equals the sum of `parts`. Amounts have two places, so the window of half a cent
    either side is exact equality on PostgreSQL and tolerates SQLite storing them as floats."""
    expected = sum(parts[1:], parts[0])
    return Q(**{f"{total}__gt": expected - HALF_CENT, f"{total}__lt": expected + HALF_CENT})


def _money(**options) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, **options)


def _address_part(max_length: int) -> models.CharField:
    """A part of a structured address as written in a SEPA file (EPC characters); empty when
    unknown, and the whole address is left out of the file without a town and a country."""
    return models.CharField(max_length=max_length, blank=True, default="", editable=False)


class BillingRun(TimeStampedModel):
    """The billing of one fleet for one period, done in the background unit by unit.

    One run per fleet and period: starting it twice gives the same run. Its counts and totals
    are filled in when its last unit is done and its invoices are issued, and account for every
    session of the period: billed (invoiced, allocated or reimbursed) or left out, with why.
    """

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="billing_runs")
    period_kind = models.CharField(max_length=8, choices=BillingPeriodKind.choices)
    period_label = models.CharField(max_length=8, help_text='"2026-10" or "2026-W44".')
    period_start = models.DateTimeField(help_text="Local midnight of the period's first day.")
    period_end = models.DateTimeField(help_text="Local midnight after the period's last day.")
    status = models.CharField(
        max_length=16, choices=BillingRunStatus.choices, default=BillingRunStatus.PENDING
    )
    currency = models.CharField(max_length=3)
    units_total = models.PositiveIntegerField(default=0)
    units_done = models.PositiveIntegerField(default=0)
    session_count = models.PositiveIntegerField(
        default=0, help_text="Sessions billed: invoiced, allocated and reimbursed."
    )
    invoiced_session_count = models.PositiveIntegerField(
        "sessions invoiced", default=0, help_text="Private charging on the drivers' invoices."
    )
    allocated_session_count = models.PositiveIntegerField(
        "sessions allocated", default=0, help_text="Business charging allocated to cost centers."
    )
    reimbursed_session_count = models.PositiveIntegerField(
        "sessions reimbursed", default=0, help_text="Approved home charging reimbursed."
    )
    earlier_session_count = models.PositiveIntegerField(
        "sessions of earlier periods",
        default=0,
        help_text="Of the sessions billed, those that ended before the period (late arrivals).",
    )
    left_out_count = models.PositiveIntegerField(
        "sessions left out",
        default=0,
        help_text="Sessions of the period (and sessions still charging) the run did not bill.",
    )
    left_out_reasons = models.JSONField(
        default=dict,
        blank=True,
        help_text="How many sessions the run left out, by LeftOutReason.",
    )
    statement_count = models.PositiveIntegerField(default=0)
    invoice_count = models.PositiveIntegerField(default=0)
    invoiced_total = _money(default=ZERO, help_text="Gross of the run's invoices.")
    allocated_total = _money(default=ZERO, help_text="Business charging cost, excl. VAT.")
    reimbursed_total = _money(default=ZERO, help_text="Home charging owed to drivers.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-period_start", "fleet"]
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "period_start"],
                name="billing_run_one_per_fleet_period",
                violation_error_code="billing_run_one_per_fleet_period",
                violation_error_message="This fleet already has a billing run for the period.",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=F("period_start")),
                name="billing_run_period_ends_after_start",
                violation_error_code="billing_run_period_ends_after_start",
                violation_error_message="A billing period must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(units_done__lte=F("units_total")),
                name="billing_run_units_done_within_total",
                violation_error_code="billing_run_units_done_within_total",
                violation_error_message="A run cannot have more units done than it has.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=BillingRunStatus.values),
                name="billing_run_status_valid",
                violation_error_code="billing_run_status_valid",
                violation_error_message="The status must be pending, running, completed or failed.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fleet} {self.period_label}"

    @property
    def progress_text(self) -> str:
        if not self.units_total:
            return "-"
        return f"{self.units_done}/{self.units_total}"


class BillingUnit(models.Model):
    """A bounded batch of a run's drivers, billed in one transaction and done exactly once."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="units")
    number = models.PositiveIntegerField()
    driver_ids = models.JSONField(help_text="The drivers this unit bills, by id.")
    status = models.CharField(
        max_length=8, choices=BillingUnitStatus.choices, default=BillingUnitStatus.PENDING
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="billing_unit_number_per_run"),
        ]

    def __str__(self) -> str:
        return f"Unit {self.number} of {self.run}"


class BillingLeftOut(models.Model):
    """A session a completed run did not bill, with why: written as the run finalises, from
    the same reading as its `left_out_reasons` counts, so the rows and the counts agree. Runs
    completed before these rows were kept have the counts only. A session so recorded is
    invalidated rather than deleted, as any session billing refers to."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="left_out_sessions")
    session = models.ForeignKey(
        ChargingSession,
        on_delete=models.PROTECT,
        related_name="left_out_by_runs",
    )
    reason = models.CharField(max_length=16, choices=LeftOutReason.choices)

    class Meta:
        verbose_name = "left-out session record"
        verbose_name_plural = "left-out session records"
        ordering = ["run", "session"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "session"],
                name="billing_left_out_once_per_run",
                violation_error_code="billing_left_out_once_per_run",
                violation_error_message="The run already lists this session as left out.",
            ),
            models.CheckConstraint(
                condition=Q(reason__in=LeftOutReason.values),
                name="billing_left_out_reason_valid",
                violation_error_code="billing_left_out_reason_valid",
                violation_error_message="The reason must be one of LeftOutReason.",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.session_id}: {self.get_reason_display()}"


class DocumentCounter(models.Model):
    """The last number given in one fleet's series for one year: locked by the transaction that
    issues the next document, so numbers run without gaps (a sequence would skip on rollback)."""

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="document_counters")
    series = models.CharField(max_length=16, choices=DocumentSeries.choices)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "series", "year"], name="document_counter_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fleet} {self.series} {self.year}: {self.last_number}"


@history_tracked()
class Invoice(TimeStampedModel):
    """What a driver owes the fleet for a period's private charging.

    A draft has no number. Issuing gives it the next number of the fleet's year and freezes
    it: from then on only its status may move on (paid, void) — the ORM, the admin and, on
    PostgreSQL, a trigger refuse any other change. Corrections are credit notes.
    """

    fleet = models.ForeignKey(
        Fleet, on_delete=models.PROTECT, related_name="invoices", editable=False
    )
    driver = models.ForeignKey(
        Driver, on_delete=models.PROTECT, related_name="invoices", editable=False
    )
    billing_run = models.ForeignKey(
        BillingRun,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        editable=False,
    )
    number = models.CharField(max_length=32, blank=True, default="", editable=False)
    status = models.CharField(
        max_length=8, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT, editable=False
    )
    currency = models.CharField(max_length=3)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    net_total = _money(default=ZERO)
    vat_total = _money(default=ZERO)
    gross_total = _money(default=ZERO)
    issued_at = models.DateTimeField(null=True, blank=True, editable=False)
    due_at = models.DateTimeField(null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(null=True, blank=True, editable=False)
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    FIELDS_CHANGEABLE_ONCE_ISSUED = frozenset({"status", "paid_at", "emailed_at", "updated_at"})

    class Meta:
        ordering = ["-period_start", "number", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "number"],
                condition=~Q(number=""),
                name="invoice_number_unique_per_fleet",
                violation_error_code="invoice_number_unique_per_fleet",
                violation_error_message="This invoice number is already taken.",
            ),
            models.UniqueConstraint(
                fields=["billing_run", "driver"],
                condition=Q(billing_run__isnull=False),
                name="invoice_one_per_driver_per_run",
                violation_error_code="invoice_one_per_driver_per_run",
                violation_error_message="The driver already has an invoice from this run.",
            ),
            models.CheckConstraint(
                condition=_sum_is("gross_total", F("net_total"), F("vat_total")),
                name="invoice_gross_is_net_plus_vat",
                violation_error_code="invoice_gross_is_net_plus_vat",
                violation_error_message="The gross must be the net plus the VAT.",
            ),
            models.CheckConstraint(
                condition=(Q(status="draft") & Q(number="") & Q(issued_at__isnull=True))
                | (~Q(status="draft") & ~Q(number="") & Q(issued_at__isnull=False)),
                name="invoice_numbered_when_issued",
                violation_error_code="invoice_numbered_when_issued",
                violation_error_message="A draft has no number; an issued invoice has one.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=InvoiceStatus.values),
                name="invoice_status_valid",
                violation_error_code="invoice_status_valid",
                violation_error_message="The status must be draft, issued, paid or void.",
            ),
        ]
        indexes = [
            models.Index(fields=["driver", "-period_start"], name="invoice_driver_period_idx"),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft invoice {self.pk}"

    @classmethod
    def from_db(cls, db, field_names, values):
        invoice = super().from_db(db, field_names, values)
        invoice._stored_status = invoice.__dict__.get("status")
        return invoice

    @property
    def is_issued(self) -> bool:
        return self.status != InvoiceStatus.DRAFT

    def _stored_status_or_draft(self) -> str:
        return getattr(self, "_stored_status", None) or InvoiceStatus.DRAFT

    def _stored_as_issued(self) -> bool:
        return self._stored_status_or_draft() != InvoiceStatus.DRAFT

    def save(self, *args, **kwargs):
        """Refuse to change an issued invoice beyond its status (paid, void) and e-mailing."""
        update_fields = kwargs.get("update_fields")
        if self._stored_as_issued() and (
            update_fields is None or not set(update_fields) <= self.FIELDS_CHANGEABLE_ONCE_ISSUED
        ):
            raise InvoiceImmutable(
                f"Invoice {self.number} is issued and cannot change; issue a credit note.",
                field="invoice",
            )
        super().save(*args, **kwargs)
        self._stored_status = self.status

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._stored_status = self.__dict__.get("status", self._stored_status_or_draft())

    def delete(self, *args, **kwargs):
        if self._stored_as_issued():
            raise InvoiceImmutable(
                f"Invoice {self.number} is issued and cannot be deleted; issue a credit note.",
                field="invoice",
            )
        return super().delete(*args, **kwargs)


class InvoiceLine(models.Model):
    """One billed session on an invoice. A session is on at most one invoice line, ever."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    session = models.ForeignKey(
        ChargingSession, on_delete=models.PROTECT, related_name="invoice_lines"
    )
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=200)
    quantity_kwh = models.DecimalField("quantity (kWh)", max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(
        max_digits=12, decimal_places=5, help_text="Net price per kWh, for reading."
    )
    net = _money(help_text="The session's cost excl. VAT.")
    vat_rate = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="Percent: the fleet's rate when billed."
    )
    vat = _money(help_text=LINE_ALONE_HELP)
    gross = _money(help_text=LINE_ALONE_HELP)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                name="invoice_line_session_billed_once",
                violation_error_code="invoice_line_session_billed_once",
                violation_error_message="This session is already on an invoice.",
            ),
            models.UniqueConstraint(
                fields=["invoice", "position"], name="invoice_line_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.description

    def save(self, *args, **kwargs):
        self._refuse_if_issued()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_issued()
        return super().delete(*args, **kwargs)

    def _refuse_if_issued(self) -> None:
        if self.invoice.is_issued:
            raise InvoiceImmutable(
                f"Invoice {self.invoice.number} is issued; its lines cannot change.",
                field="invoice",
            )


@history_tracked()
class CreditNote(TimeStampedModel):
    """A correction of an issued invoice: credits some or all of its lines. Numbered at issue in
    its own gapless series, and never changed afterwards."""

    fleet = models.ForeignKey(
        Fleet, on_delete=models.PROTECT, related_name="credit_notes", editable=False
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="credit_notes", editable=False
    )
    number = models.CharField(max_length=32, editable=False)
    reason = models.TextField()
    currency = models.CharField(max_length=3)
    net_total = _money()
    vat_total = _money()
    gross_total = _money()
    issued_at = models.DateTimeField(editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "number"], name="credit_note_number_unique_per_fleet"
            ),
            models.CheckConstraint(
                condition=_sum_is("gross_total", F("net_total"), F("vat_total")),
                name="credit_note_gross_is_net_plus_vat",
                violation_error_code="credit_note_gross_is_net_plus_vat",
                violation_error_message="The gross must be the net plus the VAT.",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(models.Model):
    """One credited invoice line; each invoice line is credited at most once."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.ForeignKey(
        InvoiceLine, on_delete=models.PROTECT, related_name="credit_lines"
    )
    description = models.CharField(max_length=200)
    net = _money()
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2)
    vat = _money(help_text=LINE_ALONE_HELP)
    gross = _money(help_text=LINE_ALONE_HELP)

    class Meta:
        ordering = ["credit_note", "invoice_line"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice_line"],
                name="credit_note_line_credits_once",
                violation_error_code="credit_note_line_credits_once",
                violation_error_message="This invoice line is already credited.",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class CostAllocation(models.Model):
    """A business session's cost, booked to the cost center of its driver (or vehicle)."""

    fleet = models.ForeignKey(
        Fleet, on_delete=models.PROTECT, related_name="cost_allocations", editable=False
    )
    billing_run = models.ForeignKey(
        BillingRun, on_delete=models.PROTECT, related_name="cost_allocations", editable=False
    )
    cost_center = models.ForeignKey(
        CostCenter,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="allocations",
        help_text="Empty when neither the vehicle nor the driver has a cost center.",
        editable=False,
    )
    session = models.ForeignKey(
        ChargingSession, on_delete=models.PROTECT, related_name="cost_allocations", editable=False
    )
    driver = models.ForeignKey(
        Driver, on_delete=models.PROTECT, related_name="cost_allocations", editable=False
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    currency = models.CharField(max_length=3)
    amount = _money(help_text="Excl. VAT.")
    vat = _money()

    class Meta:
        ordering = ["-period_start", "cost_center", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                name="cost_allocation_session_once",
                violation_error_code="cost_allocation_session_once",
                violation_error_message="This session's cost is already allocated.",
            ),
        ]
        indexes = [
            models.Index(fields=["billing_run", "cost_center"], name="allocation_run_center_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.cost_center or 'Unallocated'}: {self.amount} {self.currency}"


@history_tracked()
class Reimbursement(TimeStampedModel):
    """What the fleet owes a driver for a period's approved business charging at home."""

    fleet = models.ForeignKey(
        Fleet, on_delete=models.PROTECT, related_name="reimbursements", editable=False
    )
    driver = models.ForeignKey(
        Driver, on_delete=models.PROTECT, related_name="reimbursements", editable=False
    )
    billing_run = models.ForeignKey(
        BillingRun, on_delete=models.PROTECT, related_name="reimbursements", editable=False
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    currency = models.CharField(max_length=3)
    energy_wh = models.BigIntegerField("energy (Wh)")
    amount = _money()
    status = models.CharField(
        max_length=8,
        choices=ReimbursementStatus.choices,
        default=ReimbursementStatus.PENDING,
        editable=False,
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    decision_note = models.TextField(blank=True, default="")
    paid_at = models.DateTimeField(null=True, blank=True, editable=False)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        help_text="Who recorded the payout; empty when a fleet API key did.",
    )

    class Meta:
        ordering = ["-period_start", "driver", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=ReimbursementStatus.PAID, paid_at__isnull=False)
                | (~Q(status=ReimbursementStatus.PAID) & Q(paid_at__isnull=True)),
                name="reimbursement_paid_has_paid_at",
                violation_error_code="reimbursement_paid_has_paid_at",
                violation_error_message="A paid reimbursement has its payout time; no other does.",
            ),
            models.UniqueConstraint(
                fields=["billing_run", "driver"],
                name="reimbursement_one_per_driver_per_run",
                violation_error_code="reimbursement_one_per_driver_per_run",
                violation_error_message="The driver already has a reimbursement from this run.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="reimbursement_amount_not_negative",
                violation_error_code="reimbursement_amount_not_negative",
                violation_error_message="A reimbursement cannot be negative.",
            ),
        ]
        indexes = [
            models.Index(fields=["driver", "-period_start"], name="reimb_driver_period_idx"),
        ]

    def __str__(self) -> str:
        return f"Reimbursement {self.pk}: {self.amount} {self.currency}"


class ReimbursementLine(models.Model):
    """One approved home session in a reimbursement, at the driver's home rate. Where its
    energy figure came from and the basis and rate that priced it are copied from the session
    when billed, so the line keeps them whatever changes later (the driver's rate, say)."""

    reimbursement = models.ForeignKey(Reimbursement, on_delete=models.CASCADE, related_name="lines")
    session = models.ForeignKey(
        ChargingSession, on_delete=models.PROTECT, related_name="reimbursement_lines"
    )
    energy_wh = models.BigIntegerField("energy (Wh)")
    meter_source = models.CharField(
        max_length=8,
        choices=EnergySource.choices,
        help_text="Whether the energy was measured by a charger or entered by a person.",
    )
    price_basis = models.CharField(
        max_length=16, choices=PriceBasis.choices, help_text="What priced the session."
    )
    rate_per_kwh = models.DecimalField(
        "rate per kWh",
        max_digits=12,
        decimal_places=5,
        null=True,
        blank=True,
        help_text="The driver's home rate that priced the session, excl. VAT, as its price "
        "breakdown records it; empty when the session was not priced at a home rate per kWh "
        "or its breakdown does not say.",
    )
    amount = _money()

    class Meta:
        ordering = ["reimbursement", "session"]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                name="reimbursement_line_session_once",
                violation_error_code="reimbursement_line_session_once",
                violation_error_message="This session is already reimbursed.",
            ),
            models.CheckConstraint(
                condition=Q(rate_per_kwh__isnull=True) | Q(price_basis=PriceBasis.HOME_RATE),
                name="reimbursement_line_rate_is_a_home_rate",
                violation_error_code="reimbursement_line_rate_is_a_home_rate",
                violation_error_message="Only a line priced at a home rate has a rate per kWh.",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.session_id}: {self.amount}"


class Statement(models.Model):
    """One driver's period in one page: what they owe (private charging), what the fleet bore
    (business charging), what the fleet owes them (home charging), and the net."""

    fleet = models.ForeignKey(
        Fleet, on_delete=models.PROTECT, related_name="statements", editable=False
    )
    driver = models.ForeignKey(
        Driver, on_delete=models.PROTECT, related_name="statements", editable=False
    )
    billing_run = models.ForeignKey(
        BillingRun, on_delete=models.PROTECT, related_name="statements", editable=False
    )
    period_label = models.CharField(max_length=8)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    currency = models.CharField(max_length=3)
    invoice = models.OneToOneField(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="statement",
        editable=False,
    )
    reimbursement = models.OneToOneField(
        Reimbursement,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="statement",
        editable=False,
    )
    private_session_count = models.PositiveIntegerField(default=0)
    business_session_count = models.PositiveIntegerField(default=0)
    home_session_count = models.PositiveIntegerField(default=0)
    private_owed = _money(default=ZERO, help_text="The invoice's gross: the driver pays.")
    business_cost = _money(default=ZERO, help_text="Excl. VAT: the fleet bears it.")
    reimbursement_due = _money(default=ZERO, help_text="The fleet pays the driver.")
    net_to_driver = _money(
        default=ZERO, help_text="Reimbursement minus what is owed; negative: the driver pays."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "driver", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["billing_run", "driver"],
                name="statement_one_per_driver_per_run",
                violation_error_code="statement_one_per_driver_per_run",
                violation_error_message="The driver already has a statement from this run.",
            ),
            models.CheckConstraint(
                condition=_sum_is("net_to_driver", F("reimbursement_due"), -F("private_owed")),
                name="statement_net_is_reimbursement_minus_owed",
                violation_error_code="statement_net_is_reimbursement_minus_owed",
                violation_error_message="The net must be the reimbursement minus what is owed.",
            ),
        ]
        indexes = [
            models.Index(fields=["driver", "-period_start"], name="statement_driver_period_idx"),
        ]

    def __str__(self) -> str:
        return f"Statement {self.period_label} of {self.driver}"


@history_tracked()
class Payment(TimeStampedModel):
    """Money received against an invoice. The idempotency key makes recording it safe to repeat:
    the same key with the same body returns this payment, with another body it is refused."""

    fleet = models.ForeignKey(Fleet, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = _money()
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    provider_reference = models.CharField(max_length=100, blank=True, default="")
    idempotency_key = models.CharField(max_length=100)
    request_fingerprint = models.CharField(max_length=64, editable=False)
    received_at = models.DateTimeField()
    status = models.CharField(
        max_length=8,
        choices=PaymentStatus.choices,
        default=PaymentStatus.RECEIVED,
        editable=False,
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "idempotency_key"],
                name="payment_idempotency_key_unique",
                violation_error_code="payment_idempotency_key_unique",
                violation_error_message="A payment with this idempotency key already exists.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="payment_amount_positive",
                violation_error_code="payment_amount_positive",
                violation_error_message="A payment must be more than zero.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.invoice}"


class Refund(TimeStampedModel):
    """Money the fleet owes a driver back on an invoice: paid beyond what it asks, or credited
    after it was paid. Settled as the fleet chooses: set off against the driver's next invoice
    (a payment of method set-off on it) or paid out in a SEPA payout batch. A refund larger
    than the invoice it is set off against is split: it keeps the part set off, and a new owed
    refund on the same invoice (`remainder_of` it) holds the rest, so an invoice's refunds
    always add up to what it owed back."""

    fleet = models.ForeignKey(
        Fleet, on_delete=models.PROTECT, related_name="refunds", editable=False
    )
    driver = models.ForeignKey(
        Driver, on_delete=models.PROTECT, related_name="refunds", editable=False
    )
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        related_name="refunds",
        editable=False,
        help_text="The invoice the money was paid on.",
    )
    reason = models.CharField(max_length=8, choices=RefundReason.choices, editable=False)
    currency = models.CharField(max_length=3, editable=False)
    amount = _money(editable=False)
    status = models.CharField(
        max_length=8, choices=RefundStatus.choices, default=RefundStatus.OWED, editable=False
    )
    set_off_payment = models.OneToOneField(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refund_set_off",
        editable=False,
        help_text="The set-off payment on the later invoice that settled this refund.",
    )
    settled_at = models.DateTimeField(null=True, blank=True, editable=False)
    remainder_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="remainders",
        editable=False,
        help_text="The refund this is the rest of: only part of that one could be set off "
        "against a later invoice, which took that part as its amount; the rest is owed here.",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="refund_amount_positive",
                violation_error_code="refund_amount_positive",
                violation_error_message="A refund must be more than zero.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RefundStatus.values),
                name="refund_status_valid",
                violation_error_code="refund_status_valid",
                violation_error_message="A refund is owed, set off or paid.",
            ),
            models.CheckConstraint(
                condition=(Q(status=RefundStatus.OWED) & Q(settled_at__isnull=True))
                | (~Q(status=RefundStatus.OWED) & Q(settled_at__isnull=False)),
                name="refund_settled_has_settled_at",
                violation_error_code="refund_settled_has_settled_at",
                violation_error_message="A settled refund has the time it was settled; an "
                "owed one does not.",
            ),
            models.CheckConstraint(
                condition=Q(set_off_payment__isnull=True) | Q(status=RefundStatus.SET_OFF),
                name="refund_set_off_payment_only_when_set_off",
                violation_error_code="refund_set_off_payment_only_when_set_off",
                violation_error_message="Only a refund set off has a set-off payment.",
            ),
        ]
        indexes = [
            models.Index(fields=["driver", "status"], name="refund_driver_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.pk}: {self.amount} {self.currency} on {self.invoice}"


class PayoutBatch(TimeStampedModel):
    """A SEPA credit transfer file (pain.001.001.09) paying approved reimbursements and owed
        refunds out of the fleet's account. Created, then executed once the bank has paid it
        (which marks what it paid as paid), or cancelled before that (which frees them). The debtor
    and the items' creditors are kept as written in the file, so it is rebuilt byte for byte."""

    fleet = models.ForeignKey(
        Fleet, on_delete=models.PROTECT, related_name="payout_batches", editable=False
    )
    message_id = models.CharField(
        max_length=35, unique=True, editable=False, help_text="The file's MsgId."
    )
    status = models.CharField(
        max_length=10,
        choices=PayoutBatchStatus.choices,
        default=PayoutBatchStatus.CREATED,
        editable=False,
    )
    currency = models.CharField(max_length=3, editable=False)
    requested_execution_date = models.DateField(editable=False)
    item_count = models.PositiveIntegerField(default=0, editable=False)
    total = _money(default=ZERO, editable=False)
    debtor_name = models.CharField(max_length=70, editable=False)
    debtor_iban = models.CharField(max_length=34, editable=False)
    debtor_bic = models.CharField(max_length=11, blank=True, default="", editable=False)
    debtor_street = _address_part(70)
    debtor_postal_code = _address_part(16)
    debtor_town = _address_part(35)
    debtor_country = _address_part(2)
    sha256 = models.CharField(
        max_length=64, blank=True, default="", editable=False, help_text="Of the XML file."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    executed_at = models.DateTimeField(null=True, blank=True, editable=False)
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = "SEPA payout batch"
        verbose_name_plural = "SEPA payout batches"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PayoutBatchStatus.values),
                name="payout_batch_status_valid",
                violation_error_code="payout_batch_status_valid",
                violation_error_message="A batch is created, executed or cancelled.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=PayoutBatchStatus.CREATED)
                    & Q(executed_at__isnull=True)
                    & Q(cancelled_at__isnull=True)
                )
                | (
                    Q(status=PayoutBatchStatus.EXECUTED)
                    & Q(executed_at__isnull=False)
                    & Q(cancelled_at__isnull=True)
                )
                | (
                    Q(status=PayoutBatchStatus.CANCELLED)
                    & Q(executed_at__isnull=True)
                    & Q(cancelled_at__isnull=False)
                ),
                name="payout_batch_times_match_status",
                violation_error_code="payout_batch_times_match_status",
                violation_error_message="An executed batch has its execution time, a cancelled "
                "one its cancellation time, and none has both.",
            ),
        ]

    def __str__(self) -> str:
        return self.message_id


class PayoutItem(models.Model):
    """One credit transfer of a batch: an approved reimbursement or an owed refund, to the
    driver's IBAN in the account holder's name as they were when the batch was made. While its
    batch is not cancelled the item holds what it pays: the database lets a reimbursement or a
    refund be held by one item at a time, and once paid it is never freed again."""

    batch = models.ForeignKey(PayoutBatch, on_delete=models.CASCADE, related_name="items")
    reimbursement = models.ForeignKey(
        Reimbursement,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payout_items",
    )
    refund = models.ForeignKey(
        Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="payout_items"
    )
    driver = models.ForeignKey(Driver, on_delete=models.PROTECT, related_name="payout_items")
    amount = _money()
    end_to_end_id = models.CharField(max_length=35, unique=True)
    creditor_name = models.CharField(max_length=70)
    creditor_iban = models.CharField(max_length=34)
    creditor_street = _address_part(70)
    creditor_postal_code = _address_part(16)
    creditor_town = _address_part(35)
    creditor_country = _address_part(2)
    remittance = models.CharField(max_length=140)
    released = models.BooleanField(
        default=False, help_text="Its batch was cancelled: what it paid is free again."
    )

    class Meta:
        ordering = ["batch", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reimbursement__isnull=False, refund__isnull=True)
                | Q(reimbursement__isnull=True, refund__isnull=False),
                name="payout_item_pays_one_thing",
                violation_error_code="payout_item_pays_one_thing",
                violation_error_message="An item pays one reimbursement or one refund.",
            ),
            models.UniqueConstraint(
                fields=["reimbursement"],
                condition=Q(released=False, reimbursement__isnull=False),
                name="payout_item_reimbursement_in_one_batch",
                violation_error_code="payout_item_reimbursement_in_one_batch",
                violation_error_message="This reimbursement is already in a payout batch.",
            ),
            models.UniqueConstraint(
                fields=["refund"],
                condition=Q(released=False, refund__isnull=False),
                name="payout_item_refund_in_one_batch",
                violation_error_code="payout_item_refund_in_one_batch",
                violation_error_message="This refund is already in a payout batch.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="payout_item_amount_positive",
                violation_error_code="payout_item_amount_positive",
                violation_error_message="A transfer must be more than zero.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.end_to_end_id}: {self.amount}"


class PayrollDeduction(TimeStampedModel):
    """What the fleet's drivers owe on their open invoices up to the end of a billing period,
    handed to the employer's payroll to deduct from their pay. Prepared, it holds its invoices
    (they are "to be settled by payroll"); recorded once the payroll has run, which settles
    them by payments of method payroll; or cancelled before that, which frees them. A fleet
    has one deduction per period that is not cancelled."""

    fleet = models.ForeignKey(
        Fleet, on_delete=models.PROTECT, related_name="payroll_deductions", editable=False
    )
    period_label = models.CharField(max_length=8, editable=False)
    period_start = models.DateTimeField(editable=False)
    period_end = models.DateTimeField(editable=False)
    status = models.CharField(
        max_length=10,
        choices=PayrollDeductionStatus.choices,
        default=PayrollDeductionStatus.PREPARED,
        editable=False,
    )
    currency = models.CharField(max_length=3, editable=False)
    driver_count = models.PositiveIntegerField(default=0, editable=False)
    item_count = models.PositiveIntegerField("invoices", default=0, editable=False)
    total = _money(default=ZERO, editable=False, help_text="To deduct, over all its invoices.")
    settled_total = _money(
        null=True,
        blank=True,
        editable=False,
        help_text="What recording settled: the total, less what was paid or credited on its "
        "invoices in between.",
    )
    prepared_at = models.DateTimeField(editable=False)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    recorded_at = models.DateTimeField(null=True, blank=True, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    idempotency_key = models.CharField(
        max_length=100,
        blank=True,
        default="",
        editable=False,
        help_text="The key the payroll run was recorded with: sent again, it changes nothing.",
    )
    request_fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-period_start", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["fleet", "period_start"],
                condition=~Q(status=PayrollDeductionStatus.CANCELLED),
                name="payroll_deduction_one_per_fleet_period",
                violation_error_code="payroll_deduction_one_per_fleet_period",
                violation_error_message="The fleet already has a payroll deduction for the period.",
            ),
            models.UniqueConstraint(
                fields=["fleet", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="payroll_deduction_idempotency_key_unique",
                violation_error_code="payroll_deduction_idempotency_key_unique",
                violation_error_message="A payroll run was recorded with this key already.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PayrollDeductionStatus.values),
                name="payroll_deduction_status_valid",
                violation_error_code="payroll_deduction_status_valid",
                violation_error_message="A deduction is prepared, recorded or cancelled.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=PayrollDeductionStatus.PREPARED)
                    & Q(recorded_at__isnull=True)
                    & Q(cancelled_at__isnull=True)
                    & Q(idempotency_key="")
                    & Q(settled_total__isnull=True)
                )
                | (
                    Q(status=PayrollDeductionStatus.RECORDED)
                    & Q(recorded_at__isnull=False)
                    & Q(cancelled_at__isnull=True)
                    & ~Q(idempotency_key="")
                    & Q(settled_total__isnull=False)
                )
                | (
                    Q(status=PayrollDeductionStatus.CANCELLED)
                    & Q(recorded_at__isnull=True)
                    & Q(cancelled_at__isnull=False)
                    & Q(idempotency_key="")
                    & Q(settled_total__isnull=True)
                ),
                name="payroll_deduction_record_matches_status",
                violation_error_code="payroll_deduction_record_matches_status",
                violation_error_message="A recorded deduction has its time, key and settled "
                "total, a cancelled one its cancellation time, and a prepared one neither.",
            ),
            models.CheckConstraint(
                condition=Q(total__gt=0),
                name="payroll_deduction_total_positive",
                violation_error_code="payroll_deduction_total_positive",
                violation_error_message="A deduction deducts more than zero.",
            ),
        ]

    def __str__(self) -> str:
        return f"Payroll deduction {self.period_label} of {self.fleet}"


class PayrollDeductionItem(models.Model):
    """One open invoice in a payroll deduction, with the amount the payroll deducts for it
    (its open balance when the deduction was prepared). While its deduction is not cancelled
    the item holds the invoice: the database lets an invoice be held by one item at a time.
    Recording settles it by `payment`, for `settled_amount`: the amount, or what was still
    open of it when the payroll run was recorded."""

    deduction = models.ForeignKey(
        PayrollDeduction,
        on_delete=models.CASCADE,
        related_name="items",
        editable=False,
        db_index=False,
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="payroll_deduction_items", editable=False
    )
    driver = models.ForeignKey(
        Driver, on_delete=models.PROTECT, related_name="payroll_deduction_items", editable=False
    )
    amount = _money(editable=False, help_text="To deduct: the invoice's open balance.")
    released = models.BooleanField(
        default=False,
        editable=False,
        help_text="Its deduction was cancelled: the invoice is free again.",
    )
    payment = models.OneToOneField(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payroll_deduction_item",
        editable=False,
    )
    settled_amount = _money(
        null=True,
        blank=True,
        editable=False,
        help_text="What recording settled on the invoice; less than the amount when it was "
        "paid or credited in between, and the difference is owed back to the driver.",
    )

    class Meta:
        ordering = ["deduction", "driver", "invoice", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(released=False),
                name="payroll_deduction_item_invoice_held_once",
                violation_error_code="payroll_deduction_item_invoice_held_once",
                violation_error_message="This invoice is already in a payroll deduction.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="payroll_deduction_item_amount_positive",
                violation_error_code="payroll_deduction_item_amount_positive",
                violation_error_message="A deduction of an invoice is more than zero.",
            ),
            models.CheckConstraint(
                condition=Q(settled_amount__isnull=True)
                | (Q(settled_amount__gte=0) & Q(settled_amount__lte=F("amount"))),
                name="payroll_deduction_item_settled_within_amount",
                violation_error_code="payroll_deduction_item_settled_within_amount",
                violation_error_message="What is settled lies between zero and the amount.",
            ),
            models.CheckConstraint(
                condition=Q(payment__isnull=True) | Q(settled_amount__gt=0),
                name="payroll_deduction_item_payment_settles_something",
                violation_error_code="payroll_deduction_item_payment_settles_something",
                violation_error_message="An item settled by a payment settled more than zero.",
            ),
        ]
        indexes = [
            models.Index(fields=["deduction", "driver"], name="payroll_item_deduction_drv_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice}: {self.amount}"
