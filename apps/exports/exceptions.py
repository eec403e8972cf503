"""Errors of the exports app, each with a stable code and the field it concerns."""

from voltop.core.errors import DomainError, NotFound


class ExportInvalid(DomainError):
    code = "exports.invalid"


class ExportFleetUnknown(NotFound):
    code = "exports.fleet_unknown"


class ExportKindUnknown(DomainError):
    code = "exports.kind_unknown"


class ExportFormatUnknown(DomainError):
    code = "exports.format_unknown"


class ExportPeriodInvalid(DomainError):
    code = "exports.period_invalid"


class ExportPeriodNotFinished(DomainError):
    code = "exports.period_not_finished"


class ExportPeriodNotBilled(DomainError):
    code = "exports.period_not_billed"


class ExportRoleRefused(DomainError):
    code = "exports.role_refused"
    status = 403


class ExportFileGone(NotFound):
    code = "exports.file_gone"


class ExportDatevSettingsMissing(DomainError):
    code = "exports.datev_settings_missing"


class ExportDatevUnencodable(DomainError):
    code = "exports.datev_unencodable"


class ExportDatevInvalid(DomainError):
    code = "exports.datev_invalid"


class VatRateAccountsMissing(ExportInvalid):
    code = "exports.vat_rate_accounts_missing"


class ExportPayrollDeductionMissing(DomainError):
    code = "exports.payroll_deduction_missing"
