"""The fleet's billing endpoints under /api/v1/fleet/: billing runs, invoices (issue, PDF),
credit notes, reimbursements (approve, reject, mark paid), payments with their Idempotency-Key,
and cost allocations; billed through the real billing run; who may do what."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
import time_machine

from apps.charging.choices import HomeApproval, LocationKind, SessionPurpose, SessionStatus
from apps.fleets.choices import MembershipRole
from apps.payments.choices import (
    BillingRunStatus,
    InvoiceStatus,
    PaymentMethod,
    ReimbursementStatus,
)
from apps.payments.models import (
    BillingRun,
    CostAllocation,
    CreditNote,
    Invoice,
    Payment,
    Reimbursement,
    Statement,
)
from apps.payments.services import reimbursement_decide
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

UTC = dt.UTC
BILLED_AT = dt.datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
LATER = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
JANUARY_START = "2025-12-31T23:00:00Z"  # midnight of 1 January in Amsterdam
JANUARY_END = "2026-01-31T23:00:00Z"
FLEET = "/api/v1/fleet/"
RUNS = f"{FLEET}billing-runs/"
INVOICES = f"{FLEET}invoices/"
CREDIT_NOTES = f"{FLEET}credit-notes/"
REIMBURSEMENTS = f"{FLEET}reimbursements/"
PAYMENTS = f"{FLEET}payments/"
ALLOCATIONS = f"{FLEET}cost-allocations/"
ADMIN, MANAGER, FINANCE, VIEWER = (
    MembershipRole.ADMIN,
    MembershipRole.MANAGER,
    MembershipRole.FINANCE,
    MembershipRole.VIEWER,
)


@dataclass
class January:
    """January 2026 billed for driver A (private at the depot and in public, business at the
    depot, approved business at home), driver B (private and home) and the other fleet's
    driver (the same as B)."""

    run: BillingRun
    invoice: Invoice
    reimbursement: Reimbursement
    b_invoice: Invoice
    b_reimbursement: Reimbursement
    business_session_id: int
    other_fleet_run: BillingRun
    other_fleet_invoice: Invoice
    other_fleet_reimbursement: Reimbursement


@pytest.fixture
def january(run_billing, driver_a, driver_b, other_fleet_driver) -> January:
    priced_session_create(
        driver=driver_a,
        started_at=dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
        energy_wh=20_000,
        price_excl_vat=Decimal("6.00"),
        price_vat=Decimal("1.26"),
    )
    priced_session_create(
        driver=driver_a,
        location_kind=LocationKind.PUBLIC,
        started_at=dt.datetime(2026, 1, 12, 18, 0, tzinfo=UTC),
        energy_wh=12_345,
        price_excl_vat=Decimal("4.10"),
        price_vat=Decimal("0.86"),
    )
    business = priced_session_create(
        driver=driver_a,
        purpose=SessionPurpose.BUSINESS,
        started_at=dt.datetime(2026, 1, 7, 8, 0, tzinfo=UTC),
        price_excl_vat=Decimal("4.00"),
        price_vat=Decimal("0.84"),
    )
    priced_session_create(
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
    with time_machine.travel(BILLED_AT, tick=False):
        run = run_billing(driver_a.fleet, "2026-01")
        other_run = run_billing(other_fleet_driver.fleet, "2026-01")
    assert run.status == other_run.status == BillingRunStatus.COMPLETED
    a, b, other = (
        Statement.objects.select_related("invoice", "reimbursement").get(driver=driver)
        for driver in (driver_a, driver_b, other_fleet_driver)
    )
    return January(
        run=run,
        invoice=a.invoice,
        reimbursement=a.reimbursement,
        b_invoice=b.invoice,
        b_reimbursement=b.reimbursement,
        business_session_id=business.pk,
        other_fleet_run=other_run,
        other_fleet_invoice=other.invoice,
        other_fleet_reimbursement=other.reimbursement,
    )


def draft_invoice(driver) -> Invoice:
    return Invoice.objects.create(
        fleet=driver.fleet,
        driver=driver,
        currency="EUR",
        period_start=dt.datetime(2026, 2, 1, tzinfo=UTC),
        period_end=dt.datetime(2026, 3, 1, tzinfo=UTC),
    )


def errors_of(response) -> list[tuple[str, str | None]]:
    return [(error["code"], error["attr"]) for error in response.json()["errors"]]


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def url(base: str, row, action: str = "") -> str:
    return f"{base}{row.pk}/{action + '/' if action else ''}"


# Billing runs -------------------------------------------------------------------------------


class TestBillingRunRead:
    def test_lists_the_fleets_runs_with_their_progress_and_totals(
        self, member_client, fleet, january
    ):
        response = member_client(VIEWER, fleet).get(RUNS)

        assert response.status_code == 200
        [listed] = response.json()["results"]
        assert listed == {
            "id": january.run.pk,
            "fleet": fleet.pk,
            "period_kind": "monthly",
            "period_label": "2026-01",
            "period_start": JANUARY_START,
            "period_end": JANUARY_END,
            "status": "completed",
            "currency": "EUR",
            "units_done": 1,
            "units_total": 1,
            "session_count": 6,
            "invoiced_session_count": 3,
            "allocated_session_count": 1,
            "reimbursed_session_count": 2,
            "earlier_session_count": 0,
            "left_out_count": 0,
            "left_out": [],
            "statement_count": 2,
            "invoice_count": 2,
            "invoiced_total": "19.48",
            "allocated_total": "4.00",
            "reimbursed_total": "8.53",
            "started_at": "2026-02-01T06:00:00Z",
            "finished_at": "2026-02-01T06:00:00Z",
            "error": "",
            "created_at": "2026-02-01T06:00:00Z",
        }

    def test_a_run_says_what_of_its_period_it_left_out_and_why(
        self, member_client, fleet, driver_a, run_billing
    ):
        for day, approval in ((3, HomeApproval.PENDING), (4, HomeApproval.PENDING)):
            priced_session_create(
                driver=driver_a,
                location_kind=LocationKind.HOME,
                purpose=SessionPurpose.BUSINESS,
                home_approval=approval,
                started_at=dt.datetime(2026, 1, day, 19, 0, tzinfo=UTC),
            )
        priced_session_create(
            driver=driver_a,
            started_at=dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
            status=SessionStatus.INVALID,
        )
        run = run_billing(fleet, "2026-01")

        body = member_client(VIEWER, fleet).get(url(RUNS, run)).json()

        assert (body["session_count"], body["left_out_count"], body["left_out"]) == (
            0,
            3,
            [{"reason": "invalid", "count": 1}, {"reason": "home_pending", "count": 2}],
        )

    def test_another_fleets_run_is_not_found(self, member_client, fleet, january):
        client = member_client(ADMIN, fleet)

        assert ids(client.get(RUNS)) == [january.run.pk]
        assert client.get(url(RUNS, january.other_fleet_run)).status_code == 404

    def test_anonymous_is_401_and_a_driver_403(self, anonymous_client, driver_a_client, january):
        assert anonymous_client.get(RUNS).status_code == 401
        assert driver_a_client.get(url(RUNS, january.run)).status_code == 403


class TestBillingRunStart:
    @pytest.mark.parametrize("role", [ADMIN, FINANCE])
    def test_finance_starts_a_run_of_an_ended_period(self, member_client, fleet, january, role):
        with time_machine.travel(LATER, tick=False):
            client = member_client(role, fleet)
            response = client.post(RUNS, {"fleet": fleet.pk, "period": "2026-02"}, format="json")

        assert response.status_code == 201, response.json()
        run = BillingRun.objects.get(fleet=fleet, period_label="2026-02")
        assert (run.status, run.requested_by) == (BillingRunStatus.PENDING, client.user)
        body = response.json()
        assert (body["id"], body["status"], body["units_done"], body["units_total"]) == (
            run.pk,
            "pending",
            0,
            0,
        )
        assert (body["period_start"], body["period_end"]) == (
            "2026-01-31T23:00:00Z",
            "2026-02-28T23:00:00Z",
        )

    def test_a_finance_api_key_starts_a_run(self, api_key_client, fleet, january):
        with time_machine.travel(LATER, tick=False):
            response = api_key_client(FINANCE, fleet).post(
                RUNS, {"fleet": fleet.pk, "period": "2026-02"}, format="json"
            )

        assert response.status_code == 201
        assert BillingRun.objects.get(fleet=fleet, period_label="2026-02").requested_by is None

    def test_starting_a_billed_period_again_returns_its_run(self, member_client, fleet, january):
        response = member_client(FINANCE, fleet).post(
            RUNS, {"fleet": fleet.pk, "period": "2026-01"}, format="json"
        )

        assert response.status_code == 200
        assert (response.json()["id"], response.json()["status"]) == (january.run.pk, "completed")
        assert BillingRun.objects.filter(fleet=fleet).count() == 1

    def test_the_same_idempotency_key_replays_the_first_answer(self, member_client, fleet, january):
        body = {"fleet": fleet.pk, "period": "2026-02"}

        with time_machine.travel(LATER, tick=False):
            client = member_client(FINANCE, fleet)
            first = client.post(RUNS, body, format="json", HTTP_IDEMPOTENCY_KEY="run-feb")
            again = client.post(RUNS, body, format="json", HTTP_IDEMPOTENCY_KEY="run-feb")

        assert (first.status_code, again.status_code) == (201, 201)
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()

    def test_a_period_not_ended_is_refused_and_nothing_is_made(self, member_client, fleet, january):
        with time_machine.travel(dt.datetime(2026, 2, 20, tzinfo=UTC), tick=False):
            response = member_client(FINANCE, fleet).post(
                RUNS, {"fleet": fleet.pk, "period": "2026-02"}, format="json"
            )

        assert response.status_code == 422
        assert errors_of(response) == [("payments.period_not_ended", "period")]
        assert BillingRun.objects.filter(fleet=fleet).count() == 1

    def test_a_period_the_fleet_does_not_count_is_refused(self, member_client, fleet, january):
        response = member_client(FINANCE, fleet).post(
            RUNS, {"fleet": fleet.pk, "period": "2026-W05"}, format="json"
        )

        assert response.status_code == 422
        assert errors_of(response) == [("payments.period_invalid", "period")]
        assert BillingRun.objects.filter(fleet=fleet).count() == 1

    @pytest.mark.parametrize("role", [MANAGER, VIEWER])
    def test_managers_and_viewers_cannot_start_a_run(self, member_client, fleet, january, role):
        with time_machine.travel(LATER, tick=False):
            response = member_client(role, fleet).post(
                RUNS, {"fleet": fleet.pk, "period": "2026-02"}, format="json"
            )

        assert response.status_code == 403
        assert BillingRun.objects.filter(fleet=fleet).count() == 1

    def test_another_fleet_does_not_exist_for_the_caller(
        self, member_client, fleet, other_fleet, january
    ):
        with time_machine.travel(LATER, tick=False):
            response = member_client(FINANCE, fleet).post(
                RUNS, {"fleet": other_fleet.pk, "period": "2026-02"}, format="json"
            )

        assert response.status_code == 400
        assert errors_of(response) == [("does_not_exist", "fleet")]
        assert BillingRun.objects.filter(fleet=other_fleet).count() == 1


class TestBillingRunResume:
    def failed_run(self, fleet) -> BillingRun:
        return BillingRun.objects.create(
            fleet=fleet,
            period_kind="monthly",
            period_label="2025-12",
            period_start=dt.datetime(2025, 11, 30, 23, tzinfo=UTC),
            period_end=dt.datetime(2025, 12, 31, 23, tzinfo=UTC),
            currency="EUR",
            status=BillingRunStatus.FAILED,
            error="OperationalError: server closed the connection",
        )

    def test_finance_resumes_a_failed_run(self, member_client, fleet):
        run = self.failed_run(fleet)

        response = member_client(FINANCE, fleet).post(url(RUNS, run, "resume"))

        assert response.status_code == 200
        assert (response.json()["status"], response.json()["error"]) == ("pending", "")
        run.refresh_from_db()
        assert (run.status, run.error) == (BillingRunStatus.PENDING, "")

    @pytest.mark.parametrize("role", [MANAGER, VIEWER])
    def test_managers_and_viewers_cannot_resume(self, member_client, fleet, role):
        run = self.failed_run(fleet)

        response = member_client(role, fleet).post(url(RUNS, run, "resume"))

        assert response.status_code == 403
        run.refresh_from_db()
        assert run.status == BillingRunStatus.FAILED

    def test_another_fleets_finance_cannot_resume(self, api_key_client, fleet, other_fleet):
        run = self.failed_run(fleet)

        response = api_key_client(FINANCE, other_fleet).post(url(RUNS, run, "resume"))

        assert response.status_code == 404
        run.refresh_from_db()
        assert run.status == BillingRunStatus.FAILED


# Invoices -----------------------------------------------------------------------------------


class TestInvoiceList:
    def test_lists_the_fleets_invoices_newest_first_with_their_driver(
        self, member_client, fleet, driver_a, january
    ):
        response = member_client(VIEWER, fleet).get(INVOICES)

        assert response.status_code == 200
        assert ids(response) == [january.b_invoice.pk, january.invoice.pk]
        assert response.json()["results"][1] == {
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
            "driver": {
                "id": driver_a.pk,
                "full_name": "Sanne de Vries",
                "employee_number": "E00042",
            },
            "billing_run": january.run.pk,
            "held_by_payroll": False,
        }

    def test_filters_by_status_driver_and_period(self, member_client, fleet, driver_a, january):
        draft = draft_invoice(driver_a)
        client = member_client(VIEWER, fleet)

        assert ids(client.get(INVOICES, {"status": "draft"})) == [draft.pk]
        assert ids(client.get(INVOICES, {"driver": driver_a.pk, "status": "issued"})) == [
            january.invoice.pk
        ]
        assert ids(client.get(INVOICES, {"period": "2026-01"})) == [
            january.b_invoice.pk,
            january.invoice.pk,
        ]
        assert ids(client.get(INVOICES, {"period": "2026-02"})) == []

    @pytest.mark.parametrize("page_size", [1, 3])
    def test_list_takes_the_same_queries_whatever_the_page_size(
        self, member_client, fleet, driver_a, january, page_size, django_assert_num_queries
    ):
        draft_invoice(driver_a)
        client = member_client(VIEWER, fleet)

        # The login, the caller's roles, the page of invoices with their drivers.
        with django_assert_num_queries(3):
            response = client.get(INVOICES, {"page_size": page_size})

        assert len(response.json()["results"]) == page_size

    def test_another_fleets_member_sees_none_of_them(self, api_key_client, other_fleet, january):
        client = api_key_client(ADMIN, other_fleet)

        assert ids(client.get(INVOICES)) == [january.other_fleet_invoice.pk]
        assert client.get(url(INVOICES, january.invoice)).status_code == 404
        assert client.get(url(INVOICES, january.invoice, "pdf")).status_code == 404


class TestInvoiceDetail:
    def test_shows_lines_vat_per_rate_and_balance(self, member_client, fleet, january):
        response = member_client(VIEWER, fleet).get(url(INVOICES, january.invoice))

        assert response.status_code == 200
        body = response.json()
        assert [
            (
                line["position"],
                line["energy_wh"],
                line["energy_kwh"],
                line["net"],
                line["vat_rate"],
                "vat" in line or "gross" in line,
            )
            for line in body["lines"]
        ] == [
            (1, 20_000, "20.000", "6.00", "21.00", False),
            (2, 12_345, "12.345", "4.10", "21.00", False),
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
        assert body["driver"]["full_name"] == "Sanne de Vries"

    def test_pdf_downloads_the_document(self, api_key_client, fleet, january):
        response = api_key_client(VIEWER, fleet).get(url(INVOICES, january.invoice, "pdf"))

        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == 'attachment; filename="VT-2026-000001.pdf"'
        assert response.content.startswith(b"%PDF-")

    def test_pdf_of_another_fleets_invoice_refuses_in_json(
        self, member_client, other_fleet, january
    ):
        response = member_client(VIEWER, other_fleet).get(
            url(INVOICES, january.invoice, "pdf"), HTTP_ACCEPT="application/pdf"
        )

        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"


class TestInvoiceIssue:
    @pytest.mark.parametrize("role", [ADMIN, FINANCE])
    def test_finance_issues_a_draft_with_the_next_number(
        self, member_client, fleet, driver_a, january, role
    ):
        draft = draft_invoice(driver_a)

        with time_machine.travel(LATER, tick=False):
            response = member_client(role, fleet).post(url(INVOICES, draft, "issue"))

        assert response.status_code == 200, response.json()
        draft.refresh_from_db()
        assert (draft.status, draft.number) == (InvoiceStatus.ISSUED, "VT-2026-000003")
        body = response.json()
        assert (body["status"], body["number"], body["issued_at"]) == (
            "issued",
            "VT-2026-000003",
            "2026-03-01T09:00:00Z",
        )

    def test_an_issued_invoice_is_refused_with_409(self, member_client, fleet, january):
        response = member_client(FINANCE, fleet).post(url(INVOICES, january.invoice, "issue"))

        assert response.status_code == 409
        assert errors_of(response) == [("payments.invoice_not_draft", "status")]
        january.invoice.refresh_from_db()
        assert january.invoice.number == "VT-2026-000001"

    @pytest.mark.parametrize("role", [MANAGER, VIEWER])
    def test_managers_and_viewers_cannot_issue(self, member_client, fleet, driver_a, role):
        draft = draft_invoice(driver_a)

        response = member_client(role, fleet).post(url(INVOICES, draft, "issue"))

        assert response.status_code == 403
        draft.refresh_from_db()
        assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, "")

    def test_another_fleets_finance_cannot_issue(self, member_client, other_fleet, driver_a):
        draft = draft_invoice(driver_a)

        response = member_client(FINANCE, other_fleet).post(url(INVOICES, draft, "issue"))

        assert response.status_code == 404
        draft.refresh_from_db()
        assert draft.status == InvoiceStatus.DRAFT


# Credit notes -------------------------------------------------------------------------------


class TestCreditNotes:
    def test_finance_credits_one_line(self, member_client, fleet, january):
        line = january.invoice.lines.get(position=1)
        with time_machine.travel(LATER, tick=False):
            client = member_client(FINANCE, fleet)
            response = client.post(
                CREDIT_NOTES,
                {"invoice": january.invoice.pk, "reason": "Charger fault", "lines": [line.pk]},
                format="json",
            )
            balance = client.get(url(INVOICES, january.invoice)).json()["balance"]

        assert response.status_code == 201, response.json()
        credit_note = CreditNote.objects.get(invoice=january.invoice)
        assert credit_note.issued_by == client.user
        body = response.json()
        assert body == {
            "id": credit_note.pk,
            "number": "CN-2026-000001",
            "invoice": {"id": january.invoice.pk, "number": "VT-2026-000001"},
            "reason": "Charger fault",
            "currency": "EUR",
            "net_total": "6.00",
            "vat_total": "1.26",
            "gross_total": "7.26",
            "issued_at": "2026-03-01T09:00:00Z",
            "lines": [
                {
                    "id": credit_note.lines.get().pk,
                    "invoice_line": line.pk,
                    "description": line.description,
                    "net": "6.00",
                    "vat_rate": "21.00",
                }
            ],
        }
        assert (balance["credited"], balance["due"]) == ("7.26", "4.96")

    def test_without_lines_every_line_is_credited_and_the_invoice_is_void(
        self, api_key_client, fleet, january
    ):
        response = api_key_client(FINANCE, fleet).post(
            CREDIT_NOTES, {"invoice": january.invoice.pk, "reason": "Wrong driver"}, format="json"
        )

        assert response.status_code == 201
        assert response.json()["gross_total"] == "12.22"
        assert CreditNote.objects.get().issued_by is None
        january.invoice.refresh_from_db()
        assert january.invoice.status == InvoiceStatus.VOID

    def test_without_a_reason_it_is_refused_and_nothing_is_made(
        self, member_client, fleet, january
    ):
        response = member_client(FINANCE, fleet).post(
            CREDIT_NOTES, {"invoice": january.invoice.pk, "reason": ""}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("blank", "reason")]
        assert not CreditNote.objects.exists()

    def test_a_draft_is_refused_with_409(self, member_client, fleet, driver_a, january):
        draft = draft_invoice(driver_a)

        response = member_client(FINANCE, fleet).post(
            CREDIT_NOTES, {"invoice": draft.pk, "reason": "Too early"}, format="json"
        )

        assert response.status_code == 409
        assert errors_of(response) == [("payments.invoice_not_issued", "invoice")]
        assert not CreditNote.objects.exists()

    def test_a_line_of_another_invoice_is_refused(self, member_client, fleet, january):
        line_of_b = january.b_invoice.lines.get()

        response = member_client(FINANCE, fleet).post(
            CREDIT_NOTES,
            {"invoice": january.invoice.pk, "reason": "Fault", "lines": [line_of_b.pk]},
            format="json",
        )

        assert response.status_code == 422
        assert errors_of(response) == [("payments.credit_note_invalid", "lines")]
        assert not CreditNote.objects.exists()

    def test_another_fleets_invoice_does_not_exist(self, member_client, fleet, january):
        response = member_client(FINANCE, fleet).post(
            CREDIT_NOTES,
            {"invoice": january.other_fleet_invoice.pk, "reason": "Fault"},
            format="json",
        )

        assert response.status_code == 400
        assert errors_of(response) == [("does_not_exist", "invoice")]
        assert not CreditNote.objects.exists()

    @pytest.mark.parametrize("role", [MANAGER, VIEWER])
    def test_managers_and_viewers_cannot_credit(self, member_client, fleet, january, role):
        response = member_client(role, fleet).post(
            CREDIT_NOTES, {"invoice": january.invoice.pk, "reason": "Fault"}, format="json"
        )

        assert response.status_code == 403
        assert not CreditNote.objects.exists()

    def test_list_and_detail_show_only_the_fleets_credit_notes(
        self, member_client, api_key_client, fleet, other_fleet, january
    ):
        api_key_client(FINANCE, fleet).post(
            CREDIT_NOTES, {"invoice": january.invoice.pk, "reason": "Fault"}, format="json"
        )
        credit_note = CreditNote.objects.get()

        assert ids(member_client(VIEWER, fleet).get(CREDIT_NOTES)) == [credit_note.pk]
        stranger = member_client(ADMIN, other_fleet)
        assert ids(stranger.get(CREDIT_NOTES)) == []
        assert stranger.get(url(CREDIT_NOTES, credit_note)).status_code == 404


# Reimbursements -----------------------------------------------------------------------------


class TestReimbursements:
    def test_lists_the_fleets_reimbursements(self, member_client, fleet, driver_a, january):
        response = member_client(VIEWER, fleet).get(REIMBURSEMENTS, {"driver": driver_a.pk})

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
                "driver": {
                    "id": driver_a.pk,
                    "full_name": "Sanne de Vries",
                    "employee_number": "E00042",
                },
                "billing_run": january.run.pk,
            }
        ]
        assert member_client(VIEWER, fleet).get(REIMBURSEMENTS).json()["count"] == 2

    def test_detail_lists_its_home_sessions(self, member_client, fleet, january):
        response = member_client(VIEWER, fleet).get(url(REIMBURSEMENTS, january.reimbursement))

        assert response.status_code == 200
        [line] = response.json()["lines"]
        assert (line["energy_wh"], line["energy_kwh"], line["amount"]) == (
            10_123,
            "10.123",
            "2.53",
        )
        assert line["session_started_at"] == "2026-01-09T19:00:00Z"

    @pytest.mark.parametrize("role", [ADMIN, FINANCE])
    def test_finance_approves_a_pending_reimbursement(self, member_client, fleet, january, role):
        with time_machine.travel(LATER, tick=False):
            client = member_client(role, fleet)
            response = client.post(url(REIMBURSEMENTS, january.reimbursement, "approve"))

        assert response.status_code == 200
        january.reimbursement.refresh_from_db()
        assert (january.reimbursement.status, january.reimbursement.decided_by) == (
            ReimbursementStatus.APPROVED,
            client.user,
        )
        assert (response.json()["status"], response.json()["decided_at"]) == (
            "approved",
            "2026-03-01T09:00:00Z",
        )

    def test_finance_rejects_saying_why(self, api_key_client, fleet, january):
        response = api_key_client(FINANCE, fleet).post(
            url(REIMBURSEMENTS, january.reimbursement, "reject"),
            {"note": "Not a registered home charger"},
            format="json",
        )

        assert response.status_code == 200
        january.reimbursement.refresh_from_db()
        assert (
            january.reimbursement.status,
            january.reimbursement.decision_note,
            january.reimbursement.decided_by,
        ) == (ReimbursementStatus.REJECTED, "Not a registered home charger", None)

    def test_rejecting_without_a_note_is_refused_and_changes_nothing(
        self, member_client, fleet, january
    ):
        response = member_client(FINANCE, fleet).post(
            url(REIMBURSEMENTS, january.reimbursement, "reject"), {}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("required", "note")]
        january.reimbursement.refresh_from_db()
        assert january.reimbursement.status == ReimbursementStatus.PENDING

    def test_a_decided_reimbursement_is_refused_with_409(self, member_client, fleet, january):
        client = member_client(FINANCE, fleet)
        client.post(url(REIMBURSEMENTS, january.reimbursement, "approve"))

        response = client.post(
            url(REIMBURSEMENTS, january.reimbursement, "reject"), {"note": "Changed my mind"}
        )

        assert response.status_code == 409
        assert errors_of(response) == [("payments.reimbursement_not_pending", "status")]
        january.reimbursement.refresh_from_db()
        assert january.reimbursement.status == ReimbursementStatus.APPROVED

    @pytest.mark.parametrize("role", [MANAGER, VIEWER])
    def test_managers_and_viewers_cannot_decide(self, member_client, fleet, january, role):
        response = member_client(role, fleet).post(
            url(REIMBURSEMENTS, january.reimbursement, "approve")
        )

        assert response.status_code == 403
        january.reimbursement.refresh_from_db()
        assert january.reimbursement.status == ReimbursementStatus.PENDING

    def test_another_fleets_finance_and_a_driver_cannot_decide(
        self, member_client, driver_a_client, other_fleet, january
    ):
        stranger = member_client(FINANCE, other_fleet)

        assert stranger.post(url(REIMBURSEMENTS, january.reimbursement, "approve")).status_code == (
            404
        )
        assert ids(stranger.get(REIMBURSEMENTS)) == [january.other_fleet_reimbursement.pk]
        assert (
            driver_a_client.post(url(REIMBURSEMENTS, january.reimbursement, "approve")).status_code
            == 403
        )
        january.reimbursement.refresh_from_db()
        assert january.reimbursement.status == ReimbursementStatus.PENDING


def reimbursement_row(reimbursement: Reimbursement) -> dict:
    """Everything marking a reimbursement paid might change, its updated_at included."""
    return Reimbursement.objects.values().get(pk=reimbursement.pk)


APPROVED_AT = dt.datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def approved(january) -> Reimbursement:
    """Driver A's January reimbursement of 2.53, approved on 2 February 2026 at 09:00 UTC."""
    return reimbursement_decide(
        reimbursement=january.reimbursement, approve=True, decided_by=None, now=APPROVED_AT
    )


