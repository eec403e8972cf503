"""Percent shares of a whole that add up to exactly 100: each share rounded down to its places,
and the hundredths still missing given one each to the largest remainders. Pure."""

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

HUNDRED = 100


def shares_by_largest_remainder(amounts: Sequence[Decimal], places: int = 2) -> list[Decimal]:
    """Each amount's percent of the amounts' sum, with `places` digits, summing to exactly 100
    (the largest remainder method, Hamilton's). Where remainders tie, the earlier amount gets
    the unit first. When the sum is zero no amount has a share: all are zero."""
    total = sum((Fraction(amount) for amount in amounts), Fraction(0))
    if total == 0:
        return [Decimal(0).scaleb(-places) for _ in amounts]
    units_in_whole = HUNDRED * 10**places
    exact = [Fraction(amount) * units_in_whole / total for amount in amounts]
    units = [math.floor(share) for share in exact]
    missing = units_in_whole - sum(units)
    by_remainder = sorted(
        range(len(amounts)), key=lambda position: (units[position] - exact[position], position)
    )
    for position in by_remainder[:missing]:
        units[position] += 1
    return [Decimal(unit).scaleb(-places) for unit in units]
