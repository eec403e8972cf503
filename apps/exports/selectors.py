"""Reads of the exports app: each export kind's rows for a fleet and a period, as one query of
named values in a fixed order, with the columns they are written as and the control totals
of the file. Billing's rows are only read here, never changed."""

from collections.abc import Callable
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Concat

from apps.charging.models import ChargingSession
from apps.exports.billing_tables import (
    cost_allocation_table,
    credit_note_lines_table,
    credit_notes_table,
    invoice_lines_table,
    invoices_table,
    payments_table,
    reimbursement_lines_table,
    reimbursements_table,
    vat_summary_table,
)
from apps.exports.choices import ExportKind
from apps.exports.columns import Column, ValueType, seconds_of, seconds_of_hours
from apps.exports.datev import datev_rows
from apps.exports.journal import journal_table, ledger_entries
from apps.exports.payroll_tables import payroll_deductions_table
from apps.exports.periods import ExportPeriod
from apps.exports.reconciliation import (
    RECONCILIATION_COLUMNS,
    reconciliation_report,
    reconciliation_rows,
)
from apps.exports.tables import ExportTable
from apps.fleets.models import Fleet
from apps.payments.models import BillingRun

MONEY = 2
KWH = 3


def _money_column(header: str, source: str, description: str = "") -> Column:
    return Column(header, ValueType.DECIMAL, source, places=MONEY, description=description)


def _text(header: str, source: str, description: str = "") -> Column:
    return Column(header, ValueType.TEXT, source, description=description)


def _code(header: str, source: str, description: str = "") -> Column:
    return Column(header, ValueType.TEXT, source, description=description, is_code=True)


def _dimension_columns(dimension: str, ocpi_key: str) -> list[Column]:
    """One pricing dimension's cost of a session: excl. VAT, VAT and incl. VAT."""
    excl, incl = f"{ocpi_key}_excl", f"{ocpi_key}_incl"
    return [
        _money_column(f"{dimension}_excl_vat", excl, f"{dimension.title()} cost excl. VAT."),
        Column(
            f"{dimension}_vat",
            ValueType.DECIMAL,
            places=MONEY,
            description=f"VAT on the {dimension} cost.",
            compute=lambda row: (
                None if row[excl] is None else Decimal(str(row[incl])) - Decimal(str(row[excl]))
            ),
            sql=f"({{{incl}}})::numeric - ({{{excl}}})::numeric",
        ),
        _money_column(f"{dimension}_incl_vat", incl, f"{dimension.title()} cost incl. VAT."),
    ]


def _charging_seconds(row: dict) -> int | None:
    duration, parking = seconds_of(row["duration"]), seconds_of_hours(row["parking_hours"])
    if duration is None:
        return None
    return duration - (parking or 0)


