"""The reconciliation report of a fleet's period: every session of the period accounted for
exactly once (an invoice line, a cost allocation, a reimbursement line, or left out with the
reason its billing run recorded), each billed amount as the VAT rule gives it, the runs'
stored figures against their documents' rows, and every issued invoice's gross as paid -
refunded + open + credited: what was paid beyond an invoice is explained by the refunds owed
back on it. It says "balanced" or lists each difference. Billing's rows are only read."""

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from apps.charging.choices import SessionStatus
from apps.charging.models import ChargingSession
from apps.charging.vat_rule import charged_to_driver, fleet_cost, reimbursed_to_driver
from apps.exports.columns import Column, ValueType
from apps.exports.periods import ExportPeriod
from apps.fleets.models import Fleet
from apps.payments.choices import BillingRunStatus, InvoiceStatus, LeftOutReason
from apps.payments.models import (
    BillingLeftOut,
    BillingRun,
    CostAllocation,
    Invoice,
    InvoiceLine,
    Reimbursement,
    ReimbursementLine,
)
from apps.payments.selectors import (
    billing_left_out_list,
    invoice_balance_of_row,
    invoice_list_with_balance,
    invoice_list_with_refunded,
)
from voltop.core.money import round_money

ZERO = Decimal("0.00")
BALANCED = "balanced"
DIFFERENCE = "difference"
ROW_BATCH = 2000


class DifferenceKind:
    """The stable names of what a reconciliation can find wrong."""

    SESSION_NOT_ACCOUNTED = "session_not_accounted"
    SESSION_MORE_THAN_ONCE = "session_more_than_once"
    SESSION_OTHER_CURRENCY = "session_other_currency"
    INVOICE_LINE_AMOUNT = "invoice_line_amount"
    COST_ALLOCATION_AMOUNT = "cost_allocation_amount"
    REIMBURSEMENT_LINE_AMOUNT = "reimbursement_line_amount"
    RUN_NOT_COMPLETED = "run_not_completed"
    RUN_FIGURE = "run_figure"
    REIMBURSEMENT_TOTAL = "reimbursement_total"
    INVOICE_OVERPAID = "invoice_overpaid"
    INVOICE_REFUNDED_BEYOND_OVERPAID = "invoice_refunded_beyond_overpaid"


@dataclass(frozen=True)
class Difference:
    """One thing that does not reconcile: what was expected and what was found (an amount or
    a count; None where there is no number to compare), and in words."""

    kind: str
    subject: str
    expected: Decimal | None
    actual: Decimal | None
    message: str


@dataclass(frozen=True)
class LeftOutSession:
    """A session a run of the period did not bill, with the reason the run recorded."""

    session_id: int
    reason: str
    run_label: str

    @property
    def reason_label(self) -> str:
        return LeftOutReason(self.reason).label


@dataclass(frozen=True)
class SessionCounts:
    """Where the sessions of the period are: each in exactly one of the destinations, or
    counted as in none or in more than one."""

    total: int
    invoiced: int
    allocated: int
    reimbursed: int
    left_out: int
    in_none: int
    in_more_than_one: int


@dataclass(frozen=True)
class RunFigure:
    """A figure a run stored as it completed, beside the same figure read from its rows."""

    item: str
    stored: Decimal
    found: Decimal
    is_amount: bool

    @property
    def agrees(self) -> bool:
        return self.stored == self.found


@dataclass(frozen=True)
class RunReconciliation:
    """A billing run of the period: the sessions its documents hold by destination, those it
    left out by reason (from its rows), and its stored figures against its rows."""

    label: str
    invoiced: int
    allocated: int
    reimbursed: int
    left_out: tuple[tuple[str, int], ...]
    figures: tuple[RunFigure, ...]


