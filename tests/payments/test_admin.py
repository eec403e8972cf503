"""Admin of the payments app, for a fleet's finance people: starting and following billing runs,
invoices with their HTML and PDF, credit notes, payments, reimbursement decisions and payouts,
statements
and cost allocations; who may do what, and that no page shows another fleet's rows."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.charging.choices import EnergySource, HomeApproval, LocationKind, SessionPurpose
from apps.charging.models import ChargingSession
from apps.fleets.choices import BillingPeriodKind, MembershipRole
from apps.payments import services
from apps.payments.choices import (
    BillingRunStatus,
    InvoiceStatus,
    LeftOutReason,
    PaymentMethod,
    ReimbursementStatus,
)
from apps.payments.documents import money_text, statement_html
from apps.payments.models import (
    BillingRun,
    CostAllocation,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    Reimbursement,
    Statement,
)
from apps.payments.selectors import invoice_balance
from tests.factories import (
    CostCenterFactory,
    DriverFactory,
    DriverUserFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    VehicleFactory,
)
from tests.html_tables import object_tools, table_rows
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FINANCE, ADMIN, MANAGER, VIEWER = (
    MembershipRole.FINANCE,
    MembershipRole.ADMIN,
    MembershipRole.MANAGER,
    MembershipRole.VIEWER,
)

RUN_ADD = reverse("admin:payments_billingrun_add")
RUN_LIST = reverse("admin:payments_billingrun_changelist")
INVOICE_LIST = reverse("admin:payments_invoice_changelist")
REIMBURSEMENT_LIST = reverse("admin:payments_reimbursement_changelist")
ALLOCATION_LIST = reverse("admin:payments_costallocation_changelist")
PAYMENT_ADD = reverse("admin:payments_payment_add")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now(time_machine):
    """22 November 2026: October is billable, November is not over; numbers are of 2026."""
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def fleet():
    return FleetFactory(name="Fleet A", slug="fleet-a")  # Europe/Amsterdam, EUR, 21 % VAT


@pytest.fixture
def other_fleet():
    return FleetFactory(name="Fleet B", slug="fleet-b")


@pytest.fixture
def driver(fleet):
    return DriverFactory(
        fleet=fleet,
        first_name="Sanne",
        last_name="Visser",
        employee_number="E100",
        cost_center=CostCenterFactory(fleet=fleet, code="SALES", name="Sales"),
    )


def login(client, *fleet_roles):
    """Log in a staff user with each given (fleet, role) membership."""
    user = StaffUserFactory()
    for member_fleet, role in fleet_roles:
        MembershipFactory(user=user, fleet=member_fleet, role=role)
    client.force_login(user)
    return user


def october_sessions_create(driver, *, private_sessions: int = 1) -> None:
    """October 2026 of one driver: private depot charging at 6.00 + 1.26 VAT per session
    (5 October, 09:00 in Amsterdam, then a day later each), business depot charging at
    10.00 + 2.10 VAT in the vehicle EV-<employee number>, and 20 kWh of approved business
    charging at home at 0.25 per kWh, its energy entered by the driver."""
    for day in range(private_sessions):
        priced_session_create(driver=driver, started_at=utc(2026, 10, 5 + day, 7))
    priced_session_create(
        driver=driver,
        vehicle=VehicleFactory(fleet=driver.fleet, plate=f"EV-{driver.employee_number}"),
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 12, 7),
        price_excl_vat=D("10.00"),
        price_vat=D("2.10"),
    )
    priced_session_create(
        driver=driver,
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 13, 18),
        price_excl_vat=D("5.00"),
        energy_source=EnergySource.ENTERED,
    )


def bill(fleet, label: str, capture) -> BillingRun:
    """Bill `fleet` for `label` through the services, its queued work run to the end."""
    with capture(execute=True):
        run, _ = services.billing_run_start(
            fleet=fleet, period=services.billing_period_for(fleet=fleet, label=label)
        )
    run.refresh_from_db()
    return run


@pytest.fixture
def billed(fleet, driver, django_capture_on_commit_callbacks) -> BillingRun:
    """Fleet A billed for October 2026: one invoice of 7.26, a business cost of 10.00, a home
    reimbursement of 5.00."""
    october_sessions_create(driver)
    return bill(fleet, "2026-10", django_capture_on_commit_callbacks)


@pytest.fixture
def other_billed(other_fleet, django_capture_on_commit_callbacks) -> BillingRun:
    october_sessions_create(DriverFactory(fleet=other_fleet))
    return bill(other_fleet, "2026-10", django_capture_on_commit_callbacks)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def action(client, changelist: str, name: str, selected, **data):
    return client.post(
        changelist, {"action": name, "_selected_action": [obj.pk for obj in selected], **data}
    )


def offered_actions(client, model) -> set[str]:
    response = client.get(reverse(f"admin:payments_{model._meta.model_name}_changelist"))
    return set(admin.site._registry[model].get_actions(response.wsgi_request))


# -- billing runs: starting one ------------------------------------------------------------------


def test_finance_starts_billing_a_period_and_the_run_works_once_the_page_commits(
    client, fleet, driver, django_capture_on_commit_callbacks
):
    october_sessions_create(driver)
    user = login(client, (fleet, FINANCE))

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(RUN_ADD, {"fleet": fleet.pk, "period": "2026-10"})

    run = BillingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:payments_billingrun_change", args=[run.pk])
    assert messages_of(response) == ["Billing Fleet A for 2026-10 is under way."]
    assert (run.fleet, run.period_label, run.status, run.requested_by) == (
        fleet,
        "2026-10",
        BillingRunStatus.PENDING,
        user,
    )
    assert len(queued) == 1
    with django_capture_on_commit_callbacks(execute=True):
        queued[0]()
    run.refresh_from_db()
    assert (run.status, run.units_done, run.units_total, run.invoice_count) == (
        BillingRunStatus.COMPLETED,
        1,
        1,
        1,
    )
    assert (run.invoiced_total, run.allocated_total, run.reimbursed_total) == (
        D("7.26"),
        D("10.00"),
        D("5.00"),
    )


def test_a_weekly_fleet_is_billed_for_an_iso_week_from_local_midnight(client):
    fleet = FleetFactory(billing_period=BillingPeriodKind.WEEKLY)
    login(client, (fleet, ADMIN))

    response = client.post(RUN_ADD, {"fleet": fleet.pk, "period": "2026-W44"})

    assert response.status_code == 302
    run = BillingRun.objects.get()
    # Monday 26 October 2026, 00:00 in Amsterdam (winter time since the 25th) is 23:00 UTC.
    assert (run.period_kind, run.period_start, run.period_end) == (
        BillingPeriodKind.WEEKLY,
        utc(2026, 10, 25, 23),
        utc(2026, 11, 1, 23),
    )


@pytest.mark.parametrize(
    ("period", "error"),
    [
        ("2026-W44", "'2026-W44' is not a month such as 2026-10."),
        ("2026-13", "'2026-13' is not a month such as 2026-10."),
        (
            "2026-11",
            "The period 2026-11 ends on 2026-12-01 at midnight; it can be billed from then on.",
        ),
    ],
    ids=["weekly label for a monthly fleet", "no such month", "period not ended"],
)
def test_a_period_that_cannot_be_billed_is_refused_on_the_period_and_starts_nothing(
    client, fleet, driver, period, error, django_capture_on_commit_callbacks
):
    october_sessions_create(driver)
    login(client, (fleet, FINANCE))

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(RUN_ADD, {"fleet": fleet.pk, "period": period})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"period": [error]}
    assert not BillingRun.objects.exists()
    assert queued == []


def test_starting_a_period_billed_already_shows_its_run_and_starts_no_other(client, fleet, billed):
    login(client, (fleet, FINANCE))

    response = client.post(RUN_ADD, {"fleet": fleet.pk, "period": "2026-10"})

    assert response["Location"] == reverse("admin:payments_billingrun_change", args=[billed.pk])
    assert messages_of(response) == ["Fleet A is billed for 2026-10 already: this is its run."]
    assert list(BillingRun.objects.all()) == [billed]
    assert Invoice.objects.count() == 1


def test_start_page_offers_the_fleets_where_the_user_runs_billing(client, fleet, other_fleet):
    managed, viewed = FleetFactory(), FleetFactory()
    login(client, (fleet, FINANCE), (other_fleet, ADMIN), (managed, MANAGER), (viewed, VIEWER))

    response = client.get(RUN_ADD)

    offered = response.context["adminform"].form.fields["fleet"].queryset
    assert set(offered) == {fleet, other_fleet}


def test_starting_billing_in_a_fleet_the_user_manages_only_is_refused(client, fleet, other_fleet):
    login(client, (fleet, FINANCE), (other_fleet, MANAGER))

    response = client.post(RUN_ADD, {"fleet": other_fleet.pk, "period": "2026-10"})

    assert response.context["adminform"].form.errors == {
        "fleet": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert not BillingRun.objects.exists()


@pytest.mark.parametrize("role", [MANAGER, VIEWER])
def test_managers_and_viewers_cannot_start_billing(client, fleet, role):
    login(client, (fleet, role))

    page = client.get(RUN_ADD)
    post = client.post(RUN_ADD, {"fleet": fleet.pk, "period": "2026-10"})

    assert (page.status_code, post.status_code) == (403, 403)
    assert not BillingRun.objects.exists()


# -- billing runs: following, resuming, never editing ------------------------------------------


@pytest.fixture
def pending_run(fleet, driver, django_capture_on_commit_callbacks) -> BillingRun:
    """October started, its work queued and not run yet."""
    october_sessions_create(driver)
    with django_capture_on_commit_callbacks():
        run, _ = services.billing_run_start(
            fleet=fleet, period=services.billing_period_for(fleet=fleet, label="2026-10")
        )
    return run


@pytest.mark.parametrize("page", ["changelist", "change"])
def test_pages_of_a_working_run_follow_its_progress_with_the_script(
    client, fleet, pending_run, page
):
    login(client, (fleet, VIEWER))
    args = [pending_run.pk] if page == "change" else []

    response = client.get(reverse(f"admin:payments_billingrun_{page}", args=args))

    content = response.content.decode()
    assert '<script src="/static/payments/billing_run_progress.js"></script>' in content
    progress_url = reverse("admin:payments_billingrun_progress", args=[pending_run.pk])
    assert (
        f'<span class="billing-run-progress" data-progress-url="{progress_url}" '
        'data-status="pending">-</span>'
    ) in content


def test_progress_reports_the_units_of_a_run_as_it_works(
    client, fleet, pending_run, django_capture_on_commit_callbacks
):
    login(client, (fleet, VIEWER))
    progress_url = reverse("admin:payments_billingrun_progress", args=[pending_run.pk])

    before = client.get(progress_url).json()
    with django_capture_on_commit_callbacks(execute=True):
        services.billing_run_resume(run=pending_run)
    after = client.get(progress_url).json()

    assert before == {
        "id": pending_run.pk,
        "status": "pending",
        "units_done": 0,
        "units_total": 0,
        "error": "",
    }
    assert after == {
        "id": pending_run.pk,
        "status": "completed",
        "units_done": 1,
        "units_total": 1,
        "error": "",
    }


def test_run_page_shows_its_units_read_only_and_links_to_what_it_made(client, fleet, billed):
    login(client, (fleet, FINANCE))

    response = client.get(reverse("admin:payments_billingrun_change", args=[billed.pk]))

    units, left_out = response.context["inline_admin_formsets"]
    assert [form.instance.number for form in units.formset.forms] == [1]
    assert (units.has_add_permission, units.has_change_permission) == (False, False)
    assert [form.instance.pk for form in left_out.formset.forms] == []
    assert (
        left_out.has_add_permission,
        left_out.has_change_permission,
        left_out.has_delete_permission,
    ) == (False, False, False)
    content = response.content.decode()
    invoices_url = reverse("admin:payments_invoice_changelist")
    assert f'<a href="{invoices_url}?billing_run__id__exact={billed.pk}">Invoices</a>' in content
    assert response.context["has_change_permission"] is False


def test_run_page_accounts_for_every_session_of_the_period(
    client, fleet, driver, django_capture_on_commit_callbacks
):
    october_sessions_create(driver)
    priced_session_create(driver=driver, started_at=utc(2026, 9, 20, 7))
    pending_home = priced_session_create(
        driver=driver,
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        home_approval=HomeApproval.PENDING,
        started_at=utc(2026, 10, 20, 17),
    )
    unpriced = priced_session_create(driver=driver, started_at=utc(2026, 10, 21, 7))
    ChargingSession.objects.filter(pk=unpriced.pk).update(
        price_excl_vat=None, price_vat=None, price_incl_vat=None, unpriced_reason="no_tariff"
    )
    run = bill(fleet, "2026-10", django_capture_on_commit_callbacks)
    login(client, (fleet, VIEWER))

    response = client.get(reverse("admin:payments_billingrun_change", args=[run.pk]))

    content = response.content.decode()
    assert (
        "2 invoiced, 1 allocated to cost centers, 1 reimbursed; 1 of them ended in earlier periods"
        in content
    )
    assert table_rows(response, class_="billing-run-left-out") == [
        ["Home claim awaiting approval", "1"],
        ["No price: no tariff applies", "1"],
    ]
    _units, left_out = response.context["inline_admin_formsets"]
    assert [
        (form.instance.session_id, form.instance.reason) for form in left_out.formset.forms
    ] == [
        (pending_home.pk, LeftOutReason.HOME_PENDING),
        (unpriced.pk, LeftOutReason.NO_TARIFF),
    ]


def test_resume_takes_up_a_failed_run_and_reports_a_completed_one_by_itself(
    client, fleet, pending_run, django_capture_on_commit_callbacks
):
    completed = bill(fleet, "2026-09", django_capture_on_commit_callbacks)
    services.billing_run_fail(run_id=pending_run.pk, error="OperationalError: server closed")
    completed_before = BillingRun.objects.values().get(pk=completed.pk)
    login(client, (fleet, FINANCE))

    with django_capture_on_commit_callbacks(execute=True):
        response = action(client, RUN_LIST, "resume_runs", [pending_run, completed])

    assert messages_of(response) == [
        "1 billing run resumed, 1 refused: Fleet A 2026-09: The run is completed; there is "
        "nothing to resume."
    ]
    pending_run.refresh_from_db()
    assert (pending_run.status, pending_run.error) == (BillingRunStatus.COMPLETED, "")
    assert BillingRun.objects.values().get(pk=completed.pk) == completed_before


@pytest.mark.parametrize("role", [MANAGER, VIEWER])
def test_resume_is_not_offered_to_managers_and_viewers_and_their_post_changes_nothing(
    client, fleet, pending_run, role
):
    services.billing_run_fail(run_id=pending_run.pk, error="boom")
    login(client, (fleet, role))

    response = action(client, RUN_LIST, "resume_runs", [pending_run])

    assert "resume_runs" not in offered_actions(client, BillingRun)
    assert (response.status_code, messages_of(response)) == (200, [])
    pending_run.refresh_from_db()
    assert pending_run.status == BillingRunStatus.FAILED


def test_runs_are_never_changed_or_deleted_by_hand(client, fleet, billed):
    login(client, (fleet, ADMIN))
    change_url = reverse("admin:payments_billingrun_change", args=[billed.pk])

    change = client.post(change_url, {"fleet": fleet.pk, "period_label": "2026-09"})
    delete = client.post(reverse("admin:payments_billingrun_delete", args=[billed.pk]))

    assert (change.status_code, delete.status_code) == (403, 403)
    assert "delete_selected" not in offered_actions(client, BillingRun)
    billed.refresh_from_db()
    assert billed.period_label == "2026-10"


# -- invoices --------------------------------------------------------------------------------


def result_rows(response) -> list[list[str]]:
    return table_rows(response, id="result_list")[1:]


def test_invoice_list_shows_number_driver_period_status_gross_paid_and_balance(
    client, fleet, billed
):
    invoice = Invoice.objects.get()
    services.payment_record(
        invoice=invoice,
        amount=D("3.00"),
        currency="EUR",
        method=PaymentMethod.BANK_TRANSFER,
        idempotency_key="part",
        received_at=NOW,
    )
    login(client, (fleet, VIEWER))

    response = client.get(INVOICE_LIST)

    header = table_rows(response, id="result_list")[0]
    assert [re.sub(r"^\d+ ", "", label) for label in header] == [  # without sort priorities
        "Number",
        "Driver",
        "Period",
        "Status",
        "Gross",
        "Paid",
        "Due / overpaid",
    ]
    assert result_rows(response) == [
        [
            "VT-2026-000001",
            "Sanne Visser (E100)",
            "2026-10",
            "Issued",
            "7.26 EUR",
            "3.00 EUR",
            "4.26 EUR due",
        ]
    ]
    assert invoice_balance(invoice=invoice).due == D("4.26")


def test_invoice_list_shows_an_invoice_paid_and_credited_as_overpaid(client, fleet, billed):
    invoice = Invoice.objects.get()
    services.payment_record(
        invoice=invoice,
        amount=D("7.26"),
        currency="EUR",
        method=PaymentMethod.CARD,
        idempotency_key="whole",
        received_at=NOW,
    )
    services.credit_note_issue(invoice=invoice, reason="Charged twice")
    login(client, (fleet, VIEWER))

    response = client.get(INVOICE_LIST)

    assert result_rows(response)[0][3:] == ["Paid", "7.26 EUR", "7.26 EUR", "7.26 EUR overpaid"]
    assert invoice_balance(invoice=invoice).overpaid == D("7.26")


def draft_invoice_create(driver, *, day: int = 2) -> Invoice:
    """A draft for one private session of November, as a run leaves it before it is issued."""
    session = priced_session_create(driver=driver, started_at=utc(2026, 11, day, 7))
    draft = Invoice.objects.create(
        fleet=driver.fleet,
        driver=driver,
        currency="EUR",
        period_start=utc(2026, 10, 31, 23),
        period_end=utc(2026, 11, 30, 23),
        net_total=D("6.00"),
        vat_total=D("1.26"),
        gross_total=D("7.26"),
    )
    InvoiceLine.objects.create(
        invoice=draft,
        session=session,
        position=1,
        description="Depot charging, 2026-11-02 08:00",
        quantity_kwh=D("20.000"),
        unit_price=D("0.30000"),
        net=D("6.00"),
        vat_rate=D("21.00"),
        vat=D("1.26"),
        gross=D("7.26"),
    )
    return draft


def test_issue_action_numbers_a_draft_and_reports_an_issued_invoice_by_itself(
    client, fleet, driver, billed
):
    issued = Invoice.objects.get()
    issued_before = Invoice.objects.values().get(pk=issued.pk)
    draft = draft_invoice_create(driver)
    login(client, (fleet, FINANCE))

    response = action(client, INVOICE_LIST, "issue_drafts", [draft, issued])

    assert messages_of(response) == [
        "1 invoice issued, 1 refused: VT-2026-000001: Invoice VT-2026-000001 is already "
        "issued; correct it with a credit note."
    ]
    draft.refresh_from_db()
    assert (draft.number, draft.status, draft.issued_at) == (
        "VT-2026-000002",
        InvoiceStatus.ISSUED,
        NOW,
    )
    assert Invoice.objects.values().get(pk=issued.pk) == issued_before


@pytest.mark.parametrize("role", [MANAGER, VIEWER])
def test_issue_action_is_not_offered_to_managers_and_viewers(client, fleet, driver, role):
    draft = draft_invoice_create(driver)
    login(client, (fleet, role))

    response = action(client, INVOICE_LIST, "issue_drafts", [draft])

    assert "issue_drafts" not in offered_actions(client, Invoice)
    assert (response.status_code, messages_of(response)) == (200, [])
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.DRAFT


@pytest.mark.parametrize(
    ("role", "tools"),
    [
        (FINANCE, ["View as HTML", "Download PDF", "Issue a credit note", "Record a payment"]),
        (MANAGER, ["View as HTML", "Download PDF"]),
        (VIEWER, ["View as HTML", "Download PDF"]),
    ],
)
def test_invoice_page_is_read_only_and_offers_what_the_role_may_do(
    client, fleet, billed, role, tools
):
    invoice = Invoice.objects.get()
    login(client, (fleet, role))

    response = client.get(reverse("admin:payments_invoice_change", args=[invoice.pk]))

    assert response.context["has_change_permission"] is False
    assert object_tools(response)[: len(tools)] == tools
    assert object_tools(response)[len(tools) :] == ["History"]
    lines, credit_notes, payments, refunds = response.context["inline_admin_formsets"]
    assert [form.instance.description for form in lines.formset.forms] == [
        "Depot charging, 2026-10-05 09:00"
    ]
    assert [field["name"] for field in lines.fields()] == [
        "position",
        "description",
        "quantity_kwh",
        "unit_price",
        "net",
        "vat_rate",
        "credited_in",
    ]
    assert not any(
        inline.has_change_permission or inline.has_add_permission
        for inline in (lines, credit_notes, payments, refunds)
    )


def test_invoice_as_html_is_the_invoice_document(client, fleet, billed):
    invoice = Invoice.objects.get()
    login(client, (fleet, VIEWER))

    response = client.get(reverse("admin:payments_invoice_document", args=[invoice.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "<title>Invoice VT-2026-000001 · Fleet A</title>" in content
    assert "Depot charging, 2026-10-05 09:00" in content


def test_invoice_pdf_downloads_under_the_invoice_number(client, fleet, billed):
    invoice = Invoice.objects.get()
    login(client, (fleet, VIEWER))

    response = client.get(reverse("admin:payments_invoice_pdf", args=[invoice.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="VT-2026-000001.pdf"'
    assert response.content.startswith(b"%PDF-")


# -- credit notes ----------------------------------------------------------------------------


@pytest.fixture
def two_line_invoice(fleet, driver, django_capture_on_commit_callbacks) -> Invoice:
    """October billed with two private sessions: lines 1 and 2 of 7.26 each, 14.52 in all."""
    october_sessions_create(driver, private_sessions=2)
    bill(fleet, "2026-10", django_capture_on_commit_callbacks)
    return Invoice.objects.get()


def credit_note_url(invoice: Invoice) -> str:
    return reverse("admin:payments_invoice_credit_note", args=[invoice.pk])


def test_credit_note_page_ticks_the_lines_not_credited_yet(client, fleet, two_line_invoice):
    first, second = two_line_invoice.lines.order_by("position")
    services.credit_note_issue(
        invoice=two_line_invoice, reason="First charged twice", line_ids=[first.pk]
    )
    login(client, (fleet, FINANCE))

    response = client.get(credit_note_url(two_line_invoice))

    field = response.context["form"].fields["lines"]
    assert field.initial == [second.pk]
    assert [label for _value, label in field.choices] == [
        "1. Depot charging, 2026-10-05 09:00: 6.00 EUR excl. VAT at 21 % "
        "(credited in CN-2026-000001)",
        "2. Depot charging, 2026-10-06 09:00: 6.00 EUR excl. VAT at 21 %",
    ]


def test_credit_note_page_shows_a_part_payment_to_the_cent(client, fleet, two_line_invoice):
    services.payment_record(
        invoice=two_line_invoice,
        amount=D("3.43"),
        currency="EUR",
        method=PaymentMethod.BANK_TRANSFER,
        idempotency_key="part",
        received_at=NOW,
    )
    login(client, (fleet, FINANCE))

    response = client.get(credit_note_url(two_line_invoice))

    assert (
        "Invoice VT-2026-000001 of Sanne Visser (E100): 14.52 EUR, of which 0.00 credited and "
        "3.43 paid." in response.content.decode()
    )


def test_issuing_a_credit_note_for_one_line_credits_it_and_leaves_the_rest_due(
    client, fleet, two_line_invoice
):
    first, _second = two_line_invoice.lines.order_by("position")
    user = login(client, (fleet, FINANCE))

    response = client.post(
        credit_note_url(two_line_invoice),
        {"reason": "Charged for a colleague's session", "lines": [first.pk]},
    )

    credit_note = CreditNote.objects.get()
    assert response["Location"] == reverse(
        "admin:payments_creditnote_change", args=[credit_note.pk]
    )
    assert messages_of(response) == ["Issued credit note CN-2026-000001 for 7.26 EUR."]
    assert (credit_note.invoice, credit_note.gross_total, credit_note.issued_by) == (
        two_line_invoice,
        D("7.26"),
        user,
    )
    assert [line.invoice_line for line in credit_note.lines.all()] == [first]
    two_line_invoice.refresh_from_db()
    assert two_line_invoice.status == InvoiceStatus.ISSUED
    assert invoice_balance(invoice=two_line_invoice).due == D("7.26")


def test_crediting_a_line_credited_already_is_refused_on_the_lines_and_changes_nothing(
    client, fleet, two_line_invoice
):
    first, _second = two_line_invoice.lines.order_by("position")
    services.credit_note_issue(invoice=two_line_invoice, reason="Twice", line_ids=[first.pk])
    login(client, (fleet, FINANCE))

    response = client.post(
        credit_note_url(two_line_invoice), {"reason": "Again", "lines": [first.pk]}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "lines": ["These lines are already credited; a line is credited once."]
    }
    assert CreditNote.objects.count() == 1


def test_crediting_a_draft_is_refused_and_changes_nothing(client, fleet, driver):
    draft = draft_invoice_create(driver)
    login(client, (fleet, FINANCE))

    response = client.post(
        credit_note_url(draft), {"reason": "Wrong", "lines": [draft.lines.get().pk]}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"__all__": ["A draft invoice cannot be credited."]}
    assert not CreditNote.objects.exists()


def test_credit_note_without_a_reason_is_refused_and_changes_nothing(
    client, fleet, two_line_invoice
):
    login(client, (fleet, FINANCE))

    response = client.post(
        credit_note_url(two_line_invoice),
        {"reason": "  ", "lines": [line.pk for line in two_line_invoice.lines.all()]},
    )

    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert not CreditNote.objects.exists()


@pytest.mark.parametrize("role", [MANAGER, VIEWER])
def test_managers_and_viewers_cannot_issue_credit_notes(client, fleet, billed, role):
    invoice = Invoice.objects.get()
    login(client, (fleet, role))

    page = client.get(credit_note_url(invoice))
    post = client.post(
        credit_note_url(invoice), {"reason": "Wrong", "lines": [invoice.lines.get().pk]}
    )

    assert (page.status_code, post.status_code) == (403, 403)
    assert not CreditNote.objects.exists()


def test_credit_note_page_shows_its_lines_read_only(client, fleet, billed):
    invoice = Invoice.objects.get()
    credit_note = services.credit_note_issue(invoice=invoice, reason="Charged twice")
    login(client, (fleet, VIEWER))

    response = client.get(reverse("admin:payments_creditnote_change", args=[credit_note.pk]))

    (lines,) = response.context["inline_admin_formsets"]
    assert [(form.instance.net, form.instance.vat_rate) for form in lines.formset.forms] == [
        (D("6.00"), D("21.00"))
    ]
    assert [field["name"] for field in lines.fields()] == [
        "description",
        "net",
        "vat_rate",
    ]
    assert response.context["has_change_permission"] is False


def test_credit_note_page_links_its_html_and_pdf(client, fleet, billed):
    credit_note = services.credit_note_issue(invoice=Invoice.objects.get(), reason="Twice")
    login(client, (fleet, VIEWER))

    response = client.get(reverse("admin:payments_creditnote_change", args=[credit_note.pk]))

    content = response.content.decode()
    assert reverse("admin:payments_creditnote_pdf", args=[credit_note.pk]) in content
    assert reverse("admin:payments_creditnote_document", args=[credit_note.pk]) in content


def test_credit_note_pdf_downloads_under_its_number_for_the_fleets_admin(client, fleet, billed):
    credit_note = services.credit_note_issue(invoice=Invoice.objects.get(), reason="Twice")
    login(client, (fleet, ADMIN))

    response = client.get(reverse("admin:payments_creditnote_pdf", args=[credit_note.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="CN-2026-000001.pdf"'
    assert response.content.startswith(b"%PDF-")


def test_credit_note_as_html_is_its_document(client, fleet, billed):
    credit_note = services.credit_note_issue(invoice=Invoice.objects.get(), reason="Twice")
    login(client, (fleet, VIEWER))

    response = client.get(reverse("admin:payments_creditnote_document", args=[credit_note.pk]))

    assert response.status_code == 200
    assert "<h1>Credit note CN-2026-000001 for invoice VT-2026-000001</h1>" in (
        response.content.decode()
    )


@pytest.mark.parametrize("page", ["payments_creditnote_pdf", "payments_creditnote_document"])
def test_credit_note_documents_are_missing_for_another_fleets_user(
    client, fleet, other_fleet, billed, page
):
    credit_note = services.credit_note_issue(invoice=Invoice.objects.get(), reason="Twice")
    login(client, (other_fleet, ADMIN))

    response = client.get(reverse(f"admin:{page}", args=[credit_note.pk]))

    assert response.status_code == 404


# -- payments --------------------------------------------------------------------------------


def payment_payload(invoice: Invoice, **changes) -> dict:
    return {
        "fleet": invoice.fleet_id,
        "invoice": invoice.pk,
        "amount": "7.26",
        "method": PaymentMethod.BANK_TRANSFER,
        "received_at_0": "2026-11-20",
        "received_at_1": "10:00:00",
        "provider_reference": "NL-TRX-0001",
        "idempotency_key": "4c1f0e0e9d3a4a55b0f4c1d2e3f40001",
        **changes,
    }


def test_payment_form_offers_the_invoices_taking_payments_in_the_users_fleets(
    client, fleet, driver, billed, other_billed
):
    issued = Invoice.objects.get(fleet=fleet)
    paid = services.invoice_issue(invoice=draft_invoice_create(driver, day=2))
    services.payment_record(
        invoice=paid,
        amount=D("7.26"),
        currency="EUR",
        method=PaymentMethod.PAYROLL,
        idempotency_key="payroll",
        received_at=NOW,
    )
    voided = services.invoice_issue(invoice=draft_invoice_create(driver, day=3))
    services.credit_note_issue(invoice=voided, reason="Another driver's session")
    draft_invoice_create(driver, day=4)
    login(client, (fleet, FINANCE))

    response = client.get(PAYMENT_ADD)
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "payments", "model_name": "payment", "field_name": "invoice", "term": ""},
    )

    offered = set(response.context["adminform"].form.fields["invoice"].queryset)
    assert offered == {issued, paid}
    assert {int(result["id"]) for result in autocomplete.json()["results"]} == {
        issued.pk,
        paid.pk,
    }


def test_payment_form_carries_a_new_idempotency_key_each_time_it_is_shown(client, fleet):
    login(client, (fleet, FINANCE))

    first, second = client.get(PAYMENT_ADD), client.get(PAYMENT_ADD)

    keys = [page.context["adminform"].form.initial["idempotency_key"] for page in (first, second)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in keys)
    assert keys[0] != keys[1]
    assert (
        f'<input type="hidden" name="idempotency_key" value="{keys[0]}"' in first.content.decode()
    )
    assert first.context["adminform"].form.initial["fleet"] == fleet.pk


def test_recording_a_payment_in_full_settles_the_invoice(client, fleet, billed):
    invoice = Invoice.objects.get()
    user = login(client, (fleet, FINANCE))

    response = client.post(PAYMENT_ADD, payment_payload(invoice))

    assert response["Location"] == reverse("admin:payments_invoice_change", args=[invoice.pk])
    assert messages_of(response) == ["Recorded 7.26 EUR against invoice VT-2026-000001."]
    payment = Payment.objects.get()
    assert (
        payment.amount,
        payment.currency,
        payment.received_at,
        payment.recorded_by,
        payment.provider_reference,
    ) == (D("7.26"), "EUR", utc(2026, 11, 20, 9), user, "NL-TRX-0001")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_at) == (InvoiceStatus.PAID, NOW)


def test_a_payment_form_sent_twice_records_the_payment_once(client, fleet, billed):
    invoice = Invoice.objects.get()
    login(client, (fleet, FINANCE))

    client.post(PAYMENT_ADD, payment_payload(invoice, amount="3.00"))
    again = client.post(PAYMENT_ADD, payment_payload(invoice, amount="3.00"))

    assert again.status_code == 302
    assert messages_of(again)[-1:] == [
        "This payment of 3.00 EUR against invoice VT-2026-000001 was recorded already "
        "(the form was sent twice); it is recorded once."
    ]
    assert Payment.objects.count() == 1
    assert invoice_balance(invoice=invoice).paid == D("3.00")


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"amount": "0"}, {"amount": ["The amount must be more than zero."]}),
        ({"amount": "-1.00"}, {"amount": ["The amount must be more than zero."]}),
        (
            {"idempotency_key": "fleet-rows-used"},
            {
                "idempotency_key": [
                    "This idempotency key was used for a different payment; use a new key."
                ]
            },
        ),
        (
            {"received_at_0": "", "received_at_1": ""},
            {"received_at": ["This field is required."]},
        ),
    ],
    ids=["zero", "negative", "key used for another payment", "no date"],
)
def test_a_refused_payment_shows_why_on_the_field_and_records_nothing(
    client, fleet, billed, changes, errors
):
    invoice = Invoice.objects.get()
    services.payment_record(
        invoice=invoice,
        amount=D("1.00"),
        currency="EUR",
        method=PaymentMethod.CARD,
        idempotency_key="fleet-rows-used",
        received_at=NOW,
    )
    login(client, (fleet, FINANCE))

    response = client.post(PAYMENT_ADD, payment_payload(invoice, **changes))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert Payment.objects.count() == 1


def test_a_payment_against_another_fleets_invoice_is_refused_and_records_nothing(
    client, fleet, other_fleet, billed, other_billed
):
    other_invoice = Invoice.objects.get(fleet=other_fleet)
    login(client, (fleet, FINANCE), (other_fleet, FINANCE))

    response = client.post(PAYMENT_ADD, payment_payload(other_invoice, fleet=fleet.pk))

    assert response.context["adminform"].form.errors == {
        "invoice": ["The invoice is another fleet's."]
    }
    assert not Payment.objects.exists()


@pytest.mark.parametrize("role", [MANAGER, VIEWER])
def test_managers_and_viewers_cannot_record_payments(client, fleet, billed, role):
    login(client, (fleet, role))

    page = client.get(PAYMENT_ADD)
    post = client.post(PAYMENT_ADD, payment_payload(Invoice.objects.get()))

    assert (page.status_code, post.status_code) == (403, 403)
    assert not Payment.objects.exists()


def test_payments_are_never_changed_or_deleted_by_hand(client, fleet, billed):
    invoice = Invoice.objects.get()
    payment, _created = services.payment_record(
        invoice=invoice,
        amount=D("7.26"),
        currency="EUR",
        method=PaymentMethod.CARD,
        idempotency_key="card",
        received_at=NOW,
    )
    login(client, (fleet, ADMIN))

    change = client.post(
        reverse("admin:payments_payment_change", args=[payment.pk]),
        payment_payload(invoice, amount="1.00"),
    )
    delete = client.post(reverse("admin:payments_payment_delete", args=[payment.pk]))

    assert (change.status_code, delete.status_code) == (403, 403)
    payment.refresh_from_db()
    assert payment.amount == D("7.26")


# -- reimbursements --------------------------------------------------------------------------


@pytest.fixture
def two_reimbursements(fleet, driver, django_capture_on_commit_callbacks) -> list:
    """October billed for two drivers charging at home: 5.00 each, waiting for approval."""
    october_sessions_create(driver)
    october_sessions_create(DriverFactory(fleet=fleet, last_name="Bakker"))
    bill(fleet, "2026-10", django_capture_on_commit_callbacks)
    return list(Reimbursement.objects.order_by("pk"))


@pytest.mark.parametrize("role", [FINANCE, MANAGER, ADMIN])
def test_approving_marks_pending_reimbursements_approved_by_the_user(
    client, fleet, two_reimbursements, role
):
    user = login(client, (fleet, role))

    response = action(client, REIMBURSEMENT_LIST, "approve", two_reimbursements)

    assert messages_of(response) == ["2 reimbursements approved."]
    assert set(Reimbursement.objects.values_list("status", "decided_by", "decided_at")) == {
        (ReimbursementStatus.APPROVED, user.pk, NOW)
    }


def test_approving_a_decided_reimbursement_reports_it_by_itself_and_changes_it_not(
    client, fleet, two_reimbursements
):
    decided, pending = two_reimbursements
    services.reimbursement_decide(
        reimbursement=decided, approve=False, decided_by=None, note="Not a company car"
    )
    decided_before = Reimbursement.objects.values().get(pk=decided.pk)
    login(client, (fleet, MANAGER))

    response = action(client, REIMBURSEMENT_LIST, "approve", [decided, pending])

    assert messages_of(response) == [
        f"1 reimbursement approved, 1 refused: Reimbursement {decided.pk}: 5.00 EUR: The "
        "reimbursement is rejected, not pending."
    ]
    assert Reimbursement.objects.values().get(pk=decided.pk) == decided_before
    pending.refresh_from_db()
    assert pending.status == ReimbursementStatus.APPROVED


def test_rejecting_asks_why_on_a_confirmation_page_and_changes_nothing_yet(
    client, fleet, two_reimbursements
):
    login(client, (fleet, FINANCE))

    response = action(client, REIMBURSEMENT_LIST, "reject", two_reimbursements)

    assert response.status_code == 200
    assert response.templates[0].name == "admin/payments/reimbursement/reject.html"
    assert response.context["form"].is_bound is False
    assert set(response.context["reimbursements"]) == set(two_reimbursements)
    assert set(Reimbursement.objects.values_list("status", flat=True)) == {
        ReimbursementStatus.PENDING
    }


def test_rejecting_with_a_reason_rejects_with_that_note(client, fleet, two_reimbursements):
    user = login(client, (fleet, FINANCE))

    response = action(
        client,
        REIMBURSEMENT_LIST,
        "reject",
        two_reimbursements,
        post="yes",
        note="Home charger not approved by the fleet",
    )

    assert response.status_code == 302
    assert messages_of(response) == ["2 reimbursements rejected."]
    assert set(Reimbursement.objects.values_list("status", "decided_by", "decision_note")) == {
        (ReimbursementStatus.REJECTED, user.pk, "Home charger not approved by the fleet")
    }


def test_rejecting_without_a_reason_asks_again_and_changes_nothing(
    client, fleet, two_reimbursements
):
    login(client, (fleet, FINANCE))

    response = action(
        client, REIMBURSEMENT_LIST, "reject", two_reimbursements, post="yes", note="  "
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"note": ["This field is required."]}
    assert set(Reimbursement.objects.values_list("status", flat=True)) == {
        ReimbursementStatus.PENDING
    }


def test_viewers_are_offered_no_decision_and_their_post_changes_nothing(
    client, fleet, two_reimbursements
):
    login(client, (fleet, VIEWER))

    response = action(client, REIMBURSEMENT_LIST, "approve", two_reimbursements)

    assert offered_actions(client, Reimbursement) == set()
    assert (response.status_code, messages_of(response)) == (200, [])
    assert set(Reimbursement.objects.values_list("status", flat=True)) == {
        ReimbursementStatus.PENDING
    }


def test_a_decision_leaves_the_reimbursements_of_a_fleet_the_user_only_views(
    client, fleet, other_fleet, two_reimbursements, other_billed
):
    other = Reimbursement.objects.get(fleet=other_fleet)
    login(client, (fleet, MANAGER), (other_fleet, VIEWER))

    response = action(client, REIMBURSEMENT_LIST, "approve", [*two_reimbursements, other])

    assert messages_of(response) == [
        "2 reimbursements approved.",
        "1 reimbursement left unchanged: your role in their fleet does not allow this.",
    ]
    other.refresh_from_db()
    assert other.status == ReimbursementStatus.PENDING


def approve_all(reimbursements) -> None:
    for reimbursement in reimbursements:
        services.reimbursement_decide(
            reimbursement=reimbursement, approve=True, decided_by=None, now=utc(2026, 11, 2, 9)
        )


def test_marking_paid_asks_when_on_a_confirmation_page_and_changes_nothing_yet(
    client, fleet, two_reimbursements
):
    approve_all(two_reimbursements)
    login(client, (fleet, FINANCE))

    response = action(client, REIMBURSEMENT_LIST, "mark_paid", two_reimbursements)

    assert response.status_code == 200
    assert response.templates[0].name == "admin/payments/reimbursement/mark_paid.html"
    assert response.context["form"].is_bound is False
    assert set(Reimbursement.objects.values_list("status", flat=True)) == {
        ReimbursementStatus.APPROVED
    }


@pytest.mark.parametrize("role", [FINANCE, ADMIN])
def test_marking_paid_records_the_payout_in_the_users_time_zone(
    client, fleet, two_reimbursements, role
):
    approve_all(two_reimbursements)
    user = login(client, (fleet, role))

    response = action(
        client,
        REIMBURSEMENT_LIST,
        "mark_paid",
        two_reimbursements,
        post="yes",
        paid_at="2026-11-20T10:30",
    )

    assert response.status_code == 302
    assert messages_of(response) == ["2 reimbursements marked paid."]
    assert set(Reimbursement.objects.values_list("status", "paid_at", "paid_by", "amount")) == {
        (ReimbursementStatus.PAID, utc(2026, 11, 20, 9, 30), user.pk, D("5.00"))
    }
    page = client.get(
        reverse("admin:payments_reimbursement_change", args=[two_reimbursements[0].pk])
    )
    assert page.status_code == 200
    (payout,) = (fieldset for fieldset in page.context["adminform"] if fieldset.name == "Payout")
    assert [field for line in payout for field in line.fields] == ["paid_at", "paid_by"]


def test_marking_paid_reports_a_reimbursement_not_approved_by_itself(
    client, fleet, two_reimbursements
):
    pending, approved = two_reimbursements
    approve_all([approved])
    pending_before = Reimbursement.objects.values().get(pk=pending.pk)
    login(client, (fleet, FINANCE))

    response = action(
        client,
        REIMBURSEMENT_LIST,
        "mark_paid",
        two_reimbursements,
        post="yes",
        paid_at="2026-11-20T10:30",
    )

    assert messages_of(response) == [
        f"1 reimbursement marked paid, 1 refused: Reimbursement {pending.pk}: 5.00 EUR: The "
        "reimbursement is waiting for approval, not approved; only an approved reimbursement "
        "is paid."
    ]
    assert Reimbursement.objects.values().get(pk=pending.pk) == pending_before
    approved.refresh_from_db()
    assert approved.status == ReimbursementStatus.PAID


def test_marking_paid_without_a_moment_asks_again_and_changes_nothing(
    client, fleet, two_reimbursements
):
    approve_all(two_reimbursements)
    login(client, (fleet, FINANCE))

    response = action(
        client, REIMBURSEMENT_LIST, "mark_paid", two_reimbursements, post="yes", paid_at=""
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"paid_at": ["This field is required."]}
    assert set(Reimbursement.objects.values_list("status", flat=True)) == {
        ReimbursementStatus.APPROVED
    }


@pytest.mark.parametrize(
    ("role", "answer"),
    [(MANAGER, (302, ["No action selected."])), (VIEWER, (200, []))],
)
def test_managers_and_viewers_are_not_offered_the_payout_and_their_post_changes_nothing(
    client, fleet, two_reimbursements, role, answer
):
    approve_all(two_reimbursements)
    login(client, (fleet, role))

    response = action(
        client,
        REIMBURSEMENT_LIST,
        "mark_paid",
        two_reimbursements,
        post="yes",
        paid_at="2026-11-20T10:30",
    )

    assert "mark_paid" not in offered_actions(client, Reimbursement)
    assert (response.status_code, messages_of(response)) == answer
    assert set(Reimbursement.objects.values_list("status", flat=True)) == {
        ReimbursementStatus.APPROVED
    }


def test_marking_paid_leaves_a_fleet_where_the_user_only_manages(
    client, fleet, other_fleet, two_reimbursements, other_billed
):
    other = Reimbursement.objects.get(fleet=other_fleet)
    approve_all([*two_reimbursements, other])
    login(client, (fleet, FINANCE), (other_fleet, MANAGER))

    response = action(
        client,
        REIMBURSEMENT_LIST,
        "mark_paid",
        [*two_reimbursements, other],
        post="yes",
        paid_at="2026-11-20T10:30",
    )

    assert messages_of(response)[0] == "2 reimbursements marked paid."
    other.refresh_from_db()
    assert other.status == ReimbursementStatus.APPROVED


# -- statements and cost allocations -----------------------------------------------------------

SESSION_COLUMNS = ["Started", "Where", "Vehicle", "Energy (kWh)"]


# October as the `billed` fixture bills it, in Amsterdam time (07:00 UTC is 09:00 in summer).
BILLED_STATEMENT_SUMMARY = [
    ["What", "Sessions", "Amount"],
    ["Private charging: the driver owes", "1", "7.26"],
    ["Business charging: borne by the fleet (excl. VAT)", "1", "10.00"],
    ["Home charging: the fleet reimburses the driver", "1", "5.00"],
    ["Net: the driver pays the fleet 2.26 EUR.", "-2.26"],
]
BILLED_STATEMENT_PRIVATE = [
    [*SESSION_COLUMNS, "Excl. VAT", "VAT %", "VAT", "Charged to you"],
    ["2026-10-05 09:00", "Depot", "-", "20.000", "6.00", "21.00", "1.26", "7.26"],
]
BILLED_STATEMENT_BUSINESS = [
    [*SESSION_COLUMNS, "Excl. VAT", "Input VAT"],
    ["2026-10-12 09:00", "Depot", "EV-E100", "20.000", "10.00", "2.10"],
]
BILLED_STATEMENT_HOME = [
    [*SESSION_COLUMNS, "Refunded (no VAT)"],
    ["2026-10-13 20:00", "Home", "-", "20.000 (entered)", "5.00"],
]


def test_statement_page_shows_each_part_with_its_sessions_and_the_net(client, fleet, billed):
    statement = Statement.objects.get()
    login(client, (fleet, VIEWER))

    response = client.get(reverse("admin:payments_statement_page", args=[statement.pk]))

    assert response.status_code == 200
    assert table_rows(response, data_part="summary") == BILLED_STATEMENT_SUMMARY
    assert table_rows(response, data_part="private") == BILLED_STATEMENT_PRIVATE
    assert table_rows(response, data_part="business") == BILLED_STATEMENT_BUSINESS
    assert table_rows(response, data_part="home") == BILLED_STATEMENT_HOME
    content = response.content.decode()
    invoice_url = reverse("admin:payments_invoice_change", args=[statement.invoice_id])
    assert f'<a href="{invoice_url}">VT-2026-000001</a> (issued)' in content


class RenderedPage:
    def __init__(self, html: str) -> None:
        self.content = html.encode()


def test_the_statement_document_holds_the_parts_and_sessions_of_the_admin_page(billed):
    statement = Statement.objects.get()

    document = RenderedPage(statement_html(statement))

    assert table_rows(document, data_part="summary") == BILLED_STATEMENT_SUMMARY
    assert table_rows(document, data_part="private") == BILLED_STATEMENT_PRIVATE
    assert table_rows(document, data_part="business") == BILLED_STATEMENT_BUSINESS
    assert table_rows(document, data_part="home") == BILLED_STATEMENT_HOME
    text = " ".join(document.content.decode().split())
    assert "<h1>Statement 2026-10</h1>" in text
    assert "2026-10-01 to 2026-10-31" in text
    assert "Sanne Visser, employee E100" in text
    assert "VT-2026-000001 (issued)" in text


def test_a_statement_shows_private_charging_at_the_fleets_vat_and_business_at_its_own(
    driver, django_capture_on_commit_callbacks
):
    fleet = driver.fleet
    fleet.default_vat_rate = D("9.00")
    fleet.save(update_fields=["default_vat_rate"])
    for purpose in (SessionPurpose.PRIVATE, SessionPurpose.BUSINESS):
        priced_session_create(
            driver=driver,
            location_kind=LocationKind.PUBLIC,
            purpose=purpose,
            started_at=utc(2026, 10, 5 if purpose == SessionPurpose.PRIVATE else 6, 7),
            price_excl_vat=D("10.00"),
            price_vat=D("2.10"),
        )
    bill(fleet, "2026-10", django_capture_on_commit_callbacks)

    document = RenderedPage(statement_html(Statement.objects.get()))

    # The operator charged 21 % on 10.00: the driver is charged the fleet's 9 %.
    assert table_rows(document, data_part="private")[1][4:] == ["10.00", "9.00", "0.90", "10.90"]
    assert table_rows(document, data_part="business")[1][4:] == ["10.00", "2.10"]
    assert table_rows(document, data_part="summary")[1] == [
        "Private charging: the driver owes",
        "1",
        "10.90",
    ]


def test_statement_page_offers_the_pdf_and_the_pdf_downloads(client, fleet, billed):
    statement = Statement.objects.get()
    login(client, (fleet, VIEWER))
    pdf_url = reverse("admin:payments_statement_pdf", args=[statement.pk])

    page = client.get(reverse("admin:payments_statement_page", args=[statement.pk]))
    response = client.get(pdf_url)

    assert f'<a href="{pdf_url}">Download as PDF</a>' in page.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="statement-2026-10-E100.pdf"'
    assert response.content.startswith(b"%PDF-")


def test_the_statement_pdf_of_another_fleet_is_not_found(client, other_fleet, billed):
    statement = Statement.objects.get()
    login(client, (other_fleet, MembershipRole.ADMIN))

    response = client.get(reverse("admin:payments_statement_pdf", args=[statement.pk]))

    assert response.status_code == 404


def test_statement_list_links_each_row_to_its_statement_page(client, fleet, billed):
    statement = Statement.objects.get()
    login(client, (fleet, VIEWER))

    response = client.get(reverse("admin:payments_statement_changelist"))

    assert result_rows(response) == [
        [
            "2026-10",
            "Sanne Visser (E100)",
            "7.26 EUR",
            "10.00 EUR",
            "5.00 EUR",
            "-2.26 EUR",
            "View the statement",
        ]
    ]
    statement_url = reverse("admin:payments_statement_page", args=[statement.pk])
    assert f'<a href="{statement_url}">View the statement</a>' in response.content.decode()


@pytest.fixture
def two_cost_centers(fleet, driver, django_capture_on_commit_callbacks):
    """October: the driver's business charging (10.00) booked to Sales through the driver, a
    colleague's (4.00) to Operations through the vehicle."""
    october_sessions_create(driver)
    operations = CostCenterFactory(fleet=fleet, code="OPS", name="Operations")
    colleague = DriverFactory(fleet=fleet)
    priced_session_create(
        driver=colleague,
        vehicle=VehicleFactory(fleet=fleet, cost_center=operations),
        purpose=SessionPurpose.BUSINESS,
        started_at=utc(2026, 10, 20, 7),
        price_excl_vat=D("4.00"),
        price_vat=D("0.84"),
    )
    run = bill(fleet, "2026-10", django_capture_on_commit_callbacks)
    return run, driver.cost_center, operations


