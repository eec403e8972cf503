"""Payroll deductions under /api/v1/fleet/payroll-deductions/: prepared (201, then 200 with the
same deduction), the payroll run recorded under an Idempotency-Key (replayed, refused with
another key or body), cancelled, invoices showing they are held, roles and other fleets."""

import datetime as dt

import pytest
import time_machine

from apps.fleets.choices import MembershipRole
from apps.payments.choices import PaymentMethod, PayrollDeductionStatus
from apps.payments.models import Payment, PayrollDeduction
from tests.factories import FleetFactory
from tests.payments.builders import billing_fleet_create

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
DEDUCTIONS = "/api/v1/fleet/payroll-deductions/"
INVOICES = "/api/v1/fleet/invoices/"
FINANCE, VIEWER, MANAGER = MembershipRole.FINANCE, MembershipRole.VIEWER, MembershipRole.MANAGER


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def fleet(run_billing):
    fleet = billing_fleet_create(
        drivers=2, sessions_per_driver=4, month_start=dt.datetime(2026, 10, 1, tzinfo=UTC)
    )
    run_billing(fleet, "2026-10")
    return fleet


def prepare(client, fleet, **headers):
    return client.post(
        DEDUCTIONS, {"fleet": fleet.pk, "period": "2026-10"}, format="json", headers=headers
    )


def record(client, deduction_id: int, key: str | None, body: dict | None = None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"{DEDUCTIONS}{deduction_id}/record/", body or {}, format="json", headers=headers
    )


def test_finance_prepares_a_period_and_preparing_again_returns_it(member_client, fleet):
    client = member_client(FINANCE, fleet)

    first = prepare(client, fleet)
    again = prepare(client, fleet)

    assert (first.status_code, again.status_code) == (201, 200)
    body = first.json()
    deduction = PayrollDeduction.objects.get()
    assert body["id"] == again.json()["id"] == deduction.pk
    assert body["status"] == "prepared"
    assert body["total"] == str(deduction.total)
    assert (body["item_count"], body["driver_count"], len(body["items"])) == (2, 2, 2)
    assert {item["amount"] for item in body["items"]} == {
        str(item.amount) for item in deduction.items.all()
    }
    assert deduction.prepared_by == client.user


def test_a_period_not_billed_is_refused_with_422_naming_the_period(member_client, fleet):
    response = member_client(FINANCE, fleet).post(
        DEDUCTIONS, {"fleet": fleet.pk, "period": "2026-09"}, format="json"
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["code"], error["attr"]) == ("payments.payroll_deduction_invalid", "period")
    assert not PayrollDeduction.objects.exists()


def test_held_invoices_say_so_in_the_invoice_list(member_client, fleet):
    client = member_client(FINANCE, fleet)
    before = client.get(INVOICES).json()["results"]
    prepare(client, fleet)

    after = client.get(INVOICES).json()["results"]

    assert {invoice["held_by_payroll"] for invoice in before} == {False}
    assert {invoice["held_by_payroll"] for invoice in after} == {True}


def test_recording_settles_each_invoice_and_the_same_key_replays_it(member_client, fleet):
    client = member_client(FINANCE, fleet)
    deduction_id = prepare(client, fleet).json()["id"]

    recorded = record(client, deduction_id, "run-11", {"received_at": "2026-11-22T09:00:00Z"})
    replayed = record(client, deduction_id, "run-11", {"received_at": "2026-11-22T09:00:00Z"})

    assert recorded.status_code == 200
    assert recorded.json()["status"] == "recorded"
    assert recorded.json()["settled_total"] == recorded.json()["total"]
    assert replayed.status_code == 200
    assert replayed.json() == recorded.json()
    payments = Payment.objects.filter(fleet=fleet)
    assert payments.count() == 2
    assert {(payment.method, payment.received_at) for payment in payments} == {
        (PaymentMethod.PAYROLL, NOW)
    }
    assert {invoice["held_by_payroll"] for invoice in client.get(INVOICES).json()["results"]} == {
        False
    }


def test_recording_by_another_caller_with_the_same_key_returns_the_recorded_deduction(
    member_client, fleet
):
    deduction_id = prepare(member_client(FINANCE, fleet), fleet).json()["id"]
    record(member_client(FINANCE, fleet), deduction_id, "run-11")

    again = record(member_client(FINANCE, fleet), deduction_id, "run-11")

    assert again.status_code == 200
    assert Payment.objects.filter(fleet=fleet).count() == 2


