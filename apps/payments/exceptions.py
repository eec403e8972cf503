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


class ReimbursementInPayoutBatch(Conflict):
    code = "payments.reimbursement_in_payout_batch"


class EpcTextInvalid(DomainError):
    """A text for a SEPA file holds a character outside the EPC set that has no transliteration
    into it, or is too long for its element once transliterated."""

    code = "payments.epc_text_invalid"


class PayoutSettingsMissing(DomainError):
    code = "payments.payout_settings_missing"


class PayoutAccountInvalid(DomainError):
    code = "payments.payout_account_invalid"


class PayoutExecutionDateInvalid(DomainError):
    code = "payments.payout_execution_date_invalid"


class PayoutNothingToPay(DomainError):
    code = "payments.payout_nothing_to_pay"


class PayoutAlreadyInBatch(Conflict):
    code = "payments.payout_already_in_batch"


class PayoutBatchCancelled(Conflict):
    code = "payments.payout_batch_cancelled"


class PayoutBatchExecuted(Conflict):
    code = "payments.payout_batch_executed"


class PayoutFileInvalid(DomainError):
    """The SEPA file does not validate against the pain.001.001.09 schema: a bug, never sent."""

    code = "payments.payout_file_invalid"


class PayoutCurrencyNotEuro(DomainError):
    code = "payments.payout_currency_not_euro"


class RefundNotOwed(Conflict):
    code = "payments.refund_not_owed"


class PayrollDeductionInvalid(DomainError):
    code = "payments.payroll_deduction_invalid"


class PayrollDeductionNothingOpen(DomainError):
    code = "payments.payroll_deduction_nothing_open"


class PayrollDeductionNotPrepared(Conflict):
    code = "payments.payroll_deduction_not_prepared"


class PayrollDeductionRecordedAlready(Conflict):
    code = "payments.payroll_deduction_recorded_already"
