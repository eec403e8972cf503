"""Every daily action of the admin has its twin in the fleet API, through the same service.

The walk lists each registered admin's actions (ModelAdmin.actions), its buttons on the
object page (unfold's actions_detail) and its own pages (get_urls beyond Django's), and the
add pages that start work (a billing run, a payment). Each must be either a daily action,
with the fleet API route that does the same (which must resolve and answer the method), or
set apart here with the reason it is not one. A new admin action or page that is neither
fails the suite, as does a twin whose route is gone."""

from dataclasses import dataclass

from django.contrib import admin
from django.urls import NoReverseMatch, resolve, reverse

from tests.core.test_admin_writes_through_services import superuser_request


@dataclass(frozen=True)
class Twin:
    """The fleet API route doing what an admin action does: its URL name and HTTP method."""

    url_name: str
    method: str = "post"
    detail: bool = True


# "<app_label>.<model_name>:<action, detail action, page or add>" -> its twin in the API.
DAILY_ACTION_TWINS: dict[str, Twin] = {
    # Assign a vehicle to a driver, closing the previous assignment.
    "vehicles.vehicle:reassign": Twin("fleet-vehicle-reassign"),
    "vehicles.vehicle:reassign_driver": Twin("fleet-vehicle-reassign"),
    # Suspend or reactivate a driver; a driver who leaves.
    "drivers.driver:suspend": Twin("fleet-driver-suspend"),
    "drivers.driver:reactivate": Twin("fleet-driver-reactivate"),
    "drivers.driver:mark_left": Twin("fleet-driver-leave"),
    # Block a token.
    "drivers.chargetoken:block": Twin("fleet-charge-token-block"),
    "drivers.chargetoken:deactivate": Twin("fleet-charge-token-deactivate"),
    # Approve or reject home sessions.
    "charging.chargingsession:approve_home_sessions": Twin("fleet-session-approve-home"),
    "charging.chargingsession:reject_home_sessions": Twin("fleet-session-reject-home"),
    # Start a billing run and watch it.
    "payments.billingrun:add": Twin("fleet-billing-run-list", detail=False),
    "payments.billingrun:payments_billingrun_start_run": Twin(
        "fleet-billing-run-list", detail=False
    ),
    "payments.billingrun:payments_billingrun_progress": Twin(
        "fleet-billing-run-detail", method="get"
    ),
    "payments.billingrun:resume_runs": Twin("fleet-billing-run-resume"),
    # Issue a credit note (the invoice's page), and issue drafts.
    "payments.invoice:payments_invoice_credit_note": Twin("fleet-credit-note-list", detail=False),
    "payments.invoice:issue_drafts": Twin("fleet-invoice-issue"),
    # Approve (or reject) reimbursements, and record their payout.
    "payments.reimbursement:approve": Twin("fleet-reimbursement-approve"),
    "payments.reimbursement:reject": Twin("fleet-reimbursement-reject"),
    "payments.reimbursement:mark_paid": Twin("fleet-reimbursement-mark-paid"),
    # Record a payment.
    "payments.payment:add": Twin("fleet-payment-list", detail=False),
    # Tariffs and payroll deductions, which the API also changes.
    "charging.tariff:deactivate_tariffs": Twin("fleet-tariff-deactivate"),
    "charging.tariff:activate_tariffs": Twin("fleet-tariff-activate"),
    "payments.payrolldeduction:record_runs": Twin("fleet-payroll-deduction-record"),
    "payments.payrolldeduction:cancel_deductions": Twin("fleet-payroll-deduction-cancel"),
    "fleets.fleetapikey:revoke": Twin("fleet-api-key-revoke"),
    "fleets.invitation:revoke": Twin("fleet-invitation-revoke"),
}

