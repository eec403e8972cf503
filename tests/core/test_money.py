from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voltop.core.money import (
    currency_minor_unit,
    is_known_currency,
    kwh_of_wh,
    round_line_quotient,
    round_money,
    round_unit_price,
    vat_amounts_of_excl_incl,
    wh_of_kwh,
)


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


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (Decimal("0.078125"), Decimal("0.07813")),
        (Decimal("0.078115"), Decimal("0.07812")),
        (Decimal("0.0781249"), Decimal("0.07812")),
        (Decimal("2"), Decimal("2.00000")),
    ],
)
def test_a_unit_price_rounds_half_up_to_five_places(price, expected):
    assert round_unit_price(price) == expected
    assert round_unit_price(price).as_tuple().exponent == -5


@pytest.mark.parametrize(
    ("kwh", "expected"),
    [
        (Decimal("1.0025"), 1003),
        (Decimal("1.0035"), 1004),
        (Decimal("0.0005"), 1),
        (Decimal("0.00049"), 0),
        (Decimal("18.25"), 18_250),
    ],
)
def test_kwh_become_whole_wh_rounded_half_up(kwh, expected):
    assert wh_of_kwh(kwh) == expected


def test_wh_become_kwh_with_three_places_exactly():
    assert [str(kwh_of_wh(wh)) for wh in (20_500, 0, 1, 1_234_567)] == [
        "20.500",
        "0.000",
        "0.001",
        "1234.567",
    ]


@pytest.mark.parametrize("convert", [round_unit_price, wh_of_kwh])
def test_unit_prices_and_energy_refuse_a_float(convert):
    with pytest.raises(TypeError, match="Decimal"):
        convert(0.5)


def test_an_amount_stated_excl_and_incl_vat_rounds_the_net_and_the_vat_once_each():
    assert vat_amounts_of_excl_incl(Decimal("0.0049"), Decimal("0.005"), "EUR") == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert vat_amounts_of_excl_incl(Decimal("3.325"), Decimal("4.02"), "EUR") == (
        Decimal("3.33"),
        Decimal("0.70"),
        Decimal("4.03"),
    )
    assert vat_amounts_of_excl_incl(Decimal("1005"), Decimal("1105.5"), "JPY") == (
        Decimal("1005"),
        Decimal("101"),
        Decimal("1106"),
    )


cents = st.decimals(min_value=0, max_value=10**6, places=2)
sub_cents = st.decimals(min_value=0, max_value=10**6, places=4)


@given(sub_cents, sub_cents)
def test_the_net_and_the_vat_are_each_within_half_a_cent_and_make_the_gross(excl, extra):
    amounts = vat_amounts_of_excl_incl(excl, excl + extra, "EUR")

    assert amounts.gross == amounts.net + amounts.vat
    assert abs(amounts.net - excl) <= Decimal("0.005")
    assert abs(amounts.vat - extra) <= Decimal("0.005")
    assert amounts.vat >= 0


@given(cents, cents)
def test_amounts_stated_in_cents_are_kept_as_stated(excl, extra):
    assert vat_amounts_of_excl_incl(excl, excl + extra, "EUR") == (excl, extra, excl + extra)


@pytest.mark.parametrize(
    ("dividend", "divisor", "line"),
    [
        (Decimal("1.955") * 8748, 3600, Decimal("4.7507")),
        (Decimal("17101.4340"), 3600, Decimal("4.7504")),
        (Decimal("0.5"), 10000, Decimal("0.0001")),
        (Decimal("0.49999"), 10000, Decimal("0.0000")),
        (Decimal("1"), 3, Decimal("0.3333")),
        (Decimal("2"), 3, Decimal("0.6667")),
        (Decimal("0"), 3600, Decimal("0.0000")),
    ],
)
def test_a_line_rounds_the_exact_quotient_half_up_to_four_places(dividend, divisor, line):
    assert round_line_quotient(dividend, divisor) == line


@given(
    dividend=st.decimals(min_value=0, max_value=10**9, places=5),
    divisor=st.sampled_from([1, 1000, 3600, 100_000, 360_000]),
)
def test_a_line_is_the_exact_quotient_rounded_half_up(dividend, divisor):
    exact = Fraction(dividend) / divisor
    rounded = round_line_quotient(dividend, divisor)

    assert abs(Fraction(rounded) - exact) <= Fraction(1, 20000)
    assert Fraction(rounded) - exact != Fraction(-1, 20000)
