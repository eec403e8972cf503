"""Payroll deductions through their services: preparing holds each open invoice for its open
balance, recording settles each once by a payroll payment (replayed, retried after a crash, or
with an invoice paid meanwhile), cancelling frees them, and every refusal changes nothing."""

import datetime as dt
import threading
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from apps.drivers.choices import DriverStatus
from apps.payments import payroll
from apps.payments.choices import InvoiceStatus, PaymentMethod, PayrollDeductionStatus
from apps.payments.exceptions import (
    IdempotencyKeyReused,
    PayrollDeductionInvalid,
    PayrollDeductionNothingOpen,
    PayrollDeductionNotPrepared,
    PayrollDeductionRecordedAlready,
    PeriodInvalid,
)
from apps.payments.models import Invoice, Payment, PayrollDeduction, PayrollDeductionItem
from apps.payments.payroll import (
    invoice_list_with_payroll_hold,
    payroll_deduction_cancel,
    payroll_deduction_of_period,
    payroll_deduction_prepare,
    payroll_deduction_record,
    payroll_deduction_rows,
)
from apps.payments.services import credit_note_issue, invoice_issue, payment_record
from tests.factories import UserFactory
from tests.payments.builders import billing_fleet_create

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC
OCTOBER = dt.datetime(2026, 10, 1, tzinfo=UTC)
NOVEMBER_3 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
NOVEMBER_25 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NOVEMBER_28 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen_after_october():
    with time_machine.travel(NOVEMBER_3, tick=False):
        yield NOVEMBER_3


@pytest.fixture
def billed_fleet(run_billing, frozen_after_october):
    """Three drivers, each with an October invoice of private charging, billed."""
    fleet = billing_fleet_create(drivers=3, sessions_per_driver=4, month_start=OCTOBER)
    run_billing(fleet, "2026-10")
    return fleet


@pytest.fixture
def finance():
    return UserFactory()


def invoices_of(fleet) -> list[Invoice]:
    return list(Invoice.objects.filter(fleet=fleet).order_by("driver__employee_number"))


def pay(invoice: Invoice, amount: str, key: str, at: dt.datetime = NOVEMBER_3) -> Payment:
    payment, _ = payment_record(
        invoice=invoice,
        amount=D(amount),
        currency=invoice.currency,
        method=PaymentMethod.BANK_TRANSFER,
        idempotency_key=key,
        received_at=at,
        now=at,
    )
    return payment


def snapshot(fleet) -> tuple:
    """What the payroll services may change, to prove a refusal changed none of it."""
    return (
        list(
            PayrollDeduction.objects.filter(fleet=fleet)
            .order_by("pk")
            .values("pk", "status", "idempotency_key", "settled_total", "cancelled_at")
        ),
        list(
            PayrollDeductionItem.objects.filter(deduction__fleet=fleet)
            .order_by("pk")
            .values("pk", "released", "payment", "settled_amount")
        ),
        list(Payment.objects.filter(fleet=fleet).order_by("pk").values("pk", "amount")),
        list(Invoice.objects.filter(fleet=fleet).order_by("pk").values("pk", "status")),
    )


# Preparing ----------------------------------------------------------------------------------


def test_prepare_holds_every_open_invoice_for_its_open_balance(billed_fleet, finance):
    first, second, third = invoices_of(billed_fleet)
    pay(second, "1.00", "part")

    deduction, created = payroll_deduction_prepare(
        fleet=billed_fleet, period_label="2026-10", by=finance
    )

    assert created
    items = {item.invoice_id: item.amount for item in deduction.items.all()}
    assert items == {
        first.pk: first.gross_total,
        second.pk: second.gross_total - D("1.00"),
        third.pk: third.gross_total,
    }
    assert deduction.status == PayrollDeductionStatus.PREPARED
    assert deduction.total == first.gross_total + second.gross_total + third.gross_total - 1
    assert (deduction.item_count, deduction.driver_count) == (3, 3)
    assert deduction.prepared_by == finance
    assert deduction.period_label == "2026-10"
    held = invoice_list_with_payroll_hold(Invoice.objects.filter(fleet=billed_fleet))
    assert {invoice.pk: invoice.held_by_payroll for invoice in held} == {
        first.pk: True,
        second.pk: True,
        third.pk: True,
    }


