"""GET /api/v1/me/stations/: my fleet's depot chargers live, and starting by the EVSE id
printed on a charger or held by its QR code; plus the start and stop requests' permissions."""

import datetime as dt
from datetime import UTC

import pytest

from apps.charging.chargers import charging_station_password_set
from apps.charging.choices import ChargerCallStatus, SessionStatus
from apps.charging.models import ChargerCall, ChargingSession, ChargingStation
from apps.charging.services import connector_update
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DepotFactory,
)

pytestmark = pytest.mark.django_db

STATIONS = "/api/v1/me/stations/"
SESSIONS = "/api/v1/me/sessions/"
REPORTED_AT = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def depot_station(fleet):
    station = ChargingStationFactory(
        fleet=fleet, depot=DepotFactory(fleet=fleet, name="Hub North"), ocpp_identity="CP-N1"
    )
    charging_station_password_set(station=station, password="sixteen-chars-ok")
    ChargingStation.objects.filter(pk=station.pk).update(is_connected=True)
    free = ConnectorFactory(station=station, connector_id=1, evse_id="NL*VTP*E0001*1")
    busy = ConnectorFactory(station=station, connector_id=2, evse_id="NL*VTP*E0001*2")
    for connector in (free, busy):
        type(connector).objects.filter(pk=connector.pk).update(
            status="Available" if connector is free else "Charging",
            error_code="NoError",
            status_at=REPORTED_AT,
        )
    return station, free, busy


def test_a_driver_sees_the_depot_chargers_of_their_fleet_live(
    driver_a_client, driver_b, depot_station, other_fleet, django_assert_num_queries
):
    station, free, busy = depot_station
    ChargingSessionFactory(fleet=station.fleet, driver=driver_b, connector=busy, active=True)
    ChargingStationFactory(fleet=station.fleet, depot=None, ocpp_identity="CP-HOME")
    ChargingStationFactory(fleet=other_fleet, ocpp_identity="CP-ELSEWHERE")

    with django_assert_num_queries(3):
        response = driver_a_client.get(STATIONS)

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": station.pk,
            "ocpp_identity": "CP-N1",
            "depot": "Hub North",
            "vendor": "Alfen",
            "model": "Eve Double Pro-line",
            "is_connected": True,
            "last_heartbeat_at": None,
            "connectors": [
                {
                    "id": free.pk,
                    "connector_id": 1,
                    "evse_id": "NL*VTP*E0001*1",
                    "standard": "IEC_62196_T2",
                    "power_type": "AC_3_PHASE",
                    "max_kw": "22.0",
                    "status": "Available",
                    "error_code": "NoError",
                    "status_at": "2026-03-02T08:00:00Z",
                    "is_charging": False,
                    "is_free": True,
                },
                {
                    "id": busy.pk,
                    "connector_id": 2,
                    "evse_id": "NL*VTP*E0001*2",
                    "standard": "IEC_62196_T2",
                    "power_type": "AC_3_PHASE",
                    "max_kw": "22.0",
                    "status": "Charging",
                    "error_code": "NoError",
                    "status_at": "2026-03-02T08:00:00Z",
                    "is_charging": True,
                    "is_free": False,
                },
            ],
        }
    ]


@pytest.mark.parametrize(
    "scanned",
    ["NL*VTP*E0001*1", "nl*vtp*e0001*1", "NLVTPE00011", "https://qr.example.com/c/NL*VTP*E0001*1"],
    ids=["as printed", "lower case", "without asterisks", "qr link"],
)
def test_a_start_names_the_connector_by_its_evse_id(
    driver_a_client, driver_a, depot_station, scanned
):
    _, free, _ = depot_station
    ChargeTokenFactory(driver=driver_a, uid="CARD-A")

    response = driver_a_client.post(SESSIONS, {"evse_id": scanned}, format="json")

    assert response.status_code == 202
    call = ChargerCall.objects.get()
    assert (call.connector, call.action, call.status) == (
        free,
        "RemoteStartTransaction",
        ChargerCallStatus.QUEUED,
    )


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"evse_id": "NL*VTP*E9999*1"}, "charging.other_fleet", "evse_id"),
        ({"evse_id": ""}, "blank", "evse_id"),
        ({}, "connector_or_evse_id", "connector"),
        ({"connector": 1, "evse_id": "NL*VTP*E0001*1"}, "connector_or_evse_id", "connector"),
    ],
    ids=["unknown evse id", "blank evse id", "neither", "both"],
)
def test_a_start_without_one_known_connector_is_refused_and_nothing_is_queued(
    driver_a_client, depot_station, body, code, field
):
    response = driver_a_client.post(SESSIONS, body, format="json")

    assert response.status_code in (400, 404)
    (error,) = response.json()["errors"]
    assert (error["code"], error["attr"]) == (code, field)
    assert not ChargerCall.objects.exists()


def test_a_forms_blank_evse_id_counts_as_not_given(driver_a_client, depot_station):
    response = driver_a_client.post(SESSIONS, {"evse_id": ""}, format="multipart")

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["code"], error["attr"]) == ("connector_or_evse_id", "connector")
    assert not ChargerCall.objects.exists()


def test_an_evse_id_of_another_fleet_is_not_found(driver_a_client, depot_station, other_fleet):
    other = ConnectorFactory(station=ChargingStationFactory(fleet=other_fleet), connector_id=1)
    connector_update(connector=other, changes={"evse_id": "de*oth*e1*1"})

    response = driver_a_client.post(SESSIONS, {"evse_id": "DE*OTH*E1*1"}, format="json")

    assert response.status_code == 404
    assert not ChargerCall.objects.exists()


def test_a_start_request_is_the_drivers_own(driver_a_client, driver_b_client, depot_station):
    started = driver_a_client.post(SESSIONS, {"connector": depot_station[1].pk}, format="json")

    mine = driver_a_client.get(started["Location"])
    theirs = driver_b_client.get(started["Location"])

    assert mine.status_code == 200
    assert mine.json()["accepted"] is None
    assert theirs.status_code == 404


def test_a_stop_of_a_charger_reported_session_asks_the_charger_and_changes_nothing_yet(
    driver_a_client, driver_a, depot_station
):
    _, free, _ = depot_station
    session = ChargingSessionFactory(
        fleet=driver_a.fleet, driver=driver_a, connector=free, active=True, source="ocpp"
    )

    response = driver_a_client.post(f"{SESSIONS}{session.pk}/stop/", {}, format="json")

    assert response.status_code == 202
    assert response.json()["session"] == session.pk
    assert response["Location"].endswith(f"/api/v1/me/stop-requests/{response.json()['id']}/")
    assert ChargingSession.objects.get(pk=session.pk).status == SessionStatus.ACTIVE
    assert ChargerCall.objects.get().payload == {"transactionId": session.pk}


@pytest.mark.parametrize(
    "path", [STATIONS, "/api/v1/me/start-requests/1/", "/api/v1/me/stop-requests/1/"]
)
def test_anonymous_and_managers_without_a_driver_profile_are_refused(
    anonymous_client, manager_client, path
):
    assert anonymous_client.get(path).status_code == 401
    assert manager_client.get(path).status_code == 403
