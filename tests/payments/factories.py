"""Factories of the payments rows the payout tests need: billing runs, approved
reimbursements, issued invoices and the refunds owed on them."""

import datetime as dt
from decimal import Decimal

import factory

from apps.fleets.choices import BillingPeriodKind
from apps.payments.choices import (
    BillingRunStatus,
    InvoiceStatus,
    RefundReason,
    ReimbursementStatus,
)
from apps.payments.models import BillingRun, Invoice, Refund, Reimbursement
from tests.factories import DriverFactory

PERIOD_START = dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC)
PERIOD_END = dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)
DECIDED_AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class BillingRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingRun

    fleet = factory.SubFactory("tests.factories.FleetFactory")
    period_kind = BillingPeriodKind.MONTHLY
    period_label = factory.Sequence(lambda n: f"{2000 + n // 12:04d}-{n % 12 + 1:02d}")
    period_start = factory.Sequence(lambda n: PERIOD_START - dt.timedelta(days=31 * n))
    period_end = factory.LazyAttribute(lambda run: run.period_start + dt.timedelta(days=30))
    status = BillingRunStatus.COMPLETED
    currency = factory.SelfAttribute("fleet.currency")


class ReimbursementFactory(factory.django.DjangoModelFactory):
    """An approved reimbursement, ready to pay out."""

    class Meta:
        model = Reimbursement

    driver = factory.SubFactory(DriverFactory, account_holder="Sanne de Vries")
    fleet = factory.SelfAttribute("driver.fleet")
    billing_run = factory.SubFactory(BillingRunFactory, fleet=factory.SelfAttribute("..fleet"))
    period_start = PERIOD_START
    period_end = PERIOD_END
    currency = factory.SelfAttribute("fleet.currency")
    energy_wh = 40_000
    amount = Decimal("10.00")
    status = ReimbursementStatus.APPROVED
    decided_at = DECIDED_AT


class IssuedInvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    driver = factory.SubFactory(DriverFactory, account_holder="Sanne de Vries")
    fleet = factory.SelfAttribute("driver.fleet")
    currency = factory.SelfAttribute("fleet.currency")
    period_start = PERIOD_START
    period_end = PERIOD_END
    number = factory.Sequence(lambda n: f"VT-2026-{n + 1:06d}")
    status = InvoiceStatus.PAID
    net_total = Decimal("10.00")
    vat_total = Decimal("2.10")
    gross_total = Decimal("12.10")
    issued_at = DECIDED_AT
    due_at = DECIDED_AT + dt.timedelta(days=14)
    paid_at = DECIDED_AT + dt.timedelta(days=2)


class RefundFactory(factory.django.DjangoModelFactory):
    """A refund owed to the driver on an overpaid invoice."""

    class Meta:
        model = Refund

    invoice = factory.SubFactory(IssuedInvoiceFactory)
    driver = factory.SelfAttribute("invoice.driver")
    fleet = factory.SelfAttribute("invoice.fleet")
    reason = RefundReason.OVERPAID
    currency = factory.SelfAttribute("fleet.currency")
    amount = Decimal("2.50")
