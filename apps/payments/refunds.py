"""Refund arithmetic: what an invoice owes back to its driver, and how the driver's owed refunds
are set off against a new invoice, whole or in part. Pure: amounts in, frozen dataclasses out."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0.00")


def refund_owed_now(*, overpaid: Decimal, refunded: Decimal) -> Decimal:
    """What becomes a new refund on an invoice: what was paid beyond what it still asks
    (`overpaid`, i.e. paid - (gross - credited) when above zero) less the refunds already made
    on it, whatever became of them; zero when those account for it all."""
    return max(overpaid - refunded, ZERO)


@dataclass(frozen=True)
class OwedRefund:
    """An owed refund as the set-off sees it: its id and amount."""

    refund_id: int
    amount: Decimal


@dataclass(frozen=True)
class SetOff:
    """One refund set off against the new invoice: `amount` of it is paid on the invoice, and
    `remainder` (zero when the refund is set off whole) stays owed to the driver."""

    refund_id: int
    amount: Decimal
    remainder: Decimal


def set_offs(*, due: Decimal, refunds: Iterable[OwedRefund]) -> tuple[SetOff, ...]:
    """Set `refunds` off, in the order given (oldest first), against an invoice that asks
    `due`: each whole while it fits, the first that does not fit in part (its remainder stays
    owed), and none once nothing is left to pay. What is set off never exceeds `due`, and each
    refund's amount is exactly what is set off of it plus its remainder."""
    left = max(due, ZERO)
    planned = []
    for refund in refunds:
        if left <= 0:
            break
        amount = min(refund.amount, left)
        planned.append(SetOff(refund.refund_id, amount, refund.amount - amount))
        left -= amount
    return tuple(planned)
