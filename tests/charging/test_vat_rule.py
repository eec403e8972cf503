"""The VAT rule: where billing puts a session and each party's amount of it."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.charging.choices import LocationKind, SessionPurpose
from apps.charging.vat_rule import (
    BilledAs,
    billed_as,
    charged_to_driver,
    fleet_cost,
    reimbursed_to_driver,
)

D = Decimal


@pytest.mark.parametrize(
    ("location_kind", "purpose", "expected"),
    [
        (LocationKind.DEPOT, SessionPurpose.PRIVATE, BilledAs.INVOICE_LINE),
        (LocationKind.PUBLIC, SessionPurpose.PRIVATE, BilledAs.INVOICE_LINE),
        (LocationKind.DEPOT, SessionPurpose.BUSINESS, BilledAs.COST_ALLOCATION),
        (LocationKind.PUBLIC, SessionPurpose.BUSINESS, BilledAs.COST_ALLOCATION),
        (LocationKind.HOME, SessionPurpose.BUSINESS, BilledAs.REIMBURSEMENT),
        (LocationKind.HOME, SessionPurpose.PRIVATE, BilledAs.NOT_BILLED),
    ],
)
def test_where_billing_puts_a_session_of_each_kind_and_purpose(location_kind, purpose, expected):
    assert billed_as(location_kind=location_kind, purpose=purpose) == expected


def test_a_private_session_priced_at_21_percent_is_charged_at_the_fleets_9_percent():
    charged = charged_to_driver(net=D("10.00"), fleet_vat_rate=D("9.00"), currency="EUR")

    assert charged == (D("10.00"), D("0.90"), D("10.90"))


def test_a_business_sessions_cost_is_its_net_with_the_sessions_vat_as_input_vat():
    assert fleet_cost(net=D("10.00"), session_vat=D("2.10"), currency="EUR") == (
        D("10.00"),
        D("2.10"),
        D("12.10"),
    )


def test_business_charging_at_home_is_refunded_at_its_gross():
    assert reimbursed_to_driver(gross=D("7.50"), currency="EUR") == D("7.50")


@given(
    st.decimals(min_value=0, max_value=10**6, places=2),
    st.decimals(min_value=0, max_value=100, places=2),
)
def test_charged_to_the_driver_is_the_net_plus_the_fleets_vat_on_it(net, rate):
    charged = charged_to_driver(net=net, fleet_vat_rate=rate, currency="EUR")

    assert charged.net == net
    assert charged.gross == charged.net + charged.vat
    assert abs(charged.vat - net * rate / 100) <= D("0.005")
