"""The fleet's charging endpoints under /api/v1/fleet/: stations and connectors, tariffs imported
from OCPI documents, edited field by field, deactivated and activated, sessions with the
manager's decisions and corrections; who may do what."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.charging.choices import (
    HomeApproval,
    LocationKind,
    PowerType,
    SessionPurpose,
    SessionStatus,
    UnpricedReason,
)
from apps.charging.models import (
    ChargingSession,
    ChargingStation,
    Connector,
    Tariff,
    TariffElement,
    TariffVersion,
)
from apps.charging.selectors import tariff_version_for_session
from apps.charging.services import charging_session_price, tariff_publish
from apps.fleets.choices import MembershipRole
from apps.vehicles.choices import ConnectorStandard
from tests.charging.ocpi_tariff_documents import REFUSED_TARIFFS
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DepotFactory,
    MembershipFactory,
    MeterValueFactory,
    TariffElementFactory,
    TariffFactory,
    VehicleFactory,
)
from tests.payments.builders import priced_session_create
from tests.races import taken_after_the_checks

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

        assert response.status_code == 409
        assert errors_of(response) == [("charging.station_identity_in_use", "ocpp_identity")]
        assert ChargingStation.objects.filter(ocpp_identity="AMS-W-01").count() == 1

    def test_an_ocpp_identity_taken_at_the_same_moment_is_409_naming_it_and_nothing_is_made(
        self, member_client, fleet, monkeypatch
    ):
        taken_after_the_checks(
            monkeypatch, ChargingStation, lambda: ChargingStationFactory(ocpp_identity="AMS-W-02")
        )

        response = member_client(MANAGER, fleet).post(
            STATIONS, {**NEW_STATION, "fleet": fleet.pk}, format="json"
        )

        assert response.status_code == 409
        assert response.json() == {
            "type": "client_error",
            "errors": [
                {
                    "code": "charging.station_identity_in_use",
                    "detail": "Another station already connects with the OCPP identity AMS-W-02.",
                    "attr": "ocpp_identity",
                }
            ],
        }
        assert not ChargingStation.objects.exists()

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

    def test_a_depot_of_another_fleet_the_caller_manages_is_refused_by_the_service(
        self, member_client, fleet, other_fleet, station
    ):
        """Both fleets are the caller's, so the depot is found; the station's own rule (a depot
        of its fleet) is the charging service's to judge, on create and edit alike."""
        client = member_client(MANAGER, fleet)
        MembershipFactory(user=client.user, fleet=other_fleet, role=MANAGER)
        other_depot = DepotFactory(fleet=other_fleet)

        created = client.post(
            STATIONS, {**NEW_STATION, "fleet": fleet.pk, "depot": other_depot.pk}, format="json"
        )
        edited = client.patch(
            detail_url(STATIONS, station), {"depot": other_depot.pk}, format="json"
        )

        assert (created.status_code, edited.status_code) == (400, 400)
        assert errors_of(created) == errors_of(edited) == [("other_fleet", "depot")]
        assert not ChargingStation.objects.filter(ocpp_identity="AMS-W-02").exists()
        station.refresh_from_db()
        assert station.depot.fleet == fleet

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

        assert response.status_code == 409
        assert errors_of(response) == [("charging.connector_id_in_use", "connector_id")]
        assert station.connectors.count() == 2

    def test_a_connector_id_taken_at_the_same_moment_is_409_naming_it_and_nothing_is_made(
        self, member_client, fleet, station, monkeypatch
    ):
        before = list(station.connectors.order_by("id").values_list("id", "connector_id"))
        taken_after_the_checks(
            monkeypatch, Connector, lambda: ConnectorFactory(station=station, connector_id=3)
        )

        response = member_client(MANAGER, fleet).post(
            CONNECTORS,
            {
                "station": station.pk,
                "connector_id": 3,
                "standard": ConnectorStandard.IEC_62196_T2,
                "power_type": PowerType.AC_3_PHASE,
                "max_kw": "22.0",
            },
            format="json",
        )

        assert response.status_code == 409
        assert response.json() == {
            "type": "client_error",
            "errors": [
                {
                    "code": "charging.connector_id_in_use",
                    "detail": "The station already has a connector 3.",
                    "attr": "connector_id",
                }
            ],
        }
        assert list(station.connectors.order_by("id").values_list("id", "connector_id")) == before

    def test_renumbering_onto_a_taken_connector_id_is_refused(self, member_client, fleet, station):
        connector = station.connectors.get(connector_id=1)

        response = member_client(MANAGER, fleet).patch(
            detail_url(CONNECTORS, connector), {"connector_id": 2}, format="json"
        )

        assert response.status_code == 409
        assert errors_of(response) == [("charging.connector_id_in_use", "connector_id")]
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

    def test_a_tariff_in_another_currency_than_the_fleets_is_refused_and_nothing_is_made(
        self, member_client, fleet
    ):
        document = {**OCPI_TARIFF, "currency": "XXX"}

        response = member_client(MANAGER, fleet).post(
            TARIFFS, {"fleet": fleet.pk, "document": document}, format="json"
        )

        assert response.status_code == 422
        assert errors_of(response) == [("charging.tariff_currency_not_fleets", "tariff.currency")]
        assert not Tariff.objects.exists()

    @pytest.mark.parametrize(("document", "field", "message"), REFUSED_TARIFFS)
    def test_a_refused_document_names_its_field_and_nothing_is_made(
        self, member_client, fleet, document, field, message
    ):
        response = member_client(ADMIN, fleet).post(
            TARIFFS, {"fleet": fleet.pk, "document": document}, format="json"
        )

        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"code": "charging.invalid_tariff", "detail": message, "attr": field}
        ]
        assert not Tariff.objects.exists()
        assert not TariffElement.objects.exists()
        assert not TariffVersion.objects.exists()

    def test_a_body_nested_100000_deep_is_refused_with_400_naming_the_limit(
        self, member_client, fleet
    ):
        body = f'{{"fleet": {fleet.pk}, "document": {"[" * 100_000}{"]" * 100_000}}}'

        response = member_client(ADMIN, fleet).post(TARIFFS, body, content_type="application/json")

        assert response.status_code == 400
        assert response.json() == {
            "type": "client_error",
            "errors": [
                {
                    "code": "voltop.json_too_deep",
                    "detail": "JSON parse error - the JSON nests deeper than 64 levels, the "
                    "limit (JSON_MAX_DEPTH).",
                    "attr": None,
                }
            ],
        }
        assert not Tariff.objects.exists()

    def test_a_form_field_nested_100000_deep_is_refused_with_400_naming_it(
        self, member_client, fleet
    ):
        response = member_client(ADMIN, fleet).post(
            TARIFFS, {"fleet": fleet.pk, "document": "[" * 100_000 + "]" * 100_000}
        )

        assert response.status_code == 400
        assert response.json()["errors"] == [
            {
                "code": "voltop.json_too_deep",
                "detail": "the JSON nests deeper than 64 levels, the limit (JSON_MAX_DEPTH)",
                "attr": "document",
            }
        ]
        assert not Tariff.objects.exists()

    def test_a_body_larger_than_the_limit_is_refused_with_400_naming_it(
        self, member_client, fleet, settings
    ):
        client = member_client(ADMIN, fleet)
        settings.JSON_MAX_BYTES = 1000
        document = {**OCPI_TARIFF, "padding": "x" * 1000}

        response = client.post(TARIFFS, {"fleet": fleet.pk, "document": document}, format="json")

        assert response.status_code == 400
        assert response.json()["errors"] == [
            {
                "code": "voltop.json_too_large",
                "detail": "JSON parse error - the JSON is larger than 1,000 bytes, the limit "
                "(JSON_MAX_BYTES).",
                "attr": None,
            }
        ]
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

    def test_a_session_shows_its_cost_to_the_fleet_apart_from_what_the_driver_is_charged(
        self, member_client, fleet, driver_a
    ):
        fleet.default_vat_rate = Decimal("9.00")
        fleet.save(update_fields=["default_vat_rate"])
        session = priced_session_create(
            driver=driver_a,
            location_kind=LocationKind.PUBLIC,
            started_at=dt.datetime(2026, 3, 3, 18, 0, tzinfo=UTC),
            price_excl_vat=Decimal("10.00"),
            price_vat=Decimal("2.10"),
        )
        client = member_client(VIEWER, fleet)

        listed = client.get(SESSIONS).json()["results"][0]
        detail = client.get(detail_url(SESSIONS, session)).json()

        for body in (listed, detail):
            assert body["cost_to_fleet"] == {
                "currency": "EUR",
                "excl_vat": "10.00",
                "vat": "2.10",
                "incl_vat": "12.10",
            }
            assert body["charged_to_driver"] == {
                "currency": "EUR",
                "excl_vat": "10.00",
                "vat_rate": "9.00",
                "vat": "0.90",
                "incl_vat": "10.90",
            }
            assert body["reimbursed_to_driver"] is None
            assert not {"price", "charged_to_you", "reimbursed_to_you"} & set(body)

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

    def test_lists_the_sessions_without_a_price_with_their_reason(
        self, member_client, fleet, driver_a, other_fleet_driver
    ):
        no_tariff = session_of(driver_a, started_at=dt.datetime(2026, 3, 1, 8, tzinfo=UTC))
        cost_pending = session_of(
            driver_a,
            location_kind=LocationKind.PUBLIC,
            started_at=dt.datetime(2026, 3, 2, 8, tzinfo=UTC),
        )
        elsewhere = session_of(other_fleet_driver)
        for session in (no_tariff, cost_pending, elsewhere):
            charging_session_price(session=session)
        not_priced_yet = session_of(driver_a, started_at=dt.datetime(2026, 3, 3, 8, tzinfo=UTC))
        priced = priced_session_create(
            driver=driver_a, started_at=dt.datetime(2026, 3, 4, 8, tzinfo=UTC)
        )
        session_of(driver_a, active=True)
        client = member_client(VIEWER, fleet)

        def listed(query: str) -> list[tuple[int, str | None]]:
            response = client.get(f"{SESSIONS}?{query}")
            assert response.status_code == 200, response.json()
            return [(s["id"], s["unpriced_reason"]) for s in response.json()["results"]]

        assert listed("status=completed") == [
            (priced.pk, None),
            (not_priced_yet.pk, None),
            (cost_pending.pk, "cost_pending"),
            (no_tariff.pk, "no_tariff"),
        ]
        assert listed("unpriced_reason=no_tariff") == [(no_tariff.pk, "no_tariff")]
        assert listed("unpriced_reason=cost_pending") == [(cost_pending.pk, "cost_pending")]
        assert listed("unpriced_reason=not_priced_yet") == [(not_priced_yet.pk, None)]
        assert listed("unpriced_reason=tariff_currency") == []
        detail = client.get(detail_url(SESSIONS, cost_pending)).json()
        assert detail["unpriced_reason"] == UnpricedReason.COST_PENDING

    def test_an_unknown_unpriced_reason_is_refused(self, member_client, fleet):
        response = member_client(VIEWER, fleet).get(f"{SESSIONS}?unpriced_reason=forgotten")

        assert response.status_code == 400
        assert errors_of(response) == [("invalid_choice", "unpriced_reason")]

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


