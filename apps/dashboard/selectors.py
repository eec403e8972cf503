"""Reads of the dashboard: the figures of one fleet and its work to do, each read in a fixed
number of queries whatever the fleet's size (aggregates in the database, never rows in Python).
Months and days are the fleet's own, in its time zone; what was charged is read from the
sessions' day totals (charging_day_totals), a few rows per day however busy the fleet."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from apps.charging.choices import HomeApproval, LocationKind, SessionStatus
from apps.charging.models import ChargingSession, ChargingStation, Connector
from apps.charging.selectors import (
    charging_day_totals,
    charging_session_list_charger_issue,
    charging_session_list_charging_long,
    charging_session_list_home_unclaimed,
    charging_session_list_other_currency,
    charging_session_list_suspect,
    charging_session_list_without_driver,
    charging_session_unpriced_counts,
    charging_station_list_offline,
    connector_list_faulted,
)
from apps.drivers.models import Driver
from apps.drivers.selectors import driver_list_licence_expiring
from apps.fleets.models import Fleet
from apps.payments.choices import ReimbursementStatus
from apps.payments.models import BillingRun, Invoice, Reimbursement
from apps.payments.selectors import (
    billing_run_list_failed_or_stalled,
    invoice_list_overdue,
    reimbursement_list_without_payout_details,
)

ZERO = Decimal("0.00")
DAILY_SERIES_DAYS = 30


@dataclass(frozen=True)
class ChargingNow:
    """What is charging at this moment: active sessions, and the vehicles they charge."""

    sessions: int
    vehicles: int


@dataclass(frozen=True)
class MonthFigures:
    """One month's charging of a fleet: sessions, energy and cost incl. VAT in its currency."""

    start: dt.datetime
    sessions: int
    energy_wh: int
    cost: Decimal


@dataclass(frozen=True)
class DayFigures:
    """One local day of a fleet's charging."""

    day: dt.date
    sessions: int
    energy_wh: int


@dataclass(frozen=True)
class EnergyShare:
    """Energy charged at one place (a depot, a kind of location) or for one cost center."""

    key: object
    label: str
    energy_wh: int
    cost: Decimal = ZERO


@dataclass(frozen=True)
class WorkToDo:
    """Counts of what waits for someone in a fleet; unpriced counts by UnpricedReason ("" for
    the sessions pricing has not run on yet)."""

    home_claims_pending: int
    reimbursements_pending: int
    sessions_suspect: int
    sessions_charging_long: int
    sessions_without_driver: int
    sessions_charger_issue: int
    stations_offline: int
    connectors_faulted: int
    sessions_unpriced: dict[str, int]
    sessions_other_currency: int
    sessions_home_unclaimed: int
    billing_runs_failed_or_stalled: int
    invoices_overdue: int
    licences_expiring: int
    reimbursements_without_payout_details: int

    @property
    def sessions_unpriced_total(self) -> int:
        return sum(self.sessions_unpriced.values())


