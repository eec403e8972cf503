"""Money arithmetic: the one place where amounts are rounded to a currency's minor unit."""

from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache

from babel.numbers import get_currency_precision, list_currencies

UNIT_PRICE_PLACES = 5


@cache
def currency_minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency`, e.g. Decimal("0.01") for EUR, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round `amount` half-up to the minor unit of `currency`."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    return amount.quantize(currency_minor_unit(currency), rounding=ROUND_HALF_UP)


@lru_cache(maxsize=1)
def known_currencies() -> frozenset[str]:
    """ISO 4217 codes known to the CLDR data Voltop ships with."""
    return frozenset(list_currencies())


def is_known_currency(code: str) -> bool:
    return code in known_currencies()