def test_the_fleets_breakdown_shows_the_vat_its_tariff_charged(member_client, fleet, driver_a):
    published_tariff(fleet)
    station = ChargingStationFactory(fleet=fleet)
    session = charging_session_price(
        session=session_of(driver_a, connector=ConnectorFactory(station=station))
    )

    body = member_client(VIEWER, fleet).get(detail_url(SESSIONS, session)).json()

    # 20.5 kWh at 0.30 and 0.50 per session, with 21 % VAT.
    breakdown = body["price_breakdown"]
    assert (breakdown["lines_excl_vat"], breakdown["lines_vat"]) == ("6.6500", "1.3965")
    assert [line["vat_rate"] for line in breakdown["periods"][0]["lines"]] == ["21", "21"]
    assert body["cost_to_fleet"]["vat"] == "1.40"


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


# Tariff edits, deactivation and activation ---------------------------------------------------

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NEW_YEAR = dt.datetime(2026, 1, 1, tzinfo=UTC)
V1_TERMS = {
    "country_code": "NL",
    "party_id": "VTP",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.5, "vat": 21, "step_size": 1},
                {"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1},
            ]
        }
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


def published_tariff(fleet, *, energy_price: str = "0.30000", **fields) -> Tariff:
    """0.50 per session and `energy_price` per kWh, 21 % VAT, published as version 1 in force
    since 1 January 2026."""
    tariff = TariffFactory(fleet=fleet, **fields)
    TariffElementFactory(tariff=tariff, energy_price=Decimal(energy_price))
    tariff_publish(tariff=tariff, effective_from=NEW_YEAR)
    return tariff


