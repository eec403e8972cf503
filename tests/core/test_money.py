from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voltop.core.money import currency_minor_unit, is_known_currency, round_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("12.345"), "EUR", Decimal("12.35")),
        (Decimal("12.344"), "EUR", Decimal("12.34")),
        (Decimal("-0.005"), "EUR", Decimal("-0.01")),
        (Decimal("1234.5"), "JPY", Decimal("1235")),
        (Decimal("1.0005"), "KWD", Decimal("1.001")),
    ],
)
def test_round_money_rounds_half_up_to_the_currency_minor_unit(amount, currency, expected):
    assert round_money(amount, currency) == expected
    assert round_money(amount, currency).as_tuple().exponent == expected.as_tuple().exponent


def test_round_money_refuses_a_float():
    with pytest.raises(TypeError, match="Decimal"):
        round_money(12.5, "EUR")


def test_minor_units_and_known_currencies():
    assert currency_minor_unit("EUR") == Decimal("0.01")
    assert currency_minor_unit("JPY") == Decimal("1")
    assert is_known_currency("SEK")
    assert not is_known_currency("EUX")


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6))
def test_rounding_moves_an_amount_by_at_most_half_a_cent(amount):
    rounded = round_money(amount, "EUR")
    assert abs(rounded - amount) <= Decimal("0.005")
    assert round_money(rounded, "EUR") == rounded
