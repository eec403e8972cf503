"""The billing export kinds: each kind's headers, a known row's cells, the order, the control
totals against the documents, the period rule, the VAT summary's identity with the invoices
and credit notes, cost-center shares, and the same bytes from COPY as from Python."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.charging.choices import EnergySource, LocationKind, SessionPurpose
from apps.charging.models import ChargingSession
from apps.exports.billing_tables import vat_summary_of
from apps.exports.columns import CsvDialect
from apps.exports.services import export_request_check
from apps.fleets.choices import MembershipRole
from apps.payments.choices import InvoiceStatus
from apps.payments.models import (
    CostAllocation,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
    Reimbursement,
    ReimbursementLine,
)
from apps.payments.services import credit_note_issue, payment_record
from apps.payments.totals import credit_note_totals, document_totals
from tests.exports.conftest import OCTOBER
from tests.exports.test_sessions_csv import _python_bytes, _rows, _written
from tests.factories import CostCenterFactory, DriverFactory, FleetFactory
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

IN_OCTOBER = dt.datetime(2026, 10, 31, 20, 30, tzinfo=dt.UTC)
IN_NOVEMBER = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
QUERY_KINDS = [
    "invoices",
    "invoice-lines",
    "credit-notes",
    "credit-note-lines",
    "reimbursements",
    "reimbursement-lines",
    "payments",
]
HOME_RATE_BREAKDOWN = {
    "periods": [{"lines": [{"dimension": "ENERGY", "unit_price": "0.25000"}]}],
}


def _request(fleet, kind, **options):
    options.setdefault("period", "2026-10")
    return export_request_check(
        fleet=fleet, kind=kind, file_format="csv", role=MembershipRole.FINANCE, **options
    )


def _export(fleet, kind, **options) -> list[dict]:
    return _rows(_written(_request(fleet, kind, **options)))


def _invoices(fleet) -> list[Invoice]:
    return list(Invoice.objects.filter(fleet=fleet).order_by("number"))


@pytest.fixture
def documents(billed_fleet):
    """The billed fleet's October with a credit note for the first invoice's first line (given
    a reason a spreadsheet would run), an overpayment of the second invoice received in
    October, and a part payment of the third received in November."""
    first, second, third, *_ = _invoices(billed_fleet)
    credit_note = credit_note_issue(
        invoice=first, reason="-Charged twice", line_ids=[first.lines.get(position=1).pk]
    )
    overpaid, _ = payment_record(
        invoice=second,
        amount=second.gross_total + Decimal("1.00"),
        currency="EUR",
        method="bank_transfer",
        provider_reference="=SUM(A1)",
        idempotency_key="overpaid",
        received_at=IN_OCTOBER,
    )
    payment_record(
        invoice=third,
        amount=Decimal("5.00"),
        currency="EUR",
        method="card",
        idempotency_key="november",
        received_at=IN_NOVEMBER,
    )
    return {"fleet": billed_fleet, "credit_note": credit_note, "overpaid": overpaid}


@pytest.fixture
def allocated_fleet(run_billing, frozen_after_october):
    """A fleet billed for October 2026 whose business charging is shared equally by two cost
    centers and the sessions with none, and whose driver is reimbursed a home session with an
    entered meter reading at a home rate."""
    fleet = FleetFactory()
    north = CostCenterFactory(fleet=fleet, code="N-1", name="North")
    south = CostCenterFactory(fleet=fleet, code="S-2", name="South")
    for day, center in enumerate((south, None, north)):
        priced_session_create(
            driver=DriverFactory(fleet=fleet, cost_center=center),
            purpose=SessionPurpose.BUSINESS,
            started_at=OCTOBER + dt.timedelta(days=day + 1),
            energy_wh=4_000 + day,
            price_excl_vat=Decimal("1.00"),
            price_vat=Decimal("0.21"),
        )
    priced_session_create(
        driver=DriverFactory(fleet=fleet, iban="DE89370400440532013000"),
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        started_at=OCTOBER + dt.timedelta(days=9, hours=18),
        energy_wh=8_000,
        price_excl_vat=Decimal("2.00"),
        energy_source=EnergySource.ENTERED,
        price_breakdown=HOME_RATE_BREAKDOWN,
    )
    run_billing(fleet, "2026-10")
    return fleet


@pytest.mark.parametrize(
    ("kind", "headers"),
    [
        (
            "invoices",
            "number,issued_at,due_at,status,driver,employee_number,driver_street,"
            "driver_postal_code,driver_city,driver_country,supply_first_day,supply_last_day,"
            "currency,net,vat,gross,credited,paid,open",
        ),
        (
            "invoice-lines",
            "invoice_number,position,session_id,description,quantity_kwh,unit_price_per_kwh,"
            "currency,net,vat_rate_percent,vat,gross",
        ),
        ("credit-notes", "number,invoice_number,issued_at,reason,currency,net,vat,gross"),
        (
            "credit-note-lines",
            "credit_note_number,invoice_number,session_id,description,currency,net,"
            "vat_rate_percent,vat,gross",
        ),
        (
            "vat-summary",
            "currency,vat_rate_percent,invoice_count,invoice_net,invoice_vat,invoice_gross,"
            "credit_note_count,credit_note_net,credit_note_vat,credit_note_gross,net,vat,gross",
        ),
        (
            "cost-allocation",
            "cost_center_code,cost_center_name,session_count,energy_kwh,currency,net,input_vat,"
            "gross,share_percent",
        ),
        (
            "reimbursements",
            "reimbursement_id,driver,employee_number,driver_iban,period_first_day,"
            "period_last_day,energy_kwh,currency,amount,status,decided_at,paid_at",
        ),
        (
            "reimbursement-lines",
            "reimbursement_id,session_id,session_started_at,energy_kwh,meter_source,price_basis,"
            "rate_per_kwh,currency,amount",
        ),
        (
            "payments",
            "received_at,invoice_number,driver,employee_number,method,provider_reference,"
            "amount,currency,status",
        ),
    ],
)
def test_each_kind_has_its_stable_headers_each_described(billed_fleet, kind, headers):
    table = _request(billed_fleet, kind).table()

    assert ",".join(table.headers) == headers
    assert _written(_request(billed_fleet, kind)).decode().splitlines()[0] == headers
    assert all(column.description for column in table.columns)


def test_invoices_one_row_each_by_number_with_balance_and_escaped_driver(documents):
    fleet = documents["fleet"]
    rows = _export(fleet, "invoices")

    invoices = _invoices(fleet)
    assert [row["number"] for row in rows] == [invoice.number for invoice in invoices]
    second = invoices[1]
    assert rows[1] == {
        "number": second.number,
        "issued_at": "2026-11-03T10:00:00+01",
        "due_at": "2026-11-17T10:00:00+01",
        "status": "paid",
        "driver": second.driver.full_name,
        "employee_number": second.driver.employee_number,
        "driver_street": "",
        "driver_postal_code": "",
        "driver_city": "",
        "driver_country": "",
        "supply_first_day": "2026-10-01",
        "supply_last_day": "2026-10-31",
        "currency": "EUR",
        "net": "5.44",
        "vat": "1.14",
        "gross": "6.58",
        "credited": "0.00",
        "paid": "7.58",
        "open": "-1.00",
    }
    assert (rows[0]["credited"], rows[0]["paid"], rows[0]["open"]) == ("1.66", "0.00", "7.16")
    assert rows[4]["driver"] == "'=HYPERLINK(1) O\"Brien; Jr"


def test_invoices_with_a_driver_address_show_it(billed_fleet):
    invoice = _invoices(billed_fleet)[0]
    invoice.driver.street, invoice.driver.postal_code = "Keizersgracht 1", "1015 CJ"
    invoice.driver.city, invoice.driver.country = "Amsterdam", "NL"
    invoice.driver.save()

    rows = _export(billed_fleet, "invoices")

    assert [rows[0][name] for name in ("driver_street", "driver_postal_code")] == [
        "Keizersgracht 1",
        "1015 CJ",
    ]
    assert [rows[0][name] for name in ("driver_city", "driver_country")] == ["Amsterdam", "NL"]


def test_invoices_control_totals_are_the_sums_of_the_issued_invoices(documents):
    fleet = documents["fleet"]
    invoices = _invoices(fleet)

    rows, net, vat, gross = _request(fleet, "invoices").table().control_totals()

    assert rows == len(invoices) == 5
    assert net == sum(invoice.net_total for invoice in invoices) == Decimal("35.77")
    assert vat == sum(invoice.vat_total for invoice in invoices) == Decimal("7.52")
    assert gross == sum(invoice.gross_total for invoice in invoices) == Decimal("43.29")


def test_drafts_are_never_exported(billed_fleet):
    issued = _invoices(billed_fleet)[0]
    draft = Invoice.objects.create(
        fleet=billed_fleet,
        driver=issued.driver,
        currency="EUR",
        period_start=issued.period_start,
        period_end=issued.period_end,
        net_total=Decimal("10.00"),
        vat_total=Decimal("2.10"),
        gross_total=Decimal("12.10"),
    )
    InvoiceLine.objects.create(
        invoice=draft,
        session=ChargingSession.objects.get(fleet=billed_fleet, ended_at__isnull=True),
        position=1,
        description="Draft line",
        quantity_kwh=Decimal("1.000"),
        unit_price=Decimal("10.00000"),
        net=Decimal("10.00"),
        vat_rate=Decimal("21.00"),
        vat=Decimal("2.10"),
        gross=Decimal("12.10"),
    )

    invoice_rows = _export(billed_fleet, "invoices")
    line_rows = _export(billed_fleet, "invoice-lines")
    summary = _export(billed_fleet, "vat-summary")

    assert draft.status == InvoiceStatus.DRAFT
    assert len(invoice_rows) == 5
    assert "Draft line" not in {row["description"] for row in line_rows}
    assert len(line_rows) == 11
    assert (summary[0]["invoice_count"], summary[0]["invoice_net"]) == ("5", "35.77")


def test_invoice_lines_in_invoice_and_position_order_with_the_line_alone_vat(billed_fleet):
    rows = _export(billed_fleet, "invoice-lines")

    lines = list(InvoiceLine.objects.filter(invoice__fleet=billed_fleet).order_by("pk"))
    lines.sort(key=lambda line: (line.invoice.number, line.position))
    assert [(row["invoice_number"], row["position"]) for row in rows] == [
        (line.invoice.number, str(line.position)) for line in lines
    ]
    last = lines[-1]
    assert rows[-1] == {
        "invoice_number": last.invoice.number,
        "position": "1",
        "session_id": str(last.session_id),
        "description": "Depot charging, 2026-10-04 08:00",
        "quantity_kwh": "20.000",
        "unit_price_per_kwh": "0.37050",
        "currency": "EUR",
        "net": "7.41",
        "vat_rate_percent": "21.00",
        "vat": "1.56",
        "gross": "8.97",
    }
    table = _request(billed_fleet, "invoice-lines").table()
    assert table.control_totals() == (
        11,
        sum(line.net for line in lines),
        sum(line.vat for line in lines),
        sum(line.gross for line in lines),
    )
    assert table.control_totals()[2] == Decimal("7.50")


def test_credit_notes_and_their_lines_belong_to_the_period_of_the_invoice(documents):
    fleet, credit_note = documents["fleet"], documents["credit_note"]
    invoice = credit_note.invoice
    line = credit_note.lines.get()

    notes = _export(fleet, "credit-notes")
    note_lines = _export(fleet, "credit-note-lines")

    assert notes == [
        {
            "number": credit_note.number,
            "invoice_number": invoice.number,
            "issued_at": "2026-11-03T10:00:00+01",
            "reason": "'-Charged twice",
            "currency": "EUR",
            "net": "1.37",
            "vat": "0.29",
            "gross": "1.66",
        }
    ]
    assert note_lines == [
        {
            "credit_note_number": credit_note.number,
            "invoice_number": invoice.number,
            "session_id": str(line.invoice_line.session_id),
            "description": line.description,
            "currency": "EUR",
            "net": "1.37",
            "vat_rate_percent": "21.00",
            "vat": "0.29",
            "gross": "1.66",
        }
    ]
    assert _request(fleet, "credit-notes").table().control_totals() == (
        1,
        credit_note.net_total,
        credit_note.vat_total,
        credit_note.gross_total,
    )
    assert _request(fleet, "credit-note-lines").table().control_totals() == (
        1,
        line.net,
        line.vat,
        line.gross,
    )
    november = _export(
        fleet, "credit-notes", period="", first_day="2026-11-01", last_day="2026-11-02"
    )
    assert november == []


def test_credit_notes_are_in_number_order(documents):
    fleet = documents["fleet"]
    second = _invoices(fleet)[2]
    later = credit_note_issue(invoice=second, reason="Wrong tariff")

    notes = _export(fleet, "credit-notes")
    note_lines = _export(fleet, "credit-note-lines")

    assert [row["number"] for row in notes] == [documents["credit_note"].number, later.number]
    assert [(row["credit_note_number"], row["session_id"]) for row in note_lines] == [
        (
            documents["credit_note"].number,
            str(documents["credit_note"].lines.get().invoice_line.session_id),
        ),
        *(
            (later.number, str(line.invoice_line.session_id))
            for line in later.lines.order_by("invoice_line__position")
        ),
    ]


def test_vat_summary_is_the_invoices_minus_the_credit_notes_to_the_cent(documents):
    fleet = documents["fleet"]
    first = _invoices(fleet)[0]
    credit_note_issue(invoice=first, reason="The rest of it")

    rows = _export(fleet, "vat-summary")

    invoices = _invoices(fleet)
    notes = list(CreditNote.objects.filter(fleet=fleet))
    assert len(notes) == 2
    assert rows == [
        {
            "currency": "EUR",
            "vat_rate_percent": "21.00",
            "invoice_count": "5",
            "invoice_net": "35.77",
            "invoice_vat": "7.52",
            "invoice_gross": "43.29",
            "credit_note_count": "2",
            "credit_note_net": "7.29",
            "credit_note_vat": "1.53",
            "credit_note_gross": "8.82",
            "net": "28.48",
            "vat": "5.99",
            "gross": "34.47",
        }
    ]
    table = _request(fleet, "vat-summary").table()
    _, net, vat, gross = table.control_totals()
    assert vat == sum(i.vat_total for i in invoices) - sum(n.vat_total for n in notes)
    assert net == sum(i.net_total for i in invoices) - sum(n.net_total for n in notes)
    assert gross == sum(i.gross_total for i in invoices) - sum(n.gross_total for n in notes)
    assert sum(n.vat_total for n in notes) == first.vat_total


rates = st.sampled_from([Decimal("0"), Decimal("7"), Decimal("9.5"), Decimal("19"), Decimal("21")])
invoice_lines = st.lists(
    st.tuples(st.integers(min_value=0, max_value=99_999).map(lambda c: Decimal(c) / 100), rates),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(invoice_lines, min_size=1, max_size=5),
    st.lists(st.integers(min_value=0, max_value=3), min_size=40, max_size=40),
)
def test_vat_summary_over_all_rates_is_the_documents_vat_to_the_cent(documents_lines, notes_of):
    invoice_rows, note_rows = [], []
    stated_vat = stated_net = Decimal(0)
    credited_everything = True
    note_id = 0
    for invoice_id, lines in enumerate(documents_lines):
        invoice_rows += [(invoice_id, "EUR", net, rate) for net, rate in lines]
        totals = document_totals(lines, "EUR")
        stated_vat, stated_net = stated_vat + totals.vat, stated_net + totals.net
        credited_before = []
        for note in range(1, 4):
            credited = [
                line
                for position, line in enumerate(lines)
                if notes_of[(invoice_id * 8 + position) % 40] == note
            ]
            if not credited:
                continue
            note_id += 1
            note_rows += [(invoice_id, note_id, "EUR", net, rate) for net, rate in credited]
            totals = credit_note_totals(
                credited_before=credited_before, lines=credited, currency="EUR"
            )
            stated_vat, stated_net = stated_vat - totals.vat, stated_net - totals.net
            credited_before += credited
        credited_everything &= len(credited_before) == len(lines)

    rows = vat_summary_of(invoice_rows, note_rows)

    assert sum(row["vat"] for row in rows) == stated_vat
    assert sum(row["net"] for row in rows) == stated_net
    assert all(row["gross"] == row["net"] + row["vat"] for row in rows)
    assert all(row["vat"] * row["net"] >= 0 for row in rows)
    if credited_everything:
        assert all(row["net"] == row["vat"] == 0 for row in rows)


def test_cost_allocation_one_row_per_cost_center_with_shares_summing_to_100(allocated_fleet):
    rows = _export(allocated_fleet, "cost-allocation")

    assert rows == [
        {
            "cost_center_code": "N-1",
            "cost_center_name": "North",
            "session_count": "1",
            "energy_kwh": "4.002",
            "currency": "EUR",
            "net": "1.00",
            "input_vat": "0.21",
            "gross": "1.21",
            "share_percent": "33.34",
        },
        {
            "cost_center_code": "S-2",
            "cost_center_name": "South",
            "session_count": "1",
            "energy_kwh": "4.000",
            "currency": "EUR",
            "net": "1.00",
            "input_vat": "0.21",
            "gross": "1.21",
            "share_percent": "33.33",
        },
        {
            "cost_center_code": "",
            "cost_center_name": "No cost center",
            "session_count": "1",
            "energy_kwh": "4.001",
            "currency": "EUR",
            "net": "1.00",
            "input_vat": "0.21",
            "gross": "1.21",
            "share_percent": "33.33",
        },
    ]
    assert sum(Decimal(row["share_percent"]) for row in rows) == Decimal("100.00")
    allocations = list(CostAllocation.objects.filter(fleet=allocated_fleet))
    assert _request(allocated_fleet, "cost-allocation").table().control_totals() == (
        3,
        sum(a.amount for a in allocations),
        sum(a.vat for a in allocations),
        sum(a.amount + a.vat for a in allocations),
    )


def test_cost_allocation_of_the_billed_fleet_is_one_center_at_100(billed_fleet):
    rows = _export(billed_fleet, "cost-allocation")

    allocations = list(CostAllocation.objects.filter(fleet=billed_fleet))
    assert len(rows) == 1
    assert rows[0]["session_count"] == str(len(allocations)) == "5"
    assert rows[0]["net"] == str(sum(a.amount for a in allocations)) == "14.18"
    assert rows[0]["share_percent"] == "100.00"


def test_reimbursements_and_lines_with_meter_source_basis_and_rate(allocated_fleet):
    reimbursement = Reimbursement.objects.get(fleet=allocated_fleet)
    line = reimbursement.lines.get()

    rows = _export(allocated_fleet, "reimbursements")
    lines = _export(allocated_fleet, "reimbursement-lines")

    assert rows == [
        {
            "reimbursement_id": str(reimbursement.pk),
            "driver": reimbursement.driver.full_name,
            "employee_number": reimbursement.driver.employee_number,
            "driver_iban": "DE89370400440532013000",
            "period_first_day": "2026-10-01",
            "period_last_day": "2026-10-31",
            "energy_kwh": "8.000",
            "currency": "EUR",
            "amount": "2.00",
            "status": "pending",
            "decided_at": "",
            "paid_at": "",
        }
    ]
    assert lines == [
        {
            "reimbursement_id": str(reimbursement.pk),
            "session_id": str(line.session_id),
            "session_started_at": "2026-10-10T20:00:00+02",
            "energy_kwh": "8.000",
            "meter_source": "entered",
            "price_basis": "home_rate",
            "rate_per_kwh": "0.25000",
            "currency": "EUR",
            "amount": "2.00",
        }
    ]
    zero = Decimal("0.00")
    assert _request(allocated_fleet, "reimbursements").table().control_totals() == (
        1,
        Decimal("2.00"),
        zero,
        Decimal("2.00"),
    )
    assert _request(allocated_fleet, "reimbursement-lines").table().control_totals() == (
        1,
        Decimal("2.00"),
        zero,
        Decimal("2.00"),
    )


def test_reimbursement_totals_are_the_sums_of_the_reimbursements(billed_fleet):
    reimbursements = Reimbursement.objects.filter(fleet=billed_fleet)
    lines = ReimbursementLine.objects.filter(reimbursement__fleet=billed_fleet)
    total = sum(r.amount for r in reimbursements)

    assert _request(billed_fleet, "reimbursements").table().control_totals() == (
        4,
        total,
        Decimal(0),
        total,
    )
    assert _request(billed_fleet, "reimbursement-lines").table().control_totals() == (
        5,
        sum(line.amount for line in lines),
        Decimal(0),
        total,
    )
    rows = _export(billed_fleet, "reimbursement-lines")
    assert [(row["reimbursement_id"], row["session_started_at"]) for row in rows] == sorted(
        (row["reimbursement_id"], row["session_started_at"]) for row in rows
    )


def test_payments_of_the_period_by_the_day_received(documents):
    fleet, overpaid = documents["fleet"], documents["overpaid"]

    rows = _export(fleet, "payments")
    november = _export(fleet, "payments", period="", first_day="2026-11-01", last_day="2026-11-02")

    assert rows == [
        {
            "received_at": "2026-10-31T21:30:00+01",
            "invoice_number": overpaid.invoice.number,
            "driver": overpaid.invoice.driver.full_name,
            "employee_number": overpaid.invoice.driver.employee_number,
            "method": "bank_transfer",
            "provider_reference": "'=SUM(A1)",
            "amount": "7.58",
            "currency": "EUR",
            "status": "received",
        }
    ]
    assert [row["amount"] for row in november] == ["5.00"]
    assert _request(fleet, "payments").table().control_totals() == (
        1,
        Decimal("7.58"),
        Decimal(0),
        Decimal("7.58"),
    )
    assert Payment.objects.filter(fleet=fleet).count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.parametrize("kind", QUERY_KINDS)
def test_copy_writes_the_same_bytes_as_python(documents, kind):
    fleet = documents["fleet"]
    for dialect in (
        CsvDialect(),
        CsvDialect(delimiter=";", decimal_separator=",", bom=True),
        CsvDialect("\t"),
    ):
        request = _request(fleet, kind, dialect=dialect)
        assert request.table().is_query

        written = _written(request)

        assert written == _python_bytes(request)
        assert written.count(b"\n") > 1


def test_exporting_changes_no_billing_row(documents):
    fleet = documents["fleet"]
    models = (Invoice, InvoiceLine, CreditNote, CreditNoteLine, CostAllocation, Reimbursement)
    before = {model: list(model.objects.order_by("pk").values()) for model in models}

    for kind in (*QUERY_KINDS, "vat-summary", "cost-allocation"):
        _written(_request(fleet, kind))

    assert {model: list(model.objects.order_by("pk").values()) for model in models} == before
