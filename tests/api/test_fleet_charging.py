"""The fleet's charging endpoints under /api/v1/fleet/: stations and connectors, tariffs imported
from OCPI documents, sessions with the manager's decisions on them; who may do what."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.charging.choices import (
    ConnectorStandard,
    HomeApproval,
    LocationKind,
    PowerType,
    SessionPurpose,
    SessionStatus,
)
from apps.charging.models import ChargingSession, ChargingStation, Connector, Tariff, TariffVersion
from apps.fleets.choices import MembershipRole
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DepotFactory,
    MeterValueFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
FLEET = "/api/v1/fleet/"
STATIONS = f"{FLEET}stations/"
CONNECTORS = f"{FLEET}connectors/"
TARIFFS = f"{FLEET}tariffs/"
SESSIONS = f"{FLEET}sessions/"
ADMIN, MANAGER, FINANCE, VIEWER = (
    MembershipRole.ADMIN,
    MembershipRole.MANAGER,
    MembershipRole.FINANCE,
    MembershipRole.VIEWER,
)

OCPI_TARIFF = {
    "country_code": "NL",
    "party_id": "EVN",
    "id": "DEPOT-DAY",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21.0, "step_size": 1}]},
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 21.0, "step_size": 1}]},
    ],
    "last_updated": "2026-03-01T00:00:00Z",
}


def errors_of(response) -> list[tuple[str, str | None]]:
    return [(error["code"], error["attr"]) for error in response.json()["errors"]]


def detail_url(base: str, row, action: str = "") -> str:
    return f"{base}{row.pk}/{action + '/' if action else ''}"


@pytest.fixture
def depot(fleet):
    return DepotFactory(fleet=fleet, name="Amsterdam West")


@pytest.fixture
def station(fleet, depot):
    station = ChargingStationFactory(
        fleet=fleet,
        depot=depot,
        ocpp_identity="AMS-W-01",
        vendor="Alfen",
        model="Eve Double Pro-line",
        serial_number="ACE0000001",
    )
    ConnectorFactory(station=station, connector_id=2, max_kw=Decimal("11.0"))
    ConnectorFactory(station=station, connector_id=1, max_kw=Decimal("22.0"))
    return station


@pytest.fixture
def other_station(other_fleet):
    station = ChargingStationFactory(fleet=other_fleet, ocpp_identity="OSL-01")
    ConnectorFactory(station=station, connector_id=1)
    return station


# Stations and connectors --------------------------------------------------------------------


class TestStationList:
    def test_lists_the_fleets_stations_with_their_connectors(
        self, member_client, fleet, station, depot, other_station
    ):
        response = member_client(VIEWER, fleet).get(STATIONS)

        assert response.status_code == 200
        assert response.json()["count"] == 1
        [listed] = response.json()["results"]
        connectors = {c["connector_id"]: c["id"] for c in listed["connectors"]}
        assert listed == {
            "id": station.pk,
            "fleet": fleet.pk,
            "depot": depot.pk,
            "ocpp_identity": "AMS-W-01",
            "vendor": "Alfen",
            "model": "Eve Double Pro-line",
            "serial_number": "ACE0000001",
            "firmware_version": "",
            "status": "offline",
            "last_heartbeat_at": None,
            "connectors": [
                {
                    "id": connectors[1],
                    "connector_id": 1,
                    "standard": "IEC_62196_T2",
                    "power_type": "AC_3_PHASE",
                    "max_kw": "22.0",
                },
                {
                    "id": connectors[2],
                    "connector_id": 2,
                    "standard": "IEC_62196_T2",
                    "power_type": "AC_3_PHASE",
                    "max_kw": "11.0",
                },
            ],
        }

    @pytest.mark.parametrize("stations", [1, 4])
    def test_list_takes_the_same_queries_whatever_the_number_of_stations(
        self, member_client, fleet, stations, django_assert_num_queries
    ):
        for _ in range(stations):
            ConnectorFactory(station=ChargingStationFactory(fleet=fleet))
        client = member_client(VIEWER, fleet)

        # The login, the caller's roles, the count, the stations with depots, their connectors.
        with django_assert_num_queries(5):
            response = client.get(STATIONS)

        assert len(response.json()["results"]) == stations

    def test_another_fleets_member_sees_none_and_gets_404_on_detail(
        self, member_client, other_fleet, station
    ):
        client = member_client(ADMIN, other_fleet)

        assert client.get(STATIONS).json()["results"] == []
        assert client.get(detail_url(STATIONS, station)).status_code == 404

    def test_anonymous_is_401_and_a_driver_without_membership_403(
        self, anonymous_client, driver_a_client, station
    ):
        assert anonymous_client.get(STATIONS).status_code == 401
        assert driver_a_client.get(STATIONS).status_code == 403
        assert driver_a_client.get(detail_url(STATIONS, station)).status_code == 403

    def test_an_api_key_reads_its_fleets_stations(self, api_key_client, fleet, station):
        response = api_key_client(VIEWER, fleet).get(detail_url(STATIONS, station))

        assert response.status_code == 200
        assert response.json()["ocpp_identity"] == "AMS-W-01"


NEW_STATION = {"ocpp_identity": "AMS-W-02", "vendor": "ABB", "model": "Terra AC"}


class TestStationCreateAndUpdate:
    @pytest.mark.parametrize("role", [ADMIN, MANAGER])
    def test_an_admin_or_manager_adds_a_station(self, member_client, fleet, depot, role):
        response = member_client(role, fleet).post(
            STATIONS, {**NEW_STATION, "fleet": fleet.pk, "depot": depot.pk}, format="json"
        )

        assert response.status_code == 201, response.json()
        station = ChargingStation.objects.get(ocpp_identity="AMS-W-02")
        assert (station.fleet, station.depot, station.vendor, station.model) == (
            fleet,
            depot,
            "ABB",
            "Terra AC",
        )
        assert response.json()["id"] == station.pk
        assert response.json()["connectors"] == []

    def test_a_manager_api_key_adds_a_station(self, api_key_client, fleet):
        response = api_key_client(MANAGER, fleet).post(
            STATIONS, {**NEW_STATION, "fleet": fleet.pk}, format="json"
        )

        assert response.status_code == 201
        assert ChargingStation.objects.get(ocpp_identity="AMS-W-02").depot is None

    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewers_cannot_add_and_nothing_is_made(self, member_client, fleet, role):
        response = member_client(role, fleet).post(
            STATIONS, {**NEW_STATION, "fleet": fleet.pk}, format="json"
        )

        assert response.status_code == 403
        assert not ChargingStation.objects.filter(ocpp_identity="AMS-W-02").exists()

    def test_a_viewer_api_key_cannot_add(self, api_key_client, fleet):
        response = api_key_client(VIEWER, fleet).post(
            STATIONS, {**NEW_STATION, "fleet": fleet.pk}, format="json"
        )

        assert response.status_code == 403
        assert not ChargingStation.objects.filter(ocpp_identity="AMS-W-02").exists()

    def test_another_fleet_or_its_depot_does_not_exist_for_the_caller(
        self, member_client, fleet, other_fleet
    ):
        client = member_client(MANAGER, fleet)
        other_depot = DepotFactory(fleet=other_fleet)

        into_other_fleet = client.post(
            STATIONS, {**NEW_STATION, "fleet": other_fleet.pk}, format="json"
        )
        with_other_depot = client.post(
            STATIONS, {**NEW_STATION, "fleet": fleet.pk, "depot": other_depot.pk}, format="json"
        )

        assert into_other_fleet.status_code == 400
        assert errors_of(into_other_fleet) == [("does_not_exist", "fleet")]
        assert with_other_depot.status_code == 400
        assert errors_of(with_other_depot) == [("does_not_exist", "depot")]
        assert not ChargingStation.objects.filter(ocpp_identity="AMS-W-02").exists()

    def test_status_and_heartbeat_are_refused_and_nothing_is_made(self, member_client, fleet):
        response = member_client(MANAGER, fleet).post(
            STATIONS,
            {
                **NEW_STATION,
                "fleet": fleet.pk,
                "status": "available",
                "last_heartbeat_at": "2026-03-01T10:00:00+01:00",
            },
            format="json",
        )

        assert response.status_code == 400
        assert errors_of(response) == [
            ("not_settable", "last_heartbeat_at"),
            ("not_settable", "status"),
        ]
        assert not ChargingStation.objects.filter(ocpp_identity="AMS-W-02").exists()

    def test_a_taken_ocpp_identity_is_refused(self, member_client, fleet, station):
        response = member_client(MANAGER, fleet).post(
            STATIONS, {**NEW_STATION, "ocpp_identity": "AMS-W-01", "fleet": fleet.pk}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("unique", "ocpp_identity")]
        assert ChargingStation.objects.filter(ocpp_identity="AMS-W-01").count() == 1

    def test_a_manager_edits_a_station(self, member_client, fleet, station):
        response = member_client(MANAGER, fleet).patch(
            detail_url(STATIONS, station), {"firmware_version": "6.4.1"}, format="json"
        )

        assert response.status_code == 200
        station.refresh_from_db()
        assert station.firmware_version == "6.4.1"
        assert response.json()["firmware_version"] == "6.4.1"

    def test_moving_a_station_to_another_fleet_is_refused_and_changes_nothing(
        self, member_client, fleet, other_fleet, station
    ):
        response = member_client(ADMIN, fleet).patch(
            detail_url(STATIONS, station),
            {"fleet": other_fleet.pk, "vendor": "Changed"},
            format="json",
        )

        assert response.status_code == 400
        assert errors_of(response) == [("not_settable", "fleet")]
        station.refresh_from_db()
        assert (station.fleet, station.vendor) == (fleet, "Alfen")

    def test_a_viewer_cannot_edit_and_another_fleets_manager_finds_nothing(
        self, member_client, fleet, other_fleet, station
    ):
        viewer = member_client(VIEWER, fleet).patch(
            detail_url(STATIONS, station), {"vendor": "Changed"}, format="json"
        )
        stranger = member_client(MANAGER, other_fleet).patch(
            detail_url(STATIONS, station), {"vendor": "Changed"}, format="json"
        )

        assert viewer.status_code == 403
        assert stranger.status_code == 404
        station.refresh_from_db()
        assert station.vendor == "Alfen"

    def test_put_is_not_offered(self, member_client, fleet, station):
        response = member_client(MANAGER, fleet).put(
            detail_url(STATIONS, station), {**NEW_STATION, "fleet": fleet.pk}, format="json"
        )

        assert response.status_code == 405


class TestConnectors:
    def test_lists_the_fleets_connectors(self, member_client, fleet, station, other_station):
        response = member_client(VIEWER, fleet).get(f"{CONNECTORS}?station={station.pk}")

        assert response.status_code == 200
        assert [
            (c["station"], c["connector_id"], c["max_kw"]) for c in response.json()["results"]
        ] == [
            (station.pk, 1, "22.0"),
            (station.pk, 2, "11.0"),
        ]
        assert member_client(VIEWER, fleet).get(CONNECTORS).json()["count"] == 2

    def test_a_manager_adds_a_connector(self, member_client, fleet, station):
        response = member_client(MANAGER, fleet).post(
            CONNECTORS,
            {
                "station": station.pk,
                "connector_id": 3,
                "standard": ConnectorStandard.IEC_62196_T2_COMBO,
                "power_type": PowerType.DC,
                "max_kw": "150.0",
            },
            format="json",
        )

        assert response.status_code == 201
        connector = Connector.objects.get(station=station, connector_id=3)
        assert response.json() == {
            "id": connector.pk,
            "station": station.pk,
            "connector_id": 3,
            "standard": "IEC_62196_T2_COMBO",
            "power_type": "DC",
            "max_kw": "150.0",
        }

    def test_a_taken_connector_id_is_refused(self, member_client, fleet, station):
        response = member_client(MANAGER, fleet).post(
            CONNECTORS,
            {
                "station": station.pk,
                "connector_id": 1,
                "standard": ConnectorStandard.IEC_62196_T2,
                "power_type": PowerType.AC_3_PHASE,
                "max_kw": "22.0",
            },
            format="json",
        )

        assert response.status_code == 400
        assert errors_of(response) == [("unique", None)]
        assert station.connectors.count() == 2

    def test_renumbering_onto_a_taken_connector_id_is_refused(self, member_client, fleet, station):
        connector = station.connectors.get(connector_id=1)

        response = member_client(MANAGER, fleet).patch(
            detail_url(CONNECTORS, connector), {"connector_id": 2}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("unique", None)]
        connector.refresh_from_db()
        assert connector.connector_id == 1

    def test_another_fleets_station_does_not_exist(self, member_client, fleet, other_station):
        response = member_client(MANAGER, fleet).post(
            CONNECTORS,
            {
                "station": other_station.pk,
                "connector_id": 2,
                "standard": ConnectorStandard.IEC_62196_T2,
                "power_type": PowerType.AC_3_PHASE,
                "max_kw": "22.0",
            },
            format="json",
        )

        assert response.status_code == 400
        assert errors_of(response) == [("does_not_exist", "station")]
        assert other_station.connectors.count() == 1

    def test_a_manager_changes_the_power_but_not_the_station(
        self, member_client, fleet, station, depot
    ):
        connector = station.connectors.get(connector_id=1)
        second_station = ChargingStationFactory(fleet=fleet, depot=depot)
        client = member_client(MANAGER, fleet)

        changed = client.patch(detail_url(CONNECTORS, connector), {"max_kw": "7.4"}, format="json")
        moved = client.patch(
            detail_url(CONNECTORS, connector), {"station": second_station.pk}, format="json"
        )

        assert changed.status_code == 200
        assert changed.json()["max_kw"] == "7.4"
        assert moved.status_code == 400
        assert errors_of(moved) == [("not_settable", "station")]
        connector.refresh_from_db()
        assert (connector.station, connector.max_kw) == (station, Decimal("7.4"))

    def test_finance_cannot_edit_a_connector(self, member_client, fleet, station):
        connector = station.connectors.get(connector_id=1)

        response = member_client(FINANCE, fleet).patch(
            detail_url(CONNECTORS, connector), {"max_kw": "7.4"}, format="json"
        )

        assert response.status_code == 403
        connector.refresh_from_db()
        assert connector.max_kw == Decimal("22.0")


# Tariffs ------------------------------------------------------------------------------------


class TestTariffs:
    def test_a_manager_imports_an_ocpi_tariff_and_reads_its_version_in_force(
        self, member_client, fleet
    ):
        client = member_client(MANAGER, fleet)

        response = client.post(
            TARIFFS,
            {"fleet": fleet.pk, "document": OCPI_TARIFF, "name": "Depot day rate"},
            format="json",
        )

        assert response.status_code == 201, response.json()
        tariff = Tariff.objects.get(fleet=fleet, ocpi_id="DEPOT-DAY")
        body = response.json()
        assert body["id"] == tariff.pk
        assert (body["name"], body["currency"], body["is_active"]) == (
            "Depot day rate",
            "EUR",
            True,
        )
        version = body["current_version"]
        assert version["number"] == 1
        assert [
            (component["type"], component["price"], component["vat"])
            for element in version["terms"]["elements"]
            for component in element["price_components"]
        ] == [("ENERGY", 0.35, 21.0), ("FLAT", 0.5, 21.0)]
        assert client.get(detail_url(TARIFFS, tariff)).json() == body

    def test_importing_the_same_tariff_again_changes_nothing(self, member_client, fleet):
        client = member_client(ADMIN, fleet)
        first = client.post(TARIFFS, {"fleet": fleet.pk, "document": OCPI_TARIFF}, format="json")

        again = client.post(TARIFFS, {"fleet": fleet.pk, "document": OCPI_TARIFF}, format="json")

        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["current_version"]["number"] == 1
        assert again.json()["name"] == "OCPI tariff DEPOT-DAY"
        assert TariffVersion.objects.filter(tariff__fleet=fleet).count() == 1

    def test_an_invalid_document_is_refused_and_nothing_is_made(self, member_client, fleet):
        document = {**OCPI_TARIFF, "elements": []}

        response = member_client(MANAGER, fleet).post(
            TARIFFS, {"fleet": fleet.pk, "document": document}, format="json"
        )

        assert response.status_code == 422
        assert errors_of(response)[0][0] == "charging.invalid_tariff"
        assert not Tariff.objects.exists()

    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewers_cannot_import(self, member_client, fleet, role):
        response = member_client(role, fleet).post(
            TARIFFS, {"fleet": fleet.pk, "document": OCPI_TARIFF}, format="json"
        )

        assert response.status_code == 403
        assert not Tariff.objects.exists()

    def test_importing_into_another_fleet_is_refused(self, member_client, fleet, other_fleet):
        response = member_client(MANAGER, fleet).post(
            TARIFFS, {"fleet": other_fleet.pk, "document": OCPI_TARIFF}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("does_not_exist", "fleet")]
        assert not Tariff.objects.exists()

    @pytest.mark.parametrize("tariffs", [1, 3])
    def test_list_takes_the_same_queries_whatever_the_number_of_tariffs(
        self, member_client, api_key_client, fleet, other_fleet, tariffs, django_assert_num_queries
    ):
        importer = member_client(MANAGER, fleet)
        for number in range(tariffs):
            document = {**OCPI_TARIFF, "id": f"T-{number}"}
            importer.post(TARIFFS, {"fleet": fleet.pk, "document": document}, format="json")
        api_key_client(MANAGER, other_fleet).post(
            TARIFFS, {"fleet": other_fleet.pk, "document": OCPI_TARIFF}, format="json"
        )
        client = member_client(VIEWER, fleet)

        # The login, the caller's roles, the count, the tariffs, their versions in force.
        with django_assert_num_queries(5):
            response = client.get(TARIFFS)

        assert [t["ocpi_id"] for t in response.json()["results"]] == [
            f"T-{number}" for number in range(tariffs)
        ]
        assert all(t["current_version"]["number"] == 1 for t in response.json()["results"])


# Sessions -----------------------------------------------------------------------------------


def session_of(driver, **fields) -> ChargingSession:
    """A completed depot session of two hours (an active one with `active=True`)."""
    if "started_at" in fields and not fields.get("active"):
        fields.setdefault("ended_at", fields["started_at"] + dt.timedelta(hours=2))
    return ChargingSessionFactory(fleet=driver.fleet, driver=driver, **fields)


def pending_home_session(driver) -> ChargingSession:
    return session_of(
        driver,
        vehicle=None,
        location_kind=LocationKind.HOME,
        home_approval=HomeApproval.PENDING,
        meter_start_wh=None,
        meter_stop_wh=None,
        energy_wh=9_000,
        started_at=dt.datetime(2026, 3, 3, 19, 0, tzinfo=UTC),
        ended_at=dt.datetime(2026, 3, 3, 23, 0, tzinfo=UTC),
    )


class TestSessionList:
    def test_lists_the_fleets_sessions_newest_first(
        self, member_client, fleet, driver_a, driver_b, other_fleet_driver
    ):
        older = session_of(driver_a, started_at=dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
        newer = session_of(driver_b, started_at=dt.datetime(2026, 3, 4, 8, 0, tzinfo=UTC))
        session_of(other_fleet_driver)

        response = member_client(VIEWER, fleet).get(SESSIONS)

        assert response.status_code == 200
        results = response.json()["results"]
        assert [s["id"] for s in results] == [newer.pk, older.pk]
        assert results[1]["driver"] == {
            "id": driver_a.pk,
            "full_name": "Sanne de Vries",
            "employee_number": "E00042",
        }
        assert (results[1]["started_at"], results[1]["energy_wh"], results[1]["energy_kwh"]) == (
            "2026-03-01T08:00:00Z",
            20_500,
            "20.500",
        )
        assert (results[1]["billed"], results[1]["is_suspect"], results[1]["source"]) == (
            False,
            False,
            "manual",
        )

    def test_filters_by_driver_vehicle_status_location_purpose_period_and_billed(
        self, member_client, fleet, driver_a, driver_b
    ):
        vehicle = VehicleFactory(fleet=fleet)
        match = session_of(
            driver_a,
            vehicle=vehicle,
            purpose=SessionPurpose.PRIVATE,
            started_at=dt.datetime(2026, 3, 5, 8, 0, tzinfo=UTC),
        )
        billed = session_of(
            driver_a,
            vehicle=vehicle,
            purpose=SessionPurpose.PRIVATE,
            started_at=dt.datetime(2026, 3, 6, 8, 0, tzinfo=UTC),
            billed_at=dt.datetime(2026, 4, 1, 6, 0, tzinfo=UTC),
        )
        session_of(driver_b, vehicle=vehicle, purpose=SessionPurpose.PRIVATE)
        session_of(driver_a, vehicle=vehicle, started_at=dt.datetime(2026, 3, 5, 9, tzinfo=UTC))
        session_of(driver_a, active=True, vehicle=vehicle, purpose=SessionPurpose.PRIVATE)
        pending_home_session(driver_a)
        client = member_client(VIEWER, fleet)

        def ids(query: str) -> list[int]:
            response = client.get(f"{SESSIONS}?{query}")
            assert response.status_code == 200, response.json()
            return [s["id"] for s in response.json()["results"]]

        common = (
            f"driver={driver_a.pk}&vehicle={vehicle.pk}&status=completed"
            "&location_kind=depot&purpose=private"
        )
        assert ids(f"{common}&billed=false") == [match.pk]
        assert ids(f"{common}&billed=true") == [billed.pk]
        assert ids(
            f"{common}&started_after=2026-03-06T00:00:00%2B00:00"
            "&started_before=2026-03-07T00:00:00%2B00:00"
        ) == [billed.pk]

    @pytest.mark.parametrize("page_size", [2, 10])
    def test_list_takes_the_same_queries_whatever_the_page_size(
        self, member_client, fleet, driver_a, page_size, django_assert_num_queries
    ):
        station = ChargingStationFactory(fleet=fleet)
        for hour in range(12):
            session_of(
                driver_a,
                connector=ConnectorFactory(station=station, connector_id=hour + 1),
                started_at=dt.datetime(2026, 3, 1, tzinfo=UTC) + dt.timedelta(hours=hour),
            )
        client = member_client(VIEWER, fleet)

        # The login, the caller's roles, the page of sessions with drivers, vehicles, places.
        with django_assert_num_queries(3):
            response = client.get(f"{SESSIONS}?page_size={page_size}")

        assert len(response.json()["results"]) == page_size

    def test_anonymous_is_401_a_driver_403_and_another_fleet_sees_nothing(
        self, anonymous_client, driver_a_client, member_client, other_fleet, driver_a
    ):
        session = session_of(driver_a)

        assert anonymous_client.get(SESSIONS).status_code == 401
        assert driver_a_client.get(SESSIONS).status_code == 403
        stranger = member_client(ADMIN, other_fleet)
        assert stranger.get(SESSIONS).json()["results"] == []
        assert stranger.get(detail_url(SESSIONS, session)).status_code == 404

    def test_an_api_key_lists_its_fleets_sessions(self, api_key_client, fleet, driver_a):
        session = session_of(driver_a)

        response = api_key_client(FINANCE, fleet).get(SESSIONS)

        assert [s["id"] for s in response.json()["results"]] == [session.pk]


class TestSessionDetail:
    def test_shows_meter_values_and_who_charged(
        self, member_client, fleet, driver_a, django_assert_num_queries
    ):
        session = session_of(driver_a, suspect_reason="", is_suspect=False)
        MeterValueFactory(session=session)
        client = member_client(VIEWER, fleet)

        # The login, the caller's roles, the session with its relations, its meter values.
        with django_assert_num_queries(4):
            response = client.get(detail_url(SESSIONS, session))

        assert response.status_code == 200
        body = response.json()
        assert body["meter_values"] == [
            {
                "measured_at": "2026-03-02T09:00:00Z",
                "energy_wh": 1_010_000,
                "power_w": 11_000,
                "soc": 55,
            }
        ]
        assert (body["meter_start_wh"], body["meter_stop_wh"]) == (1_000_000, 1_020_500)
        assert body["driver"]["id"] == driver_a.pk
        assert body["price_breakdown"] is None
        assert body["invalid_reason"] == ""


class TestHomeSessionReview:
    @pytest.mark.parametrize("role", [ADMIN, MANAGER])
    def test_an_admin_or_manager_approves_a_pending_home_session(
        self, member_client, fleet, driver_a, role
    ):
        session = pending_home_session(driver_a)
        client = member_client(role, fleet)

        response = client.post(detail_url(SESSIONS, session, "approve-home"), {}, format="json")

        assert response.status_code == 200
        session.refresh_from_db()
        assert (session.home_approval, session.reviewed_by, session.review_note) == (
            HomeApproval.APPROVED,
            client.user,
            "",
        )
        assert response.json()["home_approval"] == "approved"

    def test_a_manager_api_key_approves_without_a_reviewer_person(
        self, api_key_client, fleet, driver_a
    ):
        session = pending_home_session(driver_a)

        response = api_key_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "approve-home"), {"reason": "Receipt checked"}
        )

        assert response.status_code == 200
        session.refresh_from_db()
        assert (session.home_approval, session.reviewed_by, session.review_note) == (
            HomeApproval.APPROVED,
            None,
            "Receipt checked",
        )

    def test_a_manager_rejects_saying_why(self, member_client, fleet, driver_a):
        session = pending_home_session(driver_a)

        response = member_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "reject-home"),
            {"reason": "No home charger registered"},
            format="json",
        )

        assert response.status_code == 200
        session.refresh_from_db()
        assert (session.home_approval, session.review_note) == (
            HomeApproval.REJECTED,
            "No home charger registered",
        )
        assert response.json()["review_note"] == "No home charger registered"

    @pytest.mark.parametrize("reason", [None, "", "   "])
    def test_rejecting_without_a_reason_is_refused_and_changes_nothing(
        self, member_client, fleet, driver_a, reason
    ):
        session = pending_home_session(driver_a)
        body = {} if reason is None else {"reason": reason}

        response = member_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "reject-home"), body, format="json"
        )

        assert response.status_code == 400
        assert [attr for _, attr in errors_of(response)] == ["reason"]
        session.refresh_from_db()
        assert session.home_approval == HomeApproval.PENDING

    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewers_cannot_decide(self, member_client, fleet, driver_a, role):
        session = pending_home_session(driver_a)

        response = member_client(role, fleet).post(detail_url(SESSIONS, session, "approve-home"))

        assert response.status_code == 403
        session.refresh_from_db()
        assert session.home_approval == HomeApproval.PENDING

    def test_another_fleets_manager_and_a_driver_cannot_decide(
        self, member_client, api_key_client, driver_a_client, other_fleet, driver_a
    ):
        session = pending_home_session(driver_a)

        assert (
            member_client(MANAGER, other_fleet)
            .post(detail_url(SESSIONS, session, "approve-home"))
            .status_code
            == 404
        )
        assert (
            api_key_client(ADMIN, other_fleet)
            .post(detail_url(SESSIONS, session, "approve-home"))
            .status_code
            == 404
        )
        assert (
            driver_a_client.post(detail_url(SESSIONS, session, "approve-home")).status_code == 403
        )
        session.refresh_from_db()
        assert session.home_approval == HomeApproval.PENDING

    def test_a_session_already_decided_is_refused_with_409(self, member_client, fleet, driver_a):
        session = pending_home_session(driver_a)
        client = member_client(MANAGER, fleet)
        client.post(detail_url(SESSIONS, session, "reject-home"), {"reason": "Duplicate"})

        response = client.post(detail_url(SESSIONS, session, "approve-home"))

        assert response.status_code == 409
        assert errors_of(response) == [("charging.home_session_not_pending", "home_approval")]
        session.refresh_from_db()
        assert (session.home_approval, session.review_note) == (HomeApproval.REJECTED, "Duplicate")


class TestInvalidate:
    def test_a_manager_invalidates_a_session_saying_why(self, member_client, fleet, driver_a):
        session = session_of(driver_a)

        response = member_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "invalidate"), {"reason": "Charger test"}, format="json"
        )

        assert response.status_code == 200
        session.refresh_from_db()
        assert (session.status, session.invalid_reason) == (SessionStatus.INVALID, "Charger test")
        assert (response.json()["status"], response.json()["invalid_reason"]) == (
            "invalid",
            "Charger test",
        )

    def test_without_a_reason_it_is_refused_and_changes_nothing(
        self, member_client, fleet, driver_a
    ):
        session = session_of(driver_a)

        response = member_client(MANAGER, fleet).post(detail_url(SESSIONS, session, "invalidate"))

        assert response.status_code == 400
        assert errors_of(response) == [("required", "reason")]
        session.refresh_from_db()
        assert session.status == SessionStatus.COMPLETED

    def test_a_billed_session_is_refused_with_409_and_changes_nothing(
        self, member_client, fleet, driver_a
    ):
        session = session_of(driver_a, billed_at=dt.datetime(2026, 4, 1, 6, 0, tzinfo=UTC))

        response = member_client(ADMIN, fleet).post(
            detail_url(SESSIONS, session, "invalidate"), {"reason": "Charger test"}
        )

        assert response.status_code == 409
        assert errors_of(response) == [("charging.session_billed", "session")]
        session.refresh_from_db()
        assert (session.status, session.invalid_reason) == (SessionStatus.COMPLETED, "")

    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewers_cannot_invalidate(self, member_client, fleet, driver_a, role):
        session = session_of(driver_a)

        response = member_client(role, fleet).post(
            detail_url(SESSIONS, session, "invalidate"), {"reason": "Charger test"}
        )

        assert response.status_code == 403
        session.refresh_from_db()
        assert session.status == SessionStatus.COMPLETED

    def test_mass_assignment_is_ignored(self, member_client, fleet, driver_a):
        session = session_of(driver_a)

        response = member_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "invalidate"),
            {"reason": "Charger test", "energy_wh": 1, "billed_at": "2026-04-01T00:00:00Z"},
            format="json",
        )

        assert response.status_code == 200
        session.refresh_from_db()
        assert (session.energy_wh, session.billed_at) == (20_500, None)