SESSION_COLUMNS: tuple[Column, ...] = (
    Column("session_id", ValueType.INTEGER, "id", description="Voltop's session number."),
    _text("employee_number", "driver__employee_number", "The driver's employee number."),
    _text("driver", "driver_name", "The driver's first and last name."),
    _text("vehicle", "vehicle_name", "Make and model."),
    _text("plate", "vehicle__plate", "The vehicle's licence plate."),
    _text("cost_center", "cost_center__code", "The cost center the session was recorded with."),
    _code("location_kind", "location_kind", "depot, home or public."),
    _code("purpose", "purpose", "business or private."),
    _code("status", "status", "completed, active (still charging) or invalid."),
    Column("started_at", ValueType.DATETIME, "started_at", description="In the fleet's zone."),
    Column("ended_at", ValueType.DATETIME, "ended_at", description="In the fleet's zone."),
    Column(
        "energy_kwh",
        ValueType.DECIMAL,
        "energy_kwh",
        places=KWH,
        description="Energy charged, in kWh.",
    ),
    Column(
        "charging_s",
        ValueType.INTEGER,
        description="Time from the start to the end, less parking, in seconds.",
        compute=_charging_seconds,
        sql=(
            "floor(extract(epoch from {duration}))::bigint"
            " - coalesce(round(({parking_hours})::numeric * 3600), 0)::bigint"
        ),
    ),
    Column(
        "parking_s",
        ValueType.INTEGER,
        description="Time plugged in without charging that the tariff priced, in seconds.",
        compute=lambda row: seconds_of_hours(row["parking_hours"]),
        sql="round(({parking_hours})::numeric * 3600)::bigint",
    ),
    _text("tariff", "tariff_version__tariff__name", "The tariff that priced the session."),
    Column(
        "tariff_version",
        ValueType.INTEGER,
        "tariff_version__number",
        description="The number of the tariff's version that priced it.",
    ),
    _code("price_basis", "price_basis", "tariff, home_rate or provider."),
    _code("currency", "price_currency", "The currency of every amount in the row."),
    *_dimension_columns("energy", "total_energy_cost"),
    *_dimension_columns("time", "total_time_cost"),
    *_dimension_columns("parking", "total_parking_cost"),
    *_dimension_columns("flat", "total_fixed_cost"),
    _money_column("total_excl_vat", "price_excl_vat", "The session's cost excl. VAT."),
    _money_column("total_vat", "price_vat", "The VAT the session was charged."),
    _money_column("total_incl_vat", "price_incl_vat", "The session's cost incl. VAT."),
    _code(
        "billed_as",
        "billed_as",
        "invoice_line, cost_allocation, reimbursement, or empty when not billed yet.",
    ),
    _text(
        "billed_on",
        "billed_on",
        "The invoice number, the cost center code, or the reimbursement number.",
    ),
    _money_column("billed_net", "billed_net", "What billing booked, excl. VAT."),
    _money_column("billed_vat", "billed_vat", "The VAT billing booked with it."),
    _money_column("billed_gross", "billed_gross", "What billing booked, incl. VAT."),
)


def _breakdown_amount(key: str, part: str) -> KT:
    return KT(f"price_breakdown__ocpi__{key}__{part}")


def _session_rows(fleet: Fleet, period: ExportPeriod) -> QuerySet:
    """The fleet's sessions that ended in the period, and those still charging that started
    in it, each with where billing put it."""
    money = DecimalField(max_digits=14, decimal_places=2)
    dimensions = {
        f"{key}_{part}": _breakdown_amount(key, f"{part}_vat")
        for key in (
            "total_energy_cost",
            "total_time_cost",
            "total_parking_cost",
            "total_fixed_cost",
        )
        for part in ("excl", "incl")
    }
    return (
        ChargingSession.objects.filter(fleet=fleet)
        .filter(
            Q(ended_at__gte=period.start, ended_at__lt=period.end)
            | Q(ended_at__isnull=True, started_at__gte=period.start, started_at__lt=period.end)
        )
        .annotate(
            driver_name=Concat("driver__first_name", Value(" "), "driver__last_name"),
            vehicle_name=Concat("vehicle__make", Value(" "), "vehicle__model"),
            energy_kwh=Cast("energy_wh", DecimalField(max_digits=15, decimal_places=3))
            / Value(Decimal(1000)),
            duration=ExpressionWrapper(F("ended_at") - F("started_at"), DurationField()),
            parking_hours=KT("price_breakdown__ocpi__total_parking_time"),
            billed_as=Case(
                When(invoice_lines__isnull=False, then=Value("invoice_line")),
                When(cost_allocations__isnull=False, then=Value("cost_allocation")),
                When(reimbursement_lines__isnull=False, then=Value("reimbursement")),
                default=None,
                output_field=CharField(),
            ),
            billed_on=Coalesce(
                "invoice_lines__invoice__number",
                "cost_allocations__cost_center__code",
                Cast("reimbursement_lines__reimbursement_id", CharField()),
                output_field=CharField(),
            ),
            billed_net=Coalesce(
                "invoice_lines__net",
                "cost_allocations__amount",
                "reimbursement_lines__amount",
                output_field=money,
            ),
            billed_vat=Coalesce(
                "invoice_lines__vat",
                "cost_allocations__vat",
                Case(
                    When(reimbursement_lines__isnull=False, then=Value(Decimal("0.00"))),
                    output_field=money,
                ),
                output_field=money,
            ),
            billed_gross=Coalesce(
                "invoice_lines__gross",
                F("cost_allocations__amount") + F("cost_allocations__vat"),
                "reimbursement_lines__amount",
                output_field=money,
            ),
            **dimensions,
        )
    )


