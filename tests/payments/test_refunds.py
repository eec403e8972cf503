"""Refunds: what is paid beyond an invoice, or credited after it was paid, is owed back to the
driver as a refund, once; a fleet that sets refunds off takes them off the driver's next
invoice, whole or split, to the cent; a fleet that pays them out leaves them owed for the SEPA
batch; the driver's statement shows them, to that driver only."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.http import HttpResponse
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.charging.choices import LocationKind, SessionPurpose
from apps.fleets.choices import MembershipRole, RefundMethod
from apps.payments import services
from apps.payments.choices import (
    InvoiceStatus,
    PaymentMethod,
    RefundReason,
    RefundStatus,
)
from apps.payments.documents import statement_html
from apps.payments.exceptions import PaymentInvalid
from apps.payments.models import Invoice, Payment, PayoutBatch, PayoutItem, Refund, Statement
from apps.payments.refunds import OwedRefund, SetOff, refund_owed_now, set_offs
from apps.payments.selectors import invoice_balance, statement_refunds
from tests.factories import (
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    UserFactory,
)
from tests.html_tables import table_rows
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC
RECEIVED = dt.datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
NOVEMBER_NET = D("6.00")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def driver():
    return DriverFactory(fleet=FleetFactory(default_vat_rate=D("21.00")), user=UserFactory())


def client_of(driver) -> APIClient:
    client = APIClient()
    client.force_authenticate(driver.user)
    return client


@pytest.fixture
def invoice(driver, run_billing) -> Invoice:
    """October's issued invoice: nets 10.00, 5.00 and 2.50 at 21 % VAT, gross 21.18."""
    for day, net in enumerate([D("10.00"), D("5.00"), D("2.50")], start=3):
        priced_session_create(driver=driver, started_at=utc(2026, 10, day, 8), price_excl_vat=net)
    run_billing(driver.fleet, "2026-10")
    return Invoice.objects.get(driver=driver)


def pay(invoice: Invoice, amount: str, key: str = "key-1", **changes):
    details = {
        "invoice": invoice,
        "amount": D(amount),
        "currency": invoice.currency,
        "method": PaymentMethod.BANK_TRANSFER,
        "idempotency_key": key,
        "received_at": RECEIVED,
    }
    return services.payment_record(**{**details, **changes})


def bill_month(run_billing, driver, month: int, net: Decimal = NOVEMBER_NET) -> Invoice:
    """Bill `month` of 2026 on the next month's first morning, with one private session of
    the driver (at 21 %: 6.00 is 7.26 gross); the driver's invoice of the run."""
    priced_session_create(
        driver=driver,
        started_at=utc(2026, month, 3, 8),
        price_excl_vat=net,
        price_vat=(net * D("0.21")).quantize(D("0.01")),
    )
    next_month = utc(2027, 1, 1, 6) if month == 12 else utc(2026, month + 1, 1, 6)
    with time_machine.travel(next_month, tick=False):
        run = run_billing(driver.fleet, f"2026-{month:02d}")
    return Invoice.objects.get(driver=driver, billing_run=run)


def refund_rows(**filters) -> list[tuple]:
    return list(
        Refund.objects.filter(**filters)
        .order_by("pk")
        .values_list("reason", "amount", "status", "invoice__number")
    )


