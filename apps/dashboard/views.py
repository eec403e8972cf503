"""The admin's first page, the dashboard of the manager's current fleet, and the fleet picker
that chooses that fleet."""

import json
from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.charging.choices import ConnectorStatus, UnpricedReason
from apps.charging.selectors import CHARGING_LONG_HOURS
from apps.dashboard.selectors import (
    DayFigures,
    EnergyShare,
    MonthFigures,
    WorkToDo,
    dashboard_charging_now,
    dashboard_cost_by_cost_center,
    dashboard_days,
    dashboard_energy_by_depot,
    dashboard_energy_by_location_kind,
    dashboard_last_billing_run,
    dashboard_months,
    work_to_do,
)
from apps.drivers.selectors import LICENCE_WARNING_DAYS
from apps.fleets.models import Fleet
from apps.fleets.selectors import fleet_list_for_user
from apps.fleets.tenancy import request_current_fleet, request_fleet_pick
from apps.payments.choices import LeftOutReason
from apps.payments.models import BillingRun
from voltop.core.errors import DomainError
from voltop.core.money import kwh_of_wh, round_money

ENERGY_COLOR = "var(--color-primary-600)"
SESSIONS_COLOR = "var(--color-primary-300)"
NOT_PRICED_YET_LABEL = "Not priced yet"
PICKER_FLEETS_SHOWN = 200


def money_text(amount: Decimal, currency: str) -> str:
    """An amount as a person reads it, to the currency's minor unit and with its code:
    "1,234.50 EUR". SQLite's sums come back with float noise (49.6500000000000) or, for no
    rows, without places (0); the rounding gives every figure the currency's places."""
    return f"{round_money(Decimal(amount), currency):,} {currency}"


def energy_text(energy_wh: int) -> str:
    """Energy in kWh with one decimal: "1,234.5 kWh"."""
    return f"{kwh_of_wh(energy_wh):,.1f} kWh"


def change_text(current: Decimal | int, previous: Decimal | int) -> str:
    """How `current` compares with `previous`, in percent: "+12 %", "-3 %", or "new"."""
    if not previous:
        return "new" if current else "±0 %"
    percent = round((Decimal(current) - Decimal(previous)) * 100 / Decimal(previous))
    return f"{percent:+} %" if percent else "±0 %"


def _kwh_number(energy_wh: int) -> float:
    return float(round(kwh_of_wh(energy_wh), 1))


def chart_json(labels: list[str], datasets: list[dict]) -> str:
    """Data for unfold's Chart.js components."""
    return json.dumps({"labels": labels, "datasets": datasets})


def days_chart(days: list[DayFigures]) -> dict[str, str]:
    """The daily series as two charts: energy (bars, kWh) and sessions (line)."""
    labels = [f"{day.day:%d %b}" for day in days]
    return {
        "energy": chart_json(
            labels,
            [
                {
                    "label": "Energy (kWh)",
                    "data": [_kwh_number(day.energy_wh) for day in days],
                    "backgroundColor": ENERGY_COLOR,
                    "maxBarThickness": 14,
                    "displayYAxis": True,
                    "suffixYAxis": "kWh",
                }
            ],
        ),
        "sessions": chart_json(
            labels,
            [
                {
                    "label": "Sessions",
                    "data": [day.sessions for day in days],
                    "borderColor": ENERGY_COLOR,
                    "backgroundColor": SESSIONS_COLOR,
                    "displayYAxis": True,
                }
            ],
        ),
    }


def shares_chart(shares: Iterable[EnergyShare]) -> str:
    """Energy shares as a bar chart in kWh."""
    shares = list(shares)
    return chart_json(
        [share.label for share in shares],
        [
            {
                "label": "Energy (kWh)",
                "data": [_kwh_number(share.energy_wh) for share in shares],
                "backgroundColor": ENERGY_COLOR,
                "maxBarThickness": 40,
                "displayYAxis": True,
                "suffixYAxis": "kWh",
            }
        ],
    )


