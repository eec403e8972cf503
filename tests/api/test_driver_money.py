"""The driver's statements, invoices (with their PDF), reimbursements and payments under
/api/v1/me/, billed through the real billing run."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
import time_machine
from django.http import HttpResponse

from apps.charging.choices import LocationKind, SessionPurpose
from apps.drivers.choices import DriverStatus
from apps.drivers.services import driver_set_status
from apps.payments import services as payments_services
from apps.payments.choices import BillingRunStatus, PaymentMethod
from apps.payments.documents import statement_html
from apps.payments.models import (
    BillingRun,
    CostAllocation,
    Invoice,
    Payment,
    Reimbursement,
    Statement,
)
from apps.payments.totals import document_totals
from tests.html_tables import table_rows
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

UTC = dt.UTC
BILLED_AT = dt.datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
JANUARY_START = "2025-12-31T23:00:00Z"  # midnight of 1 January in Amsterdam
JANUARY_END = "2026-01-31T23:00:00Z"


@dataclass
class January:
    """January 2026 billed for driver A (two private sessions, one business, one approved at
    home), driver B (one private session) and the other fleet's driver (one private)."""

    statement: Statement
    invoice: Invoice
    reimbursement: Reimbursement
    depot_session_id: int
    public_session_id: int
    home_session_id: int
    b_statement: Statement
    b_invoice: Invoice
    b_reimbursement: Reimbursement
    other_fleet_statement: Statement
    other_fleet_invoice: Invoice


def bill(run_billing, fleet, label: str, at: dt.datetime) -> BillingRun:
    with time_machine.travel(at, tick=False):
        run = run_billing(fleet, label)
    assert run.status == BillingRunStatus.COMPLETED
    return run


@pytest.fixture
def january(run_billing, driver_a, driver_b, other_fleet_driver) -> January:
    depot = priced_session_create(
        driver=driver_a,
        started_at=dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
        energy_wh=20_000,
        price_excl_vat=Decimal("6.00"),
        price_vat=Decimal("1.26"),
    )
    public = priced_session_create(
        driver=driver_a,
        location_kind=LocationKind.PUBLIC,
        started_at=dt.datetime(2026, 1, 12, 18, 0, tzinfo=UTC),
        energy_wh=12_345,
        price_excl_vat=Decimal("4.10"),
        price_vat=Decimal("0.86"),
    )
    priced_session_create(
        driver=driver_a,
        purpose=SessionPurpose.BUSINESS,
        started_at=dt.datetime(2026, 1, 7, 8, 0, tzinfo=UTC),
        price_excl_vat=Decimal("4.00"),
        price_vat=Decimal("0.84"),
    )
    home = priced_session_create(
        driver=driver_a,
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        started_at=dt.datetime(2026, 1, 9, 19, 0, tzinfo=UTC),
        energy_wh=10_123,
        price_excl_vat=Decimal("2.53"),
    )
    for driver in (driver_b, other_fleet_driver):
        priced_session_create(driver=driver, started_at=dt.datetime(2026, 1, 6, 8, 0, tzinfo=UTC))
        priced_session_create(
            driver=driver,
            location_kind=LocationKind.HOME,
            purpose=SessionPurpose.BUSINESS,
            started_at=dt.datetime(2026, 1, 6, 20, 0, tzinfo=UTC),
        )
    bill(run_billing, driver_a.fleet, "2026-01", BILLED_AT)
    bill(run_billing, other_fleet_driver.fleet, "2026-01", BILLED_AT)
    statement, b_statement, other_statement = (
        Statement.objects.select_related("invoice", "reimbursement").get(driver=driver)
        for driver in (driver_a, driver_b, other_fleet_driver)
    )
    return January(
        statement=statement,
        invoice=statement.invoice,
        reimbursement=statement.reimbursement,
        depot_session_id=depot.pk,
        public_session_id=public.pk,
        home_session_id=home.pk,
        b_statement=b_statement,
        b_invoice=b_statement.invoice,
        b_reimbursement=b_statement.reimbursement,
        other_fleet_statement=other_statement,
        other_fleet_invoice=other_statement.invoice,
    )