class TestReimbursementMarkPaid:
    @pytest.fixture(autouse=True)
    def _later(self, time_machine):
        time_machine.move_to(LATER, tick=False)

    @pytest.mark.parametrize("role", [ADMIN, FINANCE])
    def test_finance_records_the_payout_of_an_approved_reimbursement(
        self, member_client, fleet, driver_a, approved, role
    ):
        client = member_client(role, fleet)

        response = client.post(
            url(REIMBURSEMENTS, approved, "mark-paid"),
            {"paid_at": "2026-02-25T10:00:00+01:00"},
            format="json",
        )

        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["status"], body["paid_at"], body["amount"], body["currency"]) == (
            "paid",
            "2026-02-25T09:00:00Z",
            "2.53",
            "EUR",
        )
        assert body["decided_at"] == "2026-02-02T09:00:00Z"
        approved.refresh_from_db()
        assert (approved.status, approved.paid_at, approved.paid_by, approved.amount) == (
            ReimbursementStatus.PAID,
            dt.datetime(2026, 2, 25, 9, 0, tzinfo=UTC),
            client.user,
            Decimal("2.53"),
        )

    def test_the_driver_sees_the_payout(self, member_client, driver_a_client, fleet, approved):
        member_client(FINANCE, fleet).post(
            url(REIMBURSEMENTS, approved, "mark-paid"),
            {"paid_at": "2026-02-25T09:00:00Z"},
            format="json",
        )

        response = driver_a_client.get(f"/api/v1/me/reimbursements/{approved.pk}/")

        assert (response.json()["status"], response.json()["paid_at"]) == (
            "paid",
            "2026-02-25T09:00:00Z",
        )

    def test_a_finance_api_key_records_it_without_a_person(self, api_key_client, fleet, approved):
        response = api_key_client(FINANCE, fleet).post(
            url(REIMBURSEMENTS, approved, "mark-paid"),
            {"paid_at": "2026-02-25T09:00:00Z"},
            format="json",
        )

        assert response.status_code == 200
        approved.refresh_from_db()
        assert (approved.status, approved.paid_by) == (ReimbursementStatus.PAID, None)

    def test_the_same_moment_again_changes_nothing(self, member_client, fleet, approved):
        client = member_client(FINANCE, fleet)
        first = client.post(
            url(REIMBURSEMENTS, approved, "mark-paid"),
            {"paid_at": "2026-02-25T09:00:00Z"},
            format="json",
        )
        after_first = reimbursement_row(approved)

        again = client.post(
            url(REIMBURSEMENTS, approved, "mark-paid"),
            {"paid_at": "2026-02-25T10:00:00+01:00"},
            format="json",
        )

        assert (first.status_code, again.status_code) == (200, 200)
        assert again.json() == first.json()
        assert reimbursement_row(approved) == after_first

    def test_another_moment_is_refused_with_409_and_changes_nothing(
        self, member_client, fleet, approved
    ):
        client = member_client(FINANCE, fleet)
        client.post(
            url(REIMBURSEMENTS, approved, "mark-paid"),
            {"paid_at": "2026-02-25T09:00:00Z"},
            format="json",
        )
        after_first = reimbursement_row(approved)

        response = client.post(
            url(REIMBURSEMENTS, approved, "mark-paid"),
            {"paid_at": "2026-02-26T09:00:00Z"},
            format="json",
        )

        assert response.status_code == 409
        assert errors_of(response) == [("payments.reimbursement_already_paid", "paid_at")]
        assert response.json()["errors"][0]["detail"] == (
            "The reimbursement was paid on 2026-02-25 10:00 CET; a payout is recorded once."
        )
        assert reimbursement_row(approved) == after_first

    @pytest.mark.parametrize("decision", ["pending", "rejected"])
    def test_a_reimbursement_not_approved_is_refused_with_409(
        self, member_client, fleet, january, decision
    ):
        reimbursement = january.reimbursement
        if decision == "rejected":
            reimbursement_decide(
                reimbursement=reimbursement, approve=False, decided_by=None, note="No charger"
            )
        before = reimbursement_row(reimbursement)

        response = member_client(FINANCE, fleet).post(
            url(REIMBURSEMENTS, reimbursement, "mark-paid"),
            {"paid_at": "2026-02-25T09:00:00Z"},
            format="json",
        )

        assert response.status_code == 409
        assert errors_of(response) == [("payments.reimbursement_not_approved", "status")]
        assert reimbursement_row(reimbursement) == before

    @pytest.mark.parametrize(
        ("body", "status", "error"),
        [
            (
                {"paid_at": "2026-03-01T09:06:00Z"},
                422,
                ("payments.reimbursement_invalid", "paid_at"),
            ),
            (
                {"paid_at": "2026-02-02T08:59:00Z"},
                422,
                ("payments.reimbursement_invalid", "paid_at"),
            ),
            ({}, 400, ("required", "paid_at")),
            ({"paid_at": "2026-02-25T09:00:00"}, 400, ("naive", "paid_at")),
            ({"paid_at": "yesterday"}, 400, ("invalid", "paid_at")),
        ],
    )
    def test_a_moment_that_breaks_a_rule_is_refused_and_changes_nothing(
        self, member_client, fleet, approved, body, status, error
    ):
        before = reimbursement_row(approved)

        response = member_client(FINANCE, fleet).post(
            url(REIMBURSEMENTS, approved, "mark-paid"), body, format="json"
        )

        assert response.status_code == status
        assert errors_of(response) == [error]
        assert reimbursement_row(approved) == before

    def test_amounts_and_status_sent_are_refused_by_name_and_nothing_changes(
        self, member_client, fleet, approved
    ):
        before = reimbursement_row(approved)

        response = member_client(ADMIN, fleet).post(
            url(REIMBURSEMENTS, approved, "mark-paid"),
            {
                "paid_at": "2026-02-25T09:00:00Z",
                "amount": "999.00",
                "status": "approved",
                "paid_by": 1,
                "fleet": 1,
            },
            format="json",
        )

        assert response.status_code == 400
        assert errors_of(response) == [
            ("not_settable", "amount"),
            ("not_settable", "fleet"),
            ("not_settable", "paid_by"),
            ("not_settable", "status"),
        ]
        assert reimbursement_row(approved) == before

    @pytest.mark.parametrize("role", [MANAGER, VIEWER])
    def test_managers_and_viewers_cannot_record_a_payout(
        self, member_client, api_key_client, fleet, approved, role
    ):
        before = reimbursement_row(approved)
        body = {"paid_at": "2026-02-25T09:00:00Z"}

        member = member_client(role, fleet).post(
            url(REIMBURSEMENTS, approved, "mark-paid"), body, format="json"
        )
        api_key = api_key_client(role, fleet).post(
            url(REIMBURSEMENTS, approved, "mark-paid"), body, format="json"
        )

        assert (member.status_code, api_key.status_code) == (403, 403)
        assert reimbursement_row(approved) == before

    def test_another_fleets_finance_finds_nothing_and_a_driver_is_forbidden(
        self, member_client, driver_a_client, anonymous_client, other_fleet, approved
    ):
        before = reimbursement_row(approved)
        body = {"paid_at": "2026-02-25T09:00:00Z"}
        mark_paid = url(REIMBURSEMENTS, approved, "mark-paid")

        assert member_client(FINANCE, other_fleet).post(mark_paid, body).status_code == 404
        assert driver_a_client.post(mark_paid, body).status_code == 403
        assert anonymous_client.post(mark_paid, body).status_code == 401
        assert reimbursement_row(approved) == before


