"""After billing: issuing drafts, credit notes, payments with idempotency keys, reimbursement
decisions and payouts, and issued documents that never change."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse

from apps.charging.choices import LocationKind, SessionPurpose
from apps.payments import services
from apps.payments.choices import (
    InvoiceStatus,
    PaymentMethod,
    ReimbursementStatus,
)
from apps.payments.documents import invoice_html
from apps.payments.exceptions import (
    CreditNoteInvalid,
    IdempotencyKeyReused,
    InvoiceImmutable,
    InvoiceNotDraft,
    InvoiceNotIssued,
    PaymentInvalid,
    ReimbursementAlreadyPaid,
    ReimbursementInvalid,
    ReimbursementNotApproved,
    ReimbursementNotPending,
)
from apps.payments.models import (
    CreditNote,
    DocumentCounter,
    Invoice,
    InvoiceLine,
    Payment,
    Reimbursement,
)
from apps.payments.selectors import invoice_balance
from tests.factories import DriverFactory, FleetFactory, UserFactory
from tests.html_tables import table_rows
from tests.payments.builders import priced_session_create
from voltop.core.timeutils import NaiveDatetime

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC
RECEIVED = dt.datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def driver():
    return DriverFactory(fleet=FleetFactory(default_vat_rate=D("21.00")))


@pytest.fixture
def invoice(driver, run_billing) -> Invoice:
    """An issued invoice of three lines: nets 10.00, 5.00 and 2.50, 21 % VAT, gross 21.18."""
    for day, net in enumerate([D("10.00"), D("5.00"), D("2.50")], start=3):
        priced_session_create(driver=driver, started_at=utc(2026, 10, day, 8), price_excl_vat=net)
    run_billing(driver.fleet, "2026-10")
    return Invoice.objects.get(driver=driver)


def pay(invoice: Invoice, amount, key: str = "key-1", **changes):
    details = {
        "invoice": invoice,
        "amount": amount,
        "currency": invoice.currency,
        "method": PaymentMethod.BANK_TRANSFER,
        "idempotency_key": key,
        "received_at": RECEIVED,
        "provider_reference": "BANK-REF-1",
    }
    return services.payment_record(**{**details, **changes})


def test_the_invoice_fixture_is_what_its_docstring_says(invoice):
    assert (invoice.net_total, invoice.vat_total, invoice.gross_total) == (
        D("17.50"),
        D("3.68"),
        D("21.18"),
    )
    assert invoice.status == InvoiceStatus.ISSUED


class TestIssuing:
    def draft_create(self, driver) -> Invoice:
        return Invoice.objects.create(
            fleet=driver.fleet,
            driver=driver,
            currency="EUR",
            period_start=utc(2026, 9, 30, 22),
            period_end=utc(2026, 10, 31, 23),
            net_total=D("1.00"),
            vat_total=D("0.21"),
            gross_total=D("1.21"),
        )

    def test_a_draft_gets_the_next_number_of_its_fleets_year(self, invoice, driver):
        draft = self.draft_create(driver)

        issued = services.invoice_issue(invoice=draft, now=utc(2026, 11, 21, 10))

        assert issued.number == "VT-2026-000002"
        assert issued.status == InvoiceStatus.ISSUED
        assert issued.due_at == utc(2026, 12, 5, 10)

    def test_the_year_of_the_number_is_the_year_in_the_fleets_zone(self, driver):
        new_year_in_amsterdam = utc(2026, 12, 31, 23, 30)

        issued = services.invoice_issue(
            invoice=self.draft_create(driver), now=new_year_in_amsterdam
        )

        assert issued.number == "VT-2027-000001"

    def test_the_invoice_issuing_returns_is_guarded_like_any_issued_invoice(self, driver):
        issued = services.invoice_issue(invoice=self.draft_create(driver))
        issued.gross_total = D("99.00")

        with pytest.raises(InvoiceImmutable):
            issued.save()

        assert Invoice.objects.get(pk=issued.pk).gross_total == D("1.21")

    def test_issuing_an_issued_invoice_is_refused_and_changes_nothing(self, invoice):
        with pytest.raises(InvoiceNotDraft):
            services.invoice_issue(invoice=invoice)

        assert Invoice.objects.get(pk=invoice.pk).number == "VT-2026-000001"
        assert DocumentCounter.objects.get().last_number == 1

    def test_a_rolled_back_issue_gives_its_number_to_the_next_invoice(self, driver):
        first, second = self.draft_create(driver), self.draft_create(driver)

        def issue_then_fail():
            with transaction.atomic():
                services.invoice_issue(invoice=first)
                raise RuntimeError("the request failed after issuing")

        with pytest.raises(RuntimeError):
            issue_then_fail()

        assert services.invoice_issue(invoice=second).number == "VT-2026-000001"
        first.refresh_from_db()
        assert (first.status, first.number) == (InvoiceStatus.DRAFT, "")


def test_invoice_lines_show_their_vat_rate_and_the_vat_is_shown_per_rate_only(driver, run_billing):
    for day in range(1, 11):
        priced_session_create(
            driver=driver,
            started_at=utc(2026, 10, day, 8),
            energy_wh=200,
            price_excl_vat=D("0.05"),
            price_vat=D("0.01"),
        )
    run_billing(driver.fleet, "2026-10")
    document = HttpResponse(invoice_html(Invoice.objects.get(driver=driver)))

    lines = table_rows(document, class_="lines")

    assert lines[0] == ["#", "Description", "Vehicle", "kWh", "Net / kWh", "Net", "VAT %"]
    assert [row[3:] for row in lines[1:]] == [["0.200", "0.25000", "0.05", "21.00"]] * 10
    # Ten lines of 0.05: 21 % of 0.50 is 0.105, so 0.11, where ten lines alone make 0.10.
    assert table_rows(document, class_="totals") == [
        ["Total net", "0.50 EUR"],
        ["VAT 21 % on 0.50", "0.11 EUR"],
        ["Total", "0.61 EUR"],
    ]


class TestIssuedInvoicesNeverChange:
    def test_the_orm_refuses_to_save_an_issued_invoice(self, invoice):
        invoice.gross_total = D("1.00")

        with pytest.raises(InvoiceImmutable):
            invoice.save()
        with pytest.raises(InvoiceImmutable):
            invoice.save(update_fields=["gross_total"])

        assert Invoice.objects.get(pk=invoice.pk).gross_total == D("21.18")

    def test_the_orm_refuses_to_delete_an_issued_invoice_or_touch_its_lines(self, invoice):
        line = invoice.lines.first()
        line.net = D("0.01")

        with pytest.raises(InvoiceImmutable):
            invoice.delete()
        with pytest.raises(InvoiceImmutable):
            line.save()
        with pytest.raises(InvoiceImmutable):
            line.delete()

        assert InvoiceLine.objects.filter(invoice=invoice).count() == 3
        assert InvoiceLine.objects.get(pk=line.pk).net == D("10.00")

    @pytest.mark.postgres
    @pytest.mark.parametrize(
        "change",
        [
            {"gross_total": D("1.00"), "net_total": D("0.79"), "vat_total": D("0.21")},
            {"number": "VT-2026-999999"},
            {"status": InvoiceStatus.DRAFT, "number": "", "issued_at": None},
            {"due_at": utc(2027, 1, 1)},
        ],
    )
    def test_the_database_refuses_an_update_that_gets_around_the_orm(self, invoice, change):
        with (
            pytest.raises(IntegrityError, match="is issued and cannot change"),
            transaction.atomic(),
        ):
            Invoice.objects.filter(pk=invoice.pk).update(**change)

        stored = Invoice.objects.get(pk=invoice.pk)
        assert (stored.number, stored.gross_total, stored.status) == (
            "VT-2026-000001",
            D("21.18"),
            InvoiceStatus.ISSUED,
        )

    @pytest.mark.postgres
    def test_the_database_refuses_deleting_an_issued_invoice_and_changing_its_lines(self, invoice):
        with (
            pytest.raises(IntegrityError, match="cannot be deleted"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("DELETE FROM payments_invoice WHERE id = %s", [invoice.pk])
        with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
            InvoiceLine.objects.filter(invoice=invoice).update(net=D("0.01"))
        with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
            InvoiceLine.objects.filter(invoice=invoice).delete()

        assert sorted(
            InvoiceLine.objects.filter(invoice=invoice).values_list("net", flat=True)
        ) == [
            D("2.50"),
            D("5.00"),
            D("10.00"),
        ]

    @pytest.mark.postgres
    def test_the_database_refuses_lines_added_to_an_issued_invoice_even_among_a_drafts(
        self, invoice, driver
    ):
        draft = TestIssuing().draft_create(driver)
        sessions = {
            document.pk: priced_session_create(driver=driver, started_at=utc(2026, 10, day, 8))
            for day, document in [(20, draft), (21, invoice)]
        }

        def line(document: Invoice, position: int) -> InvoiceLine:
            return InvoiceLine(
                invoice=document,
                session=sessions[document.pk],
                position=position,
                description="Added afterwards",
                quantity_kwh=D("1.000"),
                unit_price=D("1.00000"),
                net=D("1.00"),
                vat_rate=D("21.00"),
                vat=D("0.21"),
                gross=D("1.21"),
            )

        with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
            InvoiceLine.objects.bulk_create([line(draft, 1), line(invoice, 4)])
        with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
            InvoiceLine.objects.bulk_create([line(invoice, 4)])

        assert InvoiceLine.objects.filter(invoice=invoice).count() == 3
        assert not InvoiceLine.objects.filter(invoice=draft).exists()
        InvoiceLine.objects.bulk_create([line(draft, 1)])
        assert InvoiceLine.objects.filter(invoice=draft).count() == 1

    @pytest.mark.postgres
    def test_the_database_lets_the_status_move_on_to_paid(self, invoice):
        Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.PAID, paid_at=RECEIVED)

        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID

    @pytest.mark.postgres
    def test_the_database_refuses_changing_a_credit_note(self, invoice):
        credit_note = services.credit_note_issue(invoice=invoice, reason="Wrong tariff")

        with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
            CreditNote.objects.filter(pk=credit_note.pk).update(reason="Other")

        assert CreditNote.objects.get(pk=credit_note.pk).reason == "Wrong tariff"


class TestCreditNotes:
    def test_crediting_every_line_voids_an_unpaid_invoice(self, invoice):
        user = UserFactory()

        credit_note = services.credit_note_issue(
            invoice=invoice, reason="Charged twice", issued_by=user
        )

        invoice.refresh_from_db()
        assert credit_note.number == "CN-2026-000001"
        assert (credit_note.net_total, credit_note.vat_total, credit_note.gross_total) == (
            D("17.50"),
            D("3.68"),
            D("21.18"),
        )
        assert credit_note.lines.count() == 3
        assert credit_note.issued_by == user
        assert invoice.status == InvoiceStatus.VOID
        assert invoice_balance(invoice=invoice).due == D("0.00")

    def test_crediting_some_lines_lowers_what_is_due(self, invoice):
        line = invoice.lines.get(net=D("10.00"))

        credit_note = services.credit_note_issue(
            invoice=invoice, reason="Charger fault", line_ids=[line.pk]
        )

        invoice.refresh_from_db()
        assert credit_note.gross_total == D("12.10")
        assert invoice.status == InvoiceStatus.ISSUED
        assert invoice_balance(invoice=invoice).due == D("9.08")

    def test_credit_notes_are_numbered_in_their_own_series(self, invoice):
        lines = list(invoice.lines.all())

        numbers = [
            services.credit_note_issue(invoice=invoice, reason="Fix", line_ids=[line.pk]).number
            for line in lines[:2]
        ]

        assert numbers == ["CN-2026-000001", "CN-2026-000002"]
        assert DocumentCounter.objects.get(series="invoice").last_number == 1

    @pytest.mark.parametrize(
        ("arguments", "field", "message"),
        [
            ({"reason": "  "}, "reason", "Say why"),
            ({"reason": "Fix", "line_ids": []}, "lines", "at least one line"),
            ({"reason": "Fix", "line_ids": [999_999]}, "lines", "not on invoice VT-2026-000001"),
        ],
    )
    def test_a_credit_note_without_reason_or_lines_is_refused_and_nothing_is_issued(
        self, invoice, arguments, field, message
    ):
        with pytest.raises(CreditNoteInvalid, match=message) as refusal:
            services.credit_note_issue(invoice=invoice, **arguments)

        assert refusal.value.field == field
        assert not CreditNote.objects.exists()
        assert not DocumentCounter.objects.filter(series="credit_note").exists()

    def test_a_line_is_credited_once(self, invoice):
        line = invoice.lines.first()
        services.credit_note_issue(invoice=invoice, reason="Fix", line_ids=[line.pk])

        with pytest.raises(CreditNoteInvalid, match="already credited"):
            services.credit_note_issue(invoice=invoice, reason="Again", line_ids=[line.pk])

        assert CreditNote.objects.count() == 1

    def test_a_void_invoice_cannot_be_credited_again(self, invoice):
        services.credit_note_issue(invoice=invoice, reason="Fix")

        with pytest.raises(InvoiceNotIssued):
            services.credit_note_issue(invoice=invoice, reason="Again")

        assert CreditNote.objects.count() == 1


class TestPayments:
    def test_a_part_payment_leaves_the_rest_due(self, invoice):
        payment, created = pay(invoice, "10.00")

        invoice.refresh_from_db()
        assert created
        assert (payment.amount, payment.currency) == (D("10.00"), "EUR")
        assert invoice.status == InvoiceStatus.ISSUED
        assert invoice_balance(invoice=invoice).due == D("11.18")

    def test_a_part_payment_shows_on_the_invoice_document_to_the_cent(self, invoice):
        pay(invoice, "10.43")

        rows = table_rows(HttpResponse(invoice_html(invoice)), class_="totals")

        assert rows == [
            ["Total net", "17.50 EUR"],
            ["VAT 21 % on 17.50", "3.68 EUR"],
            ["Total", "21.18 EUR"],
            ["Paid", "\N{MINUS SIGN}10.43 EUR"],
            ["Due", "10.75 EUR"],
        ]
        assert invoice_balance(invoice=invoice) == (D("21.18"), D("0.00"), D("10.43"))
        assert [str(part) for part in invoice_balance(invoice=invoice)] == [
            "21.18",
            "0.00",
            "10.43",
        ]

    def test_payments_that_settle_the_invoice_make_it_paid(self, invoice):
        pay(invoice, "10.00", key="a")
        pay(invoice, "11.18", key="b")

        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID
        assert invoice.paid_at is not None
        assert invoice_balance(invoice=invoice).due == D("0.00")

    def test_an_overpayment_is_kept_and_shown_as_overpaid(self, invoice):
        pay(invoice, "25.00")

        invoice.refresh_from_db()
        balance = invoice_balance(invoice=invoice)
        assert invoice.status == InvoiceStatus.PAID
        assert (balance.due, balance.overpaid) == (D("-3.82"), D("3.82"))

    def test_a_replay_with_the_same_key_and_body_returns_the_stored_payment(self, invoice):
        first, _ = pay(invoice, "10.00")

        replay, created = pay(invoice, "10.00")

        assert not created
        assert replay.pk == first.pk
        assert Payment.objects.count() == 1
        assert invoice_balance(invoice=invoice).paid == D("10.00")

    @pytest.mark.parametrize(
        "change",
        [
            {"amount": D("10.01")},
            {"method": PaymentMethod.CARD},
            {"provider_reference": "OTHER"},
            {"received_at": RECEIVED + dt.timedelta(minutes=1)},
        ],
    )
    def test_the_same_key_with_another_body_is_refused_and_changes_nothing(self, invoice, change):
        pay(invoice, "10.00")

        with pytest.raises(IdempotencyKeyReused) as refusal:
            pay(invoice, **{"amount": "10.00", **change})

        assert refusal.value.field == "idempotency_key"
        assert Payment.objects.count() == 1
        assert invoice_balance(invoice=invoice).paid == D("10.00")

    @pytest.mark.parametrize(
        ("change", "field", "message"),
        [
            ({"amount": D("0")}, "amount", "more than zero"),
            ({"amount": D("-5")}, "amount", "more than zero"),
            ({"amount": D("1.001")}, "amount", "more decimals than EUR allows"),
            ({"amount": "ten"}, "amount", "is not an amount"),
            ({"currency": "USD"}, "currency", "in EUR; a payment in USD"),
            ({"method": "cheque"}, "method", "must be one of"),
            ({"idempotency_key": " "}, "idempotency_key", "is needed"),
            ({"idempotency_key": "k" * 101}, "idempotency_key", "longer than 100"),
            ({"received_at": dt.datetime(2099, 1, 1, tzinfo=UTC)}, "received_at", "in the future"),
            ({"amount": "1E+27"}, "amount", "too large"),
            ({"amount": "1000000000000.00"}, "amount", "too large"),
            ({"provider_reference": "r" * 101}, "provider_reference", "longer than 100"),
        ],
    )
    def test_a_payment_that_breaks_a_rule_is_refused_and_nothing_is_recorded(
        self, invoice, change, field, message
    ):
        with pytest.raises(PaymentInvalid, match=message) as refusal:
            pay(invoice, **{"amount": "10.00", **change})

        assert refusal.value.field == field
        assert not Payment.objects.exists()
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.ISSUED

    def test_a_payment_without_time_zone_is_refused(self, invoice):
        with pytest.raises(NaiveDatetime):
            pay(invoice, "10.00", received_at=dt.datetime(2026, 11, 20, 9, 30))  # noqa: DTZ001

        assert not Payment.objects.exists()

    def test_a_void_invoice_takes_no_payment(self, invoice):
        services.credit_note_issue(invoice=invoice, reason="Fix")

        with pytest.raises(InvoiceNotIssued):
            pay(invoice, "10.00")

        assert not Payment.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_with_one_key_record_one_payment(
    driver, django_capture_on_commit_callbacks
):
    for day in (3, 4):
        priced_session_create(driver=driver, started_at=utc(2026, 10, day, 8))
    with django_capture_on_commit_callbacks(execute=True):
        services.billing_run_start(
            fleet=driver.fleet,
            period=services.billing_period_for(fleet=driver.fleet, label="2026-10"),
        )
    invoice = Invoice.objects.get()
    barrier = threading.Barrier(4)
    outcomes = []

    def record():
        try:
            barrier.wait(timeout=10)
            outcomes.append(pay(invoice, "5.00", key="same-key"))
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(outcomes) == 4
    assert sorted(created for _, created in outcomes) == [False, False, False, True]
    assert {payment.pk for payment, _ in outcomes} == {Payment.objects.get().pk}
    assert invoice_balance(invoice=invoice).paid == D("5.00")


class TestReimbursements:
    @pytest.fixture
    def reimbursement(self, driver, run_billing):
        priced_session_create(
            driver=driver,
            location_kind=LocationKind.HOME,
            purpose=SessionPurpose.BUSINESS,
            started_at=utc(2026, 10, 3, 18),
        )
        run_billing(driver.fleet, "2026-10")
        return driver.reimbursements.get()

    def test_a_manager_approves_a_pending_reimbursement(self, reimbursement):
        manager = UserFactory()

        decided = services.reimbursement_decide(
            reimbursement=reimbursement, approve=True, decided_by=manager
        )

        assert (decided.status, decided.decided_by) == (ReimbursementStatus.APPROVED, manager)
        assert decided.decided_at is not None

    def test_a_rejection_needs_a_reason(self, reimbursement):
        with pytest.raises(ReimbursementInvalid) as refusal:
            services.reimbursement_decide(
                reimbursement=reimbursement, approve=False, decided_by=UserFactory(), note=" "
            )

        assert refusal.value.field == "note"
        reimbursement.refresh_from_db()
        assert (reimbursement.status, reimbursement.decided_at) == (
            ReimbursementStatus.PENDING,
            None,
        )

    def test_a_decided_reimbursement_cannot_be_decided_again(self, reimbursement):
        services.reimbursement_decide(
            reimbursement=reimbursement,
            approve=False,
            decided_by=UserFactory(),
            note="No meter photo",
        )

        with pytest.raises(ReimbursementNotPending):
            services.reimbursement_decide(
                reimbursement=reimbursement, approve=True, decided_by=UserFactory()
            )

        reimbursement.refresh_from_db()
        assert (reimbursement.status, reimbursement.decision_note) == (
            ReimbursementStatus.REJECTED,
            "No meter photo",
        )


APPROVED_AT = utc(2026, 11, 2, 9)
PAID_AT = utc(2026, 11, 20, 9, 30)
NOW = utc(2026, 11, 22, 12)


def home_reimbursement(driver, run_billing) -> Reimbursement:
    """October's home charging of `driver`, 20 kWh at 0.25 per kWh: 5.00, pending."""
    priced_session_create(
        driver=driver,
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 3, 18),
        price_excl_vat=D("5.00"),
    )
    run_billing(driver.fleet, "2026-10")
    return driver.reimbursements.get()


