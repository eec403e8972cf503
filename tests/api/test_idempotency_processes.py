"""Idempotency-Key under concurrency, proven with real processes on PostgreSQL: the same POST
sent by several processes at once, each with its own database connection, does the work once;
every other sender gets the stored answer, and a sender with another body under the same key
is refused with 422.

Each process calls the API through Django's request handler with a real access token, as a
client would over HTTP; the processes are released together by a barrier."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from apps.charging.choices import LocationKind
from apps.charging.models import ChargingSession
from apps.fleets.choices import MembershipRole
from apps.payments import services as payments_services
from apps.payments.choices import InvoiceStatus
from apps.payments.models import BillingRun, Invoice, Payment
from tests.celery_workers import (
    celery_workers_fixture,  # noqa: F401 - `celery_workers`
    django_processes_run,
)
from tests.factories import DriverFactory, FleetFactory, MembershipFactory, UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

PROCESSES = 6
HOME_SESSIONS = "/api/v1/me/home-sessions/"
PAYMENTS = "/api/v1/fleet/payments/"
BILLING_RUNS = "/api/v1/fleet/billing-runs/"


# Run in processes of their own (module level: imported by the child after Django is set up) --


def post_with_key(*, path: str, body: dict, token: str, key: str) -> dict:
    """POST `body` to `path` with a bearer token and an Idempotency-Key; what came back."""
    client = APIClient(HTTP_HOST="localhost")
    response = client.post(
        path,
        body,
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    return {
        "status": response.status_code,
        "body": response.json(),
        "replayed": response.headers.get("Idempotent-Replayed") == "true",
    }


# Setting up ----------------------------------------------------------------------------------


@pytest.fixture
def children_may_use_localhost(monkeypatch):
    """The processes are plain Django, not a test run: they serve the host they are sent."""
    monkeypatch.setenv("ALLOWED_HOSTS", "localhost")


def access_token(user) -> str:
    return str(AccessToken.for_user(user))


def home_report(energy_wh: int) -> dict:
    ended = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)
    return {
        "started_at": (ended - dt.timedelta(hours=3)).isoformat(),
        "ended_at": ended.isoformat(),
        "energy_wh": energy_wh,
        "purpose": "private",
    }


def issued_invoice(fleet, driver) -> Invoice:
    draft = Invoice.objects.create(
        fleet=fleet,
        driver=driver,
        currency="EUR",
        period_start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        period_end=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        net_total=Decimal("10.00"),
        vat_total=Decimal("2.10"),
        gross_total=Decimal("12.10"),
    )
    return payments_services.invoice_issue(invoice=draft)


# The proofs ----------------------------------------------------------------------------------


def test_one_report_sent_at_once_by_several_processes_makes_one_session(
    celery_workers, children_may_use_localhost
):
    # given: a driver's home report, sent by six processes at once under one key
    driver = DriverFactory(user=UserFactory())
    body = home_report(energy_wh=9_000)
    call = {"path": HOME_SESSIONS, "body": body, "token": access_token(driver.user), "key": "k-1"}

    # when
    answers = django_processes_run(
        [(post_with_key, call)] * PROCESSES, celery_queue=celery_workers.queue
    )

    # then: one session; one answer made it, the others are its replay
    sessions = ChargingSession.objects.filter(driver=driver)
    assert sessions.count() == 1
    session = sessions.get()
    assert (session.location_kind, session.energy_wh) == (LocationKind.HOME, 9_000)
    assert [answer["status"] for answer in answers] == [201] * PROCESSES
    assert sorted(answer["replayed"] for answer in answers) == [False] + [True] * (PROCESSES - 1)
    assert {answer["body"]["id"] for answer in answers} == {session.pk}
    first = next(answer for answer in answers if not answer["replayed"])
    assert all(answer["body"] == first["body"] for answer in answers)


def test_two_bodies_under_one_key_at_once_make_one_session_and_the_other_is_refused(
    celery_workers, children_may_use_localhost
):
    # given: half the processes report 9 kWh, the other half 5 kWh, all under one key
    driver = DriverFactory(user=UserFactory())
    token = access_token(driver.user)
    calls = [
        (
            post_with_key,
            {
                "path": HOME_SESSIONS,
                "body": home_report(energy_wh=9_000 if index % 2 else 5_000),
                "token": token,
                "key": "k-2",
            },
        )
        for index in range(PROCESSES)
    ]

    # when
    answers = django_processes_run(calls, celery_queue=celery_workers.queue)

    # then: one session, with the energy of the body that came first; senders of that body
    # get it, senders of the other are refused and nothing of theirs is saved
    session = ChargingSession.objects.get(driver=driver)
    kept = [
        a
        for (_, call), a in zip(calls, answers, strict=True)
        if call["body"]["energy_wh"] == session.energy_wh
    ]
    refused = [
        a
        for (_, call), a in zip(calls, answers, strict=True)
        if call["body"]["energy_wh"] != session.energy_wh
    ]
    assert len(kept) == len(refused) == PROCESSES // 2
    assert [answer["status"] for answer in kept] == [201] * len(kept)
    assert {answer["body"]["id"] for answer in kept} == {session.pk}
    assert sorted(answer["replayed"] for answer in kept) == [False] + [True] * (len(kept) - 1)
    assert [answer["status"] for answer in refused] == [422] * len(refused)
    assert {answer["body"]["errors"][0]["code"] for answer in refused} == {"idempotency_key_reused"}


def test_one_payment_sent_at_once_by_two_finance_members_is_recorded_once(
    celery_workers, children_may_use_localhost
):
    # given: an issued invoice of 12.10, and two finance members each sending the same payment
    # from three processes at once, all under one key
    fleet = FleetFactory(currency="EUR")
    invoice = issued_invoice(fleet, DriverFactory(fleet=fleet))
    tokens = [
        access_token(MembershipFactory(fleet=fleet, role=MembershipRole.FINANCE).user)
        for _ in range(2)
    ]
    body = {
        "invoice": invoice.pk,
        "amount": "12.10",
        "currency": "EUR",
        "method": "bank_transfer",
        "received_at": "2026-02-10T09:00:00+01:00",
        "provider_reference": "BANK-0001",
    }
    calls = [
        (post_with_key, {"path": PAYMENTS, "body": body, "token": token, "key": "pay-1"})
        for token in tokens
        for _ in range(PROCESSES // 2)
    ]

    # when
    answers = django_processes_run(calls, celery_queue=celery_workers.queue)

    # then: one payment, every sender is shown it, and the invoice is paid once
    payment = Payment.objects.get(invoice=invoice)
    assert payment.amount == Decimal("12.10")
    assert [answer["status"] for answer in answers] == [201] * PROCESSES
    assert {answer["body"]["id"] for answer in answers} == {payment.pk}
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_one_period_started_at_once_under_different_keys_makes_one_run_and_one_201(
    celery_workers, children_may_use_localhost
):
    # given: a finance member starting October from six processes at once, each with its own
    # key, so that every request reaches the service
    fleet = FleetFactory(currency="EUR")
    token = access_token(MembershipFactory(fleet=fleet, role=MembershipRole.FINANCE).user)
    calls = [
        (
            post_with_key,
            {
                "path": BILLING_RUNS,
                "body": {"fleet": fleet.pk, "period": "2026-10"},
                "token": token,
                "key": f"start-{index}",
            },
        )
        for index in range(PROCESSES)
    ]

    # when
    answers = django_processes_run(calls, celery_queue=celery_workers.queue)

    # then: one run; the request that made it is answered 201, the others 200 with that run
    run = BillingRun.objects.get(fleet=fleet)
    assert sorted(answer["status"] for answer in answers) == [200] * (PROCESSES - 1) + [201]
    assert {answer["body"]["id"] for answer in answers} == {run.pk}
    assert not any(answer["replayed"] for answer in answers)
