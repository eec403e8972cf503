"""Money and energy arithmetic: the one place where amounts are rounded (half-up, money to a
currency's minor unit, pricing lines to four places, unit prices to five places), VAT is
computed, and energy is converted between Wh and kWh."""

from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from typing import NamedTuple

from babel.numbers import get_currency_precision, list_currencies

UNIT_PRICE_PLACES = 5
LINE_PLACES = 4
HUNDRED = Decimal(100)
KWH_PLACES = 3


@cache
def currency_minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency`, e.g. Decimal("0.01") for EUR, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round `amount` half-up to the minor unit of `currency`."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    return amount.quantize(currency_minor_unit(currency), rounding=ROUND_HALF_UP)


def round_line_quotient(dividend: Decimal, divisor: int) -> Decimal:
    """A pricing line's amount, dividend ÷ divisor (both ≥ 0: price times volume over the volume per
    priced unit), rounded half-up to four places from the exact quotient: recurring digits are
    never cut before the rounding sees them, so an exact tie always rounds up."""
    numerator, denominator = dividend.as_integer_ratio()
    denominator *= divisor
    rounded = (2 * 10**LINE_PLACES * numerator + denominator) // (2 * denominator)
    return Decimal(rounded).scaleb(-LINE_PLACES)


def round_unit_price(price: Decimal) -> Decimal:
    """Round a price per unit (per kWh, per hour) half-up to five places."""
    if not isinstance(price, Decimal):
        raise TypeError(f"a unit price must be a Decimal, got {type(price).__name__}")
    return price.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES), rounding=ROUND_HALF_UP)


def kwh_of_wh(energy_wh: int) -> Decimal:
    """Whole Wh as kWh with three places, exactly: 20500 → Decimal("20.500")."""
    return Decimal(int(energy_wh)).scaleb(-KWH_PLACES)


def wh_of_kwh(energy_kwh: Decimal) -> int:
    """kWh as whole Wh, rounded half-up: 1.0025 kWh → 1003 Wh."""
    if not isinstance(energy_kwh, Decimal):
        raise TypeError(f"energy must be a Decimal, got {type(energy_kwh).__name__}")
    return int(energy_kwh.scaleb(KWH_PLACES).to_integral_value(rounding=ROUND_HALF_UP))


def vat_of(net: Decimal, rate: Decimal, currency: str) -> Decimal:
    """VAT at `rate` percent on `net`, rounded half-up to the currency's minor unit."""
    return round_money(net * rate / HUNDRED, currency)


class VatAmounts(NamedTuple):
    """An amount as net, VAT and gross, each to the minor unit; the gross is net plus VAT."""

    net: Decimal
    vat: Decimal
    gross: Decimal


def vat_amounts_of_net(net: Decimal, rate: Decimal, currency: str) -> VatAmounts:
    """`net` rounded, the VAT at `rate` percent on that, and their sum."""
    net = round_money(net, currency)
    vat = vat_of(net, rate, currency)
    return VatAmounts(net=net, vat=vat, gross=net + vat)


def vat_amounts_of_excl_incl(excl_vat: Decimal, incl_vat: Decimal, currency: str) -> VatAmounts:
    """An amount stated excl. and incl. VAT (as a provider's CDR states it): the net and the
    VAT (the difference of the two as stated) are each rounded once and the gross is their
    sum, so rounding never turns a sub-cent difference into VAT on a net of nothing."""
    net = round_money(excl_vat, currency)
    vat = round_money(incl_vat - excl_vat, currency)
    return VatAmounts(net=net, vat=vat, gross=net + vat)


@lru_cache(maxsize=1)
def known_currencies() -> frozenset[str]:
    """ISO 4217 codes known to the CLDR data Voltop ships with."""
    return frozenset(list_currencies())


def is_known_currency(code: str) -> bool:
    return code in known_currencies()
