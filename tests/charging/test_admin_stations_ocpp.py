"""The station's admin page for chargers over OCPP: its password, its connection, the calls a
manager sends it, and what they answered."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from apps.charging.chargers import (
    STATION_PASSWORD_HASHER,
    FrameSeen,
    charger_messages_record,
    charging_station_password_set,
)
from apps.charging.choices import ChargerCallStatus
from apps.charging.models import ChargerCall, ChargingStation
from apps.fleets.choices import MembershipRole
from tests.charging.test_admin import station_page_payload
from tests.factories import (
    ChargingStationFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

INLINE_EMPTY = {"connectors-TOTAL_FORMS": "0", "connectors-INITIAL_FORMS": "0"}


@pytest.fixture
def fleet():
    return FleetFactory(name="Fleet A")


@pytest.fixture
def manager_client(client, fleet):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.MANAGER)
    client.force_login(user)
    return client


def _change_url(station) -> str:
    return reverse("admin:charging_chargingstation_change", args=[station.pk])


def test_a_manager_sets_the_stations_password_and_only_its_hash_is_kept(manager_client, fleet):
    station = ChargingStationFactory(fleet=fleet)

    response = manager_client.post(
        _change_url(station),
        {**station_page_payload(station), **INLINE_EMPTY, "new_ocpp_password": "a-new-password-42"},
    )

    assert response.status_code == 302
    stored = ChargingStation.objects.get(pk=station.pk).ocpp_password
    assert STATION_PASSWORD_HASHER.verify("a-new-password-42", stored)
    page = manager_client.get(_change_url(station)).content.decode()
    assert "a-new-password-42" not in page
    assert "pbkdf2" not in page


def test_a_short_password_is_refused_on_its_field_and_nothing_changes(manager_client, fleet):
    station = ChargingStationFactory(fleet=fleet, vendor="Alfen")
    charging_station_password_set(station=station, password="the-old-password-1")
    kept = ChargingStation.objects.get(pk=station.pk).ocpp_password

    response = manager_client.post(
        _change_url(station),
        {
            **station_page_payload(station),
            **INLINE_EMPTY,
            "vendor": "ABB",
            "new_ocpp_password": "too-short",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "new_ocpp_password": [
            "The password must be 16 to 40 printable characters without spaces at either end "
            "(OCPP 1.6 security profile 1)."
        ]
    }
    stored = ChargingStation.objects.get(pk=station.pk)
    assert (stored.ocpp_password, stored.vendor) == (kept, "Alfen")


def test_an_action_queues_its_call_for_connected_chargers_and_refuses_the_others(
    manager_client, fleet
):
    connected = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-ON")
    offline = ChargingStationFactory(fleet=fleet, ocpp_identity="CP-OFF")
    ChargingStation.objects.filter(pk=connected.pk).update(is_connected=True)

    response = manager_client.post(
        reverse("admin:charging_chargingstation_changelist"),
        {"action": "reset_soft", "_selected_action": [connected.pk, offline.pk]},
    )

    assert response.status_code == 302
    call = ChargerCall.objects.get()
    assert (call.station, call.action, call.payload, call.status) == (
        connected,
        "Reset",
        {"type": "Soft"},
        ChargerCallStatus.QUEUED,
    )
    (message,) = [str(message) for message in get_messages(response.wsgi_request)]
    assert "CP-OFF: Station CP-OFF is not connected; try again when it is." in message


def test_another_fleets_station_is_not_called(manager_client, fleet):
    elsewhere = ChargingStationFactory(fleet=FleetFactory(), ocpp_identity="CP-ELSEWHERE")
    ChargingStation.objects.filter(pk=elsewhere.pk).update(is_connected=True)

    manager_client.post(
        reverse("admin:charging_chargingstation_changelist"),
        {"action": "trigger_status", "_selected_action": [elsewhere.pk]},
    )

    assert not ChargerCall.objects.exists()


def test_the_station_page_shows_its_recent_calls_and_their_answers(manager_client, fleet):
    station = ChargingStationFactory(fleet=fleet)
    ChargingStation.objects.filter(pk=station.pk).update(is_connected=True)
    station.refresh_from_db()
    manager_client.post(
        reverse("admin:charging_chargingstation_changelist"),
        {"action": "make_inoperative", "_selected_action": [station.pk]},
    )
    ChargerCall.objects.update(status=ChargerCallStatus.ANSWERED, answer={"status": "Scheduled"})

    page = manager_client.get(_change_url(station)).content.decode()

    assert "ChangeAvailability" in page
    assert "Scheduled" in page
    assert "Not set: the charger cannot connect" in page


def test_the_station_page_shows_its_recent_ocpp_messages(manager_client, fleet):
    station = ChargingStationFactory(fleet=fleet)
    charger_messages_record(
        frames=[
            FrameSeen(station.pk, timezone.now(), True, '[2,"m-1","Heartbeat",{}]'),
            FrameSeen(station.pk, timezone.now(), False, '[3,"m-1",{"currentTime":"T"}]'),
        ]
    )

    page = manager_client.get(_change_url(station)).content.decode()

    assert "m-1" in page
    assert "Heartbeat" in page
    assert "currentTime" in page
