"""The ledger accounts a fleet starts with (DATEV's SKR03 chart of accounts) and the rule that
an account number has at most the fleet's account length of digits. Pure."""

from decimal import Decimal
from typing import NamedTuple

FLEET_ACCOUNT_FIELDS = (
    "receivables_account",
    "bank_account",
    "charging_cost_account",
    "charging_payable_account",
    "reimbursement_payable_account",
    "payroll_account",
)
VAT_RATE_ACCOUNT_FIELDS = ("revenue_account", "vat_account", "input_vat_account")


class RateAccounts(NamedTuple):
    """The accounts and tax codes of one VAT rate, as VatRateAccounts stores them."""

    vat_rate: Decimal
    revenue_account: str
    revenue_tax_code: str
    vat_account: str
    input_vat_account: str
    input_tax_code: str


# SKR03: 8400/8300 are automatic revenue accounts (their VAT is derived by DATEV, so they take
# no tax key); 1776/1771 VAT payable at 19 %/7 %; 1576/1571 input VAT at 19 %/7 %, reached from
# the charging cost account 4530 by the tax keys 9 and 8; 8110 other tax-free domestic revenue.
SKR03_RATE_ACCOUNTS: tuple[RateAccounts, ...] = (
    RateAccounts(Decimal("19.00"), "8400", "", "1776", "1576", "9"),
    RateAccounts(Decimal("7.00"), "8300", "", "1771", "1571", "8"),
    RateAccounts(Decimal("0.00"), "8110", "", "", "", ""),
)


def account_too_long_message(account: str, length: int) -> str | None:
    """Why `account` does not fit an account length of `length` digits, or None."""
    if account and len(account) > length:
        return (
            f"{account} has {len(account)} digits; the fleet's accounts have at most "
            f"{length} (its account length)."
        )
    return None


def accounts_too_long(accounts: dict[str, str], length: int) -> dict[str, str]:
    """Of `accounts` (field name → account number), those longer than `length` digits, each
    with the message that says so."""
    found = {}
    for name, account in accounts.items():
        message = account_too_long_message(account, length)
        if message:
            found[name] = message
    return found