@dataclass(frozen=True)
class InvoiceMoney:
    """An issued invoice's gross as paid - refunded + open + credited; overpaid is paid beyond
    it, refunded what its refunds owe back (owed, set off or paid out), which should be the
    overpayment exactly."""

    number: str
    gross: Decimal
    paid: Decimal
    open: Decimal
    credited: Decimal
    overpaid: Decimal
    refunded: Decimal = ZERO

    @property
    def unexplained_overpayment(self) -> Decimal:
        """Overpaid less refunded: above zero paid beyond the invoice with no refund for it,
        below zero refunded beyond what was overpaid."""
        return self.overpaid - self.refunded


@dataclass(frozen=True)
class PeriodMoney:
    """The issued invoices of the period (their supply period starts in it) and their sums."""

    currency: str
    invoices: tuple[InvoiceMoney, ...]
    invoiced: Decimal
    paid: Decimal
    open: Decimal
    credited: Decimal
    overpaid: Decimal
    refunded: Decimal = ZERO

    @property
    def accounted(self) -> Decimal:
        """Paid - refunded + open + credited: the invoiced gross when every overpayment is
        owed back as refunds."""
        return self.paid - self.refunded + self.open + self.credited


@dataclass(frozen=True)
class ReconciliationReport:
    """The reconciliation of a fleet's period; `balanced` when `differences` is empty."""

    fleet_id: int
    period_label: str
    currency: str
    sessions: SessionCounts
    runs: tuple[RunReconciliation, ...]
    left_out: tuple[LeftOutSession, ...]
    money: PeriodMoney
    balanced: bool
    differences: tuple[Difference, ...]


def _period_sessions(fleet: Fleet, period: ExportPeriod) -> QuerySet:
    """The fleet's sessions that ended in the period, and those still charging that started
    before its end."""
    return ChargingSession.objects.filter(fleet=fleet).filter(
        Q(ended_at__gte=period.start, ended_at__lt=period.end)
        | Q(status=SessionStatus.ACTIVE, started_at__lt=period.end)
    )


def _period_runs(fleet: Fleet, period: ExportPeriod) -> list[BillingRun]:
    """The fleet's runs whose period lies in the export period; for a billing period, its
    own run."""
    runs = BillingRun.objects.filter(fleet=fleet)
    if period.is_billing_period:
        runs = runs.filter(period_start=period.start)
    else:
        runs = runs.filter(period_start__gte=period.start, period_end__lte=period.end)
    return list(runs.order_by("period_start"))


def _session(session_id: int) -> str:
    return f"session {session_id}"


class _SessionDifferences:
    """Differences about sessions, kept in session order."""

    def __init__(self) -> None:
        self.found: list[tuple[int, int, Difference]] = []

    def add(self, session_id: int, difference: Difference) -> None:
        self.found.append((session_id, len(self.found), difference))

    def in_order(self) -> list[Difference]:
        return [difference for _, _, difference in sorted(self.found, key=lambda f: f[:2])]


def _destinations(sessions: QuerySet, run_ids: list[int]) -> QuerySet:
    """`sessions` with whether each is on an invoice line, a cost allocation, a reimbursement
    line (of any run: each is once per session at most), or left out by a run of the period."""
    session = OuterRef("pk")
    return sessions.annotate(
        on_invoice=Exists(InvoiceLine.objects.filter(session=session)),
        on_allocation=Exists(CostAllocation.objects.filter(session=session)),
        on_reimbursement=Exists(ReimbursementLine.objects.filter(session=session)),
        on_left_out=Exists(BillingLeftOut.objects.filter(session=session, run_id__in=run_ids)),
    )


DESTINATION_NAMES = {
    "on_invoice": "an invoice line",
    "on_allocation": "a cost allocation",
    "on_reimbursement": "a reimbursement line",
    "on_left_out": "the sessions left out",
}
BILLED_FLAGS = ("on_invoice", "on_allocation", "on_reimbursement")


def _billed_and_left_out_by_one_run(run_ids: list[int]) -> dict[int, str]:
    """Sessions a run of the period both billed and recorded as left out, with the run."""
    session, run = OuterRef("session_id"), OuterRef("run_id")
    rows = (
        BillingLeftOut.objects.filter(run_id__in=run_ids)
        .filter(
            Exists(InvoiceLine.objects.filter(session_id=session, invoice__billing_run_id=run))
            | Exists(CostAllocation.objects.filter(session_id=session, billing_run_id=run))
            | Exists(
                ReimbursementLine.objects.filter(
                    session_id=session, reimbursement__billing_run_id=run
                )
            )
        )
        .values_list("session_id", "run__period_label")
        .order_by("session_id", "run__period_start")
    )
    return dict(rows)