def pay(invoice: Invoice, amount: str, key: str, day: int) -> Payment:
    received_at = dt.datetime(2026, 2, day, 9, 0, tzinfo=UTC)
    payment, _created = payments_services.payment_record(
        invoice=invoice,
        amount=Decimal(amount),
        currency="EUR",
        method=PaymentMethod.BANK_TRANSFER,
        idempotency_key=key,
        received_at=received_at,
        now=received_at,
    )
    return payment


def later_months(run_billing, driver, months: int) -> None:
    """Bill `months` more months (February onwards) with one private session each."""
    for month in range(2, 2 + months):
        priced_session_create(driver=driver, started_at=dt.datetime(2026, month, 3, 8, tzinfo=UTC))
        bill(
            run_billing,
            driver.fleet,
            f"2026-{month:02d}",
            dt.datetime(2026, month + 1, 1, 6, tzinfo=UTC),
        )


def error_codes(response) -> list[tuple[str, str | None]]:
    return [(error["code"], error["attr"]) for error in response.json()["errors"]]


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# Statements ---------------------------------------------------------------------------------


def statement_url(statement: Statement) -> str:
    return f"/api/v1/me/statements/{statement.pk}/"


def test_statements_list_my_statements_with_amounts_and_counts(driver_a_client, january):
    response = driver_a_client.get("/api/v1/me/statements/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": january.statement.pk,
                "period_label": "2026-01",
                "period_start": JANUARY_START,
                "period_end": JANUARY_END,
                "currency": "EUR",
                "private_session_count": 2,
                "business_session_count": 1,
                "home_session_count": 1,
                "private_owed": "12.22",
                "business_cost": "4.00",
                "reimbursement_due": "2.53",
                "net_to_driver": "-9.69",
                "invoice_id": january.invoice.pk,
                "reimbursement_id": january.reimbursement.pk,
            }
        ],
    }


def test_statement_detail_names_its_invoice_and_reimbursement_with_their_status(
    driver_a_client, january
):
    response = driver_a_client.get(statement_url(january.statement))

    assert response.status_code == 200
    body = response.json()
    assert body["invoice"] == {
        "id": january.invoice.pk,
        "number": "VT-2026-000001",
        "status": "issued",
    }
    assert body["reimbursement"] == {"id": january.reimbursement.pk, "status": "pending"}
    assert (body["net_to_driver"], body["currency"]) == ("-9.69", "EUR")


def test_statement_pdf_downloads_the_document(driver_a, driver_a_client, january):
    response = driver_a_client.get(f"{statement_url(january.statement)}pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="statement-2026-01-{driver_a.employee_number}.pdf"'
    )
    assert response.content.startswith(b"%PDF-")


def test_statement_pdf_of_another_driver_is_not_found_in_json(driver_b_client, january):
    response = driver_b_client.get(
        f"{statement_url(january.statement)}pdf/", HTTP_ACCEPT="application/pdf"
    )

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_codes(response) == [("not_found", None)]


def test_statements_of_a_run_still_working_are_not_shown(driver_a, driver_a_client, january):
    run = BillingRun.objects.create(
        fleet=driver_a.fleet,
        period_kind="monthly",
        period_label="2026-02",
        period_start=dt.datetime(2026, 1, 31, 23, tzinfo=UTC),
        period_end=dt.datetime(2026, 2, 28, 23, tzinfo=UTC),
        status=BillingRunStatus.RUNNING,
        currency="EUR",
    )
    unfinished = Statement.objects.create(
        fleet=driver_a.fleet,
        driver=driver_a,
        billing_run=run,
        period_label="2026-02",
        period_start=run.period_start,
        period_end=run.period_end,
        currency="EUR",
    )

    assert ids(driver_a_client.get("/api/v1/me/statements/")) == [january.statement.pk]
    assert driver_a_client.get(statement_url(unfinished)).status_code == 404
    assert driver_a_client.get(f"{statement_url(unfinished)}pdf/").status_code == 404


