"""Enumerations of the exports app."""

from django.db import models


class ExportKind(models.TextChoices):
    SESSIONS = "sessions", "Charging sessions"
    INVOICES = "invoices", "Invoices"
    INVOICE_LINES = "invoice-lines", "Invoice lines"
    CREDIT_NOTES = "credit-notes", "Credit notes"
    CREDIT_NOTE_LINES = "credit-note-lines", "Credit note lines"
    VAT_SUMMARY = "vat-summary", "VAT summary per rate"
    COST_ALLOCATION = "cost-allocation", "Cost-center allocation"
    REIMBURSEMENTS = "reimbursements", "Reimbursements"
    REIMBURSEMENT_LINES = "reimbursement-lines", "Reimbursement lines"
    PAYMENTS = "payments", "Payments"
    RECONCILIATION = "reconciliation", "Reconciliation report"
    JOURNAL = "journal", "Accounting journal (double entry)"
    DATEV = "datev", "DATEV Buchungsstapel (EXTF)"
    PAYROLL_DEDUCTIONS = "payroll-deductions", "Payroll deductions"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    OCPI = "ocpi", "OCPI 2.2.1 CDR JSON"
    DATEV = "datev", "DATEV EXTF 7.0 (format version 13)"


class ExportJobStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