# Payments -----------------------------------------------------------------------------------


def payment_body(invoice: Invoice, amount: str = "12.22", **fields) -> dict:
    return {
        "invoice": invoice.pk,
        "amount": amount,
        "currency": "EUR",
        "method": PaymentMethod.BANK_TRANSFER,
        "received_at": "2026-02-20T10:00:00+01:00",
        "provider_reference": "NL-BANK-4711",
        **fields,
    }


class TestPaymentRecord:
    def test_finance_records_a_payment_that_pays_the_invoice(self, member_client, fleet, january):
        with time_machine.travel(LATER, tick=False):
            client = member_client(FINANCE, fleet)
            response = client.post(
                PAYMENTS, payment_body(january.invoice), format="json", HTTP_IDEMPOTENCY_KEY="p-1"
            )

        assert response.status_code == 201, response.json()
        payment = Payment.objects.get()
        assert (payment.amount, payment.idempotency_key, payment.recorded_by) == (
            Decimal("12.22"),
            "p-1",
            client.user,
        )
        assert response.json() == {
            "id": payment.pk,
            "invoice": {"id": january.invoice.pk, "number": "VT-2026-000001"},
            "amount": "12.22",
            "currency": "EUR",
            "method": "bank_transfer",
            "status": "received",
            "received_at": "2026-02-20T09:00:00Z",
            "provider_reference": "NL-BANK-4711",
            "created_at": "2026-03-01T09:00:00Z",
        }
        january.invoice.refresh_from_db()
        assert january.invoice.status == InvoiceStatus.PAID

    def test_without_an_idempotency_key_it_is_refused_naming_the_header(
        self, member_client, fleet, january
    ):
        response = member_client(FINANCE, fleet).post(
            PAYMENTS, payment_body(january.invoice), format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("required", "Idempotency-Key")]
        assert not Payment.objects.exists()

    def test_a_replay_returns_the_stored_payment_with_the_first_status(
        self, member_client, fleet, january
    ):
        client = member_client(FINANCE, fleet)
        first = client.post(
            PAYMENTS,
            payment_body(january.invoice, "5.00"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="p-2",
        )

        again = client.post(
            PAYMENTS,
            payment_body(january.invoice, "5.00"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="p-2",
        )

        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert Payment.objects.count() == 1

    def test_a_replay_by_another_finance_member_returns_the_stored_payment(
        self, member_client, api_key_client, fleet, january
    ):
        body = payment_body(january.invoice, "5.00")
        first = member_client(FINANCE, fleet).post(
            PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="p-3"
        )

        again = api_key_client(FINANCE, fleet).post(
            PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="p-3"
        )

        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json()["id"] == first.json()["id"]
        assert Payment.objects.count() == 1

    def test_another_members_key_with_another_body_is_refused_with_422_and_changes_nothing(
        self, member_client, api_key_client, fleet, january
    ):
        member_client(FINANCE, fleet).post(
            PAYMENTS,
            payment_body(january.invoice, "5.00"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="p-6",
        )

        response = api_key_client(FINANCE, fleet).post(
            PAYMENTS,
            payment_body(january.invoice, "6.00"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="p-6",
        )

        assert response.status_code == 422
        assert errors_of(response) == [("payments.idempotency_key_reused", "idempotency_key")]
        assert list(Payment.objects.values_list("amount", flat=True)) == [Decimal("5.00")]

    def test_the_same_key_with_another_body_is_refused_with_422_and_changes_nothing(
        self, member_client, fleet, january
    ):
        client = member_client(FINANCE, fleet)
        client.post(
            PAYMENTS,
            payment_body(january.invoice, "5.00"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="p-4",
        )

        response = client.post(
            PAYMENTS,
            payment_body(january.invoice, "6.00"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="p-4",
        )

        assert response.status_code == 422
        assert errors_of(response) == [("idempotency_key_reused", None)]
        assert list(Payment.objects.values_list("amount", flat=True)) == [Decimal("5.00")]

    def test_a_draft_invoice_takes_no_payment(self, member_client, fleet, driver_a, january):
        draft = draft_invoice(driver_a)

        response = member_client(FINANCE, fleet).post(
            PAYMENTS, payment_body(draft), format="json", HTTP_IDEMPOTENCY_KEY="p-5"
        )

        assert response.status_code == 409
        assert errors_of(response) == [("payments.invoice_not_issued", "invoice")]
        assert not Payment.objects.exists()

    def test_another_currency_is_refused(self, member_client, fleet, january):
        response = member_client(FINANCE, fleet).post(
            PAYMENTS,
            payment_body(january.invoice, currency="USD"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="p-6",
        )

        assert response.status_code == 422
        assert errors_of(response) == [("payments.payment_invalid", "currency")]
        assert not Payment.objects.exists()

    def test_another_fleets_invoice_does_not_exist(self, member_client, fleet, january):
        response = member_client(FINANCE, fleet).post(
            PAYMENTS,
            payment_body(january.other_fleet_invoice),
            format="json",
            HTTP_IDEMPOTENCY_KEY="p-7",
        )

        assert response.status_code == 400
        assert errors_of(response) == [("does_not_exist", "invoice")]
        assert not Payment.objects.exists()

    def test_status_and_recorder_sent_are_ignored(self, member_client, fleet, january):
        response = member_client(FINANCE, fleet).post(
            PAYMENTS,
            payment_body(january.invoice, status="reversed", recorded_by=1, fleet=999),
            format="json",
            HTTP_IDEMPOTENCY_KEY="p-8",
        )

        assert response.status_code == 201
        payment = Payment.objects.get()
        assert (payment.status, payment.fleet_id) == ("received", january.invoice.fleet_id)

    @pytest.mark.parametrize("role", [MANAGER, VIEWER])
    def test_managers_and_viewers_cannot_record(self, member_client, fleet, january, role):
        response = member_client(role, fleet).post(
            PAYMENTS, payment_body(january.invoice), format="json", HTTP_IDEMPOTENCY_KEY="p-9"
        )

        assert response.status_code == 403
        assert not Payment.objects.exists()

    def test_a_finance_api_key_records_a_payment(self, api_key_client, fleet, january):
        response = api_key_client(FINANCE, fleet).post(
            PAYMENTS, payment_body(january.invoice), format="json", HTTP_IDEMPOTENCY_KEY="p-10"
        )

        assert response.status_code == 201
        assert Payment.objects.get().recorded_by is None


class TestPaymentList:
    def record(self, client, invoice, key: str, day: int) -> None:
        response = client.post(
            PAYMENTS,
            payment_body(invoice, "1.00", received_at=f"2026-02-{day:02d}T10:00:00+01:00"),
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
        assert response.status_code == 201

    def test_lists_the_fleets_payments_newest_first(
        self, member_client, fleet, other_fleet, january
    ):
        finance = member_client(FINANCE, fleet)
        self.record(finance, january.invoice, "a", 10)
        self.record(finance, january.b_invoice, "b", 12)
        self.record(member_client(FINANCE, other_fleet), january.other_fleet_invoice, "c", 11)

        response = member_client(VIEWER, fleet).get(PAYMENTS)

        assert response.status_code == 200
        assert [(p["invoice"]["number"], p["received_at"]) for p in response.json()["results"]] == [
            ("VT-2026-000002", "2026-02-12T09:00:00Z"),
            ("VT-2026-000001", "2026-02-10T09:00:00Z"),
        ]

    @pytest.mark.parametrize("page_size", [1, 4])
    def test_list_takes_the_same_queries_whatever_the_page_size(
        self, member_client, fleet, january, page_size, django_assert_num_queries
    ):
        finance = member_client(FINANCE, fleet)
        for day in range(1, 5):
            self.record(finance, january.invoice, f"k{day}", day)
        client = member_client(VIEWER, fleet)

        # The login, the caller's roles, the page of payments with their invoices.
        with django_assert_num_queries(3):
            response = client.get(PAYMENTS, {"page_size": page_size})

        assert len(response.json()["results"]) == page_size

    def test_anonymous_is_401_and_a_driver_403(self, anonymous_client, driver_a_client):
        assert anonymous_client.get(PAYMENTS).status_code == 401
        assert driver_a_client.get(PAYMENTS).status_code == 403

    def test_detail_shows_one_payment_of_the_fleet(self, member_client, fleet, january):
        with time_machine.travel(LATER, tick=False):
            self.record(member_client(FINANCE, fleet), january.invoice, "d-1", 14)
        payment = Payment.objects.get()

        response = member_client(VIEWER, fleet).get(url(PAYMENTS, payment))

        assert response.status_code == 200
        assert response.json() == {
            "id": payment.pk,
            "invoice": {"id": january.invoice.pk, "number": "VT-2026-000001"},
            "amount": "1.00",
            "currency": "EUR",
            "method": "bank_transfer",
            "status": "received",
            "received_at": "2026-02-14T09:00:00Z",
            "provider_reference": "NL-BANK-4711",
            "created_at": "2026-03-01T09:00:00Z",
        }

    def test_detail_of_another_fleets_payment_is_not_found(
        self, member_client, fleet, other_fleet, january
    ):
        self.record(member_client(FINANCE, other_fleet), january.other_fleet_invoice, "o-1", 14)
        payment = Payment.objects.get()

        response = member_client(ADMIN, fleet).get(url(PAYMENTS, payment))

        assert response.status_code == 404
        assert errors_of(response) == [("not_found", None)]


# Cost allocations ---------------------------------------------------------------------------


class TestCostAllocations:
    def test_lists_business_charging_by_cost_center(
        self, member_client, fleet, driver_a, cost_center, january
    ):
        response = member_client(FINANCE, fleet).get(
            ALLOCATIONS, {"billing_run": january.run.pk, "cost_center": cost_center.pk}
        )

        assert response.status_code == 200
        allocation = CostAllocation.objects.get(session_id=january.business_session_id)
        assert response.json()["results"] == [
            {
                "id": allocation.pk,
                "billing_run": january.run.pk,
                "cost_center": cost_center.pk,
                "cost_center_code": "CC-100",
                "session": january.business_session_id,
                "driver": driver_a.pk,
                "period_start": JANUARY_START,
                "period_end": JANUARY_END,
                "currency": "EUR",
                "amount": "4.00",
                "vat": "0.84",
            }
        ]

    def test_another_fleets_allocations_are_not_listed(
        self, member_client, api_key_client, fleet, other_fleet, january
    ):
        assert ids(member_client(VIEWER, other_fleet).get(ALLOCATIONS)) == []
        assert (
            ids(api_key_client(VIEWER, fleet).get(ALLOCATIONS, {"billing_run": january.run.pk}))
            != []
        )

    def test_list_takes_a_fixed_number_of_queries(
        self, member_client, fleet, january, django_assert_num_queries
    ):
        client = member_client(VIEWER, fleet)

        # The login, the caller's roles, the count, the allocations with their cost centers.
        with django_assert_num_queries(4):
            response = client.get(ALLOCATIONS)

        assert response.json()["count"] == 1

    def test_allocations_are_read_only(self, member_client, fleet, january):
        response = member_client(ADMIN, fleet).post(ALLOCATIONS, {}, format="json")

        assert response.status_code == 405
        assert CostAllocation.objects.count() == 1

    def test_detail_shows_one_allocation_in_a_fixed_number_of_queries(
        self, member_client, fleet, driver_a, cost_center, january, django_assert_num_queries
    ):
        allocation = CostAllocation.objects.get(session_id=january.business_session_id)
        client = member_client(VIEWER, fleet)

        # The login, the caller's roles, the allocation with its cost center.
        with django_assert_num_queries(3):
            response = client.get(url(ALLOCATIONS, allocation))

        assert response.status_code == 200
        assert response.json() == {
            "id": allocation.pk,
            "billing_run": january.run.pk,
            "cost_center": cost_center.pk,
            "cost_center_code": "CC-100",
            "session": january.business_session_id,
            "driver": driver_a.pk,
            "period_start": JANUARY_START,
            "period_end": JANUARY_END,
            "currency": "EUR",
            "amount": "4.00",
            "vat": "0.84",
        }

    def test_a_finance_api_key_reads_the_detail(self, api_key_client, fleet, january):
        allocation = CostAllocation.objects.get(session_id=january.business_session_id)

        response = api_key_client(FINANCE, fleet).get(url(ALLOCATIONS, allocation))

        assert (response.status_code, response.json()["amount"]) == (200, "4.00")

    def test_another_fleets_allocation_is_not_found_and_a_driver_is_forbidden(
        self, member_client, driver_a_client, anonymous_client, other_fleet, january
    ):
        allocation = CostAllocation.objects.get(session_id=january.business_session_id)

        assert member_client(ADMIN, other_fleet).get(url(ALLOCATIONS, allocation)).status_code == (
            404
        )
        assert driver_a_client.get(url(ALLOCATIONS, allocation)).status_code == 403
        assert anonymous_client.get(url(ALLOCATIONS, allocation)).status_code == 401

    @pytest.mark.parametrize("method", ["put", "patch", "delete"])
    def test_an_allocation_is_never_changed_through_the_api(
        self, member_client, fleet, january, method
    ):
        allocation = CostAllocation.objects.get(session_id=january.business_session_id)
        before = CostAllocation.objects.values().get(pk=allocation.pk)

        response = getattr(member_client(ADMIN, fleet), method)(
            url(ALLOCATIONS, allocation), {"amount": "0.00"}, format="json"
        )

        assert response.status_code == 405
        assert CostAllocation.objects.values().get(pk=allocation.pk) == before