def _session_counts(
    sessions: QuerySet, run_ids: list[int], differences: _SessionDifferences
) -> SessionCounts:
    """Count the sessions of the period by destination and record those in none or in more
    than one."""
    flagged = _destinations(sessions, run_ids)
    flags = (*BILLED_FLAGS, "on_left_out")
    groups = flagged.order_by().values(*flags).annotate(sessions=Count("pk"))
    counts: Counter[str] = Counter()
    for group in groups:
        billed = [flag for flag in BILLED_FLAGS if group[flag]]
        if len(billed) > 1:
            counts["more"] += group["sessions"]
        elif billed:
            counts[billed[0]] += group["sessions"]
        elif group["on_left_out"]:
            counts["on_left_out"] += group["sessions"]
        else:
            counts["none"] += group["sessions"]
        counts["total"] += group["sessions"]

    unbilled = Q(on_invoice=False, on_allocation=False, on_reimbursement=False)
    for session_id in (
        flagged.filter(unbilled, on_left_out=False).order_by("pk").values_list("pk", flat=True)
    ):
        differences.add(
            session_id,
            Difference(
                kind=DifferenceKind.SESSION_NOT_ACCOUNTED,
                subject=_session(session_id),
                expected=Decimal(1),
                actual=Decimal(0),
                message=(
                    f"Session {session_id} is on no invoice line, cost allocation or "
                    "reimbursement line, and no billing run of the period left it out."
                ),
            ),
        )
    billed_twice = (
        Q(on_invoice=True, on_allocation=True)
        | Q(on_invoice=True, on_reimbursement=True)
        | Q(on_allocation=True, on_reimbursement=True)
    )
    for row in flagged.filter(billed_twice).order_by("pk").values("pk", *BILLED_FLAGS):
        places = [DESTINATION_NAMES[flag] for flag in BILLED_FLAGS if row[flag]]
        differences.add(
            row["pk"],
            Difference(
                kind=DifferenceKind.SESSION_MORE_THAN_ONCE,
                subject=_session(row["pk"]),
                expected=Decimal(1),
                actual=Decimal(len(places)),
                message=f"Session {row['pk']} is billed more than once: on "
                + " and on ".join(places)
                + ".",
            ),
        )

    both = _billed_and_left_out_by_one_run(run_ids)
    if both:
        for row in flagged.filter(pk__in=both).values("pk", *BILLED_FLAGS):
            billed = [flag for flag in BILLED_FLAGS if row[flag]]
            if len(billed) == 1:
                counts[billed[0]] -= 1
                counts["more"] += 1
    for session_id, run_label in sorted(both.items()):
        differences.add(
            session_id,
            Difference(
                kind=DifferenceKind.SESSION_MORE_THAN_ONCE,
                subject=_session(session_id),
                expected=Decimal(1),
                actual=Decimal(2),
                message=(
                    f"Session {session_id} is billed by run {run_label}, which also records it "
                    "as left out."
                ),
            ),
        )
    return SessionCounts(
        total=counts["total"],
        invoiced=counts["on_invoice"],
        allocated=counts["on_allocation"],
        reimbursed=counts["on_reimbursement"],
        left_out=counts["on_left_out"],
        in_none=counts["none"],
        in_more_than_one=counts["more"],
    )


def _amount_difference(
    kind: str, session_id: int, expected: Decimal | None, actual: Decimal, message: str
) -> Difference:
    return Difference(
        kind=kind,
        subject=_session(session_id),
        expected=expected,
        actual=actual,
        message=message,
    )