class TestRefundsAreOwed:
    def test_an_overpayment_becomes_a_refund_owed_to_the_driver(self, invoice):
        _payment, created = pay(invoice, "25.00")

        [refund] = Refund.objects.all()
        assert created is True
        assert (refund.fleet_id, refund.driver_id, refund.invoice_id) == (
            invoice.fleet_id,
            invoice.driver_id,
            invoice.pk,
        )
        assert (refund.reason, refund.amount, refund.currency, refund.status) == (
            RefundReason.OVERPAID,
            D("3.82"),
            "EUR",
            RefundStatus.OWED,
        )
        assert refund.settled_at is None

    def test_each_payment_beyond_the_invoice_adds_only_what_is_new(self, invoice):
        pay(invoice, "20.00", "part")
        pay(invoice, "5.00", "too-much")
        pay(invoice, "1.01", "more")

        assert refund_rows() == [
            (RefundReason.OVERPAID, D("3.82"), RefundStatus.OWED, invoice.number),
            (RefundReason.OVERPAID, D("1.01"), RefundStatus.OWED, invoice.number),
        ]
        assert invoice_balance(invoice=invoice).overpaid == D("4.83")

    def test_a_payment_that_settles_the_invoice_exactly_makes_no_refund(self, invoice):
        pay(invoice, "21.18")

        assert not Refund.objects.exists()

    def test_a_credit_note_after_payment_becomes_a_credited_refund(self, invoice):
        pay(invoice, "21.18")
        line = invoice.lines.get(position=1)

        services.credit_note_issue(invoice=invoice, reason="Charged twice.", line_ids=[line.pk])

        assert refund_rows() == [
            (RefundReason.CREDITED, D("12.10"), RefundStatus.OWED, invoice.number)
        ]

    def test_a_credit_note_on_an_unpaid_invoice_makes_no_refund(self, invoice):
        line = invoice.lines.get(position=1)

        services.credit_note_issue(invoice=invoice, reason="Charged twice.", line_ids=[line.pk])

        assert not Refund.objects.exists()

    def test_a_credit_note_on_a_part_paid_invoice_refunds_only_what_was_paid_beyond(self, invoice):
        pay(invoice, "15.00")
        line = invoice.lines.get(position=1)

        services.credit_note_issue(invoice=invoice, reason="Charged twice.", line_ids=[line.pk])

        assert refund_rows() == [
            (RefundReason.CREDITED, D("5.92"), RefundStatus.OWED, invoice.number)
        ]

    def test_a_replayed_payment_makes_no_second_refund(self, invoice):
        first, _ = pay(invoice, "25.00")

        again, created = pay(invoice, "25.00")

        assert (again.pk, created) == (first.pk, False)
        assert refund_rows() == [
            (RefundReason.OVERPAID, D("3.82"), RefundStatus.OWED, invoice.number)
        ]

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"method": PaymentMethod.SET_OFF}, "method"),
            ({"idempotency_key": "set-off-refund-1"}, "idempotency_key"),
        ],
    )
    def test_a_set_off_or_its_key_from_outside_is_refused_and_nothing_changes(
        self, invoice, changes, field
    ):
        with pytest.raises(PaymentInvalid) as refused:
            pay(invoice, "25.00", **changes)

        assert (refused.value.code, refused.value.field) == ("payments.payment_invalid", field)
        assert not Payment.objects.exists()
        assert not Refund.objects.exists()
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.ISSUED


