"""Enumerations of the payments app."""

from django.db import models


class BillingRunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class LeftOutReason(models.TextChoices):
    """Why a billing run did not bill a session of its period: the session's own state, read
    where billing reads it (payments.selectors)."""

    STILL_CHARGING = "still_charging", "Still charging: billed in the period it ends"
    INVALID = "invalid", "Invalid"
    NO_DRIVER = "no_driver", "No driver: started with a tag unknown to the fleet"
    HOME_PENDING = "home_pending", "Home claim awaiting approval"
    HOME_REJECTED = "home_rejected", "Home claim rejected"
    HOME_PRIVATE = "home_private", "Private home charging: the driver's own"
    HOME_NOT_CLAIMED = "home_not_claimed", "Home charging with no claim to approve"
    NO_TARIFF = "no_tariff", "No price: no tariff applies"
    TARIFF_CURRENCY = "tariff_currency", "No price: tariff in another currency than the fleet's"
    COST_PENDING = "cost_pending", "No price: provider's cost pending"
    NOT_PRICED_YET = "not_priced_yet", "No price yet: the pricing sweep prices it"
    OTHER_CURRENCY = "other_currency", "Priced in another currency than the fleet's"
    NEXT_RUN = "next_run", "Priced after its driver was billed: the next run bills it"


class BillingUnitStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    PAID = "paid", "Paid"
    VOID = "void", "Void (fully credited)"


class DocumentSeries(models.TextChoices):
    INVOICE = "invoice", "Invoices"
    CREDIT_NOTE = "credit_note", "Credit notes"


class ReimbursementStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    PAID = "paid", "Paid"
    REJECTED = "rejected", "Rejected"


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    DIRECT_DEBIT = "direct_debit", "SEPA direct debit"
    CARD = "card", "Card"
    PAYROLL = "payroll", "Payroll deduction"
    SET_OFF = "set_off", "Set off against a refund"


class PaymentStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    REVERSED = "reversed", "Reversed"


class RefundReason(models.TextChoices):
    OVERPAID = "overpaid", "Overpaid: more was paid than the invoice asked"
    CREDITED = "credited", "Credited after it was paid"


class RefundStatus(models.TextChoices):
    OWED = "owed", "Owed to the driver"
    SET_OFF = "set_off", "Set off against a later invoice"
    PAID = "paid", "Paid out"


class PayoutBatchStatus(models.TextChoices):
    CREATED = "created", "Created: file for the bank"
    EXECUTED = "executed", "Executed: the bank paid it"
    CANCELLED = "cancelled", "Cancelled"


class PayrollDeductionStatus(models.TextChoices):
    PREPARED = "prepared", "Prepared: with the payroll, invoices held"
    RECORDED = "recorded", "Recorded: the payroll deducted it, invoices settled"
    CANCELLED = "cancelled", "Cancelled: invoices freed"
