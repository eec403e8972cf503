"""Errors of the payments app, each with a stable code."""

from voltop.core.errors import Conflict, DomainError


class PeriodInvalid(DomainError):
    code = "payments.period_invalid"


class PeriodNotEnded(DomainError):
    code = "payments.period_not_ended"


class InvoiceNotDraft(Conflict):
    code = "payments.invoice_not_draft"


class InvoiceImmutable(Conflict):
    code = "payments.invoice_immutable"


class InvoiceNotIssued(Conflict):
    code = "payments.invoice_not_issued"


class CreditNoteInvalid(DomainError):
    code = "payments.credit_note_invalid"


class PaymentInvalid(DomainError):
    code = "payments.payment_invalid"


class IdempotencyKeyReused(DomainError):
    """The key names a payment with other details: the request is refused as unprocessable
    (422 on the API), like any Idempotency-Key sent again with another body."""

    code = "payments.idempotency_key_reused"


class ReimbursementNotPending(Conflict):
    code = "payments.reimbursement_not_pending"


class ReimbursementInvalid(DomainError):
    code = "payments.reimbursement_invalid"


class ReimbursementNotApproved(Conflict):
    code = "payments.reimbursement_not_approved"


class ReimbursementAlreadyPaid(Conflict):
    code = "payments.reimbursement_already_paid"


class PayrollDeductionInvalid(DomainError):
    code = "payments.payroll_deduction_invalid"


class PayrollDeductionNothingOpen(DomainError):
    code = "payments.payroll_deduction_nothing_open"


class PayrollDeductionNotPrepared(Conflict):
    code = "payments.payroll_deduction_not_prepared"


class PayrollDeductionRecordedAlready(Conflict):
    code = "payments.payroll_deduction_recorded_already"