class TestSetOff:
    def test_a_refund_is_set_off_whole_against_the_next_invoice(self, driver, invoice, run_billing):
        pay(invoice, "25.00")
        [refund] = Refund.objects.all()

        november = bill_month(run_billing, driver, 11)

        refund.refresh_from_db()
        payment = refund.set_off_payment
        assert (payment.invoice_id, payment.amount, payment.method, payment.status) == (
            november.pk,
            D("3.82"),
            PaymentMethod.SET_OFF,
            "received",
        )
        assert payment.idempotency_key == f"set-off-refund-{refund.pk}"
        assert payment.provider_reference == f"Refund {refund.pk} on {invoice.number}"
        assert (refund.status, refund.amount) == (RefundStatus.SET_OFF, D("3.82"))
        assert refund.settled_at == payment.received_at == november.issued_at
        november.refresh_from_db()
        assert november.status == InvoiceStatus.ISSUED
        assert invoice_balance(invoice=november).due == D("7.26") - D("3.82")
        assert Refund.objects.count() == 1

    def test_a_refund_larger_than_the_next_invoice_is_split_and_the_rest_set_off_later(
        self, driver, invoice, run_billing
    ):
        pay(invoice, "21.18")
        services.credit_note_issue(invoice=invoice, reason="Not our driver.")
        [refund] = Refund.objects.all()
        assert refund.amount == D("21.18")

        november = bill_month(run_billing, driver, 11)

        refund.refresh_from_db()
        remainder = Refund.objects.get(remainder_of=refund)
        assert (refund.amount, refund.status, refund.set_off_payment.invoice_id) == (
            D("7.26"),
            RefundStatus.SET_OFF,
            november.pk,
        )
        assert (remainder.amount, remainder.status, remainder.invoice_id, remainder.reason) == (
            D("13.92"),
            RefundStatus.OWED,
            invoice.pk,
            RefundReason.CREDITED,
        )
        november.refresh_from_db()
        assert november.status == InvoiceStatus.PAID
        assert invoice_balance(invoice=november).due == D("0.00")

        december = bill_month(run_billing, driver, 12, net=D("5.00"))

        remainder.refresh_from_db()
        assert (remainder.amount, remainder.status, remainder.set_off_payment.invoice_id) == (
            D("6.05"),
            RefundStatus.SET_OFF,
            december.pk,
        )
        assert Refund.objects.get(remainder_of=remainder).amount == D("7.87")
        assert invoice_balance(invoice=december).due == D("0.00")
        assert refund_rows(invoice=invoice) == [
            (RefundReason.CREDITED, D("7.26"), RefundStatus.SET_OFF, invoice.number),
            (RefundReason.CREDITED, D("6.05"), RefundStatus.SET_OFF, invoice.number),
            (RefundReason.CREDITED, D("7.87"), RefundStatus.OWED, invoice.number),
        ]
        assert invoice_balance(invoice=invoice).overpaid == D("21.18")

    def test_refunds_are_set_off_oldest_first(self, driver, invoice, run_billing):
        pay(invoice, "22.18", "first")
        pay(invoice, "8.00", "second")
        older, newer = Refund.objects.order_by("pk")
        assert (older.amount, newer.amount) == (D("1.00"), D("8.00"))

        november = bill_month(run_billing, driver, 11)

        older.refresh_from_db()
        newer.refresh_from_db()
        remainder = Refund.objects.get(remainder_of=newer)
        assert (older.status, older.amount) == (RefundStatus.SET_OFF, D("1.00"))
        assert (newer.status, newer.amount) == (RefundStatus.SET_OFF, D("6.26"))
        assert (remainder.status, remainder.amount) == (RefundStatus.OWED, D("1.74"))
        assert list(november.payments.order_by("pk").values_list("amount", flat=True)) == [
            D("1.00"),
            D("6.26"),
        ]

    def test_a_set_off_makes_no_refund_of_its_own(self, driver, invoice, run_billing):
        pay(invoice, "30.00")

        november = bill_month(run_billing, driver, 11)

        assert not Refund.objects.filter(invoice=november).exists()
        assert Refund.objects.filter(status=RefundStatus.OWED).get().amount == D("1.56")

    def test_crediting_an_invoice_paid_by_set_off_owes_that_back(
        self, driver, invoice, run_billing
    ):
        pay(invoice, "30.00")
        november = bill_month(run_billing, driver, 11)

        services.credit_note_issue(invoice=november, reason="Not our driver.")

        assert refund_rows(invoice=november) == [
            (RefundReason.CREDITED, D("7.26"), RefundStatus.OWED, november.number)
        ]

    def test_a_draft_issued_by_hand_takes_the_set_off(self, driver, invoice):
        pay(invoice, "25.00")
        draft = Invoice.objects.create(
            fleet=driver.fleet,
            driver=driver,
            currency="EUR",
            period_start=utc(2026, 11, 1),
            period_end=utc(2026, 11, 2),
            net_total=D("1.00"),
            vat_total=D("0.21"),
            gross_total=D("1.21"),
        )

        issued = services.invoice_issue(invoice=draft, now=utc(2026, 11, 21, 10))

        assert issued.status == InvoiceStatus.PAID
        assert issued.paid_at == utc(2026, 11, 21, 10)
        assert list(Refund.objects.order_by("pk").values_list("amount", "status")) == [
            (D("1.21"), RefundStatus.SET_OFF),
            (D("2.61"), RefundStatus.OWED),
        ]

    def test_a_payout_fleet_leaves_refunds_owed(self, driver, invoice, run_billing):
        driver.fleet.refund_method = RefundMethod.PAYOUT
        driver.fleet.save(update_fields=["refund_method"])
        pay(invoice, "25.00")

        november = bill_month(run_billing, driver, 11)

        assert refund_rows() == [
            (RefundReason.OVERPAID, D("3.82"), RefundStatus.OWED, invoice.number)
        ]
        assert not november.payments.exists()

    def test_a_refund_in_a_payout_batch_is_not_set_off(self, driver, invoice, run_billing):
        pay(invoice, "25.00")
        refund = Refund.objects.get()
        batch = PayoutBatch.objects.create(
            fleet=driver.fleet,
            message_id="MSG-1",
            currency="EUR",
            requested_execution_date=dt.date(2026, 12, 1),
            debtor_name="Fleet",
            debtor_iban="NL91ABNA0417164300",
        )
        PayoutItem.objects.create(
            batch=batch,
            refund=refund,
            driver=driver,
            amount=refund.amount,
            end_to_end_id="E2E-1",
            creditor_name="Driver",
            creditor_iban="NL91ABNA0417164300",
            remittance="Refund",
        )

        november = bill_month(run_billing, driver, 11)

        refund.refresh_from_db()
        assert refund.status == RefundStatus.OWED
        assert not november.payments.exists()

    def test_another_drivers_refund_is_never_set_off_against_this_driver(
        self, driver, invoice, run_billing
    ):
        colleague = DriverFactory(fleet=driver.fleet)
        pay(invoice, "25.00")
        priced_session_create(driver=colleague, started_at=utc(2026, 11, 9, 8))

        bill_month(run_billing, driver, 11)

        colleague_invoice = Invoice.objects.get(driver=colleague)
        assert not colleague_invoice.payments.exists()
        assert Refund.objects.get().set_off_payment.invoice.driver_id == driver.pk


