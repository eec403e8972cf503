"""Enumerations of the payments app."""

from django.db import models


class BillingRunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


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


class PaymentStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    REVERSED = "reversed", "Reversed"