def _sessions_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    return ExportTable(
        kind=ExportKind.SESSIONS,
        columns=SESSION_COLUMNS,
        rows=_session_rows(fleet, period),
        order=("started_at", "id"),
        totals=("price_excl_vat", "price_vat", "price_incl_vat"),
    )


def _reconciliation_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    report = reconciliation_report(fleet=fleet, period=period)
    return ExportTable(
        kind=ExportKind.RECONCILIATION,
        columns=RECONCILIATION_COLUMNS,
        rows=reconciliation_rows(report),
        order=(),
    )


def datev_table(fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The period's ledger entries as the rows of a DATEV batch, each checked as DATEV needs
    it (refused, naming the entry, the booking and the field, before a byte is written).
    Each row's `datev_row` is what the DATEV writer reads; control totals: (rows,
    Σ Umsatz less its VAT, Σ VAT in it, Σ Umsatz)."""
    rows = datev_rows(
        ledger_entries(fleet=fleet, period=period),
        currency=fleet.currency,
        account_length=fleet.account_length,
    )
    return ExportTable(
        kind=ExportKind.DATEV,
        columns=(),
        rows=[
            {"datev_row": row, "net": row.amount - row.vat, "vat": row.vat, "gross": row.amount}
            for row in rows
        ],
        order=(),
        totals=("net", "vat", "gross"),
    )


TABLES: dict[str, Callable[[Fleet, ExportPeriod], ExportTable]] = {
    ExportKind.SESSIONS: _sessions_table,
    ExportKind.INVOICES: invoices_table,
    ExportKind.INVOICE_LINES: invoice_lines_table,
    ExportKind.CREDIT_NOTES: credit_notes_table,
    ExportKind.CREDIT_NOTE_LINES: credit_note_lines_table,
    ExportKind.VAT_SUMMARY: vat_summary_table,
    ExportKind.COST_ALLOCATION: cost_allocation_table,
    ExportKind.REIMBURSEMENTS: reimbursements_table,
    ExportKind.REIMBURSEMENT_LINES: reimbursement_lines_table,
    ExportKind.PAYMENTS: payments_table,
    ExportKind.RECONCILIATION: _reconciliation_table,
    ExportKind.JOURNAL: journal_table,
    ExportKind.PAYROLL_DEDUCTIONS: payroll_deductions_table,
    ExportKind.DATEV: datev_table,
}


def export_table(*, kind: str, fleet: Fleet, period: ExportPeriod) -> ExportTable:
    """The rows and columns of an export of `kind` for the fleet's period."""
    return TABLES[kind](fleet, period)


def export_session_selection(*, table: ExportTable, ids) -> ExportTable:
    """The table narrowed to the rows with the given ids (an admin list's selection)."""
    return ExportTable(
        kind=table.kind,
        columns=table.columns,
        rows=table.rows.filter(**{f"{table.selection_field}__in": list(ids)}),
        order=table.order,
        totals=table.totals,
        selection_field=table.selection_field,
    )


def billing_run_for_period(*, fleet: Fleet, period: ExportPeriod) -> BillingRun | None:
    """The fleet's billing run of exactly this billing period, if any."""
    return BillingRun.objects.filter(fleet=fleet, period_start=period.start).first()