def test_prepare_leaves_out_paid_invoices_credited_ones_and_drivers_who_left(billed_fleet):
    paid, credited, of_a_leaver = invoices_of(billed_fleet)
    pay(paid, str(paid.gross_total), "whole")
    credit_note_issue(invoice=credited, reason="Charged by mistake", now=NOVEMBER_3)
    of_a_leaver.driver.status = DriverStatus.LEFT
    of_a_leaver.driver.save(update_fields=["status"])

    with pytest.raises(PayrollDeductionNothingOpen) as refusal:
        payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")

    assert refusal.value.field == "period"
    assert "nothing to prepare" in refusal.value.message
    assert not PayrollDeduction.objects.filter(fleet=billed_fleet).exists()


def test_preparing_the_period_again_returns_its_deduction_and_adds_nothing(billed_fleet):
    deduction, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")

    again, created = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")

    assert (again.pk, created) == (deduction.pk, False)
    assert PayrollDeduction.objects.count() == 1
    assert PayrollDeductionItem.objects.count() == 3


def test_a_period_not_billed_is_refused_and_nothing_is_written(billed_fleet):
    before = snapshot(billed_fleet)

    with pytest.raises(PayrollDeductionInvalid) as refusal:
        payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-09")

    assert refusal.value.field == "period"
    assert "2026-09 has no billing run" in refusal.value.message
    assert snapshot(billed_fleet) == before


def test_a_period_label_of_the_wrong_kind_is_refused(billed_fleet):
    with pytest.raises(PeriodInvalid) as refusal:
        payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-W44")

    assert refusal.value.field == "period"
    assert not PayrollDeduction.objects.exists()


def test_an_invoice_is_held_by_one_deduction_at_a_time_in_the_database(billed_fleet):
    deduction, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")
    item = deduction.items.first()

    with pytest.raises(IntegrityError), transaction.atomic():
        PayrollDeductionItem.objects.create(
            deduction=deduction, invoice=item.invoice, driver=item.driver, amount=D("1.00")
        )


def test_a_fleet_has_one_deduction_per_period_that_is_not_cancelled(billed_fleet):
    deduction, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")

    with pytest.raises(IntegrityError), transaction.atomic():
        PayrollDeduction.objects.create(
            fleet=billed_fleet,
            period_label="2026-10",
            period_start=deduction.period_start,
            period_end=deduction.period_end,
            currency="EUR",
            total=D("1.00"),
            prepared_at=NOVEMBER_3,
        )


def test_the_next_period_does_not_take_invoices_held_by_this_one(run_billing, billed_fleet):
    october, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")
    with time_machine.travel(dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC), tick=False):
        run_billing(billed_fleet, "2026-11")

        with pytest.raises(PayrollDeductionNothingOpen):
            payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-11")
        payroll_deduction_cancel(deduction=october)
        november, created = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-11")

    assert created
    assert november.period_label == "2026-11"
    assert set(november.items.values_list("invoice_id", flat=True)) == {
        invoice.pk for invoice in invoices_of(billed_fleet)
    }


def test_other_fleets_invoices_and_deductions_are_unseen(run_billing, billed_fleet):
    other = billing_fleet_create(drivers=2, sessions_per_driver=4, month_start=OCTOBER)
    run_billing(other, "2026-10")

    deduction, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")

    assert {item.invoice.fleet_id for item in deduction.items.all()} == {billed_fleet.pk}
    assert (
        payroll_deduction_of_period(
            fleet=other, period_start=deduction.period_start, period_end=deduction.period_end
        )
        is None
    )
    other_deduction, created = payroll_deduction_prepare(fleet=other, period_label="2026-10")
    assert created
    assert other_deduction.item_count == 2


