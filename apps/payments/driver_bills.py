"""What billing makes of one driver's sessions of a period, by the VAT rule of
apps.charging.vat_rule: the invoice's lines and totals, the cost allocations, the
reimbursement's lines, and the statement's figures. Pure: the billing run writes what this
computes."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Protocol

from apps.charging.choices import PriceBasis
from apps.charging.vat_rule import (
    BilledAs,
    billed_as,
    charged_to_driver,
    fleet_cost,
    reimbursed_to_driver,
)
from apps.payments.totals import DocumentTotals, document_totals
from voltop.core.money import VatAmounts

ZERO = Decimal("0.00")
ENERGY = "ENERGY"


class PricedSession(Protocol):
    location_kind: str
    purpose: str
    price_excl_vat: Decimal
    price_vat: Decimal
    price_incl_vat: Decimal


@dataclass(frozen=True)
class ChargedLine:
    """A private session on the driver's invoice: its net at the fleet's VAT rate, and what
    that is for the session alone (the driver's "charged to you")."""

    session: PricedSession
    vat_rate: Decimal
    charged: VatAmounts


@dataclass(frozen=True)
class AllocatedCost:
    """A business session's cost to the fleet: the net allocated, the input VAT beside it."""

    session: PricedSession
    cost: VatAmounts


@dataclass(frozen=True)
class RefundLine:
    """Business charging at home: the gross the fleet refunds, without VAT."""

    session: PricedSession
    amount: Decimal


@dataclass(frozen=True)
class DriverBill:
    currency: str
    invoice_lines: tuple[ChargedLine, ...]
    allocations: tuple[AllocatedCost, ...]
    refunds: tuple[RefundLine, ...]

    @cached_property
    def invoice_totals(self) -> DocumentTotals:
        """VAT per rate over the lines' nets (EN 16931), as the invoice states it."""
        return document_totals(
            ((line.charged.net, line.vat_rate) for line in self.invoice_lines), self.currency
        )

    @property
    def private_owed(self) -> Decimal:
        """What the driver owes: the invoice's gross."""
        return self.invoice_totals.gross if self.invoice_lines else ZERO

    @property
    def business_cost(self) -> Decimal:
        """The fleet's cost of business charging, excl. VAT."""
        return sum((allocation.cost.net for allocation in self.allocations), ZERO)

    @property
    def reimbursement_due(self) -> Decimal:
        return sum((refund.amount for refund in self.refunds), ZERO)

    @property
    def net_to_driver(self) -> Decimal:
        """What the fleet pays the driver once set off; below zero the driver pays."""
        return self.reimbursement_due - self.private_owed


def driver_bill(
    sessions: Iterable[PricedSession], *, fleet_vat_rate: Decimal, currency: str
) -> DriverBill:
    """The bill of a driver's billable sessions of a period, in the order given."""
    invoice_lines, allocations, refunds = [], [], []
    for session in sessions:
        where = billed_as(location_kind=session.location_kind, purpose=session.purpose)
        if where == BilledAs.INVOICE_LINE:
            charged = charged_to_driver(
                net=session.price_excl_vat, fleet_vat_rate=fleet_vat_rate, currency=currency
            )
            invoice_lines.append(ChargedLine(session, fleet_vat_rate, charged))
        elif where == BilledAs.COST_ALLOCATION:
            cost = fleet_cost(
                net=session.price_excl_vat, session_vat=session.price_vat, currency=currency
            )
            allocations.append(AllocatedCost(session, cost))
        elif where == BilledAs.REIMBURSEMENT:
            amount = reimbursed_to_driver(gross=session.price_incl_vat, currency=currency)
            refunds.append(RefundLine(session, amount))
    return DriverBill(currency, tuple(invoice_lines), tuple(allocations), tuple(refunds))


def home_rate_of_breakdown(*, price_basis: str, breakdown: dict | None) -> Decimal | None:
    """The rate per kWh that priced a home session, read from the price breakdown pricing
    stored with it (apps.charging.pricing.PriceBreakdown.as_dict): the unit price of its energy
    lines. None when the session was not priced at a home rate, or its breakdown has no energy
    line (no energy charged) or energy lines at more than one price."""
    if price_basis != PriceBasis.HOME_RATE or not breakdown:
        return None
    prices = {
        Decimal(line["unit_price"])
        for period in breakdown.get("periods", ())
        for line in period.get("lines", ())
        if line.get("dimension") == ENERGY
    }
    return prices.pop() if len(prices) == 1 else None