@pytest.mark.parametrize("months", [0, 3])
def test_statements_list_takes_three_queries_however_many_statements(
    run_billing, driver_a, driver_a_client, january, django_assert_num_queries, months
):
    later_months(run_billing, driver_a, months)

    with django_assert_num_queries(3):  # the login with its driver, the count, the page
        response = driver_a_client.get("/api/v1/me/statements/")

    assert response.json()["count"] == 1 + months


def test_statement_detail_takes_three_queries(driver_a_client, january, django_assert_num_queries):
    with django_assert_num_queries(3):  # the login with its driver, the statement, its refunds
        response = driver_a_client.get(statement_url(january.statement))

    assert response.status_code == 200


# Invoices -----------------------------------------------------------------------------------


def invoice_url(invoice: Invoice, suffix: str = "") -> str:
    return f"/api/v1/me/invoices/{invoice.pk}/{suffix}"


def test_invoices_list_my_issued_invoices_with_their_totals(driver_a_client, january):
    response = driver_a_client.get("/api/v1/me/invoices/")

    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "id": january.invoice.pk,
                "number": "VT-2026-000001",
                "status": "issued",
                "currency": "EUR",
                "period_start": JANUARY_START,
                "period_end": JANUARY_END,
                "issued_at": "2026-02-01T06:00:00Z",
                "due_at": "2026-02-15T06:00:00Z",
                "paid_at": None,
                "net_total": "10.10",
                "vat_total": "2.12",
                "gross_total": "12.22",
            }
        ],
    }


def test_invoices_are_newest_period_first_and_followed_page_by_page(
    run_billing, driver_a, driver_a_client, january
):
    later_months(run_billing, driver_a, 2)
    newest_first = list(
        Invoice.objects.filter(driver=driver_a)
        .order_by("-period_start", "-pk")
        .values_list("pk", flat=True)
    )

    first = driver_a_client.get("/api/v1/me/invoices/", {"page_size": 2})
    second = driver_a_client.get(first.json()["next"])

    assert ids(first) + ids(second) == newest_first
    assert newest_first[-1] == january.invoice.pk
    assert second.json()["next"] is None


def test_draft_invoices_are_never_shown(driver_a, driver_a_client, january):
    draft = Invoice.objects.create(
        fleet=driver_a.fleet,
        driver=driver_a,
        currency="EUR",
        period_start=dt.datetime(2026, 2, 1, tzinfo=UTC),
        period_end=dt.datetime(2026, 3, 1, tzinfo=UTC),
    )

    assert ids(driver_a_client.get("/api/v1/me/invoices/")) == [january.invoice.pk]
    assert driver_a_client.get(invoice_url(draft)).status_code == 404
    assert driver_a_client.get(invoice_url(draft, "pdf/")).status_code == 404


def test_invoices_filter_by_status_and_period_start(
    run_billing, driver_a, driver_a_client, january
):
    later_months(run_billing, driver_a, 1)
    february = Invoice.objects.get(driver=driver_a, period_start__gt=january.invoice.period_start)
    pay(february, "7.26", "february", 20)

    paid = driver_a_client.get("/api/v1/me/invoices/", {"status": "paid"})
    issued = driver_a_client.get("/api/v1/me/invoices/", {"status": "issued"})
    from_february = driver_a_client.get(
        "/api/v1/me/invoices/", {"period_start_after": "2026-02-01T00:00:00+01:00"}
    )
    until_january = driver_a_client.get(
        "/api/v1/me/invoices/", {"period_start_before": "2026-01-01T00:00:00+01:00"}
    )

    assert ids(paid) == [february.pk]
    assert ids(issued) == [january.invoice.pk]
    assert ids(from_february) == [february.pk]
    assert ids(until_january) == [january.invoice.pk]


def test_invoices_filter_refuses_an_unknown_status(driver_a_client, january):
    response = driver_a_client.get("/api/v1/me/invoices/", {"status": "draft"})

    assert response.status_code == 400
    assert error_codes(response) == [("invalid_choice", "status")]


