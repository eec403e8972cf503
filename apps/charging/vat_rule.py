"""The one VAT rule: what billing makes of a charging session and what each party's amount of
it is. Billing, the API and the documents all take a session's amounts from here. Pure.

- A private session at a depot or a public charger is a supply from the fleet to its employee:
  the driver is charged its net (the session's cost excl. VAT) plus VAT at the fleet's rate.
  The VAT the charge point operator charged the fleet (a foreign rate for a public session
  abroad) is the fleet's input VAT: it stays on the session and is never passed on as such.
- A business session at a depot or a public charger is the fleet's own cost: allocated at its
  net, with the session's VAT beside it as the fleet's input VAT.
- Business charging at home is a refund of the employee's own cost: a gross amount without
  VAT, since the employee is not a taxable person. Private charging at home is the driver's
  own and is not billed.
"""

import enum
from decimal import Decimal

from apps.charging.choices import HomeApproval, LocationKind, SessionPurpose
from voltop.core.money import VatAmounts, round_money, vat_amounts_of_net


class BilledAs(enum.StrEnum):
    """Where billing puts a session, and so whose amount it is."""

    INVOICE_LINE = "invoice_line"
    COST_ALLOCATION = "cost_allocation"
    REIMBURSEMENT = "reimbursement"
    NOT_BILLED = "not_billed"


def billed_as(*, location_kind: str, purpose: str) -> BilledAs:
    """Where billing puts a session of this kind and purpose (whether it is billable yet, e.g.
    approved when at home, is the billing run's question)."""
    if location_kind == LocationKind.HOME:
        if purpose == SessionPurpose.BUSINESS:
            return BilledAs.REIMBURSEMENT
        return BilledAs.NOT_BILLED
    if purpose == SessionPurpose.PRIVATE:
        return BilledAs.INVOICE_LINE
    return BilledAs.COST_ALLOCATION


def charged_to_driver(*, net: Decimal, fleet_vat_rate: Decimal, currency: str) -> VatAmounts:
    """What the driver is charged for a private session: its net plus VAT at the fleet's rate,
    the session alone. An invoice charges the same net at the same rate on the session's line;
    its VAT is computed once per rate over all its lines, so its total can differ from the sum
    of its sessions' amounts by rounding, at most half a minor unit per session."""
    return vat_amounts_of_net(net, fleet_vat_rate, currency)


def fleet_cost(*, net: Decimal, session_vat: Decimal, currency: str) -> VatAmounts:
    """A business session's cost to the fleet: its net, allocated, and the VAT the session was
    charged, the fleet's input VAT."""
    net, vat = round_money(net, currency), round_money(session_vat, currency)
    return VatAmounts(net=net, vat=vat, gross=net + vat)


def reimbursed_to_driver(*, gross: Decimal, currency: str) -> Decimal:
    """What the fleet refunds the driver for business charging at home: the session's gross,
    with no VAT of its own."""
    return round_money(gross, currency)


def session_charged_to_driver(
    *,
    location_kind: str,
    purpose: str,
    net: Decimal | None,
    fleet_vat_rate: Decimal,
    currency: str,
) -> VatAmounts | None:
    """What the driver is charged for this session, or None when they are charged nothing for
    it: business charging (the fleet's cost), charging at home (refunded or their own), or a
    session not priced yet."""
    if net is None or billed_as(location_kind=location_kind, purpose=purpose) != (
        BilledAs.INVOICE_LINE
    ):
        return None
    return charged_to_driver(net=net, fleet_vat_rate=fleet_vat_rate, currency=currency)


def session_reimbursed_to_driver(
    *,
    location_kind: str,
    purpose: str,
    home_approval: str,
    gross: Decimal | None,
    currency: str,
) -> Decimal | None:
    """What the fleet refunds the driver for this session, once a manager approves it if that
    is still pending; None for a session not refunded: any but business charging at home, a
    rejected one, or one not priced yet."""
    if (
        gross is None
        or home_approval == HomeApproval.REJECTED
        or billed_as(location_kind=location_kind, purpose=purpose) != BilledAs.REIMBURSEMENT
    ):
        return None
    return reimbursed_to_driver(gross=gross, currency=currency)
