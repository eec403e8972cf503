"""The reconciliation report of a period: the billed October balances, the sessions left out
are listed with the reason the run recorded, rows changed behind billing's back (raw SQL, as
only the database's guards stop it) are listed as exactly the difference they make, and the
money identity of the issued invoices through part payments, credit notes and overpayments."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from apps.charging.choices import LocationKind, SessionPurpose, SessionStatus
from apps.charging.models import ChargingSession
from apps.exports.periods import export_period_of_days, export_period_of_label
from apps.exports.reconciliation import (
    Difference,
    InvoiceMoney,
    LeftOutSession,
    SessionCounts,
    reconciliation_report,
    reconciliation_rows,
)
from apps.exports.services import export_request_check, export_write
from apps.fleets.choices import MembershipRole
from apps.payments.choices import InvoiceStatus, PaymentMethod
from apps.payments.models import (
    BillingLeftOut,
    BillingRun,
    CostAllocation,
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
    ReimbursementLine,
)
from apps.payments.services import credit_note_issue, payment_record
from tests.exports.conftest import AFTER_OCTOBER, OCTOBER
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

BALANCED_OCTOBER = SessionCounts(
    total=23, invoiced=11, allocated=5, reimbursed=5, left_out=2, in_none=0, in_more_than_one=0
)


def _report(fleet, label: str = "2026-10"):
    period = export_period_of_label(kind=fleet.billing_period, label=label, zone=fleet.zone)
    return reconciliation_report(fleet=fleet, period=period)


def _run(fleet) -> BillingRun:
    return BillingRun.objects.get(fleet=fleet, period_label="2026-10")


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _first_invoice(fleet) -> Invoice:
    return Invoice.objects.get(fleet=fleet, number="VT-2026-000001")


def _run_figure(label: str, item: str, expected: str, actual: str, unit: str = "") -> Difference:
    return Difference(
        kind="run_figure",
        subject=f"run {label}: {item}",
        expected=Decimal(expected),
        actual=Decimal(actual),
        message=(
            f"Run {label} stored {expected}{unit} as {item}; its rows add up to {actual}{unit}."
        ),
    )


def _pay(invoice: Invoice, amount: str, key: str) -> Payment:
    payment, _ = payment_record(
        invoice=invoice,
        amount=amount,
        currency="EUR",
        method=PaymentMethod.BANK_TRANSFER,
        idempotency_key=key,
        received_at=AFTER_OCTOBER,
    )
    return payment


def test_the_billed_october_is_balanced_with_every_session_in_one_place(billed_fleet):
    report = _report(billed_fleet)

    assert report.balanced is True
    assert report.differences == ()
    assert report.sessions == BALANCED_OCTOBER
    [run] = report.runs
    assert (run.label, run.invoiced, run.allocated, run.reimbursed) == ("2026-10", 11, 5, 5)
    assert run.left_out == (("still_charging", 1), ("invalid", 1))
    assert [(figure.item, figure.stored, figure.found) for figure in run.figures] == [
        ("invoices", Decimal(5), Decimal(5)),
        ("sessions invoiced", Decimal(11), Decimal(11)),
        ("sessions allocated", Decimal(5), Decimal(5)),
        ("sessions reimbursed", Decimal(5), Decimal(5)),
        ("sessions billed", Decimal(21), Decimal(21)),
        ("sessions left out", Decimal(2), Decimal(2)),
        ("left out: invalid", Decimal(1), Decimal(1)),
        ("left out: still_charging", Decimal(1), Decimal(1)),
        ("invoiced total", Decimal("43.29"), Decimal("43.29")),
        ("allocated total", Decimal("14.18"), Decimal("14.18")),
        ("reimbursed total", Decimal("14.76"), Decimal("14.76")),
    ]
    money = report.money
    assert (money.invoiced, money.paid, money.open, money.credited, money.overpaid) == (
        Decimal("43.29"),
        Decimal("0.00"),
        Decimal("43.29"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert [invoice.gross for invoice in money.invoices] == [
        Decimal("8.82"),
        Decimal("6.58"),
        Decimal("10.93"),
        Decimal("7.99"),
        Decimal("8.97"),
    ]


def test_the_same_days_given_as_from_and_to_reconcile_as_the_billing_period(billed_fleet):
    by_days = reconciliation_report(
        fleet=billed_fleet,
        period=export_period_of_days(
            first_day="2026-10-01", last_day="2026-10-31", zone=billed_fleet.zone
        ),
    )

    assert by_days.balanced is True
    assert by_days.sessions == BALANCED_OCTOBER
    assert by_days.runs == _report(billed_fleet).runs


def test_the_sessions_left_out_are_listed_with_the_reason_the_run_recorded(billed_fleet):
    still_charging = ChargingSession.objects.get(fleet=billed_fleet, status=SessionStatus.ACTIVE)
    invalid = ChargingSession.objects.get(fleet=billed_fleet, status=SessionStatus.INVALID)

    report = _report(billed_fleet)

    assert report.left_out == (
        LeftOutSession(session_id=still_charging.pk, reason="still_charging", run_label="2026-10"),
        LeftOutSession(session_id=invalid.pk, reason="invalid", run_label="2026-10"),
    )
    left_out_rows = [row for row in reconciliation_rows(report) if row["section"] == "left out"]
    assert [(row["item"], row["count"], row["status"], row["note"]) for row in left_out_rows] == [
        (
            f"session {still_charging.pk}",
            1,
            "balanced",
            "Still charging: billed in the period it ends (run 2026-10).",
        ),
        (f"session {invalid.pk}", 1, "balanced", "Invalid (run 2026-10)."),
    ]


def test_a_deleted_cost_allocation_leaves_its_session_in_none_and_the_run_short(billed_fleet):
    allocation = CostAllocation.objects.filter(fleet=billed_fleet).order_by("session_id").first()
    session_id = allocation.session_id
    _execute(f"DELETE FROM {_table(CostAllocation)} WHERE id = %s", [allocation.pk])  # noqa: S608

    report = _report(billed_fleet)

    assert (allocation.amount, allocation.vat) == (Decimal("1.90"), Decimal("0.40"))
    assert report.balanced is False
    assert report.differences == (
        Difference(
            kind="session_not_accounted",
            subject=f"session {session_id}",
            expected=Decimal(1),
            actual=Decimal(0),
            message=f"Session {session_id} is on no invoice line, cost allocation or "
            "reimbursement line, and no billing run of the period left it out.",
        ),
        _run_figure("2026-10", "sessions allocated", "5", "4"),
        _run_figure("2026-10", "sessions billed", "21", "20"),
        _run_figure("2026-10", "allocated total", "14.18", "12.28", " EUR"),
    )
    assert report.sessions == SessionCounts(
        total=23, invoiced=11, allocated=4, reimbursed=5, left_out=2, in_none=1, in_more_than_one=0
    )
    rows = reconciliation_rows(report)
    assert (rows[0]["item"], rows[0]["count"], rows[0]["status"]) == (
        "4 differences",
        4,
        "difference",
    )
    assert [(row["item"], row["count"], row["amount"]) for row in rows[-3:]] == [
        ("run 2026-10: sessions allocated", 4, None),
        ("run 2026-10: sessions billed", 20, None),
        ("run 2026-10: allocated total", None, Decimal("12.28")),
    ]
    assert rows[-4] == {
        "section": "difference",
        "item": f"session {session_id}",
        "count": 0,
        "amount": None,
        "expected": Decimal(1),
        "difference": Decimal(-1),
        "status": "difference",
        "note": f"session_not_accounted: Session {session_id} is on no invoice line, cost "
        "allocation or reimbursement line, and no billing run of the period left it out.",
    }


def test_an_invoiced_session_also_allocated_is_in_more_than_one_place(billed_fleet):
    line = InvoiceLine.objects.select_related("session", "invoice").get(
        invoice=_first_invoice(billed_fleet), position=1
    )
    session = line.session
    run = _run(billed_fleet)
    _execute(
        f"INSERT INTO {_table(CostAllocation)} (fleet_id, billing_run_id, cost_center_id, "  # noqa: S608
        "session_id, driver_id, period_start, period_end, currency, amount, vat) "
        "VALUES (%s, %s, NULL, %s, %s, %s, %s, 'EUR', %s, %s)",
        [
            billed_fleet.pk,
            run.pk,
            session.pk,
            session.driver_id,
            run.period_start,
            run.period_end,
            session.price_excl_vat,
            session.price_vat,
        ],
    )

    report = _report(billed_fleet)

    assert (session.price_excl_vat, session.price_vat) == (Decimal("1.37"), Decimal("0.29"))
    assert report.differences == (
        Difference(
            kind="session_more_than_once",
            subject=f"session {session.pk}",
            expected=Decimal(1),
            actual=Decimal(2),
            message=f"Session {session.pk} is billed more than once: on an invoice line and on "
            "a cost allocation.",
        ),
        _run_figure("2026-10", "sessions allocated", "5", "6"),
        _run_figure("2026-10", "sessions billed", "21", "22"),
        _run_figure("2026-10", "allocated total", "14.18", "15.55", " EUR"),
    )
    assert report.sessions == SessionCounts(
        total=23, invoiced=10, allocated=5, reimbursed=5, left_out=2, in_none=0, in_more_than_one=1
    )


def test_a_billed_session_the_run_also_recorded_as_left_out_is_in_more_than_one_place(
    billed_fleet,
):
    allocation = CostAllocation.objects.filter(fleet=billed_fleet).order_by("session_id").first()
    run = _run(billed_fleet)
    _execute(
        f"INSERT INTO {_table(BillingLeftOut)} (run_id, session_id, reason) "  # noqa: S608
        "VALUES (%s, %s, 'next_run')",
        [run.pk, allocation.session_id],
    )

    report = _report(billed_fleet)

    assert report.differences == (
        Difference(
            kind="session_more_than_once",
            subject=f"session {allocation.session_id}",
            expected=Decimal(1),
            actual=Decimal(2),
            message=f"Session {allocation.session_id} is billed by run 2026-10, which also "
            "records it as left out.",
        ),
        _run_figure("2026-10", "sessions left out", "2", "3"),
        _run_figure("2026-10", "left out: next_run", "0", "1"),
    )
    assert report.sessions == SessionCounts(
        total=23, invoiced=11, allocated=4, reimbursed=5, left_out=2, in_none=0, in_more_than_one=1
    )


def test_a_reimbursement_line_off_the_sessions_gross_is_listed_with_its_session(billed_fleet):
    line = ReimbursementLine.objects.filter(reimbursement__fleet=billed_fleet).order_by(
        "session_id"
    )[0]
    _execute(
        f"UPDATE {_table(ReimbursementLine)} SET amount = %s WHERE id = %s",  # noqa: S608
        [Decimal("3.10"), line.pk],
    )

    report = _report(billed_fleet)

    assert line.amount == Decimal("2.96")
    assert report.differences == (
        Difference(
            kind="reimbursement_line_amount",
            subject=f"session {line.session_id}",
            expected=Decimal("2.96"),
            actual=Decimal("3.10"),
            message=f"Session {line.session_id} is reimbursed 3.10 EUR on reimbursement "
            f"{line.reimbursement_id}; its gross is 2.96.",
        ),
        Difference(
            kind="reimbursement_total",
            subject=f"reimbursement {line.reimbursement_id}",
            expected=Decimal("3.10"),
            actual=Decimal("2.96"),
            message=f"Reimbursement {line.reimbursement_id} is for 2.96 EUR; its lines add up "
            "to 3.10 EUR.",
        ),
    )


def test_a_cost_allocation_off_the_sessions_price_is_listed_with_its_session(billed_fleet):
    allocation = CostAllocation.objects.filter(fleet=billed_fleet).order_by("session_id").first()
    _execute(
        f"UPDATE {_table(CostAllocation)} SET vat = %s WHERE id = %s",  # noqa: S608
        [Decimal("0.41"), allocation.pk],
    )

    report = _report(billed_fleet)

    assert report.differences == (
        Difference(
            kind="cost_allocation_amount",
            subject=f"session {allocation.session_id}",
            expected=Decimal("0.40"),
            actual=Decimal("0.41"),
            message=f"Session {allocation.session_id} is allocated with VAT 0.41 EUR; the "
            "session's price gives 0.40.",
        ),
    )


def test_an_invoice_line_off_the_sessions_price_is_listed_with_its_session(billed_fleet):
    line = InvoiceLine.objects.get(invoice=_first_invoice(billed_fleet), position=1)
    _execute(
        f"UPDATE {_table(ChargingSession)} SET price_excl_vat = %s, price_incl_vat = %s "  # noqa: S608
        "WHERE id = %s",
        [Decimal("1.40"), Decimal("1.69"), line.session_id],
    )

    report = _report(billed_fleet)

    assert report.differences == tuple(
        Difference(
            kind="invoice_line_amount",
            subject=f"session {line.session_id}",
            expected=Decimal(expected),
            actual=Decimal(actual),
            message=f"Session {line.session_id} is on invoice VT-2026-000001 at {actual} EUR "
            f"{part}; its price excl. VAT 1.40 at 21.00 % VAT gives {expected}.",
        )
        for part, expected, actual in (("net", "1.40", "1.37"), ("gross", "1.69", "1.66"))
    )


def test_a_billed_session_priced_in_another_currency_is_listed(billed_fleet):
    line = InvoiceLine.objects.get(invoice=_first_invoice(billed_fleet), position=2)
    _execute(
        f"UPDATE {_table(ChargingSession)} SET price_currency = 'USD' WHERE id = %s",  # noqa: S608
        [line.session_id],
    )

    report = _report(billed_fleet)

    assert report.differences == (
        Difference(
            kind="session_other_currency",
            subject=f"session {line.session_id}",
            expected=None,
            actual=None,
            message=f"Session {line.session_id} is priced in USD but billed on invoice "
            "VT-2026-000001 in EUR.",
        ),
    )


def test_a_run_total_that_disagrees_with_its_invoices_is_listed(billed_fleet):
    _execute(
        f"UPDATE {_table(BillingRun)} SET invoiced_total = %s WHERE id = %s",  # noqa: S608
        [Decimal("43.30"), _run(billed_fleet).pk],
    )

    report = _report(billed_fleet)

    assert report.differences == (
        _run_figure("2026-10", "invoiced total", "43.30", "43.29", " EUR"),
    )


def test_a_session_that_ended_in_the_period_after_its_run_is_in_none(billed_fleet):
    driver = Invoice.objects.filter(fleet=billed_fleet).order_by("number").first().driver
    late = priced_session_create(
        driver=driver,
        location_kind=LocationKind.DEPOT,
        purpose=SessionPurpose.BUSINESS,
        started_at=OCTOBER + dt.timedelta(days=20),
    )

    report = _report(billed_fleet)

    assert [(difference.kind, difference.subject) for difference in report.differences] == [
        ("session_not_accounted", f"session {late.pk}")
    ]
    assert report.sessions.total == 24
    assert report.sessions.in_none == 1


def test_a_run_not_completed_accounts_for_nothing(billed_fleet):
    _execute(
        f"UPDATE {_table(BillingRun)} SET status = 'running' WHERE id = %s",  # noqa: S608
        [_run(billed_fleet).pk],
    )
    still_charging = ChargingSession.objects.get(fleet=billed_fleet, status=SessionStatus.ACTIVE)
    invalid = ChargingSession.objects.get(fleet=billed_fleet, status=SessionStatus.INVALID)

    report = _report(billed_fleet)

    assert [(difference.kind, difference.subject) for difference in report.differences] == [
        ("session_not_accounted", f"session {session_id}")
        for session_id in sorted([still_charging.pk, invalid.pk])
    ] + [("run_not_completed", "run 2026-10")]
    assert report.runs == ()
    assert report.left_out == ()


def test_a_part_payment_leaves_the_rest_open_and_the_identity_holds(billed_fleet):
    invoice = _first_invoice(billed_fleet)
    _pay(invoice, "5.00", "part-1")

    report = _report(billed_fleet)

    assert report.balanced is True
    assert report.money.invoices[0] == InvoiceMoney(
        number="VT-2026-000001",
        gross=Decimal("8.82"),
        paid=Decimal("5.00"),
        open=Decimal("3.82"),
        credited=Decimal("0.00"),
        overpaid=Decimal("0.00"),
    )
    money = report.money
    assert (money.invoiced, money.paid, money.open, money.credited) == (
        Decimal("43.29"),
        Decimal("5.00"),
        Decimal("38.29"),
        Decimal("0.00"),
    )
    assert money.accounted == money.invoiced


def test_a_credit_note_moves_money_from_open_to_credited(billed_fleet):
    invoice = _first_invoice(billed_fleet)
    line = invoice.lines.get(position=1)
    credit_note_issue(invoice=invoice, reason="Charged twice.", line_ids=[line.pk])

    report = _report(billed_fleet)

    assert report.balanced is True
    assert report.money.invoices[0] == InvoiceMoney(
        number="VT-2026-000001",
        gross=Decimal("8.82"),
        paid=Decimal("0.00"),
        open=Decimal("7.16"),
        credited=Decimal("1.66"),
        overpaid=Decimal("0.00"),
    )
    money = report.money
    assert (money.invoiced, money.paid, money.open, money.credited) == (
        Decimal("43.29"),
        Decimal("0.00"),
        Decimal("41.63"),
        Decimal("1.66"),
    )


def test_a_fully_credited_invoice_has_nothing_open(billed_fleet):
    invoice = _first_invoice(billed_fleet)
    credit_note_issue(invoice=invoice, reason="Not our driver.")

    report = _report(billed_fleet)

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert report.balanced is True
    assert report.money.invoices[0] == InvoiceMoney(
        number="VT-2026-000001",
        gross=Decimal("8.82"),
        paid=Decimal("0.00"),
        open=Decimal("0.00"),
        credited=Decimal("8.82"),
        overpaid=Decimal("0.00"),
    )


def _identity_row(report) -> dict:
    return next(
        row
        for row in reconciliation_rows(report)
        if row["item"] == "invoiced = paid - refunded + open + credited"
    )


def test_an_overpayment_owed_back_as_a_refund_keeps_the_identity(billed_fleet):
    invoice = _first_invoice(billed_fleet)
    _pay(invoice, "10.00", "too-much")

    report = _report(billed_fleet)

    assert report.differences == ()
    assert report.money.invoices[0] == InvoiceMoney(
        number="VT-2026-000001",
        gross=Decimal("8.82"),
        paid=Decimal("10.00"),
        open=Decimal("0.00"),
        credited=Decimal("0.00"),
        overpaid=Decimal("1.18"),
        refunded=Decimal("1.18"),
    )
    money = report.money
    assert (money.paid, money.open, money.overpaid, money.refunded, money.accounted) == (
        Decimal("10.00"),
        Decimal("34.47"),
        Decimal("1.18"),
        Decimal("1.18"),
        Decimal("43.29"),
    )
    identity = _identity_row(report)
    assert (identity["amount"], identity["expected"], identity["difference"]) == (
        Decimal("43.29"),
        Decimal("43.29"),
        Decimal("0.00"),
    )
    assert identity["status"] == "balanced"


def test_an_overpayment_without_its_refund_is_listed_and_breaks_the_identity(billed_fleet):
    invoice = _first_invoice(billed_fleet)
    _pay(invoice, "10.00", "too-much")
    _execute(f"DELETE FROM {_table(Refund)} WHERE invoice_id = %s", [invoice.pk])  # noqa: S608

    report = _report(billed_fleet)

    assert report.differences == (
        Difference(
            kind="invoice_overpaid",
            subject="invoice VT-2026-000001",
            expected=Decimal("8.82"),
            actual=Decimal("10.00"),
            message="Invoice VT-2026-000001 is paid 10.00 EUR of 8.82 EUR due: overpaid by "
            "1.18 EUR.",
        ),
    )
    identity = _identity_row(report)
    assert (identity["amount"], identity["expected"], identity["difference"]) == (
        Decimal("44.47"),
        Decimal("43.29"),
        Decimal("1.18"),
    )
    assert identity["status"] == "difference"


def test_refunds_beyond_the_overpayment_are_listed(billed_fleet):
    invoice = _first_invoice(billed_fleet)
    _pay(invoice, "10.00", "too-much")
    _execute(
        f"UPDATE {_table(Refund)} SET amount = %s WHERE invoice_id = %s",  # noqa: S608
        [Decimal("2.00"), invoice.pk],
    )

    report = _report(billed_fleet)

    assert report.differences == (
        Difference(
            kind="invoice_refunded_beyond_overpaid",
            subject="invoice VT-2026-000001",
            expected=Decimal("1.18"),
            actual=Decimal("2.00"),
            message="Invoice VT-2026-000001 has refunds of 2.00 EUR but is overpaid by "
            "1.18 EUR only.",
        ),
    )
    assert _identity_row(report)["difference"] == Decimal("-0.82")


def test_a_refund_set_off_against_the_next_invoice_keeps_both_balanced(billed_fleet, run_billing):
    october = _first_invoice(billed_fleet)
    _pay(october, "10.00", "too-much")
    driver = october.driver
    priced_session_create(driver=driver, started_at=dt.datetime(2026, 11, 3, 8, tzinfo=dt.UTC))
    with time_machine.travel(dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC), tick=False):
        november_run = run_billing(billed_fleet, "2026-11")
    november = Invoice.objects.get(driver=driver, billing_run=november_run)

    report = _report(billed_fleet, "2026-11")

    assert report.money.invoices[0] == InvoiceMoney(
        number=november.number,
        gross=Decimal("7.26"),
        paid=Decimal("1.18"),
        open=Decimal("6.08"),
        credited=Decimal("0.00"),
        overpaid=Decimal("0.00"),
        refunded=Decimal("0.00"),
    )
    assert [difference.kind for difference in report.differences] == []
    assert _report(billed_fleet).differences == ()


def test_a_payment_changed_in_the_database_to_more_than_due_is_an_overpayment(billed_fleet):
    payment = _pay(_first_invoice(billed_fleet), "8.82", "in-full")
    _execute(
        f"UPDATE {_table(Payment)} SET amount = %s WHERE id = %s",  # noqa: S608
        [Decimal("9.00"), payment.pk],
    )

    report = _report(billed_fleet)

    assert [
        (difference.kind, difference.subject, difference.expected, difference.actual)
        for difference in report.differences
    ] == [("invoice_overpaid", "invoice VT-2026-000001", Decimal("8.82"), Decimal("9.00"))]
    assert report.money.overpaid == Decimal("0.18")


def test_the_reconciliation_exports_as_csv_rows_from_the_verdict_to_the_money(billed_fleet):
    still_charging = ChargingSession.objects.get(fleet=billed_fleet, status=SessionStatus.ACTIVE)
    invalid = ChargingSession.objects.get(fleet=billed_fleet, status=SessionStatus.INVALID)
    request = export_request_check(
        fleet=billed_fleet,
        kind="reconciliation",
        file_format="csv",
        role=MembershipRole.FINANCE,
        period="2026-10",
    )
    out = io.BytesIO()
    export_write(request=request, out=out, requested_by_name="test")

    rows = list(csv.reader(io.StringIO(out.getvalue().decode())))

    assert rows[0] == [
        "section",
        "item",
        "count",
        "amount",
        "expected",
        "difference",
        "status",
        "note",
    ]
    assert rows[1] == [
        "verdict",
        "balanced",
        "0",
        "",
        "",
        "",
        "balanced",
        "Reconciliation of 2026-10.",
    ]
    assert rows[2] == ["sessions", "sessions of the period", "23", "", "", "", "balanced", ""]
    assert [row[:7] for row in rows if row[0] == "run 2026-10"][-3:] == [
        ["run 2026-10", "invoiced total", "", "43.29", "43.29", "0.00", "balanced"],
        ["run 2026-10", "allocated total", "", "14.18", "14.18", "0.00", "balanced"],
        ["run 2026-10", "reimbursed total", "", "14.76", "14.76", "0.00", "balanced"],
    ]
    assert [row for row in rows if row[0] == "left out"] == [
        [
            "left out",
            f"session {still_charging.pk}",
            "1",
            "",
            "",
            "",
            "balanced",
            "Still charging: billed in the period it ends (run 2026-10).",
        ],
        [
            "left out",
            f"session {invalid.pk}",
            "1",
            "",
            "",
            "",
            "balanced",
            "Invalid (run 2026-10).",
        ],
    ]
    assert rows[-1] == [
        "money",
        "invoiced = paid - refunded + open + credited",
        "",
        "43.29",
        "43.29",
        "0.00",
        "balanced",
        "Invoiced 43.29 EUR; paid - refunded + open + credited 43.29 EUR.",
    ]
    assert len(rows) == 1 + 1 + 7 + 11 + 2 + 7
