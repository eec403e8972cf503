"""The payroll deduction file: one row per driver of the period's prepared deduction with the
invoices' numbers and the amount, exact control totals in its manifest, CSV and XLSX, the
command line, and a clear refusal (no file, no manifest) where no deduction was prepared."""

import hashlib
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.exports.columns import CsvDialect
from apps.exports.exceptions import ExportPayrollDeductionMissing
from apps.exports.models import ExportManifest
from apps.exports.services import export_request_check
from apps.fleets.choices import MembershipRole
from apps.payments.models import Invoice
from apps.payments.payroll import (
    payroll_deduction_cancel,
    payroll_deduction_prepare,
    payroll_deduction_record,
)
from apps.payments.services import payment_record
from tests.exports.conftest import AFTER_OCTOBER, OCTOBER
from tests.exports.test_file_formats import Workbook
from tests.exports.test_sessions_csv import _rows, _written
from tests.payments.builders import billing_fleet_create

pytestmark = pytest.mark.django_db

KIND = "payroll-deductions"


def _request(fleet, file_format="csv", **options):
    options.setdefault("period", "2026-10")
    return export_request_check(
        fleet=fleet, kind=KIND, file_format=file_format, role=MembershipRole.FINANCE, **options
    )


@pytest.fixture
def prepared(billed_fleet):
    """October's deduction, after the first driver paid 1.00 of their invoice."""
    first = Invoice.objects.filter(fleet=billed_fleet).order_by("driver__employee_number")[0]
    payment_record(
        invoice=first,
        amount=Decimal("1.00"),
        currency="EUR",
        method="bank_transfer",
        idempotency_key="part",
        received_at=AFTER_OCTOBER,
    )
    deduction, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")
    return deduction


def _expected_rows(fleet) -> list[dict]:
    rows = []
    invoices = Invoice.objects.filter(fleet=fleet).select_related("driver")
    for invoice in sorted(invoices, key=lambda invoice: invoice.driver.employee_number):
        paid = sum(payment.amount for payment in invoice.payments.all())
        driver = invoice.driver
        rows.append(
            {
                "employee_number": driver.employee_number,
                "last_name": driver.last_name,
                "first_name": driver.first_name,
                "invoice_numbers": invoice.number,
                "amount": f"{invoice.gross_total - paid}",
                "currency": "EUR",
            }
        )
    return rows


def test_the_file_has_one_row_per_driver_with_invoices_and_amount_to_deduct(billed_fleet, prepared):
    rows = _rows(_written(_request(billed_fleet)))

    expected = _expected_rows(billed_fleet)
    formula = next(row for row in expected if row["first_name"].startswith("="))
    formula["first_name"] = "'" + formula["first_name"]
    assert rows == expected
    assert len(rows) == 5


def test_the_manifest_holds_the_files_exact_control_totals(billed_fleet, prepared):
    content = _written(_request(billed_fleet))

    manifest = ExportManifest.objects.get(kind=KIND)
    assert manifest.sha256 == hashlib.sha256(content).hexdigest()
    assert manifest.row_count == 5
    assert (manifest.net_total, manifest.vat_total, manifest.gross_total) == (
        prepared.total,
        Decimal("0.00"),
        prepared.total,
    )
    assert manifest.file_name == f"{billed_fleet.slug}-payroll-deductions-2026-10.csv"


def test_the_fleets_csv_dialect_writes_decimal_commas_and_quotes_the_delimiter(
    billed_fleet, prepared
):
    dialect = CsvDialect(delimiter=";", decimal_separator=",")

    rows = _rows(_written(_request(billed_fleet, dialect=dialect)), delimiter=";")

    expected = _expected_rows(billed_fleet)
    assert [row["amount"] for row in rows] == [row["amount"].replace(".", ",") for row in expected]
    assert 'O"Brien; Jr' in {row["last_name"] for row in rows}


def test_the_xlsx_file_lists_the_same_rows_with_amounts_as_numbers(billed_fleet, prepared):
    book = Workbook(_written(_request(billed_fleet, "xlsx")))

    headers, rows = book.table(KIND)
    assert headers == [
        "employee_number",
        "last_name",
        "first_name",
        "invoice_numbers",
        "amount",
        "currency",
    ]
    expected = _expected_rows(billed_fleet)
    assert [row["employee_number"][1] for row in rows] == [
        row["employee_number"] for row in expected
    ]
    assert [(row["amount"][0], float(row["amount"][1]), row["amount"][2]) for row in rows] == [
        ("n", float(row["amount"]), "0.00") for row in expected
    ]
    assert ExportManifest.objects.get(kind=KIND).file_format == "xlsx"


def test_a_recorded_deduction_is_still_exported(billed_fleet, prepared):
    payroll_deduction_record(deduction=prepared, idempotency_key="run-11")

    assert len(_rows(_written(_request(billed_fleet)))) == 5


@pytest.mark.parametrize("cancelled", [False, True], ids=["never prepared", "cancelled"])
def test_without_a_deduction_the_export_is_refused_before_a_byte_or_manifest(
    billed_fleet, cancelled
):
    if cancelled:
        deduction, _ = payroll_deduction_prepare(fleet=billed_fleet, period_label="2026-10")
        payroll_deduction_cancel(deduction=deduction)

    with pytest.raises(ExportPayrollDeductionMissing) as refusal:
        _request(billed_fleet)

    assert refusal.value.field == "period"
    assert "no payroll deduction for 2026-10; prepare it first" in refusal.value.message
    assert not ExportManifest.objects.exists()


def test_days_that_are_not_the_deductions_period_are_refused(billed_fleet, prepared):
    with pytest.raises(ExportPayrollDeductionMissing):
        _request(billed_fleet, period="", first_day="2026-10-01", last_day="2026-10-15")

    rows = _rows(
        _written(_request(billed_fleet, period="", first_day="2026-10-01", last_day="2026-10-31"))
    )
    assert len(rows) == 5


def test_another_fleets_deduction_is_not_in_the_file(run_billing, billed_fleet, prepared):
    other = billing_fleet_create(drivers=2, sessions_per_driver=4, month_start=OCTOBER)
    run_billing(other, "2026-10")
    payroll_deduction_prepare(fleet=other, period_label="2026-10")

    numbers = {row["employee_number"] for row in _rows(_written(_request(billed_fleet)))}

    assert numbers == {row["employee_number"] for row in _expected_rows(billed_fleet)}


def test_the_export_command_writes_the_file(billed_fleet, prepared, tmp_path):
    target = tmp_path / "payroll.csv"

    call_command(
        "export",
        KIND,
        "--fleet",
        billed_fleet.slug,
        "--period",
        "2026-10",
        "-o",
        str(target),
        stdout=StringIO(),
        stderr=StringIO(),
    )

    assert len(_rows(target.read_bytes())) == 5


def test_the_export_command_refuses_a_period_without_deduction_and_writes_nothing(
    billed_fleet, tmp_path
):
    target = tmp_path / "payroll.csv"

    with pytest.raises(CommandError, match=r"period: .* has no payroll deduction for 2026-10"):
        call_command(
            "export", KIND, "--fleet", billed_fleet.slug, "--period", "2026-10", "-o", str(target)
        )

    assert list(tmp_path.iterdir()) == []
    assert not ExportManifest.objects.exists()