def test_cost_allocations_of_a_run_and_cost_center_show_their_total(
    client, fleet, two_cost_centers
):
    run, sales, operations = two_cost_centers
    login(client, (fleet, FINANCE))

    response = client.get(
        ALLOCATION_LIST,
        {"billing_run__id__exact": run.pk, "cost_center__id__exact": operations.pk},
    )

    assert [row[0] for row in result_rows(response)] == ["OPS Operations"]
    assert [re.sub(r"^\d+ ", "", label) for label in table_rows(response, id="result_list")[0]][
        3:5
    ] == ["Amount (excl. VAT)", "Input VAT"]
    assert "Total of these allocations: 4.00 EUR excl. VAT, plus 0.84 EUR input VAT." in (
        response.content.decode()
    )
    assert {allocation.cost_center for allocation in CostAllocation.objects.all()} == {
        sales,
        operations,
    }


def test_cost_allocation_list_unfiltered_asks_for_a_filter_before_totals(
    client, fleet, two_cost_centers
):
    login(client, (fleet, FINANCE))

    response = client.get(ALLOCATION_LIST)

    assert len(result_rows(response)) == 2
    content = response.content.decode()
    assert "Total of these allocations" not in content
    assert "Filter by billing run or cost center to see what the allocations add up to." in content


