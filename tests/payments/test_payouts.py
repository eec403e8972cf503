"""SEPA payout batches: made from approved reimbursements and owed refunds, their file valid
against pain.001.001.09, executed or cancelled, every refusal leaving nothing behind."""

import datetime as dt
import hashlib
import threading
import xml.etree.ElementTree as ET
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
import xmlschema
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from apps.drivers.models import Driver
from apps.fleets.choices import RefundMethod
from apps.fleets.models import Fleet
from apps.payments import payouts, sepa, services
from apps.payments.choices import PayoutBatchStatus, RefundStatus, ReimbursementStatus
from apps.payments.exceptions import (
    EpcTextInvalid,
    PayoutAccountInvalid,
    PayoutAlreadyInBatch,
    PayoutBatchCancelled,
    PayoutBatchExecuted,
    PayoutCurrencyNotEuro,
    PayoutExecutionDateInvalid,
    PayoutNothingToPay,
    PayoutSettingsMissing,
    ReimbursementAlreadyPaid,
    ReimbursementInPayoutBatch,
    ReimbursementNotApproved,
)
from apps.payments.models import PayoutBatch, PayoutItem, Refund, Reimbursement
from apps.payments.payouts import (
    NO_ACCOUNT_HOLDER,
    NO_IBAN,
    NOTHING_TO_PAY,
    payout_batch_cancel,
    payout_batch_create,
    payout_batch_execute,
    payout_batch_xml,
)
from tests.factories import DriverFactory, FleetFactory, StaffUserFactory
from tests.payments.factories import RefundFactory, ReimbursementFactory
from voltop.core.errors import NotFound

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 6, 13, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=2)
NS = {"p": sepa.NAMESPACE}


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def fleet() -> Fleet:
    return FleetFactory(
        country="DE",
        time_zone="Europe/Berlin",
        legal_name="Voltop Flotte GmbH",
        street="Friedrichstraße 10",
        postal_code="10117",
        city="Berlin",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
        refund_method=RefundMethod.PAYOUT,
    )


@pytest.fixture
def driver(fleet) -> Driver:
    return DriverFactory(
        fleet=fleet,
        first_name="Jürgen",
        last_name="Müßig",
        account_holder="Jürgen Müßig-Ødegård",
        iban="NL91ABNA0417164300",
        street="Damrak 1",
        postal_code="1012 LG",
        city="Amsterdam",
        country="NL",
    )


