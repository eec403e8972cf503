"""A driver's bill of a period, by the VAT rule: the invoice lines charge what the driver is
shown as charged, the allocations keep the session's VAT as input VAT, home charging is
refunded at its gross, and the statement's figures are those of the documents."""

from decimal import Decimal
from typing import NamedTuple

from hypothesis import given
from hypothesis import strategies as st

from apps.charging.choices import LocationKind, SessionPurpose
from apps.charging.vat_rule import charged_to_driver
from apps.payments.driver_bills import driver_bill
from apps.payments.totals import document_totals
from voltop.core.money import vat_of

D = Decimal
ZERO = D("0.00")


class Session(NamedTuple):
    location_kind: str
    purpose: str
    price_excl_vat: Decimal
    price_vat: Decimal
    price_incl_vat: Decimal


def session(location_kind, purpose, net: str, vat: str = "0.00") -> Session:
    return Session(location_kind, purpose, D(net), D(vat), D(net) + D(vat))


def test_a_month_of_each_kind_of_session_at_a_fleet_of_9_percent():
    sessions = [
        session(LocationKind.DEPOT, SessionPurpose.PRIVATE, "10.00", "2.10"),
        session(LocationKind.PUBLIC, SessionPurpose.PRIVATE, "4.95", "0.94"),  # 19 % abroad
        session(LocationKind.DEPOT, SessionPurpose.BUSINESS, "7.00", "1.47"),
        session(LocationKind.HOME, SessionPurpose.BUSINESS, "7.50"),
    ]

    bill = driver_bill(sessions, fleet_vat_rate=D("9.00"), currency="EUR")

    assert [(line.vat_rate, line.charged) for line in bill.invoice_lines] == [
        (D("9.00"), (D("10.00"), D("0.90"), D("10.90"))),
        (D("9.00"), (D("4.95"), D("0.45"), D("5.40"))),
    ]
    totals = bill.invoice_totals
    assert (totals.net, totals.vat, totals.gross) == (D("14.95"), D("1.35"), D("16.30"))
    assert [allocation.cost for allocation in bill.allocations] == [
        (D("7.00"), D("1.47"), D("8.47"))
    ]
    assert [refund.amount for refund in bill.refunds] == [D("7.50")]
    assert (
        bill.private_owed,
        bill.business_cost,
        bill.reimbursement_due,
        bill.net_to_driver,
    ) == (D("16.30"), D("7.00"), D("7.50"), D("-8.80"))


def test_a_bill_without_private_sessions_owes_nothing():
    bill = driver_bill(
        [session(LocationKind.HOME, SessionPurpose.BUSINESS, "3.00")],
        fleet_vat_rate=D("21.00"),
        currency="EUR",
    )

    assert (bill.invoice_lines, bill.private_owed, bill.net_to_driver) == ((), ZERO, D("3.00"))


nets = st.decimals(min_value=0, max_value=500, places=2)
rates = st.decimals(min_value=0, max_value=30, places=2)
session_rates = st.sampled_from([D("0"), D("6"), D("9"), D("19"), D("20"), D("21"), D("25.5")])
kinds = st.sampled_from(
    [
        (LocationKind.DEPOT, SessionPurpose.PRIVATE),
        (LocationKind.PUBLIC, SessionPurpose.PRIVATE),
        (LocationKind.DEPOT, SessionPurpose.BUSINESS),
        (LocationKind.PUBLIC, SessionPurpose.BUSINESS),
        (LocationKind.HOME, SessionPurpose.BUSINESS),
    ]
)


@st.composite
def priced_sessions(draw) -> Session:
    (location_kind, purpose), net = draw(kinds), draw(nets)
    vat = ZERO if location_kind == LocationKind.HOME else vat_of(net, draw(session_rates), "EUR")
    return Session(location_kind, purpose, net, vat, net + vat)


@given(st.lists(priced_sessions(), max_size=40), rates)
def test_charged_to_you_the_invoice_the_allocations_and_the_statement_agree(sessions, rate):
    bill = driver_bill(sessions, fleet_vat_rate=rate, currency="EUR")

    private = [s for s in sessions if s.purpose == SessionPurpose.PRIVATE]
    business = [
        s
        for s in sessions
        if s.purpose == SessionPurpose.BUSINESS and s.location_kind != LocationKind.HOME
    ]
    home = [s for s in sessions if s.location_kind == LocationKind.HOME]
    assert [line.session for line in bill.invoice_lines] == private
    for line in bill.invoice_lines:
        shown = charged_to_driver(
            net=line.session.price_excl_vat, fleet_vat_rate=rate, currency="EUR"
        )
        assert (line.vat_rate, line.charged) == (rate, shown)
    totals = bill.invoice_totals
    assert totals == document_totals(((s.price_excl_vat, rate) for s in private), "EUR")
    assert totals.net == sum((s.price_excl_vat for s in private), ZERO)
    assert totals.gross == totals.net + totals.vat
    assert abs(sum((line.charged.gross for line in bill.invoice_lines), ZERO) - totals.gross) <= (
        D("0.005") * len(private)
    )
    assert [(a.session, a.cost.net, a.cost.vat) for a in bill.allocations] == [
        (s, s.price_excl_vat, s.price_vat) for s in business
    ]
    assert [(r.session, r.amount) for r in bill.refunds] == [(s, s.price_incl_vat) for s in home]
    assert bill.private_owed == (totals.gross if private else ZERO)
    assert bill.business_cost == sum((s.price_excl_vat for s in business), ZERO)
    assert bill.reimbursement_due == sum((s.price_incl_vat for s in home), ZERO)
    assert bill.net_to_driver == bill.reimbursement_due - bill.private_owed


@given(st.lists(priced_sessions(), max_size=20), rates, st.randoms())
def test_the_vat_a_session_was_charged_never_reaches_the_drivers_invoice(sessions, rate, random):
    recharged = [
        s._replace(price_vat=vat, price_incl_vat=s.price_excl_vat + vat)
        for s in sessions
        for vat in [D(random.randint(0, 10_000)) / 100]
    ]

    before = driver_bill(sessions, fleet_vat_rate=rate, currency="EUR")
    after = driver_bill(recharged, fleet_vat_rate=rate, currency="EUR")

    assert [line.charged for line in after.invoice_lines] == [
        line.charged for line in before.invoice_lines
    ]
    assert (after.invoice_totals, after.private_owed) == (
        before.invoice_totals,
        before.private_owed,
    )
