"""The fleet's bookings as an accountant reads them, before any file format: each entry is one
document or money movement (an invoice, a credit note, a period's cost allocations, a
reimbursement, a payment received, an executed payout), made of bookings from one account to
another. The double-entry journal writes each booking as its debit and credit lines (the VAT
it carries on a line of its own); DATEV writes each booking as one row."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import models


class EntryKind(models.TextChoices):
    INVOICE = "invoice", "Invoice issued"
    CREDIT_NOTE = "credit_note", "Credit note issued"
    ALLOCATION = "allocation", "Business charging allocated to a cost center"
    REIMBURSEMENT = "reimbursement", "Home charging reimbursed"
    PAYMENT = "payment", "Payment received"
    PAYOUT = "payout", "SEPA payout executed"


class TaxedSide(models.TextChoices):
    """Which side of a booking the VAT inside its amount belongs to: the credit side for
    revenue (VAT payable), the debit side for costs (input VAT)."""

    DEBIT = "debit", "Debit"
    CREDIT = "credit", "Credit"


@dataclass(frozen=True)
class Booking:
    """`amount` from `debit_account` to `credit_account`, always positive. Where VAT applies,
    `amount` is gross and `vat` the part of it booked to `vat_account` on `taxed_side`;
    `tax_code` is the tax key of the taxed account (empty on an automatic account or without
    VAT)."""

    debit_account: str
    credit_account: str
    amount: Decimal
    text: str
    vat_rate: Decimal | None = None
    vat: Decimal = Decimal("0.00")
    vat_account: str = ""
    taxed_side: str = ""
    tax_code: str = ""
    cost_center: str = ""


@dataclass(frozen=True)
class Entry:
    """One document or money movement, posted on `posting_date` (in the fleet's zone), with
    the document it rests on (`document`: its number) dated `document_date`."""

    kind: str
    number: int
    posting_date: dt.date
    document_date: dt.date
    document: str
    currency: str
    bookings: tuple[Booking, ...]
