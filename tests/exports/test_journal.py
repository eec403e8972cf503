"""The double-entry journal: each kind of entry on a billed fleet with its exact lines, every
entry balanced (and, for any booking, proven with hypothesis), figures equal to the documents,
a fixed number of queries, the refusal of a VAT rate without accounts that leaves nothing
behind, tenant isolation, and the file through the command, the Exports page and the API."""

import datetime as dt
import io
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from apps.exports.exceptions import VatRateAccountsMissing
from apps.exports.journal import booking_lines, journal_lines, ledger_entries
from apps.exports.ledger import Booking, Entry, EntryKind, TaxedSide
from apps.exports.models import ExportJob, ExportManifest
from apps.exports.periods import export_period_of_days, export_period_of_label
from apps.exports.services import export_request_check, export_write
from apps.fleets.choices import MembershipRole
from apps.fleets.models import VatRateAccounts
from apps.payments.choices import (
    InvoiceStatus,
    PaymentMethod,
    PayoutBatchStatus,
    RefundReason,
    RefundStatus,
    ReimbursementStatus,
)
from apps.payments.models import (
    CostAllocation,
    CreditNote,
    Invoice,
    Payment,
    PayoutBatch,
    PayoutItem,
    Refund,
    Reimbursement,
)
from apps.payments.services import credit_note_issue, payment_record, reimbursement_decide
from tests.exports.test_file_formats import Workbook
from tests.factories import MembershipFactory, StaffUserFactory
from tests.payments.builders import billing_fleet_create

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOVEMBER_FIRST, NOVEMBER_LAST = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
IN_DECEMBER = dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
LINE_KEYS = ("account", "debit", "credit", "tax_code", "cost_center", "document", "text")


def _accounts_at_21(fleet) -> VatRateAccounts:
    return VatRateAccounts.objects.create(
        fleet=fleet,
        vat_rate=Decimal("21.00"),
        revenue_account="8200",
        revenue_tax_code="",
        vat_account="1770",
        input_vat_account="1570",
        input_tax_code="9",
    )


def _november(fleet):
    return export_period_of_days(first_day=NOVEMBER_FIRST, last_day=NOVEMBER_LAST, zone=fleet.zone)


def _october(fleet):
    return export_period_of_label(kind="monthly", label="2026-10", zone=fleet.zone)


def _lines_of(entry: Entry) -> list[tuple]:
    return [tuple(line[key] for key in LINE_KEYS) for line in journal_lines([entry])]


def _of_kind(entries, kind) -> list[Entry]:
    return [entry for entry in entries if entry.kind == kind]


@pytest.fixture
def journal_fleet(billed_fleet):
    """The billed fleet with accounts for its rate of 21 %."""
    _accounts_at_21(billed_fleet)
    return billed_fleet


@pytest.fixture
def booked_fleet(journal_fleet):
    """The journal fleet with a November of every kind of entry: its invoices (issued on
    3 November), a credit note, approved and rejected reimbursements, payments received (one
    reversed, one set off), and an executed and a still open payout batch."""
    with time_machine.travel(IN_DECEMBER, tick=False):
        yield _november_booked(journal_fleet)