def month_start(moment: dt.datetime, zone: dt.tzinfo, months_back: int = 0) -> dt.datetime:
    """Local midnight of the first day of the month `months_back` before `moment`'s, in `zone`."""
    local = moment.astimezone(zone)
    month_index = local.year * 12 + local.month - 1 - months_back
    return dt.datetime(month_index // 12, month_index % 12 + 1, 1, tzinfo=zone)


def _fleet_cost(fleet: Fleet) -> Sum:
    """Sum of session prices incl. VAT in the fleet's currency (other currencies left out)."""
    return Sum("price_incl_vat", filter=Q(price_currency=fleet.currency), default=ZERO)


def dashboard_charging_now(*, fleet: Fleet) -> ChargingNow:
    """The fleet's active sessions and the vehicles they charge. One query."""
    figures = ChargingSession.objects.filter(fleet=fleet, status=SessionStatus.ACTIVE).aggregate(
        sessions=Count("pk"), vehicles=Count("vehicle", distinct=True)
    )
    return ChargingNow(**figures)


def dashboard_months(*, fleet: Fleet, now: dt.datetime) -> tuple[MonthFigures, MonthFigures]:
    """This month (so far) and last month of the fleet's sessions, by start in its zone: count,
    energy (Wh) and cost incl. VAT in the fleet's currency. One query."""
    this_start = month_start(now, fleet.zone)
    last_start = month_start(now, fleet.zone, months_back=1)
    next_start = month_start(now, fleet.zone, months_back=-1)
    this_month = Q(day__gte=this_start.date())
    last_month = Q(day__lt=this_start.date())
    cost = Q(price_currency=fleet.currency)
    figures = (
        charging_day_totals(fleet=fleet)
        .filter(day__gte=last_start.date(), day__lt=next_start.date())
        .aggregate(
            this_sessions=Sum("sessions", filter=this_month, default=0),
            this_energy=Sum("energy_wh", filter=this_month, default=0),
            this_cost=Sum("price_incl_vat", filter=this_month & cost, default=ZERO),
            last_sessions=Sum("sessions", filter=last_month, default=0),
            last_energy=Sum("energy_wh", filter=last_month, default=0),
            last_cost=Sum("price_incl_vat", filter=last_month & cost, default=ZERO),
        )
    )
    return (
        MonthFigures(
            this_start, figures["this_sessions"], figures["this_energy"], figures["this_cost"]
        ),
        MonthFigures(
            last_start, figures["last_sessions"], figures["last_energy"], figures["last_cost"]
        ),
    )


def dashboard_days(
    *, fleet: Fleet, now: dt.datetime, days: int = DAILY_SERIES_DAYS
) -> list[DayFigures]:
    """Sessions and energy per local day over the last `days` days, today included, by start
    in the fleet's zone; days without a session are there with zeros. One query."""
    today = now.astimezone(fleet.zone).date()
    first_day = today - dt.timedelta(days=days - 1)
    rows = (
        charging_day_totals(fleet=fleet)
        .filter(day__gte=first_day, day__lte=today)
        .values("day")
        .annotate(day_sessions=Sum("sessions", default=0), day_energy=Sum("energy_wh", default=0))
    )
    by_day = {row["day"]: row for row in rows}
    series = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        row = by_day.get(day, {"day_sessions": 0, "day_energy": 0})
        series.append(DayFigures(day, row["day_sessions"], row["day_energy"]))
    return series


def dashboard_energy_by_depot(*, fleet: Fleet, now: dt.datetime) -> list[EnergyShare]:
    """This month's energy charged at each of the fleet's depots (through their stations), the
    depots with most energy first. One query."""
    rows = (
        charging_day_totals(fleet=fleet)
        .filter(day__gte=month_start(now, fleet.zone).date(), depot_id__isnull=False)
        .values("depot_id", "depot_name")
        .annotate(depot_energy=Sum("energy_wh", default=0))
    )
    shares = [EnergyShare(row["depot_id"], row["depot_name"], row["depot_energy"]) for row in rows]
    return sorted(shares, key=lambda share: (-share.energy_wh, share.label, share.key))


def dashboard_energy_by_location_kind(*, fleet: Fleet, now: dt.datetime) -> list[EnergyShare]:
    """This month's energy at depots, at home and in public, every kind listed. One query."""
    kinds = {
        kind: Sum("energy_wh", filter=Q(location_kind=kind), default=0)
        for kind in LocationKind.values
    }
    figures = (
        charging_day_totals(fleet=fleet)
        .filter(day__gte=month_start(now, fleet.zone).date())
        .aggregate(**kinds)
    )
    return [EnergyShare(kind, label, figures[kind]) for kind, label in LocationKind.choices]


def dashboard_cost_by_cost_center(*, fleet: Fleet, now: dt.datetime) -> list[EnergyShare]:
    """This month's charging cost incl. VAT (in the fleet's currency) and energy per cost
    center, the sessions without one together under key None; costliest first. One query."""
    rows = (
        charging_day_totals(fleet=fleet)
        .filter(day__gte=month_start(now, fleet.zone).date())
        .values("cost_center_id", "cost_center__code", "cost_center__name")
        .annotate(center_energy=Sum("energy_wh", default=0), center_cost=_fleet_cost(fleet))
    )
    shares = [
        EnergyShare(
            row["cost_center_id"],
            f"{row['cost_center__code']} {row['cost_center__name']}"
            if row["cost_center_id"]
            else "No cost center",
            row["center_energy"],
            row["center_cost"],
        )
        for row in rows
    ]
    return sorted(shares, key=lambda share: (-share.cost, -share.energy_wh, share.label))


def dashboard_last_billing_run(*, fleet: Fleet) -> BillingRun | None:
    """The fleet's billing run of the latest period, or None. One query."""
    return BillingRun.objects.filter(fleet=fleet).order_by("-period_start", "-pk").first()


def work_to_do(*, fleet: Fleet, now: dt.datetime) -> WorkToDo:
    """What waits for someone in the fleet, counted with the selectors the admin's list filters
    use, so each count is the rows its link lists. Fifteen queries whatever the fleet's size."""
    sessions = ChargingSession.objects.filter(fleet=fleet)
    reimbursements = Reimbursement.objects.filter(fleet=fleet)
    return WorkToDo(
        home_claims_pending=sessions.filter(home_approval=HomeApproval.PENDING).count(),
        reimbursements_pending=reimbursements.filter(status=ReimbursementStatus.PENDING).count(),
        sessions_suspect=charging_session_list_suspect(sessions).count(),
        sessions_charging_long=charging_session_list_charging_long(sessions, now=now).count(),
        sessions_without_driver=charging_session_list_without_driver(sessions).count(),
        sessions_charger_issue=charging_session_list_charger_issue(sessions).count(),
        stations_offline=charging_station_list_offline(
            ChargingStation.objects.filter(fleet=fleet)
        ).count(),
        connectors_faulted=connector_list_faulted(
            Connector.objects.filter(station__fleet=fleet)
        ).count(),
        sessions_unpriced=charging_session_unpriced_counts(sessions),
        sessions_other_currency=charging_session_list_other_currency(
            sessions, currency=fleet.currency
        ).count(),
        sessions_home_unclaimed=charging_session_list_home_unclaimed(sessions).count(),
        billing_runs_failed_or_stalled=billing_run_list_failed_or_stalled(
            BillingRun.objects.filter(fleet=fleet), now=now
        ).count(),
        invoices_overdue=invoice_list_overdue(Invoice.objects.filter(fleet=fleet), now=now).count(),
        licences_expiring=driver_list_licence_expiring(
            Driver.objects.filter(fleet=fleet), today=now.astimezone(fleet.zone).date()
        ).count(),
        reimbursements_without_payout_details=reimbursement_list_without_payout_details(
            reimbursements
        ).count(),
    )