def tariff_state(tariff: Tariff) -> tuple:
    """Everything an edit might change: the row (with its updated_at) and every version."""
    return (
        Tariff.objects.values().get(pk=tariff.pk),
        list(tariff.versions.order_by("number").values_list("number", "effective_from", "terms")),
    )


def priced_depot_session(driver, connector) -> ChargingSession:
    """20.5 kWh on 2 March 2026, 08:00-10:00 UTC, priced by the tariff in force then."""
    return charging_session_price(session=session_of(driver, connector=connector))


@pytest.fixture
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.mark.usefixtures("frozen_now")
class TestTariffUpdate:
    def test_new_prices_are_a_new_version_and_a_priced_session_keeps_its_price(
        self, member_client, fleet, station, driver_a
    ):
        tariff = published_tariff(fleet, ocpi_id="DEPOT-DAY")
        session = priced_depot_session(driver_a, station.connectors.get(connector_id=1))
        version_1 = tariff.versions.get()

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff),
            {
                "name": "Depot day rate",
                "min_price_excl_vat": "2.50",
                "min_price_incl_vat": "3.03",
                "parking_grace_minutes": 15,
            },
            format="json",
        )

        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["name"], body["min_price_excl_vat"], body["min_price_incl_vat"]) == (
            "Depot day rate",
            "2.5000",
            "3.0300",
        )
        assert (body["max_price_excl_vat"], body["parking_grace_minutes"]) == (None, 15)
        assert body["current_version"] == {
            "number": 2,
            "effective_from": "2026-03-10T12:00:00Z",
            "terms": {
                **V1_TERMS,
                "id": "DEPOT-DAY",
                "min_price": {"excl_vat": 2.5, "incl_vat": 3.03},
                "last_updated": "2026-03-10T12:00:00Z",
                "voltop_parking_grace_seconds": 900,
            },
        }
        assert tariff.versions.get(number=1).terms == {**V1_TERMS, "id": "DEPOT-DAY"}
        assert tariff.versions.get(number=1).terms == version_1.terms
        session.refresh_from_db()
        assert (session.tariff_version, session.price_excl_vat, session.price_incl_vat) == (
            version_1,
            Decimal("6.65"),
            Decimal("8.05"),
        )

    def test_prices_from_a_later_moment_take_effect_then(self, member_client, fleet, driver_a):
        tariff = published_tariff(fleet)

        response = member_client(ADMIN, fleet).patch(
            detail_url(TARIFFS, tariff),
            {"max_price_excl_vat": "20.00", "effective_from": "2026-04-01T00:00:00+02:00"},
            format="json",
        )

        assert response.status_code == 200, response.json()
        assert response.json()["current_version"]["number"] == 1
        assert "effective_from" not in response.json()
        version_2 = tariff.versions.get(number=2)
        assert version_2.effective_from == dt.datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
        assert version_2.terms["max_price"] == {"excl_vat": 20}
        in_march = session_of(driver_a, started_at=dt.datetime(2026, 3, 31, 21, 0, tzinfo=UTC))
        in_april = session_of(driver_a, started_at=dt.datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
        assert tariff_version_for_session(in_march).number == 1
        assert tariff_version_for_session(in_april) == version_2

    def test_a_new_name_alone_publishes_no_version(self, member_client, fleet):
        tariff = published_tariff(fleet)

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"name": "Night and day"}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["current_version"]["number"] == 1
        tariff.refresh_from_db()
        assert tariff.name == "Night and day"
        assert list(tariff.versions.values_list("number", flat=True)) == [1]

    def test_a_window_ahead_moves_and_is_published(self, member_client, fleet):
        tariff = published_tariff(fleet, valid_from=dt.datetime(2026, 4, 1, tzinfo=UTC))

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff),
            {"valid_from": "2026-05-01T00:00:00+02:00", "valid_until": "2027-01-01T00:00:00Z"},
            format="json",
        )

        assert response.status_code == 200, response.json()
        assert (response.json()["valid_from"], response.json()["valid_until"]) == (
            "2026-04-30T22:00:00Z",
            "2027-01-01T00:00:00Z",
        )
        version_2 = tariff.versions.get(number=2)
        assert (version_2.terms["start_date_time"], version_2.terms["end_date_time"]) == (
            "2026-04-30T22:00:00Z",
            "2027-01-01T00:00:00Z",
        )

    @pytest.mark.parametrize(
        ("body", "status", "error"),
        [
            (
                {"valid_from": "2026-03-11T00:00:00Z"},
                422,
                ("charging.tariff_change_in_past", "valid_from"),
            ),
            (
                {"valid_until": "2026-03-09T00:00:00Z"},
                422,
                ("charging.tariff_change_in_past", "valid_until"),
            ),
            (
                {"min_price_excl_vat": "1.00", "effective_from": "2026-03-10T11:59:00Z"},
                422,
                ("charging.tariff_change_in_past", "effective_from"),
            ),
            (
                {"min_price_excl_vat": "5.00", "max_price_excl_vat": "4.99"},
                422,
                ("charging.invalid_tariff", "max_price_excl_vat"),
            ),
            (
                {"min_price_incl_vat": "1.00"},
                422,
                ("charging.invalid_tariff", "min_price_excl_vat"),
            ),
            (
                {"max_price_excl_vat": "2.00", "max_price_incl_vat": "1.99"},
                422,
                ("charging.invalid_tariff", "max_price_incl_vat"),
            ),
            (
                {"effective_from": "2026-04-01T00:00:00Z"},
                422,
                ("charging.invalid_tariff", "effective_from"),
            ),
            ({"valid_until": "2026-03-11T00:00:00"}, 400, ("naive", "valid_until")),
            ({"parking_grace_minutes": -1}, 400, ("min_value", "parking_grace_minutes")),
            ({"min_price_excl_vat": "-0.01"}, 400, ("min_value", "min_price_excl_vat")),
            ({"station": 999_999}, 400, ("does_not_exist", "station")),
        ],
    )
    def test_a_refused_field_is_named_and_nothing_is_saved(
        self, member_client, fleet, body, status, error
    ):
        tariff = published_tariff(fleet, name="Depot tariff")
        before = tariff_state(tariff)

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"name": "Renamed", **body}, format="json"
        )

        assert response.status_code == status
        assert errors_of(response) == [error]
        assert tariff_state(tariff) == before

    def test_ending_the_only_tariff_of_a_station_is_refused_with_409(
        self, member_client, fleet, station
    ):
        tariff = published_tariff(fleet)
        before = tariff_state(tariff)

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"valid_until": "2026-03-10T12:01:00Z"}, format="json"
        )

        assert response.status_code == 409
        assert errors_of(response) == [("charging.tariff_still_needed", "valid_until")]
        assert response.json()["errors"][0]["detail"] == (
            "No other tariff prices charging at AMS-W-01#1, AMS-W-01#2 from 2026-03-10 13:01 "
            "CET; give them another tariff first."
        )
        assert tariff_state(tariff) == before

    def test_ending_a_tariff_where_another_prices_then_is_allowed(
        self, member_client, fleet, station
    ):
        published_tariff(fleet, valid_from=dt.datetime(2026, 3, 10, 12, 1, tzinfo=UTC))
        tariff = published_tariff(fleet)

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"valid_until": "2026-03-10T12:01:00Z"}, format="json"
        )

        assert response.status_code == 200, response.json()
        assert response.json()["valid_until"] == "2026-03-10T12:01:00Z"

    def test_a_blank_name_is_refused(self, member_client, fleet):
        tariff = published_tariff(fleet, name="Depot tariff")
        before = tariff_state(tariff)

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"name": "", "parking_grace_minutes": 5}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("blank", "name")]
        assert tariff_state(tariff) == before

    def test_fields_a_client_may_not_set_are_refused_by_name_and_nothing_changes(
        self, member_client, fleet, other_fleet
    ):
        tariff = published_tariff(fleet, name="Depot tariff")
        before = tariff_state(tariff)

        response = member_client(ADMIN, fleet).patch(
            detail_url(TARIFFS, tariff),
            {
                "name": "Renamed",
                "id": tariff.pk + 1,
                "fleet": other_fleet.pk,
                "ocpi_id": "OTHER",
                "currency": "USD",
                "is_active": False,
                "current_version": {"number": 9},
            },
            format="json",
        )

        assert response.status_code == 400
        assert errors_of(response) == [
            ("not_settable", "currency"),
            ("not_settable", "current_version"),
            ("not_settable", "fleet"),
            ("not_settable", "id"),
            ("not_settable", "is_active"),
            ("not_settable", "ocpi_id"),
        ]
        assert tariff_state(tariff) == before

    def test_a_version_taking_effect_later_refuses_a_change_before_it(self, member_client, fleet):
        tariff = published_tariff(fleet)
        client = member_client(MANAGER, fleet)
        client.patch(
            detail_url(TARIFFS, tariff),
            {"min_price_excl_vat": "1.00", "effective_from": "2026-04-01T00:00:00Z"},
            format="json",
        )
        before = tariff_state(tariff)

        response = client.patch(
            detail_url(TARIFFS, tariff), {"min_price_excl_vat": "2.00"}, format="json"
        )

        assert response.status_code == 409
        assert errors_of(response) == [("charging.tariff_version_scheduled", "effective_from")]
        assert tariff_state(tariff) == before

    def test_a_manager_moves_a_tariff_from_a_station_to_one_of_its_connectors(
        self, member_client, fleet, station
    ):
        published_tariff(fleet, name="Fleet tariff")
        tariff = published_tariff(fleet, station=station)
        connector = station.connectors.get(connector_id=2)

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"station": None, "connector": connector.pk}, format="json"
        )

        assert response.status_code == 200, response.json()
        assert (response.json()["station"], response.json()["connector"]) == (None, connector.pk)
        tariff.refresh_from_db()
        assert (tariff.station, tariff.connector) == (None, connector)
        assert list(tariff.versions.values_list("number", flat=True)) == [1]

    def test_two_scopes_at_once_are_refused(self, member_client, fleet, station, depot):
        tariff = published_tariff(fleet, station=station)
        before = tariff_state(tariff)

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"depot": depot.pk}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("one_scope", "depot")]
        assert tariff_state(tariff) == before

    def test_moving_the_only_tariff_of_connectors_away_is_refused_with_409(
        self, member_client, fleet, station
    ):
        tariff = published_tariff(fleet, station=station)
        elsewhere = ChargingStationFactory(fleet=fleet, ocpp_identity="AMS-W-09")
        before = tariff_state(tariff)

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"station": elsewhere.pk}, format="json"
        )

        assert response.status_code == 409
        assert errors_of(response) == [("charging.tariff_still_needed", "station")]
        assert response.json()["errors"][0]["detail"] == (
            "No other tariff prices charging at AMS-W-01#1, AMS-W-01#2; give them another "
            "tariff first."
        )
        assert tariff_state(tariff) == before

    def test_another_fleets_station_does_not_exist_for_the_caller(
        self, member_client, fleet, other_station
    ):
        tariff = published_tariff(fleet)
        before = tariff_state(tariff)

        response = member_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"station": other_station.pk}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("does_not_exist", "station")]
        assert tariff_state(tariff) == before

    def test_a_manager_of_two_fleets_cannot_scope_a_tariff_to_the_others_station(
        self, member_client, fleet, other_fleet, other_station
    ):
        tariff = published_tariff(fleet)
        client = member_client(MANAGER, fleet)
        MembershipFactory(fleet=other_fleet, user=client.user, role=MANAGER)
        before = tariff_state(tariff)

        response = client.patch(
            detail_url(TARIFFS, tariff), {"station": other_station.pk}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("other_fleet", "station")]
        assert tariff_state(tariff) == before

    def test_a_manager_api_key_edits_a_tariff(self, api_key_client, fleet):
        tariff = published_tariff(fleet)

        response = api_key_client(MANAGER, fleet).patch(
            detail_url(TARIFFS, tariff), {"name": "From the ERP"}, format="json"
        )

        assert response.status_code == 200
        tariff.refresh_from_db()
        assert tariff.name == "From the ERP"

    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewers_cannot_edit_and_nothing_changes(
        self, member_client, api_key_client, fleet, role
    ):
        tariff = published_tariff(fleet)
        before = tariff_state(tariff)

        member = member_client(role, fleet).patch(
            detail_url(TARIFFS, tariff), {"name": "Renamed"}, format="json"
        )
        api_key = api_key_client(role, fleet).patch(
            detail_url(TARIFFS, tariff), {"name": "Renamed"}, format="json"
        )

        assert (member.status_code, api_key.status_code) == (403, 403)
        assert tariff_state(tariff) == before

    def test_another_fleets_manager_finds_nothing_and_a_driver_is_forbidden(
        self, member_client, anonymous_client, driver_a_client, other_fleet, fleet
    ):
        tariff = published_tariff(fleet)
        before = tariff_state(tariff)
        url = detail_url(TARIFFS, tariff)

        stranger = member_client(ADMIN, other_fleet).patch(url, {"name": "X"}, format="json")
        driver = driver_a_client.patch(url, {"name": "X"}, format="json")
        anonymous = anonymous_client.patch(url, {"name": "X"}, format="json")

        assert (stranger.status_code, driver.status_code, anonymous.status_code) == (
            404,
            403,
            401,
        )
        assert tariff_state(tariff) == before

    def test_put_is_not_offered(self, member_client, fleet):
        tariff = published_tariff(fleet)

        response = member_client(ADMIN, fleet).put(
            detail_url(TARIFFS, tariff), {"name": "X"}, format="json"
        )

        assert response.status_code == 405