def _november_booked(fleet):
    invoices = list(Invoice.objects.filter(fleet=fleet).order_by("number"))
    credit_note_issue(
        invoice=invoices[1],
        reason="Charged twice.",
        now=dt.datetime(2026, 11, 12, 10, 0, tzinfo=UTC),
    )
    reimbursements = list(Reimbursement.objects.filter(fleet=fleet).order_by("pk"))
    reimbursement_decide(
        reimbursement=reimbursements[0],
        approve=True,
        decided_by=None,
        now=dt.datetime(2026, 11, 5, 8, 0, tzinfo=UTC),
    )
    reimbursement_decide(
        reimbursement=reimbursements[1],
        approve=False,
        decided_by=None,
        note="Not a work trip.",
        now=dt.datetime(2026, 11, 5, 8, 0, tzinfo=UTC),
    )
    received = dt.datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    payment_record(
        invoice=invoices[0],
        amount=invoices[0].gross_total,
        currency="EUR",
        method=PaymentMethod.BANK_TRANSFER,
        idempotency_key="paid-in-full",
        received_at=received,
    )
    reversed_payment, _ = payment_record(
        invoice=invoices[2],
        amount=Decimal("1.00"),
        currency="EUR",
        method=PaymentMethod.CARD,
        idempotency_key="charged-back",
        received_at=received,
    )
    Payment.objects.filter(pk=reversed_payment.pk).update(status="reversed")
    Payment.objects.create(
        fleet=fleet,
        invoice=invoices[3],
        amount=Decimal("2.00"),
        currency="EUR",
        method=PaymentMethod.SET_OFF,
        idempotency_key="set-off-refund-0",
        request_fingerprint="set-off",
        received_at=received,
    )
    refund = Refund.objects.create(
        fleet=fleet,
        driver=invoices[0].driver,
        invoice=invoices[0],
        reason=RefundReason.OVERPAID,
        currency="EUR",
        amount=Decimal("3.50"),
        status=RefundStatus.PAID,
        settled_at=dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    )
    executed = _batch(fleet, "VT-BATCH-1", executed_at=dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    Reimbursement.objects.filter(pk=reimbursements[0].pk).update(
        status=ReimbursementStatus.PAID, paid_at=executed.executed_at
    )
    _item(executed, "E2E-1", reimbursement=reimbursements[0])
    _item(executed, "E2E-2", refund=refund)
    still_open = _batch(fleet, "VT-BATCH-2")
    _item(still_open, "E2E-3", refund=refund, amount=Decimal("9.99"), released=True)
    return fleet


def _batch(fleet, message_id: str, executed_at: dt.datetime | None = None) -> PayoutBatch:
    return PayoutBatch.objects.create(
        fleet=fleet,
        message_id=message_id,
        status=PayoutBatchStatus.EXECUTED if executed_at else PayoutBatchStatus.CREATED,
        currency="EUR",
        requested_execution_date=dt.date(2026, 11, 19),
        debtor_name="Fleet",
        debtor_iban="DE89370400440532013000",
        executed_at=executed_at,
    )


def _item(batch, end_to_end_id: str, *, amount=None, released=False, **paid) -> PayoutItem:
    paid_thing = paid.get("reimbursement") or paid.get("refund")
    return PayoutItem.objects.create(
        batch=batch,
        driver=paid_thing.driver,
        amount=amount or paid_thing.amount,
        end_to_end_id=end_to_end_id,
        creditor_name="Holder",
        creditor_iban="DE89370400440532013000",
        remittance="Payout",
        released=released,
        **paid,
    )


# -- each kind of entry ---------------------------------------------------------------------------


def test_an_invoice_books_its_gross_to_receivables_and_its_net_and_vat_to_revenue_and_vat(
    booked_fleet,
):
    invoice = Invoice.objects.filter(fleet=booked_fleet).order_by("number").first()

    entries = _of_kind(
        ledger_entries(fleet=booked_fleet, period=_november(booked_fleet)), "invoice"
    )

    [entry] = [entry for entry in entries if entry.document == invoice.number]
    assert (entry.posting_date, entry.document_date) == (dt.date(2026, 11, 3),) * 2
    text = f"Invoice {invoice.number}, VAT 21 %"
    assert _lines_of(entry) == [
        ("1400", invoice.gross_total, None, None, None, invoice.number, text),
        ("8200", None, invoice.net_total, None, None, invoice.number, text),
        ("1770", None, invoice.vat_total, None, None, invoice.number, text),
    ]
    assert invoice.gross_total == Decimal("8.82")


def test_every_issued_invoice_and_credit_note_is_booked_at_the_figures_it_states(booked_fleet):
    entries = ledger_entries(fleet=booked_fleet, period=_november(booked_fleet))

    booked = {
        entry.document: (
            sum(booking.amount for booking in entry.bookings),
            sum(booking.vat for booking in entry.bookings),
        )
        for entry in entries
        if entry.kind in (EntryKind.INVOICE, EntryKind.CREDIT_NOTE)
    }
    stated = {
        invoice.number: (invoice.gross_total, invoice.vat_total)
        for invoice in Invoice.objects.filter(fleet=booked_fleet).exclude(
            status=InvoiceStatus.DRAFT
        )
    } | {
        note.number: (note.gross_total, note.vat_total)
        for note in CreditNote.objects.filter(fleet=booked_fleet)
    }
    assert booked == stated
    assert len(stated) == 6


def test_a_credit_note_reverses_the_revenue_it_credits(booked_fleet):
    note = CreditNote.objects.get(fleet=booked_fleet)

    [entry] = _of_kind(
        ledger_entries(fleet=booked_fleet, period=_november(booked_fleet)), "credit_note"
    )

    text = f"Credit note {note.number}, VAT 21 %"
    assert entry.posting_date == dt.date(2026, 11, 12)
    assert _lines_of(entry) == [
        ("8200", note.net_total, None, None, None, note.number, text),
        ("1770", note.vat_total, None, None, None, note.number, text),
        ("1400", None, note.gross_total, None, None, note.number, text),
    ]


def test_business_charging_is_allocated_per_cost_center_with_its_input_vat_apart(journal_fleet):
    allocations = CostAllocation.objects.filter(fleet=journal_fleet)
    center = allocations.first().cost_center.code
    net = sum(allocation.amount for allocation in allocations)
    vat = sum(allocation.vat for allocation in allocations)

    [entry] = ledger_entries(fleet=journal_fleet, period=_october(journal_fleet))

    text = f"Business charging 2026-10 {center}, VAT 21 %"
    assert (entry.kind, entry.document, entry.posting_date) == (
        "allocation",
        "ALLOC-2026-10",
        dt.date(2026, 10, 31),
    )
    assert _lines_of(entry) == [
        ("4530", net, None, "9", center, "ALLOC-2026-10", text),
        ("1570", vat, None, "9", center, "ALLOC-2026-10", text),
        ("1600", None, net + vat, None, center, "ALLOC-2026-10", text),
    ]
    assert (net, vat) == (Decimal("14.18"), Decimal("2.97"))


def test_an_allocation_of_whole_euros_is_matched_to_its_rate(journal_fleet):
    allocations = CostAllocation.objects.filter(fleet=journal_fleet).order_by("pk")
    allocations.filter(pk=allocations.first().pk).update(
        amount=Decimal("16.00"), vat=Decimal("3.36")
    )
    allocations.exclude(pk=allocations.first().pk).update(
        amount=Decimal("1.00"), vat=Decimal("0.21")
    )
    net = sum(allocation.amount for allocation in allocations)
    vat = sum(allocation.vat for allocation in allocations)

    [entry] = ledger_entries(fleet=journal_fleet, period=_october(journal_fleet))

    assert [line[:3] for line in _lines_of(entry)] == [
        ("4530", net, None),
        ("1570", vat, None),
        ("1600", None, net + vat),
    ]


def test_an_approved_reimbursement_is_owed_to_the_driver_and_a_rejected_one_is_not(booked_fleet):
    approved = Reimbursement.objects.filter(fleet=booked_fleet).order_by("pk").first()

    entries = _of_kind(
        ledger_entries(fleet=booked_fleet, period=_november(booked_fleet)), "reimbursement"
    )

    [entry] = entries
    document = f"R{approved.pk}"
    text = f"Home charging reimbursement {document}"
    center = approved.driver.cost_center.code
    assert (entry.document, entry.posting_date) == (document, dt.date(2026, 11, 5))
    assert _lines_of(entry) == [
        ("4530", approved.amount, None, None, center, document, text),
        ("1740", None, approved.amount, None, center, document, text),
    ]


def test_payments_received_are_booked_and_reversed_and_set_off_ones_are_not(booked_fleet):
    paid = Payment.objects.get(fleet=booked_fleet, idempotency_key="paid-in-full")
    number = paid.invoice.number

    [entry] = _of_kind(
        ledger_entries(fleet=booked_fleet, period=_november(booked_fleet)), "payment"
    )

    text = f"Payment of invoice {number} (Bank transfer)"
    assert entry.posting_date == dt.date(2026, 11, 10)
    assert _lines_of(entry) == [
        ("1200", paid.amount, None, None, None, number, text),
        ("1400", None, paid.amount, None, None, number, text),
    ]


def test_a_payment_settled_by_payroll_is_cleared_on_the_payroll_account_not_the_bank(
    booked_fleet,
):
    invoice = (
        Invoice.objects.filter(
            fleet=booked_fleet, status=InvoiceStatus.ISSUED, payments__isnull=True
        )
        .order_by("number")
        .first()
    )
    payment_record(
        invoice=invoice,
        amount=Decimal("3.00"),
        currency="EUR",
        method=PaymentMethod.PAYROLL,
        idempotency_key="payroll-of-november",
        received_at=dt.datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    )

    entries = _of_kind(
        ledger_entries(fleet=booked_fleet, period=_november(booked_fleet)), "payment"
    )

    [entry] = [entry for entry in entries if entry.posting_date == dt.date(2026, 11, 27)]
    text = f"Payment of invoice {invoice.number} (Payroll deduction)"
    assert _lines_of(entry) == [
        ("1755", Decimal("3.00"), None, None, None, invoice.number, text),
        ("1400", None, Decimal("3.00"), None, None, invoice.number, text),
    ]


def test_an_executed_payout_batch_pays_its_reimbursements_and_refunds_from_the_bank(
    booked_fleet,
):
    reimbursement = Reimbursement.objects.get(fleet=booked_fleet, status="paid")
    refund = Refund.objects.get(fleet=booked_fleet)
    center = reimbursement.driver.cost_center.code

    [entry] = _of_kind(ledger_entries(fleet=booked_fleet, period=_november(booked_fleet)), "payout")

    assert (entry.document, entry.posting_date) == ("VT-BATCH-1", dt.date(2026, 11, 20))
    reimbursement_text = f"Payout of reimbursement R{reimbursement.pk}"
    refund_text = f"Payout of refund {refund.pk}"
    assert _lines_of(entry) == [
        ("1740", reimbursement.amount, None, None, center, "VT-BATCH-1", reimbursement_text),
        ("1200", None, reimbursement.amount, None, center, "VT-BATCH-1", reimbursement_text),
        ("1400", Decimal("3.50"), None, None, None, "VT-BATCH-1", refund_text),
        ("1200", None, Decimal("3.50"), None, None, "VT-BATCH-1", refund_text),
    ]


def test_entries_are_numbered_in_order_of_posting_date_kind_and_document(booked_fleet):
    entries = ledger_entries(fleet=booked_fleet, period=_november(booked_fleet))

    assert [entry.number for entry in entries] == list(range(1, len(entries) + 1))
    assert [(entry.posting_date, entry.kind) for entry in entries] == [
        *[(dt.date(2026, 11, 3), "invoice")] * 5,
        (dt.date(2026, 11, 5), "reimbursement"),
        (dt.date(2026, 11, 10), "payment"),
        (dt.date(2026, 11, 12), "credit_note"),
        (dt.date(2026, 11, 20), "payout"),
    ]
    invoice_numbers = [entry.document for entry in entries[:5]]
    assert invoice_numbers == sorted(invoice_numbers)


def test_every_entry_of_the_billed_fleet_balances(booked_fleet):
    entries = [
        *ledger_entries(fleet=booked_fleet, period=_october(booked_fleet)),
        *ledger_entries(fleet=booked_fleet, period=_november(booked_fleet)),
    ]

    assert {entry.kind for entry in entries} == set(EntryKind.values)
    for entry in entries:
        lines = list(journal_lines([entry]))
        assert sum(line["debit"] or 0 for line in lines) == sum(
            line["credit"] or 0 for line in lines
        )


# -- any booking balances -------------------------------------------------------------------------

AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
RATES = st.sampled_from([Decimal("0"), Decimal("7"), Decimal("19"), Decimal("21")])


@st.composite
def bookings(draw) -> Booking:
    net = draw(AMOUNTS)
    rate = draw(RATES)
    vat = (net * rate / 100).quantize(Decimal("0.01"))
    side = draw(st.sampled_from([TaxedSide.DEBIT, TaxedSide.CREDIT]))
    return Booking(
        debit_account=draw(st.sampled_from(["1400", "4530", "1740"])),
        credit_account=draw(st.sampled_from(["8400", "1600", "1200"])),
        amount=net + vat,
        text="Booking",
        vat_rate=rate,
        vat=vat,
        vat_account="1776" if vat else "",
        taxed_side=side if vat else "",
        tax_code="9" if vat else "",
    )


@given(st.lists(bookings(), min_size=1, max_size=6))
def test_any_entry_balances_and_no_line_is_both_debit_and_credit(drawn):
    entry = Entry(
        kind=EntryKind.INVOICE,
        number=1,
        posting_date=dt.date(2026, 11, 3),
        document_date=dt.date(2026, 11, 3),
        document="2026-000001",
        currency="EUR",
        bookings=tuple(drawn),
    )

    lines = list(journal_lines([entry]))

    assert all((line["debit"] is None) != (line["credit"] is None) for line in lines)
    assert all((line["debit"] or line["credit"]) > 0 for line in lines)
    assert sum(line["debit"] or 0 for line in lines) == sum(line["credit"] or 0 for line in lines)
    assert [line["line"] for line in lines] == list(range(1, len(lines) + 1))
    for booking in drawn:
        booked = list(booking_lines(entry, booking))
        assert sum(line["debit"] or 0 for line in booked) == booking.amount
        assert sum(line["credit"] or 0 for line in booked) == booking.amount
        assert sum(line["vat_amount"] for line in booked) == booking.vat


# -- queries, tenancy ---------------------------------------------------------------------------


def test_the_entries_are_read_in_seven_queries_whatever_their_number(
    booked_fleet, django_assert_num_queries
):
    period = _november(booked_fleet)
    with django_assert_num_queries(7):
        few = ledger_entries(fleet=booked_fleet, period=period)
    for invoice in Invoice.objects.filter(fleet=booked_fleet).order_by("number")[2:5]:
        credit_note_issue(
            invoice=invoice, reason="Goodwill.", now=dt.datetime(2026, 11, 13, tzinfo=UTC)
        )

    with django_assert_num_queries(7):
        more = ledger_entries(fleet=booked_fleet, period=period)

    assert len(more) == len(few) + 3


def test_another_fleets_documents_are_not_in_the_journal(booked_fleet, run_billing):
    other = billing_fleet_create(
        drivers=2, sessions_per_driver=4, month_start=dt.datetime(2026, 10, 1, tzinfo=UTC)
    )
    _accounts_at_21(other)
    run_billing(other, "2026-10")
    autumn = export_period_of_days(
        first_day=dt.date(2026, 10, 1), last_day=dt.date(2026, 12, 31), zone=booked_fleet.zone
    )

    ours = ledger_entries(fleet=booked_fleet, period=autumn)
    theirs = ledger_entries(fleet=other, period=autumn)

    def documents(fleet) -> set[str]:
        return set(Invoice.objects.filter(fleet=fleet).values_list("number", flat=True)) | set(
            CreditNote.objects.filter(fleet=fleet).values_list("number", flat=True)
        )

    booked_documents = {
        entry.document for entry in ours if entry.kind in ("invoice", "credit_note")
    }
    assert booked_documents == documents(booked_fleet)
    assert [entry.kind for entry in theirs] == ["allocation", "invoice", "invoice"]
    assert {entry.document for entry in theirs[1:]} == documents(other)
    their_invoice_ids = set(Invoice.objects.filter(fleet=other).values_list("pk", flat=True))
    assert not their_invoice_ids & set(
        Invoice.objects.filter(fleet=booked_fleet).values_list("pk", flat=True)
    )


# -- refusal ------------------------------------------------------------------------------------


def test_an_invoice_rate_without_accounts_is_refused_before_anything_is_recorded(billed_fleet):
    with pytest.raises(VatRateAccountsMissing) as refused:
        export_request_check(
            fleet=billed_fleet,
            kind="journal",
            file_format="csv",
            role=MembershipRole.FINANCE,
            first_day=NOVEMBER_FIRST,
            last_day=NOVEMBER_LAST,
            now=IN_DECEMBER,
        )

    first = Invoice.objects.filter(fleet=billed_fleet).order_by("number").first()
    assert refused.value.code == "exports.vat_rate_accounts_missing"
    assert refused.value.field == "vat_rate"
    assert refused.value.message == (
        f"Invoice {first.number} carries VAT at 21 %, and the fleet has no ledger accounts for "
        '21 %: add them under "Accounts per VAT rate" in the fleet\'s accounting settings.'
    )
    assert not ExportManifest.objects.exists()
    assert not ExportJob.objects.exists()


def test_business_charging_at_a_rate_without_accounts_is_refused_by_the_command(
    billed_fleet, tmp_path
):
    target = tmp_path / "journal.csv"

    with pytest.raises(CommandError) as refused:
        call_command(
            "export", "journal", "--fleet", billed_fleet.slug, "--period", "2026-10",
            "-o", str(target), stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip

    assert "vat_rate" in str(refused.value)
    center = CostAllocation.objects.filter(fleet=billed_fleet).first().cost_center.code
    assert str(refused.value) == (
        f"vat_rate: Business charging of 2026-10 (cost center {center}) carries VAT of about "
        "20.94 %, which matches no VAT rate the fleet has ledger accounts for: add them under "
        '"Accounts per VAT rate" in the fleet\'s accounting settings.'
    )
    assert list(tmp_path.iterdir()) == []
    assert not ExportManifest.objects.exists()


def test_datev_is_refused_up_front_too(billed_fleet):
    billed_fleet.datev_consultant_number, billed_fleet.datev_client_number = 29098, 55003
    billed_fleet.save(update_fields=["datev_consultant_number", "datev_client_number"])

    with pytest.raises(VatRateAccountsMissing):
        export_request_check(
            fleet=billed_fleet,
            kind="datev",
            file_format="datev",
            role=MembershipRole.FINANCE,
            period="2026-10",
        )


# -- the file, wherever it is asked for ---------------------------------------------------------


def _service_bytes(fleet, file_format: str = "csv") -> tuple[bytes, ExportManifest]:
    request = export_request_check(
        fleet=fleet,
        kind="journal",
        file_format=file_format,
        role=MembershipRole.FINANCE,
        first_day=NOVEMBER_FIRST,
        last_day=NOVEMBER_LAST,
    )
    out = io.BytesIO()
    manifest = export_write(request=request, out=out, requested_by_name="comparison")
    return out.getvalue(), manifest


def test_the_csv_lists_the_lines_with_a_manifest_whose_debits_equal_its_credits(booked_fleet):
    with time_machine.travel(IN_DECEMBER, tick=False):
        content, manifest = _service_bytes(booked_fleet)

    lines = content.decode().splitlines()
    assert lines[0] == (
        "entry,line,posting_date,document_date,account,debit,credit,tax_code,cost_center,"
        "document,text,currency"
    )
    first = Invoice.objects.filter(fleet=booked_fleet).order_by("number").first()
    assert lines[1] == (
        f"1,1,2026-11-03,2026-11-03,1400,8.82,,,,{first.number},"
        f'"Invoice {first.number}, VAT 21 %",EUR'
    )
    assert manifest.kind == "journal"
    assert manifest.row_count == len(lines) - 1
    assert manifest.net_total == manifest.gross_total
    assert manifest.net_total > 0
    assert manifest.vat_total == sum(
        note.vat_total for note in CreditNote.objects.filter(fleet=booked_fleet)
    ) + sum(invoice.vat_total for invoice in Invoice.objects.filter(fleet=booked_fleet))


def test_the_xlsx_holds_the_same_lines(booked_fleet):
    with time_machine.travel(IN_DECEMBER, tick=False):
        content, manifest = _service_bytes(booked_fleet, "xlsx")
        csv_content, _ = _service_bytes(booked_fleet)

    headers, rows = Workbook(content).table("journal")
    assert headers[:6] == ["entry", "line", "posting_date", "document_date", "account", "debit"]
    assert len(rows) == len(csv_content.decode().splitlines()) - 1
    assert rows[0]["debit"][:2] == ("n", "8.82")
    assert manifest.file_format == "xlsx"


def test_the_command_writes_the_journal(booked_fleet, tmp_path):
    target = tmp_path / "journal.xlsx"

    with time_machine.travel(IN_DECEMBER, tick=False):
        call_command(
            "export", "journal", "--fleet", booked_fleet.slug, "--from", "2026-11-01",
            "--to", "2026-11-30", "--format", "xlsx", "-o", str(target),
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip

    assert target.read_bytes().startswith(b"PK")
    assert ExportManifest.objects.get().kind == "journal"


def test_the_exports_page_and_the_api_give_the_services_file(booked_fleet, client):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=booked_fleet, role=MembershipRole.FINANCE)
    client.force_login(user)
    with time_machine.travel(IN_DECEMBER, tick=False):
        expected, _ = _service_bytes(booked_fleet)
        page = client.post(
            reverse("admin:exports_export"),
            {
                "fleet": booked_fleet.pk,
                "kind": "journal",
                "period": "",
                "first_day": "2026-11-01",
                "last_day": "2026-11-30",
                "file_format": "csv",
                "delimiter": ",",
                "decimal_separator": ".",
            },
        )
        api = client.get(
            "/api/v1/fleet/exports/journal/",
            {"fleet": booked_fleet.slug, "from": "2026-11-01", "to": "2026-11-30"},
        )

    assert page.status_code == 200
    assert b"".join(page.streaming_content) == expected
    assert api.status_code == 200
    assert b"".join(api.streaming_content) == expected
    assert ExportManifest.objects.filter(kind="journal").count() == 3


def test_a_credit_note_at_a_rate_without_accounts_is_refused_naming_it(journal_fleet):
    invoice = Invoice.objects.filter(fleet=journal_fleet).order_by("number").first()
    with time_machine.travel(IN_DECEMBER, tick=False):
        note = credit_note_issue(invoice=invoice, reason="Charged twice.")
    VatRateAccounts.objects.filter(fleet=journal_fleet).delete()
    december = export_period_of_days(
        first_day=dt.date(2026, 12, 1), last_day=dt.date(2026, 12, 31), zone=journal_fleet.zone
    )

    with pytest.raises(VatRateAccountsMissing) as refused:
        ledger_entries(fleet=journal_fleet, period=december)

    assert refused.value.message.startswith(f"Credit note {note.number} carries VAT at 21 %")
    with pytest.raises(VatRateAccountsMissing) as checked:
        export_request_check(
            fleet=journal_fleet,
            kind="journal",
            file_format="xlsx",
            role=MembershipRole.FINANCE,
            first_day=dt.date(2026, 12, 1),
            last_day=dt.date(2026, 12, 31),
            now=dt.datetime(2027, 1, 2, tzinfo=UTC),
        )
    assert checked.value.message == refused.value.message
    assert not ExportManifest.objects.exists()