def test_the_rows_are_one_per_driver_with_their_invoice_numbers_and_the_sum(billed_fleet):
    first, second, third = invoices_of(billed_fleet)
    extra = Invoice.objects.create(
        fleet=billed_fleet,
        driver=first.driver,
        currency="EUR",
        period_start=first.period_start,
        period_end=first.period_end,
        net_total=D("10.00"),
        vat_total=D("2.10"),
        gross_total=D("12.10"),
    )
    extra = invoice_issue(invoice=extra, now=NOVEMBER_3)
    deduction, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")

    rows = payroll_deduction_rows(deduction=deduction)

    assert [
        (row.employee_number, row.invoice_numbers, row.amount, row.currency) for row in rows
    ] == [
        (
            first.driver.employee_number,
            tuple(sorted([first.number, extra.number])),
            first.gross_total + D("12.10"),
            "EUR",
        ),
        (second.driver.employee_number, (second.number,), second.gross_total, "EUR"),
        (third.driver.employee_number, (third.number,), third.gross_total, "EUR"),
    ]
    assert (rows[0].last_name, rows[0].first_name) == (
        first.driver.last_name,
        first.driver.first_name,
    )


# Recording ----------------------------------------------------------------------------------


@pytest.fixture
def prepared(billed_fleet):
    deduction, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")
    return deduction


def test_recording_settles_each_invoice_once_by_a_payroll_payment(billed_fleet, prepared, finance):
    with time_machine.travel(NOVEMBER_28, tick=False):
        recorded = payroll_deduction_record(
            deduction=prepared, idempotency_key="payroll-2026-11", by=finance
        )

    assert recorded.status == PayrollDeductionStatus.RECORDED
    assert (recorded.recorded_at, recorded.recorded_by) == (NOVEMBER_28, finance)
    assert recorded.settled_total == recorded.total
    payments = Payment.objects.filter(fleet=billed_fleet).order_by("invoice_id")
    assert [
        (payment.invoice_id, payment.amount, payment.method, payment.received_at)
        for payment in payments
    ] == [
        (item.invoice_id, item.amount, PaymentMethod.PAYROLL, NOVEMBER_28)
        for item in prepared.items.order_by("invoice_id")
    ]
    assert {payment.idempotency_key for payment in payments} == {
        f"payroll-deduction-{prepared.pk}-invoice-{invoice.pk}"
        for invoice in invoices_of(billed_fleet)
    }
    assert set(Invoice.objects.filter(fleet=billed_fleet).values_list("status", flat=True)) == {
        InvoiceStatus.PAID
    }
    for item in prepared.items.all():
        assert item.settled_amount == item.amount
        assert item.payment.invoice_id == item.invoice_id
    held = invoice_list_with_payroll_hold(Invoice.objects.filter(fleet=billed_fleet))
    assert not any(invoice.held_by_payroll for invoice in held)


def test_recording_again_with_the_same_key_returns_it_and_changes_nothing(billed_fleet, prepared):
    with time_machine.travel(NOVEMBER_28, tick=False):
        first = payroll_deduction_record(deduction=prepared, idempotency_key="run-11")
    before = snapshot(billed_fleet)

    with time_machine.travel(NOVEMBER_28 + dt.timedelta(hours=1), tick=False):
        again = payroll_deduction_record(deduction=prepared, idempotency_key="run-11")

    assert again.pk == first.pk
    assert again.recorded_at == NOVEMBER_28
    assert snapshot(billed_fleet) == before
    assert Payment.objects.filter(fleet=billed_fleet).count() == 3


def test_a_crash_while_recording_leaves_nothing_and_the_retry_settles_each_once(
    billed_fleet, prepared, monkeypatch
):
    before = snapshot(billed_fleet)
    calls = []

    def failing_on_the_second(**kwargs):
        calls.append(kwargs["invoice"].pk)
        if len(calls) == 2:
            raise ConnectionError("the worker went away")
        return payment_record(**kwargs)

    monkeypatch.setattr(payroll, "payment_record", failing_on_the_second)
    with pytest.raises(ConnectionError):
        payroll_deduction_record(deduction=prepared, idempotency_key="run-11")
    assert snapshot(billed_fleet) == before
    monkeypatch.setattr(payroll, "payment_record", payment_record)

    recorded = payroll_deduction_record(deduction=prepared, idempotency_key="run-11")

    assert recorded.status == PayrollDeductionStatus.RECORDED
    assert sorted(
        Payment.objects.filter(method=PaymentMethod.PAYROLL).values_list("invoice_id", flat=True)
    ) == sorted(invoice.pk for invoice in invoices_of(billed_fleet))


