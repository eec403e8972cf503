"""The payroll deduction file: one row per driver of the period's payroll deduction (prepared,
or recorded since), with the employee number, the name, the invoices' numbers and the amount
the employer's payroll deducts from their pay. The deduction's rows are only read here; it is
prepared, recorded and cancelled in apps.payments.payroll."""

from apps.exports.choices import ExportKind
from apps.exports.columns import Column, ValueType
from apps.exports.periods import ExportPeriod
from apps.exports.tables import ExportTable
from apps.fleets.models import Fleet
from apps.payments.payroll import payroll_deduction_of_period, payroll_deduction_rows

MONEY = 2
NO_VAT_TOTAL = "no_vat"

PAYROLL_DEDUCTION_COLUMNS: tuple[Column, ...] = (
    Column(
        "employee_number",
        ValueType.TEXT,
        "employee_number",
        description="The driver's employee number, as the payroll knows them.",
    ),
    Column("last_name", ValueType.TEXT, "last_name", description="The driver's last name."),
    Column("first_name", ValueType.TEXT, "first_name", description="The driver's first name."),
    Column(
        "invoice_numbers",
        ValueType.TEXT,
        "invoice_numbers",
        description="The invoices deducted, by number, separated by spaces.",
    ),
    Column(
        "amount",
        ValueType.DECIMAL,
        "amount",
        places=MONEY,
        description="To deduct from the driver's pay: what is open on those invoices.",
    ),
    Column(
        "currency",
        ValueType.TEXT,
        "currency",
        description="ISO 4217 code of the amount.",
        is_code=True,
    ),
)


def payroll_deductions_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The rows of the period's payroll deduction, by employee number; none when the period
    has none. Control totals (amount, 0, amount): a deduction carries no VAT of its own."""
    deduction = payroll_deduction_of_period(
        fleet=fleet, period_start=period.start, period_end=period.end
    )
    rows = [] if deduction is None else payroll_deduction_rows(deduction=deduction)
    return ExportTable(
        kind=ExportKind.PAYROLL_DEDUCTIONS,
        columns=PAYROLL_DEDUCTION_COLUMNS,
        rows=[
            {
                "employee_number": row.employee_number,
                "last_name": row.last_name,
                "first_name": row.first_name,
                "invoice_numbers": " ".join(row.invoice_numbers),
                "amount": row.amount,
                "currency": row.currency,
                NO_VAT_TOTAL: 0,
            }
            for row in rows
        ],
        order=("employee_number",),
        totals=("amount", NO_VAT_TOTAL, "amount"),
    )
