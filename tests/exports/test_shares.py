"""Percent shares by largest remainder: exact to the hundredth, summing to 100.00."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from apps.exports.shares import shares_by_largest_remainder


def test_shares_that_divide_evenly_are_exact():
    assert shares_by_largest_remainder([Decimal("1.50"), Decimal("4.50")]) == [
        Decimal("25.00"),
        Decimal("75.00"),
    ]


def test_the_missing_hundredth_goes_to_the_largest_remainder():
    # 2/7 is 28.571…% and 5/7 is 71.428…%: rounded down they make 99.99, and the second's
    # remainder (0.857… of a hundredth) is larger than the first's (0.142…).
    assert shares_by_largest_remainder([Decimal(2), Decimal(5)]) == [
        Decimal("28.57"),
        Decimal("71.43"),
    ]


def test_tied_remainders_go_to_the_earlier_amounts_first():
    assert shares_by_largest_remainder([Decimal(1)] * 3) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert shares_by_largest_remainder([Decimal(1)] * 6) == [
        Decimal("16.67"),
        Decimal("16.67"),
        Decimal("16.67"),
        Decimal("16.67"),
        Decimal("16.66"),
        Decimal("16.66"),
    ]


def test_all_zero_amounts_have_no_share():
    shares = shares_by_largest_remainder([Decimal("0.00"), Decimal("0.00")])

    assert shares == [Decimal("0.00"), Decimal("0.00")]
    assert [str(share) for share in shares] == ["0.00", "0.00"]


def test_no_amounts_have_no_shares():
    assert shares_by_largest_remainder([]) == []


def test_one_amount_is_the_whole():
    assert shares_by_largest_remainder([Decimal("0.01")]) == [Decimal("100.00")]


def test_places_other_than_two():
    assert shares_by_largest_remainder([Decimal(1)] * 3, places=0) == [
        Decimal(34),
        Decimal(33),
        Decimal(33),
    ]
    assert shares_by_largest_remainder([Decimal(1)] * 3, places=3) == [
        Decimal("33.334"),
        Decimal("33.333"),
        Decimal("33.333"),
    ]


amounts = st.lists(
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=30,
)


@given(amounts)
def test_shares_always_sum_to_exactly_100_when_the_total_is_not_zero(values):
    shares = shares_by_largest_remainder(values)

    if sum(values) == 0:
        assert shares == [Decimal("0.00")] * len(values)
        return
    assert sum(shares) == Decimal("100.00")
    assert all(share == share.quantize(Decimal("0.01")) for share in shares)


@given(amounts)
def test_each_share_is_its_exact_percent_rounded_down_or_up_by_one_hundredth(values):
    total = sum(values)
    shares = shares_by_largest_remainder(values)

    if total == 0:
        return
    for value, share in zip(values, shares, strict=True):
        exact = value * 100 / total
        assert share - Decimal("0.01") < exact < share + Decimal("0.01") or share == exact