def test_a_payment_left_by_an_earlier_attempt_settles_its_invoice_and_is_not_repeated(
    billed_fleet, prepared
):
    item = prepared.items.order_by("pk").first()
    earlier, _ = payment_record(
        invoice=item.invoice,
        amount=item.amount,
        currency="EUR",
        method=PaymentMethod.PAYROLL,
        idempotency_key=payroll.payroll_payment_key(item),
        received_at=NOVEMBER_3,
        now=NOVEMBER_3,
    )

    payroll_deduction_record(deduction=prepared, idempotency_key="run-11")

    item.refresh_from_db()
    assert (item.payment, item.settled_amount) == (earlier, item.amount)
    assert Payment.objects.filter(invoice=item.invoice).count() == 1


def test_another_key_on_a_recorded_deduction_is_refused_and_changes_nothing(billed_fleet, prepared):
    payroll_deduction_record(deduction=prepared, idempotency_key="run-11")
    before = snapshot(billed_fleet)

    with pytest.raises(PayrollDeductionRecordedAlready) as refusal:
        payroll_deduction_record(deduction=prepared, idempotency_key="run-12")

    assert refusal.value.field == "idempotency_key"
    assert "recorded once" in refusal.value.message
    assert snapshot(billed_fleet) == before


def test_the_same_key_with_another_payroll_date_is_refused(billed_fleet, prepared):
    with time_machine.travel(NOVEMBER_28, tick=False):
        payroll_deduction_record(
            deduction=prepared, idempotency_key="run-11", received_at=NOVEMBER_25
        )
        before = snapshot(billed_fleet)

        with pytest.raises(IdempotencyKeyReused) as refusal:
            payroll_deduction_record(
                deduction=prepared, idempotency_key="run-11", received_at=NOVEMBER_28
            )

    assert refusal.value.field == "idempotency_key"
    assert snapshot(billed_fleet) == before
    assert set(
        Payment.objects.filter(method=PaymentMethod.PAYROLL).values_list("received_at", flat=True)
    ) == {NOVEMBER_25}


def test_a_key_that_recorded_another_deduction_of_the_fleet_is_refused(billed_fleet, prepared):
    payroll_deduction_cancel(deduction=prepared)
    second, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")
    payroll_deduction_record(deduction=second, idempotency_key="run-11")
    before = snapshot(billed_fleet)

    with pytest.raises(IdempotencyKeyReused) as refusal:
        payroll_deduction_record(deduction=prepared, idempotency_key="run-11")

    assert "other details" in refusal.value.message
    assert snapshot(billed_fleet) == before


def test_another_fleet_may_use_the_same_key(run_billing, billed_fleet, prepared):
    payroll_deduction_record(deduction=prepared, idempotency_key="run-11")
    other = billing_fleet_create(drivers=1, sessions_per_driver=4, month_start=OCTOBER)
    run_billing(other, "2026-10")
    other_deduction, _ = payroll_deduction_prepare(fleet=other, period_label="2026-10")

    recorded = payroll_deduction_record(deduction=other_deduction, idempotency_key="run-11")

    assert recorded.status == PayrollDeductionStatus.RECORDED
    assert recorded.pk != prepared.pk


@pytest.mark.parametrize("key", ["", "   ", "k" * 101])
def test_recording_without_a_usable_key_is_refused_and_changes_nothing(billed_fleet, prepared, key):
    before = snapshot(billed_fleet)

    with pytest.raises(PayrollDeductionInvalid) as refusal:
        payroll_deduction_record(deduction=prepared, idempotency_key=key)

    assert refusal.value.field == "idempotency_key"
    assert snapshot(billed_fleet) == before


@pytest.mark.parametrize(
    ("received_at", "rule"),
    [
        (NOVEMBER_3 + dt.timedelta(days=1), "in the future"),
        (NOVEMBER_3 - dt.timedelta(days=1), "cannot have deducted it before"),
    ],
)
def test_a_payroll_date_in_the_future_or_before_preparing_is_refused(
    billed_fleet, prepared, received_at, rule
):
    before = snapshot(billed_fleet)

    with pytest.raises(PayrollDeductionInvalid) as refusal:
        payroll_deduction_record(
            deduction=prepared, idempotency_key="run-11", received_at=received_at
        )

    assert refusal.value.field == "received_at"
    assert rule in refusal.value.message
    assert snapshot(billed_fleet) == before