@given(
    due=st.decimals(min_value=-5, max_value=500, places=2),
    amounts=st.lists(st.decimals(min_value="0.01", max_value=300, places=2), max_size=6),
)
def test_set_offs_never_exceed_what_is_due_and_split_each_refund_exactly(due, amounts):
    refunds = [OwedRefund(refund_id, amount) for refund_id, amount in enumerate(amounts)]

    planned = set_offs(due=due, refunds=refunds)

    assert sum((set_off.amount for set_off in planned), D(0)) == min(
        max(due, D(0)), sum(amounts, D(0))
    )
    for set_off in planned:
        assert set_off.amount > 0
        assert set_off.amount + set_off.remainder == amounts[set_off.refund_id]
    assert [set_off.refund_id for set_off in planned] == list(range(len(planned)))
    assert all(set_off.remainder == 0 for set_off in planned[:-1])


def test_set_offs_split_the_refund_that_does_not_fit():
    planned = set_offs(due=D("7.26"), refunds=[OwedRefund(1, D("3.00")), OwedRefund(2, D("5.00"))])

    assert planned == (SetOff(1, D("3.00"), D("0.00")), SetOff(2, D("4.26"), D("0.74")))


def test_a_refund_is_owed_only_for_what_refunds_do_not_cover_yet():
    assert refund_owed_now(overpaid=D("3.82"), refunded=D("1.00")) == D("2.82")
    assert refund_owed_now(overpaid=D("3.82"), refunded=D("3.82")) == D("0.00")
    assert refund_owed_now(overpaid=D("0.00"), refunded=D("1.00")) == D("0.00")


class TestStatement:
    @pytest.fixture
    def november(self, driver, invoice, run_billing) -> Statement:
        """October overpaid by 3.82, set off against November (7.26); November then paid
        20.00, 12.74 beyond what is left, owed back."""
        pay(invoice, "25.00")
        november_invoice = bill_month(run_billing, driver, 11)
        pay(november_invoice, "20.00", "november")
        return Statement.objects.get(invoice=november_invoice)

    def test_the_statement_selector_parts_set_off_and_arising(self, november, invoice):
        refunds = statement_refunds(statement=november)

        assert [(r.invoice_id, r.amount, r.status) for r in refunds.set_off] == [
            (invoice.pk, D("3.82"), RefundStatus.SET_OFF)
        ]
        assert [(r.invoice_id, r.amount, r.status) for r in refunds.arising] == [
            (november.invoice_id, D("16.56"), RefundStatus.OWED)
        ]

    def test_the_driver_sees_the_refunds_on_the_statement(self, november, invoice):
        response = client_of(november.driver).get(f"/api/v1/me/statements/{november.pk}/")

        assert response.status_code == 200
        body = response.json()
        set_off = Refund.objects.get(invoice=invoice)
        arising = Refund.objects.get(invoice=november.invoice)
        assert body["refunds_set_off"] == [
            {
                "id": set_off.pk,
                "invoice_number": invoice.number,
                "reason": "overpaid",
                "amount": "3.82",
                "currency": "EUR",
                "status": "set_off",
                "set_off_against": november.invoice.number,
                "settled_at": body["refunds_set_off"][0]["settled_at"],
                "created_at": body["refunds_set_off"][0]["created_at"],
            }
        ]
        assert body["refunds_set_off"][0]["settled_at"] is not None
        assert [
            (row["id"], row["amount"], row["status"], row["set_off_against"])
            for row in body["refunds_arising"]
        ] == [(arising.pk, "16.56", "owed", None)]

    def test_the_statement_document_lists_the_refunds(self, november, invoice):
        html = HttpResponse(statement_html(november))

        assert table_rows(html, data_part="refunds-set-off")[1:] == [
            [
                invoice.number,
                "Overpaid: more was paid than the invoice asked",
                f"Set off against invoice {november.invoice.number}",
                "3.82",
            ]
        ]
        assert table_rows(html, data_part="refunds-arising")[1:] == [
            [
                november.invoice.number,
                "Overpaid: more was paid than the invoice asked",
                "Owed to you",
                "16.56",
            ]
        ]

    def test_a_refund_paid_out_shows_the_day_it_was_paid(self, november):
        Refund.objects.filter(invoice=november.invoice).update(
            status=RefundStatus.PAID, settled_at=utc(2026, 12, 10, 23, 30)
        )

        html = HttpResponse(statement_html(november))

        assert table_rows(html, data_part="refunds-arising")[1:][0][2] == "Paid out on 2026-12-11"

    def test_a_statement_without_an_invoice_has_no_refunds_and_reads_none(
        self, driver, run_billing, django_assert_num_queries
    ):
        priced_session_create(
            driver=driver,
            location_kind=LocationKind.HOME,
            purpose=SessionPurpose.BUSINESS,
            started_at=utc(2026, 10, 9, 19),
        )
        run_billing(driver.fleet, "2026-10")
        statement = Statement.objects.get(driver=driver)
        assert statement.invoice_id is None

        with django_assert_num_queries(0):
            refunds = statement_refunds(statement=statement)

        assert refunds == ([], [])

    def test_another_driver_or_fleet_never_sees_them(self, november, driver):
        for stranger in (
            DriverFactory(fleet=driver.fleet, user=UserFactory()),
            DriverFactory(fleet=FleetFactory(), user=UserFactory()),
        ):
            response = client_of(stranger).get(f"/api/v1/me/statements/{november.pk}/")

            assert response.status_code == 404
            assert "refunds" not in response.content.decode()