def month_card(this_month: MonthFigures, last_month: MonthFigures, currency: str) -> dict:
    return {
        "energy": energy_text(this_month.energy_wh),
        "energy_last": energy_text(last_month.energy_wh),
        "energy_change": change_text(this_month.energy_wh, last_month.energy_wh),
        "cost": money_text(this_month.cost, currency),
        "cost_last": money_text(last_month.cost, currency),
        "cost_change": change_text(this_month.cost, last_month.cost),
        "sessions": this_month.sessions,
        "sessions_last": last_month.sessions,
        "month": f"{this_month.start:%B %Y}",
        "last_month": f"{last_month.start:%B %Y}",
    }


def left_out_reasons(run: BillingRun | None) -> list[dict]:
    """What the run left out of billing, by why, as it recorded it when it completed."""
    if run is None:
        return []
    labels = dict(LeftOutReason.choices)
    return [
        {"label": labels.get(reason, reason), "count": count}
        for reason, count in sorted(run.left_out_reasons.items())
        if count
    ]


def changelist_url(
    model_label: str, fleet: Fleet, fleet_filter: str = "fleet__id__exact", **filters: str
) -> str:
    """The admin list of `model_label` ("payments_invoice") narrowed to `fleet` (by the list's
    `fleet_filter`) and `filters`."""
    query = urlencode({fleet_filter: fleet.pk, **filters})
    return f"{reverse(f'admin:{model_label}_changelist')}?{query}"


def work_to_do_items(fleet: Fleet, work: WorkToDo) -> list[dict]:
    """The work-to-do list: each item its label, count and link to exactly the rows counted;
    the sessions left out of billing broken down by why."""
    sessions = "charging_chargingsession"
    unpriced_labels = {**dict(UnpricedReason.choices), "": NOT_PRICED_YET_LABEL}
    left_out = [
        {
            "key": f"sessions_unpriced_{reason or 'not_yet'}",
            "label": unpriced_labels[reason],
            "count": count,
            "url": changelist_url(sessions, fleet, unpriced=reason or "not_yet"),
        }
        for reason, count in sorted(work.sessions_unpriced.items())
    ]
    return [
        {
            "key": "home_claims",
            "label": "Home claims waiting for approval",
            "count": work.home_claims_pending,
            "url": changelist_url(sessions, fleet, to_review="home_claim"),
        },
        {
            "key": "reimbursements_pending",
            "label": "Reimbursements waiting for approval",
            "count": work.reimbursements_pending,
            "url": changelist_url("payments_reimbursement", fleet, status__exact="pending"),
        },
        {
            "key": "sessions_suspect",
            "label": "Sessions flagged suspect, not billed yet",
            "count": work.sessions_suspect,
            "url": changelist_url(sessions, fleet, to_review="suspect"),
        },
        {
            "key": "sessions_charging_long",
            "label": f"Sessions still charging after {CHARGING_LONG_HOURS} hours: "
            "left out of billing until stopped",
            "count": work.sessions_charging_long,
            "url": changelist_url(sessions, fleet, to_review="charging_long"),
        },
        {
            "key": "sessions_no_driver",
            "label": "Sessions a charger started with a tag unknown to the fleet: left out of "
            "billing until given a driver or invalidated",
            "count": work.sessions_without_driver,
            "url": changelist_url(sessions, fleet, to_review="no_driver"),
        },
        {
            "key": "sessions_charger_issue",
            "label": "Sessions a charger reported with an issue (a blocked tag, a second "
            "session, an interruption), not billed yet",
            "count": work.sessions_charger_issue,
            "url": changelist_url(sessions, fleet, to_review="charger_issue"),
        },
        {
            "key": "stations_offline",
            "label": "Chargers offline",
            "count": work.stations_offline,
            "url": changelist_url("charging_chargingstation", fleet, connection="offline"),
        },
        {
            "key": "connectors_faulted",
            "label": "Connectors faulted",
            "count": work.connectors_faulted,
            "url": changelist_url(
                "charging_connector",
                fleet,
                fleet_filter="station__fleet__id__exact",
                status__exact=ConnectorStatus.FAULTED,
            ),
        },
        {
            "key": "sessions_unpriced",
            "label": "Sessions left out of billing: no price",
            "count": work.sessions_unpriced_total,
            "url": changelist_url(sessions, fleet, unpriced="any"),
            "reasons": left_out,
        },
        {
            "key": "sessions_other_currency",
            "label": "Sessions left out of billing: priced in another currency than the fleet's",
            "count": work.sessions_other_currency,
            "url": changelist_url(sessions, fleet, left_out="other_currency"),
        },
        {
            "key": "sessions_home_unclaimed",
            "label": "Sessions left out of billing: business charging at home nobody claimed",
            "count": work.sessions_home_unclaimed,
            "url": changelist_url(sessions, fleet, left_out="home_not_claimed"),
        },
        {
            "key": "billing_runs",
            "label": "Billing runs failed or stalled",
            "count": work.billing_runs_failed_or_stalled,
            "url": changelist_url("payments_billingrun", fleet, failed_or_stalled="yes"),
        },
        {
            "key": "invoices_overdue",
            "label": "Invoices overdue",
            "count": work.invoices_overdue,
            "url": changelist_url("payments_invoice", fleet, overdue="yes"),
        },
        {
            "key": "licences",
            "label": f"Driving licences expired or expiring within {LICENCE_WARNING_DAYS} days",
            "count": work.licences_expiring,
            "url": changelist_url("drivers_driver", fleet, licence_expiring="yes"),
        },
        {
            "key": "payout_details",
            "label": "Approved reimbursements that cannot be paid out: no IBAN or account holder",
            "count": work.reimbursements_without_payout_details,
            "url": changelist_url("payments_reimbursement", fleet, payout_details_missing="yes"),
        },
    ]