@pytest.mark.usefixtures("frozen_now")
class TestTariffDeactivateAndActivate:
    def test_a_deactivated_tariff_gives_way_to_the_fleets_and_keeps_what_it_priced(
        self, member_client, fleet, station, driver_a
    ):
        fleet_tariff = published_tariff(fleet, energy_price="0.40000")
        station_tariff = published_tariff(fleet, station=station)
        connector = station.connectors.get(connector_id=1)
        before = priced_depot_session(driver_a, connector)

        response = member_client(MANAGER, fleet).post(
            detail_url(TARIFFS, station_tariff, "deactivate")
        )

        assert response.status_code == 200
        assert (response.json()["is_active"], response.json()["current_version"]["number"]) == (
            False,
            1,
        )
        station_tariff.refresh_from_db()
        assert station_tariff.is_active is False
        before.refresh_from_db()
        assert (before.tariff_version.tariff, before.price_incl_vat) == (
            station_tariff,
            Decimal("8.05"),
        )
        after = priced_depot_session(driver_a, station.connectors.get(connector_id=2))
        assert (after.tariff_version, after.price_excl_vat, after.price_incl_vat) == (
            fleet_tariff.versions.get(),
            Decimal("8.70"),
            Decimal("10.53"),
        )

    def test_the_only_tariff_of_connectors_is_refused_with_409_and_stays_active(
        self, member_client, fleet, station
    ):
        tariff = published_tariff(fleet)
        before = tariff_state(tariff)

        response = member_client(ADMIN, fleet).post(detail_url(TARIFFS, tariff, "deactivate"))

        assert response.status_code == 409
        assert errors_of(response) == [("charging.tariff_still_needed", "is_active")]
        assert response.json()["errors"][0]["detail"] == (
            "No other tariff prices charging at AMS-W-01#1, AMS-W-01#2; give them another "
            "tariff first."
        )
        assert tariff_state(tariff) == before

    def test_a_tariff_that_has_ended_is_deactivated_even_alone(self, member_client, fleet, station):
        tariff = published_tariff(fleet, valid_until=dt.datetime(2026, 3, 1, tzinfo=UTC))

        response = member_client(MANAGER, fleet).post(detail_url(TARIFFS, tariff, "deactivate"))

        assert response.status_code == 200
        tariff.refresh_from_db()
        assert tariff.is_active is False

    def test_deactivating_again_or_activating_an_active_tariff_changes_nothing(
        self, member_client, fleet
    ):
        inactive = published_tariff(fleet, is_active=False)
        active = published_tariff(fleet)
        before = (tariff_state(inactive), tariff_state(active))
        client = member_client(MANAGER, fleet)

        deactivated = client.post(detail_url(TARIFFS, inactive, "deactivate"))
        activated = client.post(detail_url(TARIFFS, active, "activate"))

        assert (deactivated.status_code, activated.status_code) == (200, 200)
        assert (tariff_state(inactive), tariff_state(active)) == before

    def test_an_activated_tariff_prices_sessions_again(
        self, member_client, fleet, station, driver_a
    ):
        tariff = published_tariff(fleet, is_active=False)
        connector = station.connectors.get(connector_id=1)

        response = member_client(ADMIN, fleet).post(detail_url(TARIFFS, tariff, "activate"))

        assert response.status_code == 200
        assert response.json()["is_active"] is True
        session = priced_depot_session(driver_a, connector)
        assert (session.tariff_version, session.price_incl_vat) == (
            tariff.versions.get(),
            Decimal("8.05"),
        )

    def test_a_body_sent_along_changes_nothing_else(self, member_client, fleet, station):
        published_tariff(fleet, name="Fleet tariff")
        tariff = published_tariff(fleet, name="Station tariff", station=station)

        response = member_client(MANAGER, fleet).post(
            detail_url(TARIFFS, tariff, "deactivate"),
            {"name": "Renamed", "is_active": True, "station": None},
            format="json",
        )

        assert response.status_code == 200
        tariff.refresh_from_db()
        assert (tariff.is_active, tariff.name, tariff.station) == (False, "Station tariff", station)

    @pytest.mark.parametrize("action", ["deactivate", "activate"])
    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewers_cannot_and_nothing_changes(
        self, member_client, fleet, station, role, action
    ):
        published_tariff(fleet)
        tariff = published_tariff(fleet, is_active=action == "activate")
        before = tariff_state(tariff)

        response = member_client(role, fleet).post(detail_url(TARIFFS, tariff, action))

        assert response.status_code == 403
        assert tariff_state(tariff) == before

    @pytest.mark.parametrize("action", ["deactivate", "activate"])
    def test_another_fleets_admin_finds_nothing_and_a_driver_is_forbidden(
        self, member_client, driver_a_client, anonymous_client, fleet, other_fleet, action
    ):
        published_tariff(fleet)
        tariff = published_tariff(fleet, is_active=action == "activate")
        before = tariff_state(tariff)
        url = detail_url(TARIFFS, tariff, action)

        assert member_client(ADMIN, other_fleet).post(url).status_code == 404
        assert driver_a_client.post(url).status_code == 403
        assert anonymous_client.post(url).status_code == 401
        assert tariff_state(tariff) == before