def _currency_difference(
    session_id: int, session_currency: str, where: str, currency: str
) -> Difference:
    return Difference(
        kind=DifferenceKind.SESSION_OTHER_CURRENCY,
        subject=_session(session_id),
        expected=None,
        actual=None,
        message=(
            f"Session {session_id} is priced in {session_currency or 'no currency'} but billed "
            f"on {where} in {currency}."
        ),
    )


def _billed_rows(queryset: QuerySet, sessions: QuerySet, run_ids: list[int], run_path: str):
    """The billed rows of the sessions of the period and of the period's runs."""
    in_scope = Q(session__in=sessions.values("pk")) | Q(**{f"{run_path}__in": run_ids})
    return queryset.filter(in_scope).order_by("session_id")


def _invoice_line_differences(
    fleet: Fleet, sessions: QuerySet, run_ids: list[int], differences: _SessionDifferences
) -> None:
    rows = _billed_rows(
        InvoiceLine.objects.filter(invoice__fleet=fleet), sessions, run_ids, "invoice__billing_run"
    ).values_list(
        "session_id",
        "invoice__number",
        "invoice__currency",
        "net",
        "vat_rate",
        "vat",
        "gross",
        "session__price_currency",
        "session__price_excl_vat",
    )
    for (
        session_id,
        number,
        currency,
        net,
        rate,
        vat,
        gross,
        session_currency,
        price,
    ) in rows.iterator(chunk_size=ROW_BATCH):
        where = f"invoice {number or 'draft'}"
        if session_currency != currency:
            differences.add(
                session_id, _currency_difference(session_id, session_currency, where, currency)
            )
        if price is None:
            differences.add(
                session_id,
                _amount_difference(
                    DifferenceKind.INVOICE_LINE_AMOUNT,
                    session_id,
                    None,
                    net,
                    f"Session {session_id} is on {where} at {net} {currency} net but has no price.",
                ),
            )
            continue
        charged = charged_to_driver(net=price, fleet_vat_rate=rate, currency=currency)
        for part, expected, actual in (
            ("net", charged.net, net),
            ("VAT", charged.vat, vat),
            ("gross", charged.gross, gross),
        ):
            if expected != actual:
                differences.add(
                    session_id,
                    _amount_difference(
                        DifferenceKind.INVOICE_LINE_AMOUNT,
                        session_id,
                        expected,
                        actual,
                        f"Session {session_id} is on {where} at {actual} {currency} {part}; its "
                        f"price excl. VAT {price} at {rate} % VAT gives {expected}.",
                    ),
                )


def _cost_allocation_differences(
    fleet: Fleet, sessions: QuerySet, run_ids: list[int], differences: _SessionDifferences
) -> None:
    rows = _billed_rows(
        CostAllocation.objects.filter(fleet=fleet), sessions, run_ids, "billing_run"
    ).values_list(
        "session_id",
        "currency",
        "amount",
        "vat",
        "session__price_currency",
        "session__price_excl_vat",
        "session__price_vat",
    )
    for session_id, currency, amount, vat, session_currency, price, price_vat in rows.iterator(
        chunk_size=ROW_BATCH
    ):
        where = "a cost allocation"
        if session_currency != currency:
            differences.add(
                session_id, _currency_difference(session_id, session_currency, where, currency)
            )
        if price is None or price_vat is None:
            differences.add(
                session_id,
                _amount_difference(
                    DifferenceKind.COST_ALLOCATION_AMOUNT,
                    session_id,
                    None,
                    amount,
                    f"Session {session_id} is allocated {amount} {currency} but has no price.",
                ),
            )
            continue
        cost = fleet_cost(net=price, session_vat=price_vat, currency=currency)
        for part, expected, actual in (("amount", cost.net, amount), ("VAT", cost.vat, vat)):
            if expected != actual:
                differences.add(
                    session_id,
                    _amount_difference(
                        DifferenceKind.COST_ALLOCATION_AMOUNT,
                        session_id,
                        expected,
                        actual,
                        f"Session {session_id} is allocated with {part} {actual} {currency}; "
                        f"the session's price gives {expected}.",
                    ),
                )