def fleet_dashboard(fleet: Fleet) -> dict:
    """Everything the dashboard shows of `fleet`, read through the dashboard's selectors."""
    now = timezone.now()
    this_month, last_month = dashboard_months(fleet=fleet, now=now)
    by_kind = dashboard_energy_by_location_kind(fleet=fleet, now=now)
    by_depot = dashboard_energy_by_depot(fleet=fleet, now=now)
    by_cost_center = dashboard_cost_by_cost_center(fleet=fleet, now=now)
    last_run = dashboard_last_billing_run(fleet=fleet)
    return {
        "fleet": fleet,
        "charging_now": dashboard_charging_now(fleet=fleet),
        "charging_now_url": changelist_url(
            "charging_chargingsession", fleet, status__exact="active"
        ),
        "month": month_card(this_month, last_month, fleet.currency),
        "days_chart": days_chart(dashboard_days(fleet=fleet, now=now)),
        "kind_chart": shares_chart(by_kind),
        "kinds": [
            {"label": share.label, "energy": energy_text(share.energy_wh)} for share in by_kind
        ],
        "depot_chart": shares_chart(by_depot) if by_depot else None,
        "cost_centers": [
            {
                "label": share.label,
                "cost": money_text(share.cost, fleet.currency),
                "energy": energy_text(share.energy_wh),
            }
            for share in by_cost_center
        ],
        "last_run": last_run,
        "last_run_left_out": left_out_reasons(last_run),
        "last_run_url": reverse("admin:payments_billingrun_change", args=[last_run.pk])
        if last_run
        else None,
        "work": work_to_do_items(fleet, work_to_do(fleet=fleet, now=now)),
    }


def fleet_picker(request: HttpRequest, current: Fleet | None) -> dict | None:
    """The fleets the user may pick among, when there is more than one."""
    fleets = list(
        fleet_list_for_user(request.user).order_by("name", "pk")[: PICKER_FLEETS_SHOWN + 1]
    )
    if len(fleets) < 2:
        return None
    return {
        "fleets": fleets[:PICKER_FLEETS_SHOWN],
        "current": current,
        "action": reverse("admin_fleet_pick"),
    }


def dashboard_context(request: HttpRequest, context: dict) -> dict:
    """Unfold's dashboard callback: the current fleet's figures, charts and work to do, and
    the fleet picker for users of several fleets."""
    fleet = request_current_fleet(request)
    context["fleet_picker"] = fleet_picker(request, fleet)
    context["dashboard"] = fleet_dashboard(fleet) if fleet is not None else None
    return context


@require_POST
def fleet_pick(request: HttpRequest) -> HttpResponseRedirect:
    """Make the posted fleet the user's current fleet in the admin, then go back to `next`
    (the dashboard by default). A fleet not theirs is refused and nothing changes."""
    try:
        fleet = request_fleet_pick(request, request.POST.get("fleet", ""))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You now work on {fleet.name}.")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    return HttpResponseRedirect(next_url)
