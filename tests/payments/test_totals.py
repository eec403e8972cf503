"""Invoice totals: VAT per rate over the summed nets (EN 16931 BR-CO-17), exact to the cent."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from apps.payments.totals import VatSubtotal, credit_note_totals, document_totals
from voltop.core.money import vat_amounts_of_net

D = Decimal


def test_vat_is_computed_once_per_rate_on_the_summed_nets_not_per_line():
    lines = [(D("0.05"), D("21")), (D("0.05"), D("21")), (D("0.05"), D("21"))]

    totals = document_totals(lines, "EUR")

    assert sum(vat_amounts_of_net(net, rate, "EUR").vat for net, rate in lines) == D("0.03")
    assert totals.vat == D("0.03")  # 21 % of 0.15 = 0.0315 -> 0.03
    assert totals == (
        D("0.15"),
        D("0.03"),
        D("0.18"),
        (VatSubtotal(D("21"), D("0.15"), D("0.03")),),
    )


def test_rounding_is_half_up_per_rate_and_rates_are_kept_apart():
    totals = document_totals(
        [(D("10.50"), D("21.00")), (D("2.50"), D("9")), (D("1.00"), D("0"))], "EUR"
    )

    assert totals.by_rate == (
        VatSubtotal(D("0"), D("1.00"), D("0.00")),
        VatSubtotal(D("9"), D("2.50"), D("0.23")),  # 0.225 -> 0.23
        VatSubtotal(D("21"), D("10.50"), D("2.21")),  # 2.205 -> 2.21
    )
    assert (totals.net, totals.vat, totals.gross) == (D("14.00"), D("2.44"), D("16.44"))


def test_a_currency_without_minor_units_rounds_to_whole_units():
    totals = document_totals([(D("1000"), D("10")), (D("1005"), D("10"))], "JPY")

    assert (totals.net, totals.vat, totals.gross) == (D("2005"), D("201"), D("2206"))


money = st.decimals(min_value=D("0"), max_value=D("5000"), places=2)
rates = st.sampled_from([D("0"), D("6"), D("9"), D("19"), D("20"), D("21"), D("25.5")])


@given(st.lists(st.tuples(money, rates), max_size=60))
def test_lines_plus_vat_make_the_gross_exactly(lines):
    totals = document_totals(lines, "EUR")

    assert totals.net == sum((net for net, _ in lines), D("0"))
    assert totals.gross == totals.net + totals.vat
    assert totals.vat == sum((row.vat for row in totals.by_rate), D("0"))
    for row in totals.by_rate:
        exact = row.taxable * row.rate / 100
        assert abs(row.vat - exact) <= D("0.005")
        assert row.vat.as_tuple().exponent == -2


@given(st.lists(st.tuples(money, rates), min_size=1, max_size=60))
def test_per_line_vat_differs_from_the_invoice_vat_by_at_most_half_a_cent_per_line(lines):
    totals = document_totals(lines, "EUR")
    line_vat = sum(vat_amounts_of_net(net, rate, "EUR").vat for net, rate in lines)

    assert abs(line_vat - totals.vat) <= D("0.005") * (len(lines) + len(totals.by_rate))


def test_credit_notes_line_by_line_give_back_exactly_the_invoices_vat():
    lines = [(D("0.03"), D("19"))] * 3
    invoice = document_totals(lines, "EUR")

    credited, notes = [], []
    for line in lines:
        notes.append(credit_note_totals(credited_before=credited, lines=[line], currency="EUR"))
        credited.append(line)

    assert [note.gross for note in notes] == [D("0.04"), D("0.03"), D("0.04")]
    assert sum(note.gross for note in notes) == invoice.gross == D("0.11")


@given(st.lists(st.tuples(money, rates), min_size=1, max_size=30), st.randoms())
def test_credit_notes_in_any_split_add_up_to_the_invoice(lines, random):
    invoice = document_totals(lines, "EUR")
    remaining = list(lines)
    random.shuffle(remaining)
    credited, gross = [], D("0")
    while remaining:
        take = random.randint(1, len(remaining))
        batch, remaining = remaining[:take], remaining[take:]
        note = credit_note_totals(credited_before=credited, lines=batch, currency="EUR")
        assert note.gross == note.net + note.vat
        credited.extend(batch)
        gross += note.gross
        assert gross <= invoice.gross

    assert gross == invoice.gross