def test_another_key_on_a_recorded_deduction_is_refused_with_409(member_client, fleet):
    client = member_client(FINANCE, fleet)
    deduction_id = prepare(client, fleet).json()["id"]
    record(client, deduction_id, "run-11")

    response = record(client, deduction_id, "run-12")

    assert response.status_code == 409
    assert Payment.objects.filter(fleet=fleet).count() == 2


def test_the_same_key_with_another_body_is_refused_with_422(member_client, fleet):
    client = member_client(FINANCE, fleet)
    deduction_id = prepare(client, fleet).json()["id"]
    record(client, deduction_id, "run-11")

    response = record(client, deduction_id, "run-11", {"received_at": "2026-11-22T09:00:00Z"})

    assert response.status_code == 422
    assert Payment.objects.filter(fleet=fleet).count() == 2


@pytest.mark.parametrize(
    ("key", "body", "field"),
    [
        (None, {}, "Idempotency-Key"),
        ("run-11", {"status": "recorded"}, "status"),
        ("run-11", {"received_at": "2026-11-21T10:00:00"}, "received_at"),
    ],
)
def test_a_record_without_key_or_with_bad_input_is_refused_and_changes_nothing(
    member_client, fleet, key, body, field
):
    client = member_client(FINANCE, fleet)
    deduction_id = prepare(client, fleet).json()["id"]

    response = record(client, deduction_id, key, body)

    assert response.status_code == 400
    assert field in str(response.json())
    assert PayrollDeduction.objects.get().status == PayrollDeductionStatus.PREPARED
    assert not Payment.objects.exists()


def test_cancelling_frees_the_invoices_and_a_recorded_one_is_refused_with_409(member_client, fleet):
    client = member_client(FINANCE, fleet)
    first_id = prepare(client, fleet).json()["id"]

    cancelled = client.post(f"{DEDUCTIONS}{first_id}/cancel/")
    second_id = prepare(client, fleet).json()["id"]
    record(client, second_id, "run-11")
    refused = client.post(f"{DEDUCTIONS}{second_id}/cancel/")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert {item["released"] for item in cancelled.json()["items"]} == {True}
    assert refused.status_code == 409
    assert PayrollDeduction.objects.get(pk=second_id).status == PayrollDeductionStatus.RECORDED


@pytest.mark.parametrize("role", [VIEWER, MANAGER])
def test_viewers_and_managers_neither_read_nor_prepare_deductions(member_client, fleet, role):
    client = member_client(role, fleet)

    assert client.get(DEDUCTIONS).status_code == 403
    assert prepare(client, fleet).status_code == 403
    assert not PayrollDeduction.objects.exists()


def test_a_finance_api_key_prepares_and_records(api_key_client, fleet):
    client = api_key_client(FINANCE, fleet)

    deduction_id = prepare(client, fleet).json()["id"]
    response = record(client, deduction_id, "run-11")

    assert response.status_code == 200
    assert PayrollDeduction.objects.get().recorded_by is None


def test_another_fleets_deductions_are_not_found_nor_listed(member_client, fleet):
    deduction_id = prepare(member_client(FINANCE, fleet), fleet).json()["id"]
    other = member_client(FINANCE, FleetFactory())

    assert other.get(f"{DEDUCTIONS}{deduction_id}/").status_code == 404
    assert record(other, deduction_id, "run-11").status_code == 404
    assert other.post(f"{DEDUCTIONS}{deduction_id}/cancel/").status_code == 404
    assert other.get(DEDUCTIONS).json()["results"] == []
    assert prepare(other, fleet).status_code == 400
    assert PayrollDeduction.objects.get().status == PayrollDeductionStatus.PREPARED


def test_the_list_takes_the_same_queries_whatever_the_deductions(
    member_client, fleet, django_assert_num_queries
):
    client = member_client(FINANCE, fleet)
    first_id = prepare(client, fleet).json()["id"]
    client.get(DEDUCTIONS)
    with django_assert_num_queries(7):
        client.get(DEDUCTIONS)
    client.post(f"{DEDUCTIONS}{first_id}/cancel/")
    prepare(client, fleet)

    with django_assert_num_queries(7):
        response = client.get(DEDUCTIONS)

    assert len(response.json()["results"]) == 2
