"""A session's history: a manual correction and a home session's review are recorded (with the
manager and the request when made in the admin); billing's marking and the seed's COPY are not:
the billing run and the seed are their record."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.charging.choices import HomeApproval, LocationKind, SessionPurpose
from apps.charging.models import ChargingSession, ChargingSessionEvent
from apps.charging.services import charging_session_correct, home_session_review
from apps.fleets.choices import MembershipRole
from apps.payments.models import Invoice, InvoiceEvent
from tests.core.test_admin_tenancy import form_payload
from tests.factories import (
    ChargingSessionFactory,
    CostCenterFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
)
from tests.payments.builders import priced_session_create
from voltop.core.history import BEFORE_CHANGE, FieldChange, object_history

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

UTC = dt.UTC


@pytest.fixture
def fleet():
    return FleetFactory(time_zone="Europe/Amsterdam")


@pytest.fixture
def manager(fleet):
    return MembershipFactory(fleet=fleet, role=MembershipRole.MANAGER, user=StaffUserFactory()).user


def session_change_url(session) -> str:
    return reverse("admin:charging_chargingsession_change", args=[session.pk])


def test_a_correction_writes_one_event_with_the_values_before_and_after(fleet):
    session = ChargingSessionFactory(fleet=fleet)

    charging_session_correct(
        session=session,
        started_at=session.started_at,
        ended_at=session.ended_at,
        meter_start_wh=1_000_000,
        meter_stop_wh=1_030_000,
    )

    (event,) = ChargingSessionEvent.objects.filter(pgh_obj=session)
    assert (event.pgh_label, event.energy_wh) == (BEFORE_CHANGE, 20_500)
    (entry,) = object_history(ChargingSession.objects.get(pk=session.pk))
    assert entry.action == "changed"
    assert FieldChange("meter stop (Wh)", "1020500", "1030000") in entry.changes
    assert FieldChange("energy (Wh)", "20500", "30000") in entry.changes
    assert (
        FieldChange("energy source", "Measured by a charger", "Entered by a person")
        in entry.changes
    )


def test_a_correction_in_the_admin_is_recorded_with_the_manager_and_the_request(
    client, fleet, manager
):
    session = ChargingSessionFactory(fleet=fleet)
    client.force_login(manager)
    payload = form_payload(client.get(session_change_url(session)))
    payload["meter_stop_wh"] = "1021000"
    payload["energy_wh"] = "21000"

    saved = client.post(session_change_url(session), payload)
    response = client.get(reverse("admin:charging_chargingsession_history", args=[session.pk]))

    assert saved.status_code == 302
    (event,) = ChargingSessionEvent.objects.filter(pgh_obj=session)
    assert event.pgh_context.metadata["username"] == manager.username
    (entry,) = response.context["entries"]
    assert (entry.user, entry.origin) == (manager.username, f"POST {session_change_url(session)}")
    assert FieldChange("energy (Wh)", "20500", "21000") in entry.changes


def test_a_home_sessions_approval_in_the_admin_is_recorded_with_the_manager(client, fleet, manager):
    session = ChargingSessionFactory(
        fleet=fleet, location_kind=LocationKind.HOME, home_approval=HomeApproval.PENDING
    )
    changelist = reverse("admin:charging_chargingsession_changelist")
    client.force_login(manager)

    client.post(
        changelist, {"action": "approve_home_sessions", "_selected_action": [str(session.pk)]}
    )

    (entry,) = object_history(ChargingSession.objects.get(pk=session.pk))
    assert (entry.user, entry.origin) == (manager.username, f"POST {changelist}")
    assert FieldChange("home approval", "Waiting for approval", "Approved") in entry.changes
    assert FieldChange("reviewed by", "—", manager.username) in entry.changes


def test_a_refused_review_records_nothing(fleet, manager):
    session = ChargingSessionFactory(
        fleet=fleet, location_kind=LocationKind.HOME, home_approval=HomeApproval.PENDING
    )

    with pytest.raises(Exception, match="Say why"):
        home_session_review(session=session, approve=False, reviewer=manager, reason=" ")

    assert not ChargingSessionEvent.objects.filter(pgh_obj=session).exists()


def test_pricing_a_session_records_nothing(fleet):
    session = ChargingSessionFactory(fleet=fleet)

    ChargingSession.objects.filter(pk=session.pk).update(
        price_excl_vat=Decimal("5.00"), price_vat=Decimal("1.05"), price_incl_vat=Decimal("6.05")
    )

    assert not ChargingSessionEvent.objects.filter(pgh_obj=session).exists()


def test_a_billing_run_writes_no_session_event_but_records_its_invoices(run_billing, fleet):
    driver = DriverFactory(fleet=fleet, cost_center=CostCenterFactory(fleet=fleet))
    sessions = [
        priced_session_create(
            driver=driver,
            purpose=purpose,
            location_kind=kind,
            started_at=dt.datetime(2026, 10, day, 8, tzinfo=UTC),
        )
        for day, (kind, purpose) in enumerate(
            [
                (LocationKind.DEPOT, SessionPurpose.PRIVATE),
                (LocationKind.PUBLIC, SessionPurpose.PRIVATE),
                (LocationKind.DEPOT, SessionPurpose.BUSINESS),
                (LocationKind.HOME, SessionPurpose.BUSINESS),
            ],
            start=3,
        )
    ]

    run_billing(fleet, "2026-10")

    session_ids = [session.pk for session in sessions]
    assert ChargingSession.objects.filter(pk__in=session_ids, billed_at__isnull=False).count() == 4
    assert not ChargingSessionEvent.objects.filter(pgh_obj__in=session_ids).exists()
    invoice = Invoice.objects.get(fleet=fleet)
    origins = {entry.origin for entry in object_history(invoice)}
    assert InvoiceEvent.objects.filter(pgh_obj=invoice).exists()
    assert all(origin.startswith("task apps.payments.tasks.") for origin in origins)


def test_seeding_load_fleets_writes_no_session_event():
    call_command("seed_demo", "--sessions", "300", "--fleets", "1", stdout=None)

    assert ChargingSession.objects.count() == 300
    assert not ChargingSessionEvent.objects.exists()