def _reimbursement_line_differences(
    fleet: Fleet, sessions: QuerySet, run_ids: list[int], differences: _SessionDifferences
) -> None:
    rows = _billed_rows(
        ReimbursementLine.objects.filter(reimbursement__fleet=fleet),
        sessions,
        run_ids,
        "reimbursement__billing_run",
    ).values_list(
        "session_id",
        "reimbursement_id",
        "reimbursement__currency",
        "amount",
        "session__price_currency",
        "session__price_incl_vat",
    )
    for session_id, reimbursement_id, currency, amount, session_currency, gross in rows.iterator(
        chunk_size=ROW_BATCH
    ):
        where = f"reimbursement {reimbursement_id}"
        if session_currency != currency:
            differences.add(
                session_id, _currency_difference(session_id, session_currency, where, currency)
            )
        expected = None if gross is None else reimbursed_to_driver(gross=gross, currency=currency)
        if expected != amount:
            price = "has no price" if gross is None else f"its gross is {expected}"
            differences.add(
                session_id,
                _amount_difference(
                    DifferenceKind.REIMBURSEMENT_LINE_AMOUNT,
                    session_id,
                    expected,
                    amount,
                    f"Session {session_id} is reimbursed {amount} {currency} on {where}; {price}.",
                ),
            )


def _sum(queryset: QuerySet, field: str, currency: str) -> Decimal:
    total = queryset.aggregate(total=Sum(field))["total"]
    return round_money(Decimal(str(total or 0)), currency)


def _run_reconciliation(run: BillingRun) -> RunReconciliation:
    """The run's sessions by destination from its rows, and its stored figures beside them."""
    currency = run.currency
    invoices = Invoice.objects.filter(billing_run=run)
    invoiced = InvoiceLine.objects.filter(invoice__billing_run=run).count()
    allocations = CostAllocation.objects.filter(billing_run=run)
    allocated = allocations.count()
    reimbursed = ReimbursementLine.objects.filter(reimbursement__billing_run=run).count()
    reasons = Counter(billing_left_out_list(run=run).values_list("reason", flat=True))
    left_out = tuple(
        (reason, reasons[reason]) for reason in LeftOutReason.values if reasons[reason]
    )

    def count(item: str, stored: int, found: int) -> RunFigure:
        return RunFigure(item, Decimal(stored), Decimal(found), is_amount=False)

    def amount(item: str, stored: Decimal, found: Decimal) -> RunFigure:
        return RunFigure(item, round_money(stored, currency), found, is_amount=True)

    stored_reasons = run.left_out_reasons or {}
    figures = [
        count("invoices", run.invoice_count, invoices.count()),
        count("sessions invoiced", run.invoiced_session_count, invoiced),
        count("sessions allocated", run.allocated_session_count, allocated),
        count("sessions reimbursed", run.reimbursed_session_count, reimbursed),
        count("sessions billed", run.session_count, invoiced + allocated + reimbursed),
        count("sessions left out", run.left_out_count, sum(reasons.values())),
        *(
            count(f"left out: {reason}", int(stored_reasons.get(reason, 0)), reasons[reason])
            for reason in sorted(set(stored_reasons) | set(reasons))
        ),
        amount("invoiced total", run.invoiced_total, _sum(invoices, "gross_total", currency)),
        amount("allocated total", run.allocated_total, _sum(allocations, "amount", currency)),
        amount(
            "reimbursed total",
            run.reimbursed_total,
            _sum(Reimbursement.objects.filter(billing_run=run), "amount", currency),
        ),
    ]
    return RunReconciliation(
        label=run.period_label,
        invoiced=invoiced,
        allocated=allocated,
        reimbursed=reimbursed,
        left_out=left_out,
        figures=tuple(figures),
    )


def _run_differences(run: RunReconciliation, currency: str) -> list[Difference]:
    found = []
    for figure in run.figures:
        if figure.agrees:
            continue
        unit = f" {currency}" if figure.is_amount else ""
        found.append(
            Difference(
                kind=DifferenceKind.RUN_FIGURE,
                subject=f"run {run.label}: {figure.item}",
                expected=figure.stored,
                actual=figure.found,
                message=(
                    f"Run {run.label} stored {figure.stored}{unit} as {figure.item}; its rows "
                    f"add up to {figure.found}{unit}."
                ),
            )
        )
    return found


