"""The admin's sidebar: pages grouped by the task a fleet manager does, each shown only to
those whose role lets them see it."""

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse

NAVIGATION_GROUPS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Fleet",
        (
            ("vehicles.Vehicle", "Vehicles", "directions_car"),
            ("drivers.Driver", "Drivers", "badge"),
            ("vehicles.VehicleAssignment", "Assignments", "swap_horiz"),
            ("vehicles.OdometerReading", "Odometer", "speed"),
            ("drivers.ChargeToken", "Charge tokens", "contactless"),
        ),
    ),
    (
        "Charging",
        (
            ("charging.ChargingStation", "Stations", "ev_station"),
            ("charging.ChargingSession", "Sessions", "bolt"),
            ("charging.Tariff", "Tariffs", "sell"),
            ("charging.SessionImport", "Public session imports", "upload_file"),
        ),
    ),
    (
        "Money",
        (
            ("payments.BillingRun", "Billing runs", "receipt_long"),
            ("payments.Invoice", "Invoices", "description"),
            ("payments.CreditNote", "Credit notes", "undo"),
            ("payments.Reimbursement", "Reimbursements", "savings"),
            ("payments.Payment", "Payments", "payments"),
            ("payments.Refund", "Refunds", "currency_exchange"),
            ("payments.Statement", "Statements", "summarize"),
            ("payments.CostAllocation", "Cost allocation", "account_tree"),
            ("payments.PayoutBatch", "SEPA payouts", "account_balance"),
            ("payments.PayrollDeduction", "Payroll deductions", "work"),
            ("exports.ExportManifest", "Exports", "download"),
            ("exports.ExportJob", "Export jobs", "hourglass_top"),
        ),
    ),
    (
        "Settings",
        (
            ("fleets.Fleet", "Fleet", "settings"),
            ("fleets.Depot", "Depots", "warehouse"),
            ("fleets.CostCenter", "Cost centers", "account_tree"),
            ("fleets.Membership", "Members", "group"),
            ("fleets.Invitation", "Invitations", "person_add"),
            ("fleets.FleetApiKey", "API keys", "key"),
            ("auth.User", "Logins", "person"),
        ),
    ),
)


def _item(request: HttpRequest, model_label: str, title: str, icon: str) -> dict | None:
    model = apps.get_model(model_label)
    model_admin = admin.site._registry.get(model)
    if model_admin is None or not model_admin.has_view_or_change_permission(request):
        return None
    opts = model._meta
    return {
        "title": title,
        "icon": icon,
        "link": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
    }


def sidebar_navigation(request: HttpRequest) -> list[dict]:
    """The sidebar's groups for this request's user: the dashboard, then Fleet, Charging, Money
    and Settings, each with the pages the user may see."""
    groups = [
        {
            "title": "Overview",
            "items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}],
        }
    ]
    for group_title, entries in NAVIGATION_GROUPS:
        items = [item for entry in entries if (item := _item(request, *entry))]
        if items:
            groups.append({"title": group_title, "separator": True, "items": items})
    return groups