# The issue's daily actions, each with the admin entries that do it.
ISSUE_DAILY_ACTIONS = {
    "assign a vehicle, closing the previous assignment": ["vehicles.vehicle:reassign_driver"],
    "suspend a driver": ["drivers.driver:suspend"],
    "reactivate a driver": ["drivers.driver:reactivate"],
    "block a token": ["drivers.chargetoken:block"],
    "approve home sessions": ["charging.chargingsession:approve_home_sessions"],
    "reject home sessions": ["charging.chargingsession:reject_home_sessions"],
    "start a billing run": ["payments.billingrun:add"],
    "watch a billing run": ["payments.billingrun:payments_billingrun_progress"],
    "issue a credit note": ["payments.invoice:payments_invoice_credit_note"],
    "approve reimbursements": ["payments.reimbursement:approve"],
    "record a payment": ["payments.payment:add"],
}

# Admin actions and pages that are not daily actions, each with why.
NOT_DAILY_ACTIONS: dict[str, str] = {
    "charging.chargingstation:reset_soft": "an operation on chargers over OCPP, not a fleet's "
    "record; automation sends it with manage.py ocpp_call",
    "charging.chargingstation:make_operative": "an operation on chargers over OCPP; "
    "automation sends ChangeAvailability with manage.py ocpp_call",
    "charging.chargingstation:make_inoperative": "an operation on chargers over OCPP; "
    "automation sends ChangeAvailability with manage.py ocpp_call",
    "charging.chargingstation:trigger_status": "an operation on chargers over OCPP; "
    "automation sends TriggerMessage with manage.py ocpp_call",
    "charging.chargingstation:charging_chargingstation_unassigned": "set-up by a superuser: "
    "assigning a charger no fleet knows to a fleet",
    "charging.tariff:export_ocpi": "reads: a download of the selected tariffs",
    "charging.tariff:charging_tariff_import": "set-up: a tariff imported from an OCPI file",
    "charging.tariff:charging_tariff_preview": "reads: a tariff's prices shown before saving",
    "charging.chargingsession:price_again": "a repair after a tariff is fixed, which the "
    "pricing sweep also does; the API corrects one session (correct)",
    "charging.chargingsession:export_cdr": "reads: a download of the selected sessions",
    "charging.chargingsession:export_selection": "reads: a CSV of the selected rows",
    "charging.chargingsession:charging_chargingsession_import": "a file upload of public "
    "sessions, an import rather than a daily action",
    "charging.chargingsession:charging_chargingsession_meter_photo": "reads: the photo, also "
    "at fleet-session-meter-photo",
    "payments.invoice:export_selection": "reads: a CSV of the selected rows",
    "payments.invoice:payments_invoice_document": "reads: the invoice as HTML",
    "payments.invoice:payments_invoice_pdf": "reads: the invoice as PDF, also at fleet-invoice-pdf",
    "payments.creditnote:payments_creditnote_document": "reads: the credit note as HTML",
    "payments.creditnote:payments_creditnote_pdf": "reads: the credit note as PDF",
    "payments.statement:payments_statement_page": "reads: a statement's page",
    "payments.statement:payments_statement_pdf": "reads: a statement as PDF",
    "payments.reimbursement:export_selection": "reads: a CSV of the selected rows",
    "payments.reimbursement:pay_by_sepa": "a SEPA payout file for the bank, made and "
    "downloaded in the admin only",
    "payments.payoutbatch:execute": "a SEPA payout file for the bank, admin only",
    "payments.payoutbatch:cancel": "a SEPA payout file for the bank, admin only",
    "payments.payoutbatch:payments_payoutbatch_file": "reads: the SEPA file",
    "exports.exportmanifest:exports_export": "reads: the export page, whose API is fleet-export",
    "exports.exportmanifest:exports_exportmanifest_download": "reads: an export's file",
    "otp_totp.totpdevice:otp_totp_totpdevice_config": "django-otp's own page: a user's "
    "authenticator set-up",
    "otp_totp.totpdevice:otp_totp_totpdevice_qrcode": "django-otp's own page: a QR code",
}

# The pages every ModelAdmin has, left out of the walk.
DJANGO_PAGE_SUFFIXES = ("_changelist", "_add", "_history", "_delete", "_change")
DJANGO_ACTIONS = frozenset({"delete_selected"})