def _reimbursement_total_differences(run_ids: list[int]) -> list[Difference]:
    """Reimbursements of the period's runs whose amount is not the sum of their lines, the
    sum rounded to the currency's minor unit (SQLite adds amounts as floats)."""
    reimbursements = (
        Reimbursement.objects.filter(billing_run_id__in=run_ids)
        .annotate(lines_total=Coalesce(Sum("lines__amount"), Value(ZERO)))
        .order_by("pk")
        .values_list("pk", "currency", "amount", "lines_total")
    )
    differences = []
    for pk, currency, amount, lines_total in reimbursements:
        lines_total = round_money(Decimal(str(lines_total)), currency)
        if lines_total == amount:
            continue
        differences.append(
            Difference(
                kind=DifferenceKind.REIMBURSEMENT_TOTAL,
                subject=f"reimbursement {pk}",
                expected=lines_total,
                actual=amount,
                message=(
                    f"Reimbursement {pk} is for {amount} {currency}; its lines add up to "
                    f"{lines_total} {currency}."
                ),
            )
        )
    return differences


def _period_money(fleet: Fleet, period: ExportPeriod) -> PeriodMoney:
    """Each issued invoice whose supply period starts in the period, as paid, refunded, open
    and credited, and their sums."""
    invoices = invoice_list_with_refunded(
        invoice_list_with_balance(
            Invoice.objects.filter(
                fleet=fleet, period_start__gte=period.start, period_start__lt=period.end
            )
            .exclude(status=InvoiceStatus.DRAFT)
            .order_by("number", "pk")
        )
    )
    rows = []
    for invoice in invoices:
        balance = invoice_balance_of_row(invoice)
        rows.append(
            InvoiceMoney(
                number=invoice.number,
                gross=balance.gross,
                paid=balance.paid,
                open=max(balance.due, ZERO),
                credited=balance.credited,
                overpaid=balance.overpaid,
                refunded=round_money(Decimal(str(invoice.refunded_total)), fleet.currency),
            )
        )
    return PeriodMoney(
        currency=fleet.currency,
        invoices=tuple(rows),
        invoiced=sum((row.gross for row in rows), ZERO),
        paid=sum((row.paid for row in rows), ZERO),
        open=sum((row.open for row in rows), ZERO),
        credited=sum((row.credited for row in rows), ZERO),
        overpaid=sum((row.overpaid for row in rows), ZERO),
        refunded=sum((row.refunded for row in rows), ZERO),
    )


def _overpaid_differences(money: PeriodMoney) -> list[Difference]:
    """Invoices paid beyond what they ask with no refund owing it back, and invoices whose
    refunds owe back more than was paid beyond them."""
    currency = money.currency
    differences = []
    for invoice in money.invoices:
        unexplained = invoice.unexplained_overpayment
        refunded_text = (
            f", of which {invoice.refunded} {currency} is refunded" if invoice.refunded else ""
        )
        if unexplained > 0:
            differences.append(
                Difference(
                    kind=DifferenceKind.INVOICE_OVERPAID,
                    subject=f"invoice {invoice.number}",
                    expected=invoice.gross - invoice.credited + invoice.refunded,
                    actual=invoice.paid,
                    message=(
                        f"Invoice {invoice.number} is paid {invoice.paid} {currency} of "
                        f"{invoice.gross - invoice.credited} {currency} due: overpaid by "
                        f"{invoice.overpaid} {currency}{refunded_text}."
                    ),
                )
            )
        elif unexplained < 0:
            differences.append(
                Difference(
                    kind=DifferenceKind.INVOICE_REFUNDED_BEYOND_OVERPAID,
                    subject=f"invoice {invoice.number}",
                    expected=invoice.overpaid,
                    actual=invoice.refunded,
                    message=(
                        f"Invoice {invoice.number} has refunds of {invoice.refunded} {currency} "
                        f"but is overpaid by {invoice.overpaid} {currency} only."
                    ),
                )
            )
    return differences