@pytest.mark.parametrize("page_size", [1, 4])
def test_invoices_list_takes_two_queries_whatever_the_page_size(
    run_billing, driver_a, driver_a_client, january, django_assert_num_queries, page_size
):
    later_months(run_billing, driver_a, 3)

    with django_assert_num_queries(2):  # the login with its driver, the page
        response = driver_a_client.get("/api/v1/me/invoices/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


def test_invoice_detail_shows_lines_vat_per_rate_and_an_open_balance(driver_a_client, january):
    response = driver_a_client.get(invoice_url(january.invoice))

    assert response.status_code == 200
    body = response.json()
    assert body["number"] == "VT-2026-000001"
    assert body["lines"] == [
        {
            "id": body["lines"][0]["id"],
            "position": 1,
            "session_id": january.depot_session_id,
            "description": "Depot charging, 2026-01-05 09:00",
            "energy_wh": 20_000,
            "energy_kwh": "20.000",
            "unit_price": "0.30000",
            "net": "6.00",
            "vat_rate": "21.00",
        },
        {
            "id": body["lines"][1]["id"],
            "position": 2,
            "session_id": january.public_session_id,
            "description": "Public charging, 2026-01-12 19:00",
            "energy_wh": 12_345,
            "energy_kwh": "12.345",
            "unit_price": "0.33212",
            "net": "4.10",
            "vat_rate": "21.00",
        },
    ]
    assert body["vat_breakdown"] == [{"rate": "21.00", "taxable": "10.10", "vat": "2.12"}]
    assert body["balance"] == {
        "gross": "12.22",
        "credited": "0.00",
        "paid": "0.00",
        "due": "12.22",
        "overpaid": "0.00",
    }
    assert body["credit_notes"] == []


def test_invoice_detail_balance_counts_credit_notes_and_payments_and_shows_overpaid(
    driver_a_client, january
):
    public_line = january.invoice.lines.get(position=2)
    credit_note = payments_services.credit_note_issue(
        invoice=january.invoice,
        reason="The public session was business charging.",
        line_ids=[public_line.pk],
        now=dt.datetime(2026, 2, 3, 9, 0, tzinfo=UTC),
    )
    pay(january.invoice, "5.00", "first", 10)
    pay(january.invoice, "3.00", "second", 11)

    body = driver_a_client.get(invoice_url(january.invoice)).json()

    assert (body["status"], body["paid_at"]) == ("paid", "2026-02-11T09:00:00Z")
    assert body["balance"] == {
        "gross": "12.22",
        "credited": "4.96",
        "paid": "8.00",
        "due": "-0.74",
        "overpaid": "0.74",
    }
    assert body["credit_notes"] == [
        {
            "id": credit_note.pk,
            "number": "CN-2026-000001",
            "issued_at": "2026-02-03T09:00:00Z",
            "reason": "The public session was business charging.",
            "net_total": "4.10",
            "vat_total": "0.86",
            "gross_total": "4.96",
        }
    ]


def test_invoice_detail_takes_six_queries_however_many_lines(
    driver_a_client, january, django_assert_num_queries
):
    # the login with its driver, the invoice with fleet and driver, its credit notes, its
    # lines with their sessions, the credited and the paid sums
    with django_assert_num_queries(6):
        response = driver_a_client.get(invoice_url(january.invoice))

    assert len(response.json()["lines"]) == 2


def test_invoice_pdf_downloads_the_document(driver_a_client, january):
    response = driver_a_client.get(invoice_url(january.invoice, "pdf/"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="VT-2026-000001.pdf"'
    assert response.content.startswith(b"%PDF-")


def test_invoice_pdf_asked_for_as_pdf_refuses_in_json(driver_b_client, january):
    response = driver_b_client.get(
        invoice_url(january.invoice, "pdf/"), HTTP_ACCEPT="application/pdf"
    )

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_codes(response) == [("not_found", None)]


# Reimbursements -----------------------------------------------------------------------------


def reimbursement_url(reimbursement: Reimbursement) -> str:
    return f"/api/v1/me/reimbursements/{reimbursement.pk}/"


def test_reimbursements_list_what_the_fleet_owes_me(driver_a_client, january):
    response = driver_a_client.get("/api/v1/me/reimbursements/")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "id": january.reimbursement.pk,
            "period_start": JANUARY_START,
            "period_end": JANUARY_END,
            "currency": "EUR",
            "energy_wh": 10_123,
            "energy_kwh": "10.123",
            "amount": "2.53",
            "status": "pending",
            "decided_at": None,
            "decision_note": "",
            "paid_at": None,
        }
    ]


def test_reimbursement_detail_lists_its_home_sessions(driver_a_client, january):
    response = driver_a_client.get(reimbursement_url(january.reimbursement))

    assert response.status_code == 200
    lines = response.json()["lines"]
    assert lines == [
        {
            "id": lines[0]["id"],
            "session_id": january.home_session_id,
            "session_started_at": "2026-01-09T19:00:00Z",
            "energy_wh": 10_123,
            "energy_kwh": "10.123",
            "amount": "2.53",
        }
    ]


def test_reimbursements_take_three_queries_listed_or_in_detail(
    driver_a_client, january, django_assert_num_queries
):
    with django_assert_num_queries(3):  # the login with its driver, the count, the page
        driver_a_client.get("/api/v1/me/reimbursements/")
    with django_assert_num_queries(3):  # the login with its driver, the reimbursement, lines
        driver_a_client.get(reimbursement_url(january.reimbursement))


# Payments -----------------------------------------------------------------------------------


def test_payments_list_payments_on_my_invoices_newest_first(driver_a_client, january):
    first = pay(january.invoice, "5.00", "first", 10)
    second = pay(january.invoice, "3.00", "second", 11)
    pay(january.b_invoice, "7.26", "b", 12)

    response = driver_a_client.get("/api/v1/me/payments/")

    assert response.status_code == 200
    invoice = {"id": january.invoice.pk, "number": "VT-2026-000001"}
    assert response.json()["results"] == [
        {
            "id": second.pk,
            "invoice": invoice,
            "amount": "3.00",
            "currency": "EUR",
            "method": "bank_transfer",
            "status": "received",
            "received_at": "2026-02-11T09:00:00Z",
        },
        {
            "id": first.pk,
            "invoice": invoice,
            "amount": "5.00",
            "currency": "EUR",
            "method": "bank_transfer",
            "status": "received",
            "received_at": "2026-02-10T09:00:00Z",
        },
    ]


@pytest.mark.parametrize("payments", [1, 4])
def test_payments_list_takes_three_queries_however_many_payments(
    driver_a_client, january, django_assert_num_queries, payments
):
    for number in range(payments):
        pay(january.invoice, "1.00", f"part-{number}", 10 + number)

    with django_assert_num_queries(3):  # the login with its driver, the count, the page
        response = driver_a_client.get("/api/v1/me/payments/")

    assert response.json()["count"] == payments


# Who may use these endpoints ----------------------------------------------------------------

LISTS = [
    "/api/v1/me/statements/",
    "/api/v1/me/invoices/",
    "/api/v1/me/reimbursements/",
    "/api/v1/me/payments/",
]


def a_detail_urls(january: January) -> list[str]:
    return [
        statement_url(january.statement),
        invoice_url(january.invoice),
        invoice_url(january.invoice, "pdf/"),
        reimbursement_url(january.reimbursement),
    ]


@pytest.mark.parametrize(("client", "status"), [("anonymous_client", 401), ("manager_client", 403)])
def test_lists_and_details_refuse_anyone_but_a_driver(request, january, client, status):
    client = request.getfixturevalue(client)

    for url in [*LISTS, *a_detail_urls(january)]:
        assert client.get(url).status_code == status, url


@pytest.mark.parametrize("client", ["driver_b_client", "other_fleet_driver_client"])
def test_another_drivers_documents_are_not_found(request, january, client):
    client = request.getfixturevalue(client)

    for url in a_detail_urls(january):
        response = client.get(url)
        assert response.status_code == 404, url
        assert error_codes(response) == [("not_found", None)]


def test_driver_b_lists_only_their_own_documents(driver_b_client, january):
    pay(january.invoice, "5.00", "a", 10)
    b_payment = pay(january.b_invoice, "7.26", "b", 12)
    expected = {
        "/api/v1/me/statements/": [january.b_statement.pk],
        "/api/v1/me/invoices/": [january.b_invoice.pk],
        "/api/v1/me/reimbursements/": [january.b_reimbursement.pk],
        "/api/v1/me/payments/": [b_payment.pk],
    }

    assert {url: ids(driver_b_client.get(url)) for url in LISTS} == expected


def test_the_other_fleets_driver_lists_only_their_own_documents(other_fleet_driver_client, january):
    pay(january.invoice, "5.00", "a", 10)

    assert ids(other_fleet_driver_client.get("/api/v1/me/invoices/")) == [
        january.other_fleet_invoice.pk
    ]
    assert ids(other_fleet_driver_client.get("/api/v1/me/statements/")) == [
        january.other_fleet_statement.pk
    ]
    assert ids(other_fleet_driver_client.get("/api/v1/me/payments/")) == []


def test_a_suspended_driver_is_refused_though_the_token_is_still_valid(
    driver_a, driver_a_client, january
):
    driver_set_status(driver=driver_a, status=DriverStatus.SUSPENDED)

    for url in [*LISTS, *a_detail_urls(january)]:
        response = driver_a_client.get(url)
        assert response.status_code == 401, url
        assert error_codes(response) == [("driver_not_active", None)]


AGREEMENT_EXAMPLES = {
    # fleet rate: [(location, purpose, net, the session's own VAT)]
    "a fleet at 9 % with a public session abroad at 21 %": (
        "9.00",
        [
            (LocationKind.PUBLIC, SessionPurpose.PRIVATE, "10.00", "2.10"),
            (LocationKind.DEPOT, SessionPurpose.PRIVATE, "0.05", "0.01"),
            (LocationKind.DEPOT, SessionPurpose.BUSINESS, "7.00", "1.47"),
            (LocationKind.HOME, SessionPurpose.BUSINESS, "7.50", "0.00"),
        ],
    ),
    "ten lines of 0.05 at 21 %": (
        "21.00",
        [(LocationKind.DEPOT, SessionPurpose.PRIVATE, "0.05", "0.01")] * 10
        + [(LocationKind.PUBLIC, SessionPurpose.BUSINESS, "4.10", "0.82")],
    ),
    "a fleet charging no VAT": (
        "0.00",
        [
            (LocationKind.PUBLIC, SessionPurpose.PRIVATE, "3.33", "0.70"),
            (LocationKind.HOME, SessionPurpose.BUSINESS, "2.53", "0.00"),
        ],
    ),
    "a fleet at 25.5 %": (
        "25.50",
        [
            (LocationKind.DEPOT, SessionPurpose.PRIVATE, "99.99", "21.00"),
            (LocationKind.PUBLIC, SessionPurpose.PRIVATE, "0.01", "0.00"),
        ],
    ),
}


TOTALS = ("net_total", "vat_total", "gross_total")


@pytest.mark.parametrize("example", AGREEMENT_EXAMPLES.values(), ids=AGREEMENT_EXAMPLES.keys())
def test_charged_to_you_the_invoice_its_credit_notes_and_the_statement_agree_to_the_cent(
    run_billing, driver_a, driver_a_client, example
):
    rate, planned = example
    fleet = driver_a.fleet
    fleet.default_vat_rate = Decimal(rate)
    fleet.save(update_fields=["default_vat_rate"])
    sessions = [
        priced_session_create(
            driver=driver_a,
            location_kind=location_kind,
            purpose=purpose,
            started_at=dt.datetime(2026, 1, 2 + day, 8, 0, tzinfo=UTC),
            price_excl_vat=Decimal(net),
            price_vat=Decimal(vat),
        )
        for day, (location_kind, purpose, net, vat) in enumerate(planned)
    ]
    bill(run_billing, fleet, "2026-01", BILLED_AT)
    shown = {
        item["id"]: item
        for item in driver_a_client.get("/api/v1/me/sessions/", {"page_size": 50}).json()["results"]
    }
    statement = Statement.objects.get(driver=driver_a)
    statement_body = driver_a_client.get(statement_url(statement)).json()
    document = table_rows(HttpResponse(statement_html(statement)), data_part="private")[1:]

    private = [s for s in sessions if shown[s.pk]["charged_to_you"] is not None]
    assert [s.pk for s in private] == [
        s.pk
        for s in sessions
        if s.purpose == SessionPurpose.PRIVATE and s.location_kind != LocationKind.HOME
    ]
    if private:
        invoice_body = driver_a_client.get(invoice_url(statement.invoice)).json()
        lines = list(statement.invoice.lines.order_by("position"))
        charged = [shown[s.pk]["charged_to_you"] for s in private]
        assert [line.session_id for line in lines] == [s.pk for s in private]
        assert [(line["net"], line["vat_rate"]) for line in invoice_body["lines"]] == [
            (c["excl_vat"], c["vat_rate"]) for c in charged
        ]
        assert [
            {
                "currency": "EUR",
                "excl_vat": str(line.net),
                "vat_rate": str(line.vat_rate),
                "vat": str(line.vat),
                "incl_vat": str(line.gross),
            }
            for line in lines
        ] == charged
        assert [row[4:] for row in document] == [
            [c["excl_vat"], c["vat_rate"], c["vat"], c["incl_vat"]] for c in charged
        ]
        totals = document_totals(
            ((Decimal(c["excl_vat"]), Decimal(c["vat_rate"])) for c in charged), "EUR"
        )
        assert (
            invoice_body["net_total"],
            invoice_body["vat_total"],
            invoice_body["gross_total"],
        ) == (
            str(totals.net),
            str(totals.vat),
            str(totals.gross),
        )
        assert statement_body["private_owed"] == invoice_body["gross_total"]
        credit_notes = [
            payments_services.credit_note_issue(
                invoice=statement.invoice, reason="Credited line by line", line_ids=[line.pk]
            )
            for line in lines
        ]
        assert [(n.lines.get().net, n.lines.get().vat_rate) for n in credit_notes] == [
            (Decimal(c["excl_vat"]), Decimal(c["vat_rate"])) for c in charged
        ]
        assert [sum(getattr(n, f) for n in credit_notes) for f in TOTALS] == [
            getattr(statement.invoice, f) for f in TOTALS
        ]
    else:
        assert (statement.invoice, statement_body["private_owed"]) == (None, "0.00")
    business = [s for s in sessions if s.purpose == SessionPurpose.BUSINESS]
    allocated = [s for s in business if s.location_kind != LocationKind.HOME]
    assert list(
        CostAllocation.objects.order_by("session__started_at").values_list(
            "session", "amount", "vat"
        )
    ) == [(s.pk, s.price_excl_vat, s.price_vat) for s in allocated]
    assert statement_body["business_cost"] == str(
        sum((s.price_excl_vat for s in allocated), Decimal("0.00"))
    )
    refunded = [s for s in business if s.location_kind == LocationKind.HOME]
    assert [shown[s.pk]["reimbursed_to_you"] for s in refunded] == [
        {"currency": "EUR", "amount": str(s.price_incl_vat)} for s in refunded
    ]
    assert statement_body["reimbursement_due"] == str(
        sum((s.price_incl_vat for s in refunded), Decimal("0.00"))
    )
    assert Decimal(statement_body["net_to_driver"]) == Decimal(
        statement_body["reimbursement_due"]
    ) - Decimal(statement_body["private_owed"])