def admin_entries(site) -> set[str]:
    """Each action, object-page button and own page of each admin registered on `site`."""
    entries = set()
    for model, model_admin in site._registry.items():
        label = model._meta.label_lower
        actions = set(model_admin.actions or ()) | set(
            getattr(model_admin, "actions_detail", ()) or ()
        )
        entries |= {f"{label}:{name}" for name in actions - DJANGO_ACTIONS}
        detail_urls = {
            f"{model._meta.app_label}_{model._meta.model_name}_{name}"
            for name in getattr(model_admin, "actions_detail", ()) or ()
        }
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None)
            if name and name not in detail_urls and not name.endswith(DJANGO_PAGE_SUFFIXES):
                entries.add(f"{label}:{name}")
    return entries


def unclassified(entries: set[str], twins: dict, set_apart: dict) -> list[str]:
    """The admin entries neither twinned nor set apart."""
    return sorted(entries - set(twins) - set(set_apart))


def stale(entries: set[str], twins: dict, set_apart: dict) -> list[str]:
    """The twins and exemptions of admin entries (or add pages) that no longer exist."""
    named = set(twins) | set(set_apart)
    return sorted(key for key in named - entries - add_pages(admin.site))


def unresolved(twins: dict[str, Twin]) -> list[str]:
    """The twins whose route does not resolve or does not answer their method."""
    problems = []
    for key, twin in sorted(twins.items()):
        try:
            url = reverse(twin.url_name, kwargs={"pk": 1} if twin.detail else None)
        except NoReverseMatch:
            problems.append(f"{key}: no route named {twin.url_name}")
            continue
        methods = getattr(resolve(url).func, "actions", {}) or {}
        if twin.method not in methods:
            problems.append(f"{key}: {url} does not answer {twin.method.upper()}")
    return problems


def test_every_admin_action_and_page_is_a_twinned_daily_action_or_set_apart_with_why():
    entries = admin_entries(admin.site)

    assert unclassified(entries, DAILY_ACTION_TWINS, NOT_DAILY_ACTIONS) == []
    assert stale(entries, DAILY_ACTION_TWINS, NOT_DAILY_ACTIONS) == []
    assert set(DAILY_ACTION_TWINS).isdisjoint(NOT_DAILY_ACTIONS)


def test_every_twin_route_resolves_and_answers_its_method():
    assert unresolved(DAILY_ACTION_TWINS) == []


def add_pages(site) -> set[str]:
    """The add pages of `site`'s admins a superuser may use ("<model>:add")."""
    request = superuser_request()
    return {
        f"{model._meta.label_lower}:add"
        for model, model_admin in site._registry.items()
        if model_admin.has_add_permission(request)
    }


def test_each_daily_action_of_the_issue_is_in_the_admin_and_has_its_twin():
    entries = admin_entries(admin.site) | add_pages(admin.site)

    missing = [
        f"{action}: {key}"
        for action, keys in ISSUE_DAILY_ACTIONS.items()
        for key in keys
        if key not in DAILY_ACTION_TWINS or key not in entries
    ]

    assert missing == []
    assert {"payments.billingrun:add", "payments.payment:add"} <= entries


def test_an_admin_action_without_a_twin_or_a_reason_is_caught():
    entries = {"drivers.driver:suspend", "drivers.driver:send_flowers"}

    assert unclassified(entries, {"drivers.driver:suspend": Twin("x")}, {}) == [
        "drivers.driver:send_flowers"
    ]


def test_a_twin_whose_route_is_gone_or_answers_another_method_is_caught():
    twins = {
        "drivers.driver:suspend": Twin("fleet-driver-suspend"),
        "drivers.driver:gone": Twin("fleet-driver-send-flowers"),
        "drivers.driver:wrong_method": Twin("fleet-driver-suspend", method="delete"),
    }

    assert unresolved(twins) == [
        "drivers.driver:gone: no route named fleet-driver-send-flowers",
        "drivers.driver:wrong_method: /api/v1/fleet/drivers/1/suspend/ does not answer DELETE",
    ]


def test_a_twin_or_reason_left_for_an_action_that_is_gone_is_caught():
    assert stale(set(), {"drivers.driver:gone": Twin("x")}, {"drivers.driver:old": "why"}) == [
        "drivers.driver:gone",
        "drivers.driver:old",
    ]