def test_invoices_paid_or_credited_meanwhile_are_settled_for_what_is_still_open(
    billed_fleet, prepared
):
    paid_in_full, paid_in_part, untouched = invoices_of(billed_fleet)
    pay(paid_in_full, str(paid_in_full.gross_total), "bank-whole")
    pay(paid_in_part, "2.00", "bank-part")

    recorded = payroll_deduction_record(deduction=prepared, idempotency_key="run-11")

    items = {item.invoice_id: item for item in recorded.items.all()}
    assert items[paid_in_full.pk].settled_amount == D("0.00")
    assert items[paid_in_full.pk].payment is None
    assert items[paid_in_part.pk].settled_amount == paid_in_part.gross_total - D("2.00")
    assert items[paid_in_part.pk].payment.amount == paid_in_part.gross_total - D("2.00")
    assert items[untouched.pk].settled_amount == untouched.gross_total
    assert recorded.settled_total == recorded.total - paid_in_full.gross_total - D("2.00")
    assert not Payment.objects.filter(invoice=paid_in_full, method=PaymentMethod.PAYROLL).exists()
    assert set(Invoice.objects.filter(fleet=billed_fleet).values_list("status", flat=True)) == {
        InvoiceStatus.PAID
    }


# Cancelling ---------------------------------------------------------------------------------


def test_cancelling_frees_the_invoices_and_lets_the_period_be_prepared_again(
    billed_fleet, prepared, finance
):
    cancelled = payroll_deduction_cancel(deduction=prepared, by=finance, now=NOVEMBER_3)

    assert cancelled.status == PayrollDeductionStatus.CANCELLED
    assert (cancelled.cancelled_at, cancelled.cancelled_by) == (NOVEMBER_3, finance)
    assert set(prepared.items.values_list("released", flat=True)) == {True}
    held = invoice_list_with_payroll_hold(Invoice.objects.filter(fleet=billed_fleet))
    assert not any(invoice.held_by_payroll for invoice in held)
    again, created = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")
    assert created
    assert again.pk != prepared.pk
    assert again.total == prepared.total


def test_cancelling_twice_changes_nothing_the_second_time(billed_fleet, prepared):
    payroll_deduction_cancel(deduction=prepared, now=NOVEMBER_3)
    before = snapshot(billed_fleet)

    again = payroll_deduction_cancel(deduction=prepared, now=NOVEMBER_25)

    assert again.cancelled_at == NOVEMBER_3
    assert snapshot(billed_fleet) == before


def test_a_recorded_deduction_cannot_be_cancelled(billed_fleet, prepared):
    payroll_deduction_record(deduction=prepared, idempotency_key="run-11")
    before = snapshot(billed_fleet)

    with pytest.raises(PayrollDeductionNotPrepared) as refusal:
        payroll_deduction_cancel(deduction=prepared)

    assert refusal.value.field == "status"
    assert snapshot(billed_fleet) == before


def test_a_cancelled_deduction_cannot_be_recorded(billed_fleet, prepared):
    payroll_deduction_cancel(deduction=prepared)
    before = snapshot(billed_fleet)

    with pytest.raises(PayrollDeductionNotPrepared) as refusal:
        payroll_deduction_record(deduction=prepared, idempotency_key="run-11")

    assert "cancelled" in refusal.value.message
    assert snapshot(billed_fleet) == before


# The command --------------------------------------------------------------------------------


def payroll_command(*arguments: str) -> str:
    out = StringIO()
    call_command("payroll_deductions", *arguments, stdout=out)
    return out.getvalue()


def test_the_command_prepares_records_and_replays_through_the_services(billed_fleet):
    fleet_period = ("--fleet", billed_fleet.slug, "--period", "2026-10")

    prepared_text = payroll_command(*fleet_period, "prepare")
    record = ("record", "--idempotency-key", "run-11", "--received-at", "2026-11-25T10:00+01:00")
    with time_machine.travel(NOVEMBER_28, tick=False):
        recorded_text = payroll_command(*fleet_period, *record)
        replayed_text = payroll_command(*fleet_period, *record)

    deduction = PayrollDeduction.objects.get(fleet=billed_fleet)
    total = f"{deduction.total} EUR"
    assert prepared_text == (
        f"Payroll deduction {deduction.pk} of {billed_fleet.slug} 2026-10: prepared, "
        f"3 invoices of 3 drivers, {total} to deduct\n"
    )
    assert recorded_text == (
        f"Payroll deduction {deduction.pk} of {billed_fleet.slug} 2026-10: recorded, "
        f"3 invoices of 3 drivers, {total} to deduct, {total} settled\n"
    )
    assert replayed_text == recorded_text
    assert set(
        Payment.objects.filter(method=PaymentMethod.PAYROLL).values_list("received_at", flat=True)
    ) == {NOVEMBER_25}


