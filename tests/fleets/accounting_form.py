"""The fleet admin page's accounting and DATEV fields and the management form of its accounts
per VAT rate, as a browser posts them when nothing there is changed."""

from apps.fleets.models import Fleet


def accounting_form_fields(fleet: Fleet | None = None, **changes) -> dict:
    """The accounting fields as `fleet` has them (the defaults without a fleet), and no row of
    accounts per VAT rate on the page."""
    fleet = fleet or Fleet()
    fields = {
        "account_length": str(fleet.account_length),
        "fiscal_year_start_month": str(fleet.fiscal_year_start_month),
        "receivables_account": fleet.receivables_account,
        "bank_account": fleet.bank_account,
        "charging_cost_account": fleet.charging_cost_account,
        "charging_payable_account": fleet.charging_payable_account,
        "reimbursement_payable_account": fleet.reimbursement_payable_account,
        "payroll_account": fleet.payroll_account,
        "refund_method": fleet.refund_method,
        "datev_consultant_number": fleet.datev_consultant_number or "",
        "datev_client_number": fleet.datev_client_number or "",
        "vat_rate_accounts-TOTAL_FORMS": "0",
        "vat_rate_accounts-INITIAL_FORMS": "0",
    }
    return {**fields, **changes}
