"""Payroll deductions in the admin: prepared on the add page, the payroll run recorded and the
deduction cancelled by actions through the services, the invoices shown "to be settled by
payroll" while held, and only finance and admins acting, in their own fleets."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.fleets.choices import MembershipRole
from apps.payments.choices import PaymentMethod, PayrollDeductionStatus
from apps.payments.models import Payment, PayrollDeduction
from apps.payments.payroll import payroll_deduction_prepare, payroll_deduction_record
from apps.payments.services import payment_record
from tests.factories import DriverFactory, FleetFactory, MembershipFactory, StaffUserFactory
from tests.html_tables import table_rows
from tests.payments.builders import billing_fleet_create

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ADD = reverse("admin:payments_payrolldeduction_add")
LIST = reverse("admin:payments_payrolldeduction_changelist")
INVOICE_LIST = reverse("admin:payments_invoice_changelist")


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def fleet(run_billing):
    fleet = billing_fleet_create(
        drivers=2, sessions_per_driver=4, month_start=dt.datetime(2026, 10, 1, tzinfo=UTC)
    )
    run_billing(fleet, "2026-10")
    return fleet


def login(client, fleet, role):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=role)
    client.force_login(user)
    return user


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_finance_prepares_a_period_on_the_add_page(client, fleet):
    user = login(client, fleet, MembershipRole.FINANCE)

    response = client.post(ADD, {"fleet": fleet.pk, "period": "2026-10"}, follow=True)

    deduction = PayrollDeduction.objects.get()
    assert (deduction.fleet, deduction.prepared_by, deduction.item_count) == (fleet, user, 2)
    assert f"Prepared: 2 invoices of 2 drivers, {deduction.total} EUR to deduct" in " ".join(
        messages_of(response)
    )


def test_a_period_that_cannot_be_prepared_is_refused_on_the_period(client, fleet):
    login(client, fleet, MembershipRole.FINANCE)

    response = client.post(ADD, {"fleet": fleet.pk, "period": "2026-09"})

    assert response.status_code == 200
    assert "has no billing run" in str(response.context["adminform"].form.errors["period"])
    assert not PayrollDeduction.objects.exists()


def test_the_add_page_offers_only_the_fleets_where_the_user_does_finance(client, fleet):
    other = FleetFactory()
    user = login(client, fleet, MembershipRole.FINANCE)
    MembershipFactory(user=user, fleet=other, role=MembershipRole.MANAGER)

    response = client.get(ADD)

    choices = response.context["adminform"].form.fields["fleet"].queryset
    assert list(choices) == [fleet]


def test_held_invoices_show_as_to_be_settled_by_payroll(client, fleet):
    payroll_deduction_prepare(fleet=fleet, period_label="2026-10")
    login(client, fleet, MembershipRole.VIEWER)

    response = client.get(INVOICE_LIST)

    balances = [row[-1] for row in table_rows(response, id="result_list")[1:]]
    assert len(balances) == 2
    assert all(balance.endswith("due, to be settled by payroll") for balance in balances)


def test_the_record_action_asks_the_date_then_settles_each_invoice_once(client, fleet):
    deduction, _ = payroll_deduction_prepare(
        fleet=fleet, period_label="2026-10", now=NOW - dt.timedelta(days=2)
    )
    user = login(client, fleet, MembershipRole.FINANCE)
    selected = {"action": "record_runs", "_selected_action": [deduction.pk]}

    page = client.post(LIST, selected)
    key = page.context["idempotency_key"]
    sent = {**selected, "post": "yes", "idempotency_key": key, "received_at": "2026-11-21T10:00"}
    client.post(LIST, sent)
    client.post(LIST, sent)

    deduction.refresh_from_db()
    assert deduction.status == PayrollDeductionStatus.RECORDED
    assert (deduction.idempotency_key, deduction.recorded_by) == (f"{key}-{deduction.pk}", user)
    payments = Payment.objects.filter(method=PaymentMethod.PAYROLL)
    assert payments.count() == 2
    assert {payment.recorded_by for payment in payments} == {user}
    assert {payment.received_at.date() for payment in payments} == {dt.date(2026, 11, 21)}


def test_the_record_action_without_the_pages_key_records_nothing(client, fleet):
    deduction, _ = payroll_deduction_prepare(fleet=fleet, period_label="2026-10")
    login(client, fleet, MembershipRole.FINANCE)

    response = client.post(
        LIST,
        {
            "action": "record_runs",
            "_selected_action": [deduction.pk],
            "post": "yes",
            "received_at": "2026-11-20T10:00",
        },
        follow=True,
    )

    assert "Nothing was recorded: open the page again." in messages_of(response)
    deduction.refresh_from_db()
    assert deduction.status == PayrollDeductionStatus.PREPARED
    assert not Payment.objects.exists()


def test_the_cancel_action_frees_the_invoices(client, fleet):
    deduction, _ = payroll_deduction_prepare(fleet=fleet, period_label="2026-10")
    login(client, fleet, MembershipRole.ADMIN)

    client.post(LIST, {"action": "cancel_deductions", "_selected_action": [deduction.pk]})

    deduction.refresh_from_db()
    assert deduction.status == PayrollDeductionStatus.CANCELLED
    assert set(deduction.items.values_list("released", flat=True)) == {True}


@pytest.mark.parametrize("role", [MembershipRole.MANAGER, MembershipRole.VIEWER])
def test_managers_and_viewers_see_deductions_but_cannot_act_on_them(client, fleet, role):
    deduction, _ = payroll_deduction_prepare(fleet=fleet, period_label="2026-10")
    login(client, fleet, role)

    response = client.post(
        LIST, {"action": "cancel_deductions", "_selected_action": [deduction.pk]}
    )
    page = client.get(reverse("admin:payments_payrolldeduction_change", args=[deduction.pk]))

    deduction.refresh_from_db()
    assert deduction.status == PayrollDeductionStatus.PREPARED
    assert response.status_code == 200
    assert page.status_code == 200
    assert client.get(ADD).status_code == 403


def test_the_deduction_page_lists_its_invoices_and_what_is_owed_back(client, fleet):
    deduction, _ = payroll_deduction_prepare(fleet=fleet, period_label="2026-10")
    item = deduction.items.order_by("pk").first()
    payment_record(
        invoice=item.invoice,
        amount=Decimal("1.00"),
        currency="EUR",
        method=PaymentMethod.BANK_TRANSFER,
        idempotency_key="bank",
        received_at=NOW,
    )
    payroll_deduction_record(deduction=deduction, idempotency_key="run")
    login(client, fleet, MembershipRole.FINANCE)

    page = client.get(reverse("admin:payments_payrolldeduction_change", args=[deduction.pk]))

    assert page.status_code == 200
    assert "1.00 EUR: paid or credited before the payroll run was recorded" in page.content.decode()


def test_another_fleets_deductions_are_not_found(client, fleet):
    deduction, _ = payroll_deduction_prepare(fleet=fleet, period_label="2026-10")
    other = FleetFactory()
    DriverFactory(fleet=other)
    login(client, other, MembershipRole.ADMIN)

    page = client.get(reverse("admin:payments_payrolldeduction_change", args=[deduction.pk]))

    assert page.status_code == 302
    assert not PayrollDeduction.objects.filter(status=PayrollDeductionStatus.CANCELLED).exists()