def test_the_command_cancels_the_periods_deduction(billed_fleet, prepared):
    text = payroll_command("--fleet", billed_fleet.slug, "--period", "2026-10", "cancel")

    prepared.refresh_from_db()
    assert prepared.status == PayrollDeductionStatus.CANCELLED
    assert ": cancelled, 3 invoices" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--fleet", "nowhere", "--period", "2026-10", "prepare"), "--fleet: no fleet"),
        (("--period", "2026-09", "prepare"), "--period: The billing of 2026-09 has no billing"),
        (("--period", "2026-10", "cancel"), "--period: .* has no payroll deduction for 2026-10"),
        (
            ("--period", "2026-10", "record", "--idempotency-key", " "),
            "--period: .* has no payroll deduction",
        ),
    ],
)
def test_the_command_refuses_naming_the_option_and_changes_nothing(
    billed_fleet, arguments, message
):
    if arguments[0] != "--fleet":
        arguments = ("--fleet", billed_fleet.slug, *arguments)
    before = snapshot(billed_fleet)

    with pytest.raises(CommandError, match=message):
        payroll_command(*arguments)

    assert snapshot(billed_fleet) == before


def test_the_command_refuses_a_record_without_a_key(billed_fleet, prepared):
    before = snapshot(billed_fleet)

    with pytest.raises(CommandError, match="--idempotency-key: An idempotency key is needed"):
        payroll_command(
            "--fleet", billed_fleet.slug, "--period", "2026-10", "record", "--idempotency-key", " "
        )

    assert snapshot(billed_fleet) == before


# At the same time ---------------------------------------------------------------------------


def _at_once(*work) -> list:
    """Run each callable in its own thread and database connection, released together."""
    barrier = threading.Barrier(len(work))
    outcomes = []

    def run(act):
        try:
            barrier.wait(timeout=10)
            outcomes.append(act())
        except Exception as error:
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(act,)) for act in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_prepares_of_a_period_at_once_make_one_deduction(run_billing):
    with time_machine.travel(NOVEMBER_3, tick=False):
        fleet = billing_fleet_create(drivers=2, sessions_per_driver=4, month_start=OCTOBER)
        run_billing(fleet, "2026-10")

        outcomes = _at_once(
            lambda: payroll_deduction_prepare(fleet=fleet, period_label="2026-10"),
            lambda: payroll_deduction_prepare(fleet=fleet, period_label="2026-10"),
        )

    deduction = PayrollDeduction.objects.get(fleet=fleet)
    assert sorted((found.pk, created) for found, created in outcomes) == [
        (deduction.pk, False),
        (deduction.pk, True),
    ]
    assert deduction.items.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_bank_payment_racing_the_record_is_never_settled_twice(run_billing):
    with time_machine.travel(NOVEMBER_3, tick=False):
        fleet = billing_fleet_create(drivers=1, sessions_per_driver=4, month_start=OCTOBER)
        run_billing(fleet, "2026-10")
        deduction, _ = payroll_deduction_prepare(fleet=fleet, period_label="2026-10")
        invoice = deduction.items.get().invoice

        outcomes = _at_once(
            lambda: payroll_deduction_record(deduction=deduction, idempotency_key="run-11"),
            lambda: pay(invoice, str(invoice.gross_total), "bank"),
        )

    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    item = deduction.items.get()
    bank = Payment.objects.get(idempotency_key="bank")
    payroll_payment = Payment.objects.filter(method=PaymentMethod.PAYROLL).first()
    if payroll_payment is None:
        assert item.settled_amount == D("0.00")
    else:
        assert payroll_payment.pk < bank.pk
        assert item.settled_amount == payroll_payment.amount == invoice.gross_total