class TestAdmin:
    REFUND_LIST = reverse("admin:payments_refund_changelist")

    def login(self, client, fleet, role=MembershipRole.VIEWER) -> None:
        user = StaffUserFactory()
        MembershipFactory(user=user, fleet=fleet, role=role)
        client.force_login(user)

    def test_the_refund_list_shows_the_fleets_refunds_only_and_offers_no_change(
        self, client, driver, invoice
    ):
        pay(invoice, "25.00")
        stranger = DriverFactory(fleet=FleetFactory())
        Refund.objects.create(
            fleet=stranger.fleet,
            driver=stranger,
            invoice=invoice,
            reason=RefundReason.OVERPAID,
            currency="EUR",
            amount=D("9.99"),
        )
        self.login(client, driver.fleet, MembershipRole.FINANCE)

        response = client.get(self.REFUND_LIST)

        rows = table_rows(response, id="result_list")[1:]
        assert [row[1:] for row in rows] == [
            [
                str(driver),
                invoice.number,
                "Overpaid: more was paid than the invoice asked",
                "3.82 EUR",
                "Owed to the driver",
                "-",
                "-",
            ]
        ]
        assert client.get(reverse("admin:payments_refund_add")).status_code == 403
        own = Refund.objects.get(driver=driver)
        change = client.get(reverse("admin:payments_refund_change", args=[own.pk]))
        assert change.status_code == 200
        assert b'name="_save"' not in change.content
        other = Refund.objects.get(driver=stranger)
        response = client.get(reverse("admin:payments_refund_change", args=[other.pk]))
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:index")

    def test_the_payment_form_does_not_offer_a_set_off(self, client, driver):
        self.login(client, driver.fleet, MembershipRole.FINANCE)

        response = client.get(reverse("admin:payments_payment_add"))

        methods = [
            value for value, _ in response.context["adminform"].form.fields["method"].choices
        ]
        assert PaymentMethod.BANK_TRANSFER in methods
        assert PaymentMethod.SET_OFF not in methods

    def test_the_invoice_page_shows_its_refunds_and_where_they_were_set_off(
        self, client, driver, invoice, run_billing
    ):
        pay(invoice, "25.00")
        november = bill_month(run_billing, driver, 11)
        self.login(client, driver.fleet)

        response = client.get(reverse("admin:payments_invoice_change", args=[invoice.pk]))

        assert response.status_code == 200
        page = response.content.decode()
        assert 'id="refunds-group"' in page
        assert "3.82" in page
        assert november.number in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_overpayments_owe_back_exactly_what_was_paid_beyond(
    driver, django_capture_on_commit_callbacks
):
    priced_session_create(driver=driver, started_at=utc(2026, 10, 3, 8))
    with django_capture_on_commit_callbacks(execute=True):
        services.billing_run_start(
            fleet=driver.fleet,
            period=services.billing_period_for(fleet=driver.fleet, label="2026-10"),
        )
    invoice = Invoice.objects.get()
    barrier = threading.Barrier(4)
    errors = []

    def record(key: str):
        try:
            barrier.wait(timeout=10)
            pay(invoice, "5.00", key=key)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(f"key-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert invoice_balance(invoice=invoice).overpaid == D("20.00") - D("7.26")
    assert sum(Refund.objects.values_list("amount", flat=True)) == D("12.74")