def reconciliation_report(*, fleet: Fleet, period: ExportPeriod) -> ReconciliationReport:
    """The reconciliation of the fleet's period: where each session went, the billed amounts
    against the VAT rule, the runs' figures against their rows, and the money identity of the
    issued invoices, with every difference found."""
    runs = _period_runs(fleet, period)
    completed = [run for run in runs if run.status == BillingRunStatus.COMPLETED]
    run_ids = [run.pk for run in completed]
    sessions = _period_sessions(fleet, period)

    session_differences = _SessionDifferences()
    counts = _session_counts(sessions, run_ids, session_differences)
    _invoice_line_differences(fleet, sessions, run_ids, session_differences)
    _cost_allocation_differences(fleet, sessions, run_ids, session_differences)
    _reimbursement_line_differences(fleet, sessions, run_ids, session_differences)
    differences = session_differences.in_order()

    differences.extend(
        Difference(
            kind=DifferenceKind.RUN_NOT_COMPLETED,
            subject=f"run {run.period_label}",
            expected=None,
            actual=None,
            message=(
                f"The billing run of {run.period_label} is "
                f"{run.get_status_display().lower()}; its sessions are not accounted for yet."
            ),
        )
        for run in runs
        if run.status != BillingRunStatus.COMPLETED
    )
    run_reconciliations = tuple(_run_reconciliation(run) for run in completed)
    for run in run_reconciliations:
        differences.extend(_run_differences(run, fleet.currency))
    differences.extend(_reimbursement_total_differences(run_ids))

    money = _period_money(fleet, period)
    differences.extend(_overpaid_differences(money))

    left_out = tuple(
        LeftOutSession(session_id=row.session_id, reason=row.reason, run_label=run.period_label)
        for run in completed
        for row in billing_left_out_list(run=run)
    )
    return ReconciliationReport(
        fleet_id=fleet.pk,
        period_label=period.label,
        currency=fleet.currency,
        sessions=counts,
        runs=run_reconciliations,
        left_out=left_out,
        money=money,
        balanced=not differences,
        differences=tuple(differences),
    )


RECONCILIATION_COLUMNS: tuple[Column, ...] = (
    Column(
        "section",
        ValueType.TEXT,
        "section",
        description="verdict, sessions, run YYYY-MM, left out, money or difference.",
    ),
    Column("item", ValueType.TEXT, "item", description="What the row counts or checks."),
    Column("count", ValueType.INTEGER, "count", description="A number of sessions or rows."),
    Column("amount", ValueType.DECIMAL, "amount", places=2, description="An amount found."),
    Column(
        "expected",
        ValueType.DECIMAL,
        "expected",
        description="What the count or amount should be: the VAT rule's, the run's stored.",
    ),
    Column(
        "difference",
        ValueType.DECIMAL,
        "difference",
        description="What was found minus what was expected.",
    ),
    Column("status", ValueType.TEXT, "status", description="balanced or difference."),
    Column(
        "note", ValueType.TEXT, "note", description="In words, e.g. why a session was left out."
    ),
)


def _row(
    section: str,
    item: str,
    *,
    count: int | None = None,
    amount: Decimal | None = None,
    expected: Decimal | None = None,
    found: Decimal | None = None,
    status: str = BALANCED,
    note: str = "",
) -> dict:
    difference = None
    if expected is not None and found is not None:
        difference = found - expected
        status = BALANCED if difference == 0 else DIFFERENCE
    return {
        "section": section,
        "item": item,
        "count": count,
        "amount": amount,
        "expected": expected,
        "difference": difference,
        "status": status,
        "note": note,
    }


def _verdict(report: ReconciliationReport) -> str:
    if report.balanced:
        return BALANCED
    found = len(report.differences)
    return f"{found} difference" if found == 1 else f"{found} differences"