@pytest.mark.parametrize(
    "model", [Invoice, Statement, CostAllocation, Reimbursement], ids=lambda m: m.__name__
)
def test_billing_run_filter_offers_only_runs_of_the_users_fleets(
    client, fleet, other_fleet, billed, other_billed, model, django_capture_on_commit_callbacks
):
    viewed_fleet = FleetFactory(name="Fleet C")
    october_sessions_create(DriverFactory(fleet=viewed_fleet))
    viewed_run = bill(viewed_fleet, "2026-10", django_capture_on_commit_callbacks)
    login(client, (fleet, MANAGER), (viewed_fleet, VIEWER))

    response = client.get(reverse(f"admin:payments_{model._meta.model_name}_changelist"))

    (spec,) = (
        spec
        for spec in response.context["cl"].filter_specs
        if isinstance(spec, RelatedFieldListFilter) and spec.field_path == "billing_run"
    )
    assert spec.lookup_choices == [
        (billed.pk, "Fleet A 2026-10"),
        (viewed_run.pk, "Fleet C 2026-10"),
    ]


# -- every custom page: who may open it, and no other fleet's row ------------------------------


def custom_pages(run: BillingRun) -> dict[str, str]:
    invoice = run.invoices.get()
    statement = run.statements.get()
    return {
        "progress": reverse("admin:payments_billingrun_progress", args=[run.pk]),
        "invoice html": reverse("admin:payments_invoice_document", args=[invoice.pk]),
        "invoice pdf": reverse("admin:payments_invoice_pdf", args=[invoice.pk]),
        "credit note": reverse("admin:payments_invoice_credit_note", args=[invoice.pk]),
        "statement": reverse("admin:payments_statement_page", args=[statement.pk]),
    }