def _parsed(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314 - a file these tests just made


def _create(fleet, **options):
    return payout_batch_create(fleet=fleet, created_by=None, now=NOW, **options)


def _nothing_written():
    assert not PayoutBatch.objects.exists()
    assert not PayoutItem.objects.exists()


class TestCreate:
    def test_pays_approved_reimbursements_and_owed_refunds_in_a_valid_file(self, fleet, driver):
        reimbursement = ReimbursementFactory(driver=driver, amount=Decimal("12.34"))
        refund = RefundFactory(invoice__driver=driver, amount=Decimal("2.50"))

        created = _create(fleet, execution_date=dt.date(2026, 12, 8))

        batch = created.batch
        assert created.left_out == ()
        assert (batch.status, batch.item_count, batch.total) == ("created", 2, Decimal("14.84"))
        assert (batch.debtor_name, batch.debtor_iban, batch.debtor_bic) == (
            "Voltop Flotte GmbH",
            "DE89370400440532013000",
            "COBADEFFXXX",
        )
        items = list(batch.items.order_by("pk"))
        assert [(item.reimbursement, item.refund, item.amount) for item in items] == [
            (reimbursement, None, Decimal("12.34")),
            (None, refund, Decimal("2.50")),
        ]
        assert [item.end_to_end_id for item in items] == [
            f"VT-B{batch.pk}-R{reimbursement.pk}",
            f"VT-B{batch.pk}-F{refund.pk}",
        ]
        assert {item.creditor_name for item in items} == {"Juergen Muessig-Odegard"}
        xml = payout_batch_xml(batch)
        xmlschema.XMLSchema(str(sepa.SCHEMA_PATH)).validate(xml.decode())
        assert hashlib.sha256(xml).hexdigest() == batch.sha256
        document = _parsed(xml)
        assert [node.text for node in document.find(".//p:Dbtr/p:PstlAdr", NS)] == [
            "Friedrichstrasse 10",
            "10117",
            "Berlin",
            "DE",
        ]
        creditor_addresses = document.findall(".//p:Cdtr/p:PstlAdr", NS)
        assert [[node.text for node in address] for address in creditor_addresses] == [
            ["Damrak 1", "1012 LG", "Amsterdam", "NL"]
        ] * 2
        assert document.find(".//p:ReqdExctnDt/p:Dt", NS).text == "2026-12-08"
        assert [node.text for node in document.findall(".//p:Ustrd", NS)] == [
            f"Reimbursement of home charging {reimbursement.billing_run.period_label}",
            f"Refund on invoice {refund.invoice.number}",
        ]

    def test_the_file_is_rebuilt_byte_for_byte_after_the_driver_changes(self, fleet, driver):
        ReimbursementFactory(driver=driver)
        batch = _create(fleet).batch
        Driver.objects.filter(pk=driver.pk).update(account_holder="Someone Else", city="Köln")
        Fleet.objects.filter(pk=fleet.pk).update(legal_name="Renamed AG")

        assert hashlib.sha256(payout_batch_xml(batch)).hexdigest() == batch.sha256

    def test_a_payee_with_an_address_without_a_town_is_paid_without_an_address(self, fleet, driver):
        Driver.objects.filter(pk=driver.pk).update(city="")
        ReimbursementFactory(driver=driver)

        batch = _create(fleet).batch

        assert _parsed(payout_batch_xml(batch)).find(".//p:Cdtr/p:PstlAdr", NS) is None

    def test_leaves_out_what_is_not_approved_paid_already_or_of_another_fleet(self, fleet, driver):
        approved = ReimbursementFactory(driver=driver)
        for status in (ReimbursementStatus.PENDING, ReimbursementStatus.REJECTED):
            ReimbursementFactory(driver=driver, status=status)
        ReimbursementFactory(driver=driver, status=ReimbursementStatus.PAID, paid_at=NOW)
        ReimbursementFactory(driver__account_holder="Other Fleet")

        batch = _create(fleet).batch

        assert [item.reimbursement for item in batch.items.all()] == [approved]

    def test_refunds_wait_for_the_next_invoice_when_the_fleet_sets_them_off(self, fleet, driver):
        Fleet.objects.filter(pk=fleet.pk).update(refund_method=RefundMethod.SET_OFF)
        RefundFactory(invoice__driver=driver)

        with pytest.raises(PayoutNothingToPay, match="refunds are set off"):
            _create(fleet)

        _nothing_written()

    def test_payees_without_iban_or_account_holder_are_left_out_and_reported(self, fleet, driver):
        paid = ReimbursementFactory(driver=driver)
        without_iban = ReimbursementFactory(driver__fleet=fleet, driver__iban="")
        without_holder = ReimbursementFactory(driver__fleet=fleet, driver__account_holder="")

        created = _create(fleet)

        assert [item.reimbursement for item in created.batch.items.all()] == [paid]
        assert [(entry.driver, entry.reason) for entry in created.left_out] == [
            (without_iban.driver, NO_IBAN),
            (without_holder.driver, NO_ACCOUNT_HOLDER),
        ]
        assert f"reimbursement {without_iban.pk}" in str(created.left_out[0])

    def test_a_reimbursement_of_zero_is_left_out_and_reported(self, fleet, driver):
        ReimbursementFactory(driver=driver)
        zero = ReimbursementFactory(driver=driver, amount=Decimal("0.00"))

        created = _create(fleet)

        assert created.batch.item_count == 1
        assert [(entry.description, entry.reason) for entry in created.left_out] == [
            (f"reimbursement {zero.pk} ({zero.billing_run.period_label})", NOTHING_TO_PAY)
        ]

    def test_what_a_batch_holds_is_not_put_in_a_second(self, fleet, driver):
        ReimbursementFactory(driver=driver)
        RefundFactory(invoice__driver=driver)
        _create(fleet)

        with pytest.raises(PayoutNothingToPay):
            _create(fleet)

        assert PayoutBatch.objects.count() == 1


class TestRefusals:
    @pytest.fixture
    def reimbursement(self, driver):
        return ReimbursementFactory(driver=driver)

    def _refused(self, fleet, reimbursement, error, **options):
        with pytest.raises(error) as refusal:
            _create(fleet, **options)
        _nothing_written()
        reimbursement.refresh_from_db()
        assert reimbursement.status == ReimbursementStatus.APPROVED
        return refusal.value

    @pytest.mark.parametrize(("field", "label"), [("iban", "IBAN"), ("bic", "BIC")])
    def test_a_fleet_without_sepa_settings_is_refused_naming_the_field(
        self, fleet, reimbursement, field, label
    ):
        Fleet.objects.filter(pk=fleet.pk).update(**{field: ""})

        refusal = self._refused(fleet, reimbursement, PayoutSettingsMissing)

        assert (refusal.code, refusal.field) == ("payments.payout_settings_missing", field)
        assert f"no {label}" in refusal.message

    def test_a_fleet_not_in_euros_is_refused(self, fleet, reimbursement):
        Fleet.objects.filter(pk=fleet.pk).update(currency="CHF")

        refusal = self._refused(fleet, reimbursement, PayoutCurrencyNotEuro)

        assert refusal.field == "currency"

    @pytest.mark.parametrize(
        ("field", "value"),
        [("iban", "DE89370400440532013001"), ("bic", "COBAXXFF"), ("bic", "ABNANL2A")],
    )
    def test_an_invalid_fleet_iban_or_bic_is_refused(self, fleet, reimbursement, field, value):
        Fleet.objects.filter(pk=fleet.pk).update(**{field: value})

        refusal = self._refused(fleet, reimbursement, PayoutAccountInvalid)

        assert (refusal.code, refusal.field) == ("payments.payout_account_invalid", field)

    def test_an_invalid_driver_iban_is_refused_naming_the_driver(
        self, fleet, driver, reimbursement
    ):
        Driver.objects.filter(pk=driver.pk).update(iban="NL91ABNA0417164301")

        refusal = self._refused(fleet, reimbursement, PayoutAccountInvalid)

        assert refusal.field == "iban"
        assert driver.employee_number in refusal.message

    def test_an_iban_outside_the_sepa_area_is_refused(self, fleet, driver, reimbursement):
        Driver.objects.filter(pk=driver.pk).update(iban="BR1800360305000010009795493C1")

        refusal = self._refused(fleet, reimbursement, PayoutAccountInvalid)

        assert "outside the SEPA area" in refusal.message

    def test_an_account_holder_with_an_emoji_is_refused_naming_the_payee(
        self, fleet, driver, reimbursement
    ):
        Driver.objects.filter(pk=driver.pk).update(account_holder="Jürgen ⚡ Müßig")

        refusal = self._refused(fleet, reimbursement, EpcTextInvalid)

        assert refusal.field == "account_holder"
        assert driver.employee_number in refusal.message

    def test_an_execution_date_in_the_past_is_refused(self, fleet, reimbursement):
        refusal = self._refused(
            fleet, reimbursement, PayoutExecutionDateInvalid, execution_date=dt.date(2026, 12, 5)
        )

        assert refusal.field == "execution_date"

    def test_nothing_to_pay_is_refused_saying_who_was_left_out(self, fleet, driver, reimbursement):
        Driver.objects.filter(pk=driver.pk).update(iban="")

        refusal = self._refused(fleet, reimbursement, PayoutNothingToPay)

        assert refusal.code == "payments.payout_nothing_to_pay"
        assert NO_IBAN in refusal.message

    def test_a_paid_reimbursement_is_refused_a_second_batch(self, fleet, driver, reimbursement):
        batch = _create(fleet).batch
        payout_batch_execute(batch=batch, by=None, now=LATER)

        with pytest.raises(ReimbursementAlreadyPaid) as refusal:
            _create(fleet, reimbursements=[reimbursement])

        assert refusal.value.field == "reimbursements"
        assert PayoutBatch.objects.count() == 1
        assert PayoutItem.objects.count() == 1

    def test_a_reimbursement_in_an_open_batch_is_refused_a_second(
        self, fleet, driver, reimbursement
    ):
        batch = _create(fleet).batch

        with pytest.raises(PayoutAlreadyInBatch, match=batch.message_id):
            _create(fleet, reimbursements=[reimbursement])

        assert PayoutBatch.objects.count() == 1

    @pytest.mark.parametrize("status", [ReimbursementStatus.PENDING, ReimbursementStatus.REJECTED])
    def test_a_chosen_reimbursement_not_approved_is_refused(self, fleet, driver, status):
        chosen = ReimbursementFactory(driver=driver, status=status)

        with pytest.raises(ReimbursementNotApproved) as refusal:
            _create(fleet, reimbursements=[chosen])

        assert str(chosen.pk) in refusal.value.message
        _nothing_written()

    def test_a_chosen_reimbursement_of_another_fleet_is_refused(self, fleet, reimbursement):
        other = ReimbursementFactory(driver__account_holder="Other Fleet")

        with pytest.raises(NotFound):
            _create(fleet, reimbursements=[reimbursement, other])

        _nothing_written()

    def test_a_reimbursement_taken_meanwhile_refuses_the_batch_whole(
        self, fleet, driver, reimbursement, monkeypatch
    ):
        """Should a row slip past the locks, the database refuses the second open item, and
        the batch made before it goes with it."""
        _create(fleet)
        held = payouts._reimbursement_due(reimbursement)
        monkeypatch.setattr(payouts, "_all_due", lambda fleet: [held])

        with pytest.raises(PayoutAlreadyInBatch):
            _create(fleet)

        assert PayoutBatch.objects.count() == 1
        assert PayoutItem.objects.count() == 1

    def test_the_database_refuses_a_second_open_item_for_a_reimbursement(
        self, fleet, driver, reimbursement
    ):
        batch = _create(fleet).batch
        payout_batch_execute(batch=batch, by=None, now=LATER)
        item = batch.items.get()

        with pytest.raises(IntegrityError), transaction.atomic():
            PayoutItem.objects.create(
                batch=batch,
                reimbursement=reimbursement,
                driver=driver,
                amount=item.amount,
                end_to_end_id="VT-SECOND",
                creditor_name=item.creditor_name,
                creditor_iban=item.creditor_iban,
                remittance="Second",
            )


class TestExecuteAndCancel:
    @pytest.fixture
    def batch(self, fleet, driver):
        ReimbursementFactory(driver=driver)
        RefundFactory(invoice__driver=driver)
        return _create(fleet).batch

    def test_execute_marks_what_it_pays_paid(self, batch):
        user = StaffUserFactory()

        payout_batch_execute(batch=batch, by=user, now=LATER)

        batch.refresh_from_db()
        assert (batch.status, batch.executed_at, batch.executed_by) == ("executed", LATER, user)
        reimbursement = Reimbursement.objects.get()
        assert (reimbursement.status, reimbursement.paid_at, reimbursement.paid_by) == (
            ReimbursementStatus.PAID,
            LATER,
            user,
        )
        refund = Refund.objects.get()
        assert (refund.status, refund.settled_at) == (RefundStatus.PAID, LATER)

    def test_executing_again_changes_nothing(self, batch):
        payout_batch_execute(batch=batch, by=None, now=LATER)

        again = payout_batch_execute(batch=batch, by=None, now=LATER + dt.timedelta(hours=1))

        assert again.executed_at == LATER
        assert Reimbursement.objects.get().paid_at == LATER

    def test_cancel_frees_what_it_held_for_a_new_batch(self, fleet, batch):
        payout_batch_cancel(batch=batch, by=None, now=LATER)

        batch.refresh_from_db()
        assert (batch.status, batch.cancelled_at) == (PayoutBatchStatus.CANCELLED, LATER)
        assert set(batch.items.values_list("released", flat=True)) == {True}
        assert Reimbursement.objects.get().status == ReimbursementStatus.APPROVED
        second = _create(fleet).batch
        assert second.item_count == 2

    def test_executing_a_cancelled_batch_is_refused_and_changes_nothing(self, batch):
        payout_batch_cancel(batch=batch, by=None, now=LATER)

        with pytest.raises(PayoutBatchCancelled) as refusal:
            payout_batch_execute(batch=batch, by=None, now=LATER)

        assert refusal.value.code == "payments.payout_batch_cancelled"
        batch.refresh_from_db()
        assert batch.status == PayoutBatchStatus.CANCELLED
        assert Reimbursement.objects.get().status == ReimbursementStatus.APPROVED
        assert Refund.objects.get().status == RefundStatus.OWED

    def test_cancelling_an_executed_batch_is_refused_and_changes_nothing(self, batch):
        payout_batch_execute(batch=batch, by=None, now=LATER)

        with pytest.raises(PayoutBatchExecuted) as refusal:
            payout_batch_cancel(batch=batch, by=None, now=LATER)

        assert refusal.value.code == "payments.payout_batch_executed"
        batch.refresh_from_db()
        assert batch.status == PayoutBatchStatus.EXECUTED
        assert not batch.items.filter(released=True).exists()

    def test_cancelling_again_changes_nothing(self, batch):
        payout_batch_cancel(batch=batch, by=None, now=LATER)

        again = payout_batch_cancel(batch=batch, by=None, now=LATER + dt.timedelta(hours=1))

        assert again.cancelled_at == LATER

    def test_a_reimbursement_in_a_batch_is_not_marked_paid_by_hand(self, batch):
        with pytest.raises(ReimbursementInPayoutBatch, match=batch.message_id):
            services.reimbursement_mark_paid(
                reimbursement=Reimbursement.objects.get(), paid_at=NOW, now=NOW
            )

        assert Reimbursement.objects.get().status == ReimbursementStatus.APPROVED

    def test_a_refund_set_off_meanwhile_stops_the_execution_whole(self, batch):
        Refund.objects.update(status=RefundStatus.SET_OFF, settled_at=NOW)

        with pytest.raises(Exception, match="no longer owed"):
            payout_batch_execute(batch=batch, by=None, now=LATER)

        batch.refresh_from_db()
        assert batch.status == PayoutBatchStatus.CREATED
        assert Reimbursement.objects.get().status == ReimbursementStatus.APPROVED


class TestCommand:
    def test_writes_the_file_and_says_what_it_paid_and_left_out(self, fleet, driver, tmp_path):
        reimbursement = ReimbursementFactory(driver=driver)
        ReimbursementFactory(driver__fleet=fleet, driver__iban="")
        target = tmp_path / "payout.xml"
        out = StringIO()

        call_command(
            "sepa_batch",
            "--fleet",
            fleet.slug,
            "-o",
            str(target),
            "--execution-date",
            "2026-12-09",
            stdout=out,
        )

        batch = PayoutBatch.objects.get()
        assert hashlib.sha256(target.read_bytes()).hexdigest() == batch.sha256
        assert batch.requested_execution_date == dt.date(2026, 12, 9)
        assert f"VT-B{batch.pk}-R{reimbursement.pk}" in out.getvalue()
        assert "left out: reimbursement" in out.getvalue()
        assert NO_IBAN in out.getvalue()
        assert [path.name for path in tmp_path.iterdir()] == ["payout.xml"]

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (["--fleet", "no-such-fleet"], "--fleet"),
            (["--execution-date", "8.12.2026"], "--execution-date"),
            (["-o", "/no/such/folder/payout.xml"], "does not exist"),
        ],
    )
    def test_bad_options_are_refused_before_anything_is_made(
        self, fleet, driver, tmp_path, options, message
    ):
        ReimbursementFactory(driver=driver)
        arguments = ["--fleet", fleet.slug, "-o", str(tmp_path / "payout.xml"), *options]

        with pytest.raises(CommandError, match=message):
            call_command("sepa_batch", *arguments)

        assert list(tmp_path.iterdir()) == []
        _nothing_written()

    def test_an_existing_file_is_not_overwritten(self, fleet, driver, tmp_path):
        ReimbursementFactory(driver=driver)
        target = tmp_path / "payout.xml"
        target.write_bytes(b"earlier")

        with pytest.raises(CommandError, match="exists"):
            call_command("sepa_batch", "--fleet", fleet.slug, "-o", str(target))

        assert target.read_bytes() == b"earlier"
        _nothing_written()

    def test_a_refusal_leaves_no_file_and_no_batch(self, fleet, driver, tmp_path):
        ReimbursementFactory(driver=driver)
        Fleet.objects.filter(pk=fleet.pk).update(bic="")
        target = tmp_path / "payout.xml"

        with pytest.raises(CommandError, match="--bic"):
            call_command("sepa_batch", "--fleet", fleet.slug, "-o", str(target))

        assert list(tmp_path.iterdir()) == []
        _nothing_written()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_made_at_once_pay_a_reimbursement_once():
    with time_machine.travel(NOW, tick=True):
        fleet = FleetFactory(iban="DE89370400440532013000", bic="COBADEFFXXX", country="DE")
        reimbursements = ReimbursementFactory.create_batch(3, driver__fleet=fleet)
        barrier = threading.Barrier(2)
        outcomes = []

        def create():
            try:
                barrier.wait(timeout=10)
                created = payout_batch_create(fleet=fleet, created_by=None)
                outcomes.append(created.batch.item_count)
            except PayoutNothingToPay:
                outcomes.append("refused")
            finally:
                connection.close()

        threads = [threading.Thread(target=create) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert sorted(outcomes, key=str) == [3, "refused"]
    assert PayoutItem.objects.count() == 3
    assert {item.reimbursement for item in PayoutItem.objects.all()} == set(reimbursements)