class TestReimbursementPayout:
    @pytest.fixture
    def approved(self, driver, run_billing) -> Reimbursement:
        return services.reimbursement_decide(
            reimbursement=home_reimbursement(driver, run_billing),
            approve=True,
            decided_by=UserFactory(),
            now=APPROVED_AT,
        )

    def row(self, reimbursement: Reimbursement) -> dict:
        return Reimbursement.objects.values().get(pk=reimbursement.pk)

    def test_an_approved_reimbursement_is_marked_paid_by_whom_and_when(self, approved):
        finance = UserFactory()

        paid = services.reimbursement_mark_paid(
            reimbursement=approved, paid_at=PAID_AT, paid_by=finance, now=NOW
        )

        paid.refresh_from_db()
        assert (paid.status, paid.paid_at, paid.paid_by, paid.amount) == (
            ReimbursementStatus.PAID,
            PAID_AT,
            finance,
            D("5.00"),
        )

    def test_the_same_moment_again_returns_it_unchanged(self, approved):
        services.reimbursement_mark_paid(reimbursement=approved, paid_at=PAID_AT, now=NOW)
        before = self.row(approved)

        again = services.reimbursement_mark_paid(
            reimbursement=approved, paid_at=PAID_AT, paid_by=UserFactory(), now=NOW
        )

        assert (again.status, again.paid_at, again.paid_by) == (
            ReimbursementStatus.PAID,
            PAID_AT,
            None,
        )
        assert self.row(approved) == before

    def test_another_moment_is_refused_as_paid_already(self, approved):
        services.reimbursement_mark_paid(reimbursement=approved, paid_at=PAID_AT, now=NOW)
        before = self.row(approved)

        with pytest.raises(ReimbursementAlreadyPaid) as refused:
            services.reimbursement_mark_paid(
                reimbursement=approved, paid_at=PAID_AT + dt.timedelta(seconds=1), now=NOW
            )

        assert (refused.value.field, refused.value.message) == (
            "paid_at",
            "The reimbursement was paid on 2026-11-20 10:30 CET; a payout is recorded once.",
        )
        assert self.row(approved) == before

    @pytest.mark.parametrize("approve", [None, False])
    def test_a_pending_or_rejected_reimbursement_is_not_paid(self, driver, run_billing, approve):
        reimbursement = home_reimbursement(driver, run_billing)
        if approve is not None:
            services.reimbursement_decide(
                reimbursement=reimbursement, approve=approve, decided_by=None, note="No"
            )
        before = self.row(reimbursement)

        with pytest.raises(ReimbursementNotApproved) as refused:
            services.reimbursement_mark_paid(reimbursement=reimbursement, paid_at=PAID_AT, now=NOW)

        assert refused.value.field == "status"
        assert self.row(reimbursement) == before

    @pytest.mark.parametrize(
        ("paid_at", "error"),
        [
            (NOW + dt.timedelta(minutes=5, seconds=1), ReimbursementInvalid),
            (APPROVED_AT - dt.timedelta(seconds=1), ReimbursementInvalid),
            (dt.datetime(2026, 11, 20, 9, 30), NaiveDatetime),  # noqa: DTZ001 - refused as naive
        ],
    )
    def test_a_payout_in_the_future_before_the_approval_or_naive_is_refused(
        self, approved, paid_at, error
    ):
        before = self.row(approved)

        with pytest.raises(error) as refused:
            services.reimbursement_mark_paid(reimbursement=approved, paid_at=paid_at, now=NOW)

        assert refused.value.field == "paid_at"
        assert self.row(approved) == before

    def test_a_payout_within_the_clock_skew_and_at_the_approval_is_taken(self, driver, run_billing):
        reimbursement = services.reimbursement_decide(
            reimbursement=home_reimbursement(driver, run_billing),
            approve=True,
            decided_by=None,
            now=APPROVED_AT,
        )

        services.reimbursement_mark_paid(reimbursement=reimbursement, paid_at=APPROVED_AT, now=NOW)

        reimbursement.refresh_from_db()
        assert reimbursement.paid_at == APPROVED_AT

    def test_the_database_refuses_a_paid_reimbursement_without_its_payout_time(self, approved):
        with pytest.raises(IntegrityError), transaction.atomic():
            Reimbursement.objects.filter(pk=approved.pk).update(status=ReimbursementStatus.PAID)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_payouts_recorded_at_once_with_two_moments_record_one(driver, run_billing):
    reimbursement = services.reimbursement_decide(
        reimbursement=home_reimbursement(driver, run_billing),
        approve=True,
        decided_by=None,
        now=APPROVED_AT,
    )
    barrier = threading.Barrier(2)
    outcomes = []

    def mark_paid(paid_at):
        try:
            barrier.wait(timeout=10)
            services.reimbursement_mark_paid(reimbursement=reimbursement, paid_at=paid_at, now=NOW)
            outcomes.append(("paid", paid_at))
        except ReimbursementAlreadyPaid:
            outcomes.append(("refused", paid_at))
        finally:
            connection.close()

    moments = (PAID_AT, PAID_AT + dt.timedelta(hours=1))
    threads = [threading.Thread(target=mark_paid, args=(moment,)) for moment in moments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcome for outcome, _ in outcomes) == ["paid", "refused"]
    (paid_at,) = (moment for outcome, moment in outcomes if outcome == "paid")
    reimbursement.refresh_from_db()
    assert (reimbursement.status, reimbursement.paid_at) == (ReimbursementStatus.PAID, paid_at)