PAGES = ["progress", "invoice html", "invoice pdf", "credit note", "statement"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("finance", {"credit note": 200}),
        ("admin", {"credit note": 200}),
        ("manager", {"credit note": 403}),
        ("viewer", {"credit note": 403}),
        ("finance of another fleet", {}),
    ],
)
def test_custom_pages_open_for_members_by_role_and_are_missing_for_other_fleets(
    client, fleet, other_fleet, billed, page, who, expected
):
    url = custom_pages(billed)[page]
    if who == "finance of another fleet":
        login(client, (other_fleet, FINANCE))
        status = 404
    else:
        login(client, (fleet, who))
        status = expected.get(page, 200)

    response = client.get(url)

    assert response.status_code == status


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", ["anonymous", "driver", "staff without membership"])
def test_custom_pages_send_anyone_else_to_the_login_or_find_nothing(
    client, fleet, billed, page, who
):
    url = custom_pages(billed)[page]
    if who == "driver":
        client.force_login(DriverFactory(fleet=fleet, user=DriverUserFactory()).user)
    elif who == "staff without membership":
        client.force_login(StaffUserFactory())

    response = client.get(url)

    if who == "staff without membership":
        assert response.status_code == 404
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_amounts_show_to_the_currencys_minor_unit_whatever_the_database_sums_to():
    assert money_text(Decimal("57.8100000000000"), "EUR") == "57.81 EUR"
    assert money_text(Decimal("1205"), "JPY") == "1205 JPY"


def test_the_run_list_offers_to_run_billing_for_a_period(admin_client):
    response = admin_client.get(reverse("admin:payments_billingrun_changelist"))

    assert response.status_code == 200
    assert "Run billing for a period" in response.content.decode()