# Session corrections -------------------------------------------------------------------------


def session_row(session: ChargingSession) -> dict:
    """Everything a correction might change about a session, its updated_at included."""
    return ChargingSession.objects.values().get(pk=session.pk)


CORRECTION = {
    "started_at": "2026-03-02T09:00:00+01:00",
    "ended_at": "2026-03-02T10:30:00+01:00",
    "meter_start_wh": 1_000_000,
    "meter_stop_wh": 1_010_000,
}


@pytest.mark.usefixtures("frozen_now")
class TestSessionCorrect:
    @pytest.mark.parametrize("role", [ADMIN, MANAGER])
    def test_a_correction_changes_the_session_and_it_is_priced_again(
        self, member_client, fleet, station, driver_a, role, django_capture_on_commit_callbacks
    ):
        published_tariff(fleet)
        session = priced_depot_session(driver_a, station.connectors.get(connector_id=1))
        assert session.price_incl_vat == Decimal("8.05")

        with django_capture_on_commit_callbacks(execute=True):
            response = member_client(role, fleet).post(
                detail_url(SESSIONS, session, "correct"),
                {**CORRECTION, "purpose": "private"},
                format="json",
            )

        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["started_at"], body["ended_at"], body["purpose"]) == (
            "2026-03-02T08:00:00Z",
            "2026-03-02T09:30:00Z",
            "private",
        )
        assert (body["meter_start_wh"], body["meter_stop_wh"]) == (1_000_000, 1_010_000)
        assert (body["energy_wh"], body["energy_kwh"], body["cost_to_fleet"]) == (
            10_000,
            "10.000",
            None,
        )
        session.refresh_from_db()
        assert (session.energy_wh, session.purpose) == (10_000, SessionPurpose.PRIVATE)
        assert (session.price_excl_vat, session.price_vat, session.price_incl_vat) == (
            Decimal("3.50"),
            Decimal("0.74"),
            Decimal("4.24"),
        )

    def test_without_meter_readings_the_energy_is_given(
        self, member_client, fleet, driver_a, django_capture_on_commit_callbacks
    ):
        session = session_of(driver_a)

        with django_capture_on_commit_callbacks(execute=True):
            response = member_client(MANAGER, fleet).post(
                detail_url(SESSIONS, session, "correct"),
                {
                    "started_at": "2026-03-02T08:00:00Z",
                    "ended_at": "2026-03-02T10:00:00Z",
                    "energy_wh": 18_250,
                },
                format="json",
            )

        assert response.status_code == 200, response.json()
        session.refresh_from_db()
        assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (
            None,
            None,
            18_250,
        )
        assert session.purpose == SessionPurpose.BUSINESS

    def test_a_public_session_keeps_the_providers_cost(self, member_client, fleet, driver_a):
        session = priced_session_create(
            driver=driver_a,
            location_kind=LocationKind.PUBLIC,
            started_at=dt.datetime(2026, 3, 3, 18, 0, tzinfo=UTC),
            energy_wh=12_345,
            price_excl_vat=Decimal("4.10"),
            price_vat=Decimal("0.86"),
        )

        response = member_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "correct"),
            {
                "started_at": "2026-03-03T18:00:00Z",
                "ended_at": "2026-03-03T19:00:00Z",
                "energy_wh": 12_000,
            },
            format="json",
        )

        assert response.status_code == 200, response.json()
        assert response.json()["cost_to_fleet"] == {
            "currency": "EUR",
            "excl_vat": "4.10",
            "vat": "0.86",
            "incl_vat": "4.96",
        }
        session.refresh_from_db()
        assert (session.energy_wh, session.price_incl_vat) == (12_000, Decimal("4.96"))

    def test_a_billed_session_is_refused_with_409_and_changes_nothing(
        self, member_client, fleet, driver_a
    ):
        session = session_of(driver_a, billed_at=dt.datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
        before = session_row(session)

        response = member_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "correct"), CORRECTION, format="json"
        )

        assert response.status_code == 409
        assert errors_of(response) == [("charging.session_billed", "session")]
        assert session_row(session) == before

    def test_an_active_session_is_refused_with_409(self, member_client, fleet, driver_a):
        session = session_of(driver_a, active=True)
        before = session_row(session)

        response = member_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "correct"), CORRECTION, format="json"
        )

        assert response.status_code == 409
        assert errors_of(response) == [("charging.session_not_correctable", "session")]
        assert session_row(session) == before

    @pytest.mark.parametrize(
        ("changes", "status", "error"),
        [
            (
                {"ended_at": "2026-03-02T08:59:00+01:00"},
                422,
                ("charging.end_before_start", "ended_at"),
            ),
            (
                {"ended_at": "2026-03-10T12:06:00Z"},
                422,
                ("charging.invalid_correction", "ended_at"),
            ),
            (
                {"meter_stop_wh": 999_999},
                422,
                ("charging.meter_went_backwards", "meter_stop_wh"),
            ),
            ({"energy_wh": 9_000}, 422, ("charging.invalid_correction", "energy_wh")),
            (
                {"meter_start_wh": None, "meter_stop_wh": None},
                422,
                ("charging.invalid_correction", "energy_wh"),
            ),
            (
                {"started_at": "2026-03-02T10:01:00+01:00"},
                422,
                ("charging.meter_value_outside_session", "started_at"),
            ),
            ({"meter_start_wh": -1}, 400, ("min_value", "meter_start_wh")),
            ({"started_at": "2026-03-02T09:00:00"}, 400, ("naive", "started_at")),
            ({"purpose": "leisure"}, 400, ("invalid_choice", "purpose")),
        ],
    )
    def test_a_correction_that_breaks_a_rule_names_it_and_changes_nothing(
        self, member_client, fleet, driver_a, changes, status, error
    ):
        session = session_of(driver_a)
        MeterValueFactory(session=session)
        before = session_row(session)

        response = member_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "correct"), {**CORRECTION, **changes}, format="json"
        )

        assert response.status_code == status
        assert errors_of(response) == [error]
        assert session_row(session) == before

    def test_times_are_required(self, member_client, fleet, driver_a):
        session = session_of(driver_a)
        before = session_row(session)

        response = member_client(MANAGER, fleet).post(
            detail_url(SESSIONS, session, "correct"), {"energy_wh": 1_000}, format="json"
        )

        assert response.status_code == 400
        assert errors_of(response) == [("required", "started_at"), ("required", "ended_at")]
        assert session_row(session) == before

    def test_fields_a_manager_may_not_set_are_refused_by_name_and_nothing_changes(
        self, member_client, fleet, driver_a, driver_b
    ):
        session = session_of(driver_a)
        before = session_row(session)

        response = member_client(ADMIN, fleet).post(
            detail_url(SESSIONS, session, "correct"),
            {
                **CORRECTION,
                "driver": driver_b.pk,
                "fleet": fleet.pk,
                "status": "invalid",
                "price_incl_vat": "0.00",
                "billed_at": "2026-03-05T06:00:00Z",
            },
            format="json",
        )

        assert response.status_code == 400
        assert errors_of(response) == [
            ("not_settable", "billed_at"),
            ("not_settable", "driver"),
            ("not_settable", "fleet"),
            ("not_settable", "price_incl_vat"),
            ("not_settable", "status"),
        ]
        assert session_row(session) == before

    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewers_cannot_correct(
        self, member_client, api_key_client, fleet, driver_a, role
    ):
        session = session_of(driver_a)
        before = session_row(session)
        url = detail_url(SESSIONS, session, "correct")

        assert member_client(role, fleet).post(url, CORRECTION, format="json").status_code == 403
        assert api_key_client(role, fleet).post(url, CORRECTION, format="json").status_code == 403
        assert session_row(session) == before

    def test_another_fleets_manager_finds_nothing_and_a_driver_is_forbidden(
        self, member_client, driver_a_client, anonymous_client, other_fleet, driver_a
    ):
        session = session_of(driver_a)
        before = session_row(session)
        url = detail_url(SESSIONS, session, "correct")

        assert (
            member_client(MANAGER, other_fleet).post(url, CORRECTION, format="json").status_code
            == 404
        )
        assert driver_a_client.post(url, CORRECTION, format="json").status_code == 403
        assert anonymous_client.post(url, CORRECTION, format="json").status_code == 401
        assert session_row(session) == before