def _session_rows(counts: SessionCounts) -> list[dict]:
    def status(problems: int) -> str:
        return BALANCED if problems == 0 else DIFFERENCE

    return [
        _row(
            "sessions",
            "sessions of the period",
            count=counts.total,
            status=status(counts.in_none + counts.in_more_than_one),
        ),
        _row("sessions", "on an invoice line", count=counts.invoiced),
        _row("sessions", "in a cost allocation", count=counts.allocated),
        _row("sessions", "on a reimbursement line", count=counts.reimbursed),
        _row("sessions", "left out", count=counts.left_out),
        _row("sessions", "in none", count=counts.in_none, status=status(counts.in_none)),
        _row(
            "sessions",
            "in more than one",
            count=counts.in_more_than_one,
            status=status(counts.in_more_than_one),
        ),
    ]


def _run_rows(run: RunReconciliation) -> list[dict]:
    section = f"run {run.label}"
    rows = []
    for figure in run.figures:
        if figure.is_amount:
            rows.append(
                _row(
                    section,
                    figure.item,
                    amount=figure.found,
                    expected=figure.stored,
                    found=figure.found,
                    note="The run's stored figure is expected; its rows are found.",
                )
            )
        else:
            rows.append(
                _row(
                    section,
                    figure.item,
                    count=int(figure.found),
                    expected=figure.stored,
                    found=figure.found,
                    note="The run's stored figure is expected; its rows are found.",
                )
            )
    return rows


def _money_rows(money: PeriodMoney) -> list[dict]:
    currency = money.currency
    return [
        _row("money", "issued invoices", count=len(money.invoices), amount=money.invoiced),
        _row("money", "paid", amount=money.paid, note=f"Payments received, {currency}."),
        _row("money", "open", amount=money.open, note=f"Still to pay, {currency}."),
        _row("money", "credited", amount=money.credited, note=f"Credit notes' gross, {currency}."),
        _row(
            "money",
            "overpaid",
            amount=money.overpaid,
            status=BALANCED
            if all(invoice.unexplained_overpayment == 0 for invoice in money.invoices)
            else DIFFERENCE,
            note=f"Paid beyond what was due, {currency}; each invoice's refunds owe it back.",
        ),
        _row(
            "money",
            "refunded",
            amount=money.refunded,
            note=f"Refunds owed back on the invoices (owed, set off or paid out), {currency}.",
        ),
        _row(
            "money",
            "invoiced = paid - refunded + open + credited",
            amount=money.accounted,
            expected=money.invoiced,
            found=money.accounted,
            note=f"Invoiced {money.invoiced} {currency}; paid - refunded + open + credited "
            f"{money.accounted} {currency}.",
        ),
    ]


def reconciliation_rows(report: ReconciliationReport) -> list[dict]:
    """The report as the rows of its export and its admin page, in order: the verdict, the
    sessions by destination, each run's figures, each session left out with its reason, the
    money identity, then each difference."""
    rows = [
        _row(
            "verdict",
            _verdict(report),
            count=len(report.differences),
            status=BALANCED if report.balanced else DIFFERENCE,
            note=f"Reconciliation of {report.period_label}.",
        )
    ]
    rows.extend(_session_rows(report.sessions))
    for run in report.runs:
        rows.extend(_run_rows(run))
    rows.extend(
        _row(
            "left out",
            _session(session.session_id),
            count=1,
            note=f"{session.reason_label} (run {session.run_label}).",
        )
        for session in report.left_out
    )
    rows.extend(_money_rows(report.money))
    rows.extend(_difference_row(difference) for difference in report.differences)
    return rows


def _is_count(value: Decimal | None) -> bool:
    """Counts are whole Decimals (Decimal(2)); amounts carry their minor unit (Decimal("2.00"))."""
    return value is not None and value.as_tuple().exponent == 0


def _difference_row(difference: Difference) -> dict:
    actual = difference.actual
    row = _row(
        "difference",
        difference.subject,
        count=int(actual) if _is_count(actual) else None,
        amount=None if _is_count(actual) else actual,
        expected=difference.expected,
        found=actual,
        note=f"{difference.kind}: {difference.message}",
    )
    return {**row, "status": DIFFERENCE}
