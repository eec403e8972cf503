"""Chargers no fleet knows: refused at the handshake by default; with OCPP_HOLD_UNKNOWN_STATIONS
held pending, listed for a superuser, who assigns each to a fleet; then let in as a station."""

import asyncio

import pytest
from django.urls import reverse
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from apps.charging.chargers import (
    STATION_PASSWORD_HASHER,
    charging_station_password_set,
    unassigned_station_assign,
)
from apps.charging.models import ChargingStation, UnassignedStation
from tests.factories import ChargingStationFactory, DepotFactory, FleetFactory, StaffUserFactory
from tests.ocpp.charge_points import STATION_PASSWORD, charger_connected
from tests.ocpp.threads import off_the_loop

pytestmark = pytest.mark.postgres


def _boot_while_held(port, identity="CP-NEW", password=STATION_PASSWORD):
    async def boot():
        async with charger_connected(port, identity, password=password) as charger:
            booted = await charger.boot()
            heartbeat = await charger.call(call.Heartbeat())
            with pytest.raises(OCPPError) as refused:
                await charger.call(
                    call.StatusNotification(
                        connector_id=1, error_code="NoError", status="Available"
                    ),
                    suppress=False,
                )
            return booted, heartbeat, refused.value

    return asyncio.run(boot())


def test_an_unknown_charger_is_refused_by_default(gateway):
    async def connect():
        async with charger_connected(gateway.port, "CP-NEW"):
            pass

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(connect())

    assert refused.value.response.status_code == 401
    assert not UnassignedStation.objects.exists()


def test_held_pending_an_unknown_charger_is_answered_pending_and_listed(gateway, settings):
    settings.OCPP_HOLD_UNKNOWN_STATIONS = True

    booted, heartbeat, refused = _boot_while_held(gateway.port)

    assert (booted.status, booted.interval) == ("Pending", 60)
    assert heartbeat.current_time.endswith("Z")
    assert refused.code == "SecurityError"
    held = UnassignedStation.objects.get()
    assert (held.ocpp_identity, held.vendor, held.model, held.serial_number) == (
        "CP-NEW",
        "Alfen",
        "Eve Double Pro-line",
        "ACE0000042",
    )
    assert STATION_PASSWORD_HASHER.verify(STATION_PASSWORD, held.ocpp_password)
    assert not ChargingStation.objects.exists()


def test_a_known_station_with_a_wrong_password_is_refused_even_when_holding(gateway, settings):
    settings.OCPP_HOLD_UNKNOWN_STATIONS = True
    station = ChargingStationFactory(ocpp_identity="CP-KNOWN")
    charging_station_password_set(station=station, password=STATION_PASSWORD)

    async def connect():
        async with charger_connected(gateway.port, "CP-KNOWN", password="not-the-password-1"):
            pass

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(connect())

    assert refused.value.response.status_code == 401
    assert not UnassignedStation.objects.exists()


def test_once_assigned_the_charger_is_let_in_as_the_fleets_station(gateway, settings, client):
    settings.OCPP_HOLD_UNKNOWN_STATIONS = True
    fleet = FleetFactory()
    depot = DepotFactory(fleet=fleet)
    _boot_while_held(gateway.port)
    client.force_login(StaffUserFactory(is_superuser=True))

    assigned = client.post(
        reverse("admin:charging_chargingstation_unassigned"),
        {"charger": UnassignedStation.objects.get().pk, "fleet": fleet.pk, "depot": depot.pk},
    )

    station = ChargingStation.objects.get(ocpp_identity="CP-NEW")
    assert assigned.status_code == 302
    assert (station.fleet, station.depot, station.vendor) == (fleet, depot, "Alfen")
    assert not UnassignedStation.objects.exists()

    async def connect_again():
        async with charger_connected(gateway.port, "CP-NEW") as charger:
            booted = await charger.boot()
            connected = await off_the_loop(
                lambda: ChargingStation.objects.get(pk=station.pk).is_connected
            )
            return booted, connected

    booted, connected = asyncio.run(connect_again())
    assert (booted.status, connected) == ("Accepted", True)


def test_a_held_charger_assigned_meanwhile_is_closed_at_its_next_boot(gateway, settings):
    settings.OCPP_HOLD_UNKNOWN_STATIONS = True
    fleet = FleetFactory()

    async def boot_twice():
        async with charger_connected(gateway.port, "CP-NEW") as charger:
            await charger.boot()
            held = await off_the_loop(UnassignedStation.objects.get)
            await off_the_loop(unassigned_station_assign, unassigned=held, fleet=fleet)
            second_boot = await charger.boot()
            await asyncio.wait_for(charger._connection.wait_closed(), 5)
            return second_boot, charger._connection.close_code

    second_boot, close_code = asyncio.run(boot_twice())

    assert (second_boot.status, close_code) == ("Pending", 4002)


def test_only_a_superuser_sees_the_chargers_no_fleet_knows(client, db):
    client.force_login(StaffUserFactory())

    response = client.get(reverse("admin:charging_chargingstation_unassigned"))

    assert response.status_code == 403


def test_a_depot_of_another_fleet_is_refused_and_nothing_changes(client, db):
    held = UnassignedStation.objects.create(
        ocpp_identity="CP-NEW",
        first_seen_at="2026-03-02T08:00:00Z",
        last_seen_at="2026-03-02T08:00:00Z",
    )
    client.force_login(StaffUserFactory(is_superuser=True))

    response = client.post(
        reverse("admin:charging_chargingstation_unassigned"),
        {"charger": held.pk, "fleet": FleetFactory().pk, "depot": DepotFactory().pk},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"depot": ["The depot belongs to another fleet."]}
    assert UnassignedStation.objects.filter(pk=held.pk).exists()
    assert not ChargingStation.objects.exists()


def test_the_station_list_links_a_superuser_to_the_chargers_waiting(client, db):
    UnassignedStation.objects.create(
        ocpp_identity="CP-NEW",
        first_seen_at="2026-03-02T08:00:00Z",
        last_seen_at="2026-03-02T08:00:00Z",
    )
    client.force_login(StaffUserFactory(is_superuser=True))

    page = client.get(reverse("admin:charging_chargingstation_changelist")).content.decode()
    waiting = client.get(reverse("admin:charging_chargingstation_unassigned")).content.decode()

    assert "Chargers no fleet knows (1)" in page
    assert reverse("admin:charging_chargingstation_unassigned") in page
    assert "CP-NEW" in waiting
