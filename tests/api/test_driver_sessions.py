"""The driver's charging endpoints under /api/v1/me/: listing, reading, starting and stopping
sessions, reporting home charging, setting a session's purpose; who may do what."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.charging.api.serializers import (
    SESSION_ROW_FIELDS,
    DriverSessionRowSerializer,
    DriverSessionSerializer,
)
from apps.charging.choices import (
    EnergySource,
    HomeApproval,
    LocationKind,
    PriceBasis,
    SessionPurpose,
    SessionSource,
    SessionStatus,
)
from apps.charging.models import ChargingSession, Connector
from apps.charging.services import charging_session_price, tariff_publish
from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.models import ChargeToken, Driver
from apps.vehicles.models import Vehicle
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DepotFactory,
    MeterValueFactory,
    TariffElementFactory,
    TariffFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)
from tests.payments.builders import priced_session_create

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SESSIONS = "/api/v1/me/sessions/"
HOME_SESSIONS = "/api/v1/me/home-sessions/"


def session_url(session: ChargingSession, action: str = "") -> str:
    return f"{SESSIONS}{session.pk}/{action + '/' if action else ''}"


def error_of(response) -> tuple[str, str | None]:
    (error,) = response.json()["errors"]
    return error["code"], error["attr"]


@dataclass(frozen=True)
class Depot:
    """Driver A's fleet at its depot: two connectors, A's app token and assigned vehicle."""

    connector: Connector
    second_connector: Connector
    token: ChargeToken
    vehicle: Vehicle


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def depot(fleet, driver_a) -> Depot:
    station = ChargingStationFactory(
        fleet=fleet, depot=DepotFactory(fleet=fleet, name="Depot Noord"), ocpp_identity="CP-NOORD"
    )
    vehicle = VehicleFactory(fleet=fleet, plate="EV-042-A")
    VehicleAssignmentFactory(vehicle=vehicle, driver=driver_a)
    return Depot(
        connector=ConnectorFactory(station=station, connector_id=1),
        second_connector=ConnectorFactory(station=station, connector_id=2),
        token=ChargeTokenFactory(driver=driver_a, uid="APP-SANNE", kind=TokenKind.APP_USER),
        vehicle=vehicle,
    )


def session_of(driver: Driver, **values) -> ChargingSession:
    return ChargingSessionFactory(fleet=driver.fleet, driver=driver, **values)


def ids_of(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def session_rows(driver: Driver) -> list[tuple]:
    """Everything a driver's request might change about their sessions, to compare before and
    after a refusal."""
    return list(
        ChargingSession.objects.filter(driver=driver)
        .order_by("pk")
        .values_list(
            "pk",
            "status",
            "purpose",
            "ended_at",
            "meter_stop_wh",
            "energy_wh",
            "price_incl_vat",
            "billed_at",
            "updated_at",
        )
    )


class TestList:
    def test_lists_my_sessions_newest_first_as_the_app_shows_them(
        self, driver_a_client, driver_a, driver_b, depot
    ):
        older = session_of(
            driver_a,
            vehicle=depot.vehicle,
            connector=depot.connector,
            price_currency="EUR",
            price_excl_vat=Decimal("6.65"),
            price_vat=Decimal("1.40"),
            price_incl_vat=Decimal("8.05"),
            billed_at=dt.datetime(2026, 3, 5, tzinfo=UTC),
        )
        home = session_of(
            driver_a,
            vehicle=None,
            location_kind=LocationKind.HOME,
            purpose=SessionPurpose.PRIVATE,
            started_at=dt.datetime(2026, 3, 8, 19, 0, tzinfo=UTC),
            ended_at=dt.datetime(2026, 3, 8, 23, 0, tzinfo=UTC),
            meter_start_wh=None,
            meter_stop_wh=None,
            energy_wh=9_250,
            energy_source=EnergySource.ENTERED,
            home_approval=HomeApproval.PENDING,
        )
        session_of(
            driver_b,
            started_at=dt.datetime(2026, 3, 9, 8, 0, tzinfo=UTC),
            ended_at=dt.datetime(2026, 3, 9, 9, 0, tzinfo=UTC),
        )

        response = driver_a_client.get(SESSIONS)

        assert response.status_code == 200
        assert response.json()["results"] == [
            {
                "id": home.pk,
                "status": "completed",
                "location_kind": "home",
                "purpose": "private",
                "started_at": "2026-03-08T19:00:00Z",
                "ended_at": "2026-03-08T23:00:00Z",
                "energy_wh": 9250,
                "energy_kwh": "9.250",
                "energy_source": "entered",
                "vehicle_plate": None,
                "where": None,
                "charged_to_you": None,
                "reimbursed_to_you": None,
                "billed": False,
                "home_approval": "pending",
            },
            {
                "id": older.pk,
                "status": "completed",
                "location_kind": "depot",
                "purpose": "business",
                "started_at": "2026-03-02T08:00:00Z",
                "ended_at": "2026-03-02T10:00:00Z",
                "energy_wh": 20500,
                "energy_kwh": "20.500",
                "energy_source": "measured",
                "vehicle_plate": "EV-042-A",
                "where": "Depot Noord",
                "charged_to_you": None,
                "reimbursed_to_you": None,
                "billed": True,
                "home_approval": "not_required",
            },
        ]

    def test_a_charger_without_a_depot_is_named_by_its_identity(self, driver_a_client, driver_a):
        station = ChargingStationFactory(fleet=driver_a.fleet, depot=None, ocpp_identity="CP-X")
        session_of(driver_a, connector=ConnectorFactory(station=station))

        response = driver_a_client.get(SESSIONS)

        assert [item["where"] for item in response.json()["results"]] == ["CP-X"]

    def test_an_active_session_has_no_end_energy_or_price(self, driver_a_client, driver_a):
        session_of(driver_a, active=True)

        (item,) = driver_a_client.get(SESSIONS).json()["results"]

        assert (item["status"], item["ended_at"], item["energy_wh"], item["energy_kwh"]) == (
            "active",
            None,
            None,
            None,
        )
        assert (item["charged_to_you"], item["reimbursed_to_you"]) == (None, None)

    def test_a_private_session_shows_what_i_am_charged_at_my_fleets_vat_rate(
        self, driver_a_client, driver_a
    ):
        fleet = driver_a.fleet
        fleet.default_vat_rate = Decimal("9.00")
        fleet.save(update_fields=["default_vat_rate"])
        # A public session abroad: the operator charged the fleet 21 % VAT on 10.00.
        session_of(
            driver_a,
            location_kind=LocationKind.PUBLIC,
            purpose=SessionPurpose.PRIVATE,
            source=SessionSource.IMPORT,
            price_basis=PriceBasis.PROVIDER,
            price_currency="EUR",
            price_excl_vat=Decimal("10.00"),
            price_vat=Decimal("2.10"),
            price_incl_vat=Decimal("12.10"),
        )

        (item,) = driver_a_client.get(SESSIONS).json()["results"]

        assert item["charged_to_you"] == {
            "currency": "EUR",
            "excl_vat": "10.00",
            "vat_rate": "9.00",
            "vat": "0.90",
            "incl_vat": "10.90",
        }
        assert item["reimbursed_to_you"] is None
        assert "price" not in item

    @pytest.mark.parametrize(
        ("approval", "reimbursed"),
        [
            (HomeApproval.PENDING, {"currency": "EUR", "amount": "7.50"}),
            (HomeApproval.APPROVED, {"currency": "EUR", "amount": "7.50"}),
            (HomeApproval.REJECTED, None),
        ],
    )
    def test_business_charging_at_home_shows_what_i_am_refunded_and_nothing_charged(
        self, driver_a_client, driver_a, approval, reimbursed
    ):
        priced_session_create(
            driver=driver_a,
            location_kind=LocationKind.HOME,
            purpose=SessionPurpose.BUSINESS,
            home_approval=approval,
            started_at=dt.datetime(2026, 3, 3, 18, tzinfo=UTC),
            price_excl_vat=Decimal("7.50"),
        )

        (item,) = driver_a_client.get(SESSIONS).json()["results"]

        assert (item["charged_to_you"], item["reimbursed_to_you"]) == (None, reimbursed)

    def test_filters_by_period_status_location_and_purpose(self, driver_a_client, driver_a):
        def on(day: int, **values) -> ChargingSession:
            return session_of(
                driver_a,
                started_at=dt.datetime(2026, 3, day, 8, 0, tzinfo=UTC),
                ended_at=dt.datetime(2026, 3, day, 9, 0, tzinfo=UTC),
                **values,
            )

        first = on(1)
        private = on(3, purpose=SessionPurpose.PRIVATE)
        home = on(5, location_kind=LocationKind.HOME)
        invalid = on(7, status=SessionStatus.INVALID)

        def listed(query: str) -> list[int]:
            response = driver_a_client.get(f"{SESSIONS}?{query}")
            assert response.status_code == 200, response.json()
            return ids_of(response)

        assert listed("started_after=2026-03-03T08:00:00%2B00:00") == [
            invalid.pk,
            home.pk,
            private.pk,
        ]
        assert listed("started_before=2026-03-03T08:00:00Z") == [first.pk]
        assert listed(
            "started_after=2026-03-02T00:00:00%2B01:00&started_before=2026-03-06T00:00:00Z"
        ) == [home.pk, private.pk]
        assert listed("status=invalid") == [invalid.pk]
        assert listed("location_kind=home") == [home.pk]
        assert listed("purpose=private") == [private.pk]
        assert listed("purpose=business&location_kind=depot&status=completed") == [first.pk]

    def test_an_unknown_filter_value_is_refused_in_the_error_shape(self, driver_a_client):
        response = driver_a_client.get(f"{SESSIONS}?status=finished")

        assert response.status_code == 400
        assert response.json()["type"] == "validation_error"
        assert error_of(response) == ("invalid_choice", "status")

    def test_the_cursor_walks_every_session_once_newest_first(self, driver_a_client, driver_a):
        sessions = [
            session_of(driver_a, started_at=NOW - dt.timedelta(days=day), ended_at=NOW)
            for day in (5, 1, 3, 2, 4)
        ]
        # Two sessions starting at the same moment are told apart by id.
        twin = session_of(driver_a, started_at=sessions[2].started_at, ended_at=NOW)
        expected = [
            session.pk
            for session in sorted(
                [*sessions, twin], key=lambda s: (s.started_at, s.pk), reverse=True
            )
        ]

        walked, pages = [], 0
        url = f"{SESSIONS}?page_size=2"
        while url:
            page = driver_a_client.get(url).json()
            walked.extend(item["id"] for item in page["results"])
            url, pages = page["next"], pages + 1

        assert (walked, pages) == (expected, 3)

    @pytest.mark.parametrize("page_size", [1, 25])
    def test_a_page_costs_the_same_queries_whatever_its_size(
        self, driver_a_client, driver_a, depot, page_size, django_assert_num_queries
    ):
        other_station = ChargingStationFactory(fleet=driver_a.fleet, depot=None)
        for hour in range(25):
            session_of(
                driver_a,
                started_at=NOW - dt.timedelta(hours=hour + 3),
                ended_at=NOW - dt.timedelta(hours=hour + 2),
                vehicle=VehicleFactory(fleet=driver_a.fleet),
                connector=ConnectorFactory(station=other_station, connector_id=hour + 1)
                if hour % 2
                else depot.connector,
            )

        # The login with its driver, then the page with vehicles, connectors, stations, depots.
        with django_assert_num_queries(2):
            response = driver_a_client.get(f"{SESSIONS}?page_size={page_size}")

        assert len(response.json()["results"]) == page_size


def priced_depot_session(driver: Driver, depot: Depot) -> ChargingSession:
    """A session from 08:00 to 10:00 UTC (09:00 to 11:00 in Amsterdam) of 10 kWh before its
    reading at 09:00 UTC and 10.5 kWh after, priced with a tariff of 0.40 per kWh from 10:00 to
    12:00 local time, 0.30 per kWh otherwise, and 0.50 per session, all with 21 % VAT."""
    tariff = TariffFactory(fleet=driver.fleet)
    TariffElementFactory(
        tariff=tariff,
        position=0,
        energy_price=Decimal("0.40000"),
        flat_price=None,
        flat_vat_rate=None,
        start_time=dt.time(10, 0),
        end_time=dt.time(12, 0),
    )
    TariffElementFactory(tariff=tariff, position=1)
    version = tariff_publish(tariff=tariff, effective_from=dt.datetime(2026, 1, 1, tzinfo=UTC))
    session = session_of(driver, vehicle=depot.vehicle, connector=depot.connector)
    MeterValueFactory(
        session=session,
        measured_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        energy_wh=1_010_000,
        power_w=11_000,
        state_of_charge_percent=55,
    )
    session = charging_session_price(session=session)
    assert session.tariff_version == version
    return session


class TestDetail:
    def test_shows_meter_values_and_the_price_line_by_line(
        self, driver_a_client, driver_a, depot, django_assert_num_queries
    ):
        session = priced_depot_session(driver_a, depot)

        # The login, the session with its vehicle and place, its meter values.
        with django_assert_num_queries(3):
            response = driver_a_client.get(session_url(session))

        assert response.status_code == 200
        body = response.json()
        # 10 kWh at 0.30 + 10.5 kWh at 0.40 + 0.50 = 7.70; a business session: not charged.
        assert (body["charged_to_you"], body["reimbursed_to_you"]) == (None, None)
        assert (body["price_basis"], body["tariff_version"]) == (
            PriceBasis.TARIFF,
            session.tariff_version_id,
        )
        assert body["meter_values"] == [
            {
                "measured_at": "2026-03-02T09:00:00Z",
                "energy_wh": 1_010_000,
                "power_w": 11_000,
                "soc": 55,
            }
        ]
        assert (body["meter_start_wh"], body["meter_stop_wh"]) == (1_000_000, 1_020_500)
        breakdown = body["price_breakdown"]
        assert [
            (period["start"], period["end"], period["charging"], period["energy_kwh"])
            for period in breakdown["periods"]
        ] == [
            ("2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z", True, "10"),
            ("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", True, "10.5"),
        ]
        assert [
            [
                (line["dimension"], line["volume"], line["unit_price"], line["excl_vat"])
                for line in period["lines"]
            ]
            for period in breakdown["periods"]
        ] == [
            [("FLAT", "1", "0.5", "0.5000"), ("ENERGY", "10000", "0.3", "3.0000")],
            [("ENERGY", "10500", "0.4", "4.2000")],
        ]
        # The tariff's VAT is the fleet's cost, not the driver's: the breakdown shows the net.
        assert breakdown["periods"][1]["lines"][0] == {
            "dimension": "ENERGY",
            "volume": "10500",
            "step_extra": "0",
            "unit_price": "0.4",
            "excl_vat": "4.2000",
        }
        assert breakdown["lines_excl_vat"] == "7.7000"
        assert "lines_vat" not in breakdown
        assert breakdown["price_limit_adjustment"] == {"excl_vat": "0.0000"}

    def test_an_unpriced_session_has_no_breakdown(self, driver_a_client, driver_a):
        session = session_of(driver_a)

        body = driver_a_client.get(session_url(session)).json()

        assert (body["charged_to_you"], body["price_breakdown"], body["tariff_version"]) == (
            None,
        ) * 3

    def test_a_private_public_session_shows_what_i_am_charged_without_a_breakdown(
        self, driver_a_client, driver_a
    ):
        session = session_of(
            driver_a,
            location_kind=LocationKind.PUBLIC,
            purpose=SessionPurpose.PRIVATE,
            source=SessionSource.IMPORT,
            price_basis=PriceBasis.PROVIDER,
            price_currency="EUR",
            price_excl_vat=Decimal("10.00"),
            price_vat=Decimal("2.10"),
            price_incl_vat=Decimal("12.10"),
            price_breakdown={"provider": {"location": "Fastned A2"}},
        )

        body = driver_a_client.get(session_url(session)).json()

        assert body["charged_to_you"] == {
            "currency": "EUR",
            "excl_vat": "10.00",
            "vat_rate": "21.00",
            "vat": "2.10",
            "incl_vat": "12.10",
        }
        assert body["price_breakdown"] is None


class TestStart:
    def test_starts_a_depot_session_with_my_app_token_and_assigned_vehicle(
        self, driver_a_client, driver_a, depot
    ):
        ChargeTokenFactory(driver=driver_a, uid="CARD-SANNE", kind=TokenKind.RFID)

        response = driver_a_client.post(SESSIONS, {"connector": depot.connector.pk}, format="json")

        assert response.status_code == 201, response.json()
        session = ChargingSession.objects.get(driver=driver_a)
        body = response.json()
        assert body["id"] == session.pk
        assert {key: body[key] for key in ("status", "location_kind", "purpose", "where")} == {
            "status": "active",
            "location_kind": "depot",
            "purpose": "business",
            "where": "Depot Noord",
        }
        assert (body["started_at"], body["vehicle_plate"], body["source"]) == (
            "2026-03-10T12:00:00Z",
            "EV-042-A",
            "app",
        )
        assert (session.token, session.connector, session.vehicle, session.source) == (
            depot.token,
            depot.connector,
            depot.vehicle,
            SessionSource.APP,
        )
        assert (session.started_at, session.fleet_id) == (NOW, driver_a.fleet_id)

    def test_a_token_vehicle_and_purpose_of_my_choice(self, driver_a_client, driver_a, depot):
        card = ChargeTokenFactory(driver=driver_a, uid="CARD-SANNE", kind=TokenKind.RFID)
        pool_car = VehicleFactory(fleet=driver_a.fleet)

        response = driver_a_client.post(
            SESSIONS,
            {
                "connector": depot.connector.pk,
                "token": card.pk,
                "vehicle": pool_car.pk,
                "purpose": "private",
            },
            format="json",
        )

        assert response.status_code == 201, response.json()
        session = ChargingSession.objects.get(driver=driver_a)
        assert (session.token, session.vehicle, session.purpose) == (
            card,
            pool_car,
            SessionPurpose.PRIVATE,
        )

    def test_fields_a_driver_may_not_set_are_ignored(
        self, driver_a_client, driver_a, driver_b, depot
    ):
        response = driver_a_client.post(
            SESSIONS,
            {
                "connector": depot.connector.pk,
                "driver": driver_b.pk,
                "fleet": 999,
                "status": "completed",
                "source": "manual",
                "started_at": "2026-01-01T00:00:00Z",
                "ended_at": "2026-01-01T05:00:00Z",
                "energy_wh": 1,
                "price_excl_vat": "0.00",
                "price_incl_vat": "0.00",
                "billed_at": "2026-01-02T00:00:00Z",
                "home_approval": "approved",
                "external_id": "forged",
            },
            format="json",
        )

        assert response.status_code == 201, response.json()
        session = ChargingSession.objects.get()
        assert (session.driver, session.fleet_id, session.status, session.source) == (
            driver_a,
            driver_a.fleet_id,
            SessionStatus.ACTIVE,
            SessionSource.APP,
        )
        assert (session.started_at, session.ended_at, session.energy_wh) == (NOW, None, None)
        assert (session.price_incl_vat, session.billed_at, session.external_id) == (None, None, "")
        assert session.home_approval == HomeApproval.NOT_REQUIRED

    def test_a_busy_connector_is_refused_and_nothing_starts(
        self, driver_a_client, driver_a, driver_b, depot
    ):
        session_of(driver_b, connector=depot.connector, active=True)

        response = driver_a_client.post(SESSIONS, {"connector": depot.connector.pk}, format="json")

        assert response.status_code == 409
        assert error_of(response) == ("charging.connector_busy", "connector")
        assert session_rows(driver_a) == []

    def test_a_second_depot_session_of_mine_is_refused(self, driver_a_client, driver_a, depot):
        session_of(driver_a, connector=depot.connector, active=True)
        before = session_rows(driver_a)

        response = driver_a_client.post(
            SESSIONS, {"connector": depot.second_connector.pk}, format="json"
        )

        assert response.status_code == 409
        assert error_of(response) == ("charging.driver_already_charging", "driver")
        assert session_rows(driver_a) == before

    def test_without_a_valid_token_nothing_starts(self, driver_a_client, driver_a, depot):
        ChargeToken.objects.filter(pk=depot.token.pk).update(is_active=False)

        response = driver_a_client.post(SESSIONS, {"connector": depot.connector.pk}, format="json")

        assert response.status_code == 422
        assert error_of(response) == ("charging.token_not_valid", "token")
        assert session_rows(driver_a) == []

    @pytest.mark.parametrize(
        "token_values",
        [
            {"is_active": False},
            {"valid_from": NOW - dt.timedelta(days=60), "valid_until": NOW - dt.timedelta(days=1)},
            {"valid_from": NOW + dt.timedelta(days=1)},
        ],
        ids=["blocked", "expired", "not-yet-valid"],
    )
    def test_a_chosen_token_that_is_not_valid_is_refused(
        self, driver_a_client, driver_a, depot, token_values
    ):
        card = ChargeTokenFactory(driver=driver_a, uid="CARD-SANNE", **token_values)

        response = driver_a_client.post(
            SESSIONS, {"connector": depot.connector.pk, "token": card.pk}, format="json"
        )

        assert response.status_code == 422
        assert error_of(response) == ("charging.token_not_valid", "token")
        assert session_rows(driver_a) == []

    def test_another_drivers_token_is_not_found(self, driver_a_client, driver_a, driver_b, depot):
        their_card = ChargeTokenFactory(driver=driver_b, uid="CARD-BRAM")

        response = driver_a_client.post(
            SESSIONS, {"connector": depot.connector.pk, "token": their_card.pk}, format="json"
        )

        assert response.status_code == 404
        assert error_of(response) == ("charging.token_unknown", "token")
        assert session_rows(driver_a) == []

    def test_another_fleets_connector_is_not_found_like_a_missing_one(
        self, driver_a_client, driver_a, depot, other_fleet
    ):
        theirs = ConnectorFactory(station=ChargingStationFactory(fleet=other_fleet))
        missing = Connector.objects.order_by("-pk").first().pk + 1

        refusals = [
            driver_a_client.post(SESSIONS, {"connector": connector_id}, format="json")
            for connector_id in (theirs.pk, missing)
        ]

        assert [response.status_code for response in refusals] == [404, 404]
        assert refusals[0].json() == refusals[1].json()
        assert error_of(refusals[0]) == ("charging.other_fleet", "connector")
        assert ChargingSession.objects.count() == 0

    def test_another_fleets_vehicle_is_not_found(
        self, driver_a_client, driver_a, depot, other_fleet
    ):
        response = driver_a_client.post(
            SESSIONS,
            {"connector": depot.connector.pk, "vehicle": VehicleFactory(fleet=other_fleet).pk},
            format="json",
        )

        assert response.status_code == 404
        assert error_of(response) == ("charging.other_fleet", "vehicle")
        assert session_rows(driver_a) == []

    def test_a_request_without_a_connector_names_the_field(self, driver_a_client, driver_a):
        response = driver_a_client.post(SESSIONS, {"purpose": "leisure"}, format="json")

        assert response.status_code == 400
        assert {(error["code"], error["attr"]) for error in response.json()["errors"]} == {
            ("connector_or_evse_id", "connector"),
            ("invalid_choice", "purpose"),
        }
        assert session_rows(driver_a) == []


class TestStartIdempotency:
    def test_the_same_key_and_body_replay_the_first_answer(self, driver_a_client, depot):
        body = {"connector": depot.connector.pk}
        headers = {"Idempotency-Key": "start-7f3a"}

        first = driver_a_client.post(SESSIONS, body, format="json", headers=headers)
        again = driver_a_client.post(SESSIONS, body, format="json", headers=headers)

        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert ChargingSession.objects.count() == 1

    def test_the_same_key_with_another_body_is_refused_and_changes_nothing(
        self, driver_a_client, driver_a, depot
    ):
        headers = {"Idempotency-Key": "start-7f3a"}
        driver_a_client.post(
            SESSIONS, {"connector": depot.connector.pk}, format="json", headers=headers
        )
        before = session_rows(driver_a)

        response = driver_a_client.post(
            SESSIONS, {"connector": depot.second_connector.pk}, format="json", headers=headers
        )

        assert response.status_code == 422
        assert error_of(response) == ("idempotency_key_reused", None)
        assert session_rows(driver_a) == before
        assert ChargingSession.objects.get().connector == depot.connector


class TestStop:
    def test_stops_my_metered_session_now(
        self, driver_a_client, driver_a, depot, django_capture_on_commit_callbacks
    ):
        session = session_of(
            driver_a,
            connector=depot.connector,
            active=True,
            started_at=NOW - dt.timedelta(hours=2),
            meter_start_wh=1_000_000,
        )

        with django_capture_on_commit_callbacks() as after_commit:
            response = driver_a_client.post(
                session_url(session, "stop"), {"meter_stop_wh": 1_015_000}, format="json"
            )

        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["status"], body["ended_at"], body["energy_wh"], body["energy_kwh"]) == (
            "completed",
            "2026-03-10T12:00:00Z",
            15_000,
            "15.000",
        )
        assert body["energy_source"] == "measured"
        session.refresh_from_db()
        assert (session.status, session.ended_at, session.meter_stop_wh, session.energy_wh) == (
            SessionStatus.COMPLETED,
            NOW,
            1_015_000,
            15_000,
        )
        assert len(after_commit) == 1  # the pricing, in the background

    def test_a_session_without_meter_start_stops_with_its_energy_at_the_time_given(
        self, driver_a_client, driver_a, depot
    ):
        session = session_of(
            driver_a,
            connector=depot.connector,
            active=True,
            started_at=NOW - dt.timedelta(hours=2),
            meter_start_wh=None,
        )

        response = driver_a_client.post(
            session_url(session, "stop"),
            {"ended_at": "2026-03-10T12:30:00+01:00", "energy_wh": 12_000},
            format="json",
        )

        assert response.status_code == 200, response.json()
        session.refresh_from_db()
        assert (session.ended_at, session.meter_stop_wh, session.energy_wh) == (
            NOW - dt.timedelta(minutes=30),
            None,
            12_000,
        )

    def test_0_wh_entered_on_a_private_depot_session_is_accepted_marked_and_flagged(
        self, driver_a_client, driver_a, depot
    ):
        session = session_of(
            driver_a,
            connector=depot.connector,
            active=True,
            purpose=SessionPurpose.PRIVATE,
            started_at=NOW - dt.timedelta(hours=2),
            meter_start_wh=None,
        )

        response = driver_a_client.post(session_url(session, "stop"), {"energy_wh": 0})

        assert response.status_code == 200, response.json()
        assert (response.json()["energy_wh"], response.json()["energy_source"]) == (0, "entered")
        session.refresh_from_db()
        assert (session.status, session.energy_wh, session.energy_source) == (
            SessionStatus.COMPLETED,
            0,
            EnergySource.ENTERED,
        )
        assert (session.is_suspect, session.suspect_reason) == (
            True,
            "0 Wh entered by a person for 120 min plugged in",
        )
        listed = driver_a_client.get(SESSIONS).json()["results"]
        assert [(row["id"], row["energy_source"]) for row in listed] == [(session.pk, "entered")]

    @pytest.mark.parametrize(
        ("body", "status", "error"),
        [
            ({}, 422, ("charging.energy_needed", "meter_stop_wh")),
            ({"meter_stop_wh": 999_999}, 422, ("charging.meter_went_backwards", "meter_stop_wh")),
            (
                {"meter_stop_wh": 1_001_000, "ended_at": "2026-03-10T09:00:00Z"},
                422,
                ("charging.end_before_start", "ended_at"),
            ),
            (
                {"meter_stop_wh": 1_001_000, "ended_at": "2026-03-10T12:01:00Z"},
                400,
                ("future", "ended_at"),
            ),
            (
                {"meter_stop_wh": 1_001_000, "ended_at": "2026-03-10T11:00:00"},
                400,
                ("naive", "ended_at"),
            ),
            ({"meter_stop_wh": -1}, 400, ("min_value", "meter_stop_wh")),
        ],
        ids=["no-meter-stop", "meter-backwards", "before-start", "future", "naive", "negative"],
    )
    def test_a_stop_that_does_not_add_up_is_refused_and_changes_nothing(
        self, driver_a_client, driver_a, depot, body, status, error
    ):
        session = session_of(
            driver_a,
            connector=depot.connector,
            active=True,
            started_at=NOW - dt.timedelta(hours=2),
            meter_start_wh=1_000_000,
        )
        before = session_rows(driver_a)

        response = driver_a_client.post(session_url(session, "stop"), body, format="json")

        assert response.status_code == status
        assert error_of(response) == error
        assert session_rows(driver_a) == before

    def test_stopping_a_stopped_session_differently_is_refused(self, driver_a_client, driver_a):
        session = session_of(driver_a)
        before = session_rows(driver_a)

        response = driver_a_client.post(
            session_url(session, "stop"), {"meter_stop_wh": 1_030_000}, format="json"
        )

        assert response.status_code == 409
        assert error_of(response) == ("charging.session_already_stopped", "ended_at")
        assert session_rows(driver_a) == before

    def test_a_stop_without_the_energy_of_a_session_without_meter_names_the_energy(
        self, driver_a_client, driver_a, depot
    ):
        session = session_of(
            driver_a,
            connector=depot.connector,
            active=True,
            started_at=NOW - dt.timedelta(hours=2),
            meter_start_wh=None,
        )
        before = session_rows(driver_a)

        response = driver_a_client.post(session_url(session, "stop"), {}, format="json")

        assert response.status_code == 422
        assert error_of(response) == ("charging.energy_needed", "energy_wh")
        assert response.json()["errors"][0]["detail"] == "Give the energy charged, 0 Wh or more."
        assert session_rows(driver_a) == before

    def test_a_second_stop_of_a_session_without_meter_says_the_energy_it_was_stopped_with(
        self, driver_a_client, driver_a
    ):
        session = session_of(driver_a, meter_start_wh=None, meter_stop_wh=None, energy_wh=7_250)

        response = driver_a_client.post(session_url(session, "stop"), {}, format="json")

        assert response.status_code == 409
        detail = response.json()["errors"][0]["detail"]
        assert "with 7250 Wh charged; a different stop is refused." in detail
        assert "None" not in detail

    def test_a_retried_stop_with_its_key_replays_the_first_answer(
        self, driver_a_client, driver_a, depot, time_machine
    ):
        session = session_of(
            driver_a,
            connector=depot.connector,
            active=True,
            started_at=NOW - dt.timedelta(hours=2),
            meter_start_wh=1_000_000,
        )
        headers = {"Idempotency-Key": "stop-1"}
        first = driver_a_client.post(
            session_url(session, "stop"),
            {"meter_stop_wh": 1_015_000},
            format="json",
            headers=headers,
        )
        time_machine.move_to(NOW + dt.timedelta(minutes=1), tick=False)

        again = driver_a_client.post(
            session_url(session, "stop"),
            {"meter_stop_wh": 1_015_000},
            format="json",
            headers=headers,
        )

        assert (first.status_code, again.status_code) == (200, 200)
        assert again.json() == first.json()
        session.refresh_from_db()
        assert session.ended_at == NOW


class TestHomeReport:
    REPORT = {
        "started_at": "2026-03-09T20:00:00+01:00",
        "ended_at": "2026-03-10T00:00:00+01:00",
        "energy_wh": 9_000,
        "purpose": "private",
    }

    def test_reports_a_home_session_waiting_for_approval(
        self, driver_a_client, driver_a, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = driver_a_client.post(HOME_SESSIONS, self.REPORT, format="json")

        assert response.status_code == 201, response.json()
        body = response.json()
        assert {
            key: body[key]
            for key in (
                "status",
                "location_kind",
                "purpose",
                "started_at",
                "ended_at",
                "energy_wh",
                "home_approval",
                "source",
                "meter_photo",
            )
        } == {
            "status": "completed",
            "location_kind": "home",
            "purpose": "private",
            "started_at": "2026-03-09T19:00:00Z",
            "ended_at": "2026-03-09T23:00:00Z",
            "energy_wh": 9_000,
            "home_approval": "pending",
            "source": "app",
            "meter_photo": None,
        }
        session = ChargingSession.objects.get(driver=driver_a)
        # Priced after commit at the driver's home rate of 0.25 per kWh.
        assert (session.price_basis, session.price_excl_vat) == (
            PriceBasis.HOME_RATE,
            Decimal("2.25"),
        )

    def test_a_meter_photo_comes_with_the_report(
        self, driver_a_client, driver_a, settings, tmp_path
    ):
        settings.MEDIA_ROOT = tmp_path
        photo = SimpleUploadedFile("meter.jpg", b"\xff\xd8\xff\xe0 jpeg", content_type="image/jpeg")

        response = driver_a_client.post(
            HOME_SESSIONS, {**self.REPORT, "meter_photo": photo}, format="multipart"
        )

        assert response.status_code == 201, response.json()
        session = ChargingSession.objects.get(driver=driver_a)
        assert session.meter_photo.name.startswith("meter-photos/2026/03/meter")
        assert session.meter_photo.read() == b"\xff\xd8\xff\xe0 jpeg"
        assert response.json()["meter_photo"] == (
            f"http://testserver/api/v1/me/sessions/{session.pk}/meter-photo/"
        )

    def test_a_multipart_report_with_its_key_is_made_once(
        self, driver_a_client, driver_a, settings, tmp_path
    ):
        settings.MEDIA_ROOT = tmp_path
        headers = {"Idempotency-Key": "home-photo-1"}

        def report():
            photo = SimpleUploadedFile("meter.jpg", b"jpeg", content_type="image/jpeg")
            return driver_a_client.post(
                HOME_SESSIONS,
                {**self.REPORT, "meter_photo": photo},
                format="multipart",
                headers=headers,
            )

        first, again = report(), report()

        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert len(session_rows(driver_a)) == 1
        assert len(list((tmp_path / "meter-photos" / "2026" / "03").iterdir())) == 1

    def test_a_photo_of_another_kind_is_refused(
        self, driver_a_client, driver_a, settings, tmp_path
    ):
        settings.MEDIA_ROOT = tmp_path
        script = SimpleUploadedFile("meter.exe", b"MZ", content_type="application/octet-stream")

        response = driver_a_client.post(
            HOME_SESSIONS, {**self.REPORT, "meter_photo": script}, format="multipart"
        )

        assert response.status_code == 400
        assert error_of(response) == ("invalid_extension", "meter_photo")
        assert session_rows(driver_a) == []
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize(
        ("changes", "status", "error"),
        [
            (
                {"ended_at": "2026-03-10T14:00:00+01:00"},
                422,
                ("charging.invalid_home_session", "ended_at"),
            ),
            (
                {"ended_at": "2026-03-09T19:00:00+01:00"},
                422,
                ("charging.end_before_start", "ended_at"),
            ),
            ({"energy_wh": 0}, 400, ("min_value", "energy_wh")),
            ({"started_at": "2026-03-09T20:00:00"}, 400, ("naive", "started_at")),
        ],
        ids=["future", "ends-before-start", "no-energy", "naive"],
    )
    def test_a_report_that_does_not_add_up_is_refused(
        self, driver_a_client, driver_a, changes, status, error
    ):
        response = driver_a_client.post(HOME_SESSIONS, {**self.REPORT, **changes}, format="json")

        assert response.status_code == status
        assert error_of(response) == error
        assert session_rows(driver_a) == []

    def test_an_overlapping_report_is_refused(self, driver_a_client, driver_a):
        driver_a_client.post(HOME_SESSIONS, self.REPORT, format="json")
        before = session_rows(driver_a)

        response = driver_a_client.post(
            HOME_SESSIONS, {**self.REPORT, "started_at": "2026-03-09T22:00:00+01:00"}, format="json"
        )

        assert response.status_code == 422
        assert error_of(response) == ("charging.invalid_home_session", "started_at")
        assert session_rows(driver_a) == before

    def test_fields_a_driver_may_not_set_are_ignored(self, driver_a_client, driver_a, driver_b):
        response = driver_a_client.post(
            HOME_SESSIONS,
            {
                **self.REPORT,
                "driver": driver_b.pk,
                "location_kind": "depot",
                "status": "active",
                "home_approval": "approved",
                "price_excl_vat": "99.00",
                "price_incl_vat": "99.00",
                "billed_at": "2026-03-10T00:00:00Z",
                "source": "manual",
            },
            format="json",
        )

        assert response.status_code == 201, response.json()
        session = ChargingSession.objects.get()
        assert (session.driver, session.location_kind, session.status, session.source) == (
            driver_a,
            LocationKind.HOME,
            SessionStatus.COMPLETED,
            SessionSource.APP,
        )
        assert (session.home_approval, session.price_excl_vat, session.billed_at) == (
            HomeApproval.PENDING,
            None,
            None,
        )

    def test_the_same_key_replays_and_another_body_is_refused(self, driver_a_client, driver_a):
        headers = {"Idempotency-Key": "home-2026-03-09"}
        first = driver_a_client.post(HOME_SESSIONS, self.REPORT, format="json", headers=headers)
        again = driver_a_client.post(HOME_SESSIONS, self.REPORT, format="json", headers=headers)
        before = session_rows(driver_a)

        changed = driver_a_client.post(
            HOME_SESSIONS, {**self.REPORT, "energy_wh": 9_500}, format="json", headers=headers
        )

        assert (first.status_code, again.status_code, changed.status_code) == (201, 201, 422)
        assert again.json() == first.json()
        assert error_of(changed) == ("idempotency_key_reused", None)
        assert session_rows(driver_a) == before
        assert len(before) == 1


class TestPurpose:
    def test_makes_my_completed_session_private(self, driver_a_client, driver_a):
        session = session_of(driver_a)

        response = driver_a_client.patch(
            session_url(session, "purpose"), {"purpose": "private"}, format="json"
        )

        assert response.status_code == 200, response.json()
        assert response.json()["purpose"] == "private"
        session.refresh_from_db()
        assert session.purpose == SessionPurpose.PRIVATE

    def test_only_the_purpose_changes_whatever_else_is_sent(self, driver_a_client, driver_a):
        session = session_of(driver_a)

        response = driver_a_client.patch(
            session_url(session, "purpose"),
            {
                "purpose": "private",
                "status": "invalid",
                "energy_wh": 1,
                "ended_at": "2026-03-02T08:30:00Z",
                "billed_at": "2026-03-03T00:00:00Z",
                "price_incl_vat": "0.00",
            },
            format="json",
        )

        assert response.status_code == 200, response.json()
        session.refresh_from_db()
        assert (session.purpose, session.status, session.energy_wh, session.billed_at) == (
            SessionPurpose.PRIVATE,
            SessionStatus.COMPLETED,
            20_500,
            None,
        )
        assert (session.ended_at, session.price_incl_vat) == (
            dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            None,
        )

    def test_a_billed_session_keeps_its_purpose(self, driver_a_client, driver_a):
        session = session_of(driver_a, billed_at=dt.datetime(2026, 3, 5, tzinfo=UTC))
        before = session_rows(driver_a)

        response = driver_a_client.patch(
            session_url(session, "purpose"), {"purpose": "private"}, format="json"
        )

        assert response.status_code == 409
        assert error_of(response) == ("charging.session_billed", "session")
        assert session_rows(driver_a) == before

    def test_an_active_session_keeps_its_purpose(self, driver_a_client, driver_a):
        session = session_of(driver_a, active=True)
        before = session_rows(driver_a)

        response = driver_a_client.patch(
            session_url(session, "purpose"), {"purpose": "private"}, format="json"
        )

        assert response.status_code == 409
        assert error_of(response) == ("charging.session_not_correctable", "session")
        assert session_rows(driver_a) == before

    def test_an_unknown_purpose_is_refused(self, driver_a_client, driver_a):
        session = session_of(driver_a)
        before = session_rows(driver_a)

        response = driver_a_client.patch(
            session_url(session, "purpose"), {"purpose": "leisure"}, format="json"
        )

        assert response.status_code == 400
        assert error_of(response) == ("invalid_choice", "purpose")
        assert session_rows(driver_a) == before


# Each endpoint with a request driver A may make: (method, url, body) from A's session and depot.
ENDPOINTS = {
    "list": lambda session, depot: ("get", SESSIONS, None),
    "detail": lambda session, depot: ("get", session_url(session), None),
    "start": lambda session, depot: ("post", SESSIONS, {"connector": depot.second_connector.pk}),
    "stop": lambda session, depot: (
        "post",
        session_url(session, "stop"),
        {"meter_stop_wh": 1_001_000},
    ),
    "purpose": lambda session, depot: (
        "patch",
        session_url(session, "purpose"),
        {"purpose": "private"},
    ),
    "home-report": lambda session, depot: ("post", HOME_SESSIONS, TestHomeReport.REPORT),
}
ON_A_SESSION = ["detail", "stop", "purpose"]


@pytest.fixture
def a_session(driver_a) -> ChargingSession:
    """Driver A's active, metered session at a public charger (so A may still start one at the
    depot), which detail, stop and purpose act on."""
    return session_of(
        driver_a,
        location_kind=LocationKind.PUBLIC,
        active=True,
        started_at=NOW - dt.timedelta(hours=1),
        meter_start_wh=1_000_000,
    )


def send(client: APIClient, endpoint: str, session: ChargingSession, depot: Depot):
    method, url, body = ENDPOINTS[endpoint](session, depot)
    return getattr(client, method)(url, body, format="json")


class TestPermissions:
    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    def test_anonymous_is_asked_to_log_in(self, anonymous_client, a_session, depot, endpoint):
        before = ChargingSession.objects.count()

        response = send(anonymous_client, endpoint, a_session, depot)

        assert response.status_code == 401
        assert error_of(response) == ("not_authenticated", None)
        assert ChargingSession.objects.count() == before

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    def test_a_manager_without_a_driver_profile_is_forbidden(
        self, manager_client, a_session, depot, endpoint
    ):
        response = send(manager_client, endpoint, a_session, depot)

        assert response.status_code == 403
        assert error_of(response) == ("permission_denied", None)
        assert ChargingSession.objects.count() == 1

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    def test_a_suspended_driver_with_a_valid_token_is_refused(
        self, driver_a_client, driver_a, a_session, depot, endpoint
    ):
        Driver.objects.filter(pk=driver_a.pk).update(status=DriverStatus.SUSPENDED)
        before = session_rows(driver_a)

        response = send(driver_a_client, endpoint, a_session, depot)

        assert response.status_code == 401
        assert error_of(response) == ("driver_not_active", None)
        assert session_rows(driver_a) == before

    @pytest.mark.parametrize("endpoint", [*ON_A_SESSION, "list", "start", "home-report"])
    def test_driver_a_may(self, driver_a_client, a_session, depot, endpoint):
        if endpoint == "purpose":
            a_session = session_of(a_session.driver)

        response = send(driver_a_client, endpoint, a_session, depot)

        assert response.status_code in {200, 201}, response.json()

    @pytest.mark.parametrize("client", ["driver_b_client", "other_fleet_driver_client"])
    @pytest.mark.parametrize("endpoint", ON_A_SESSION)
    def test_another_driver_finds_no_such_session(
        self, request, driver_a, a_session, depot, client, endpoint
    ):
        before = session_rows(driver_a)

        response = send(request.getfixturevalue(client), endpoint, a_session, depot)

        assert response.status_code == 404
        assert error_of(response) == ("not_found", None)
        assert session_rows(driver_a) == before

    @pytest.mark.parametrize("client", ["driver_b_client", "other_fleet_driver_client"])
    def test_another_driver_does_not_list_my_sessions(self, request, driver_a, a_session, client):
        session_of(driver_a)

        response = request.getfixturevalue(client).get(SESSIONS)

        assert (response.status_code, response.json()["results"]) == (200, [])

    def test_another_fleets_driver_cannot_start_on_my_fleets_connector(
        self, other_fleet_driver_client, other_fleet_driver, depot
    ):
        ChargeTokenFactory(driver=other_fleet_driver, uid="CARD-OLAF")

        response = other_fleet_driver_client.post(
            SESSIONS, {"connector": depot.connector.pk}, format="json"
        )

        assert response.status_code == 404
        assert error_of(response) == ("charging.other_fleet", "connector")
        assert ChargingSession.objects.count() == 0


def test_the_fast_list_rows_render_exactly_as_the_session_serializer(driver_a):
    fleet = driver_a.fleet
    at_depot = ConnectorFactory(
        station=ChargingStationFactory(fleet=fleet, depot=DepotFactory(fleet=fleet))
    )
    without_depot = ConnectorFactory(station=ChargingStationFactory(fleet=fleet, depot=None))
    sessions = [
        priced_session_create(
            driver=driver_a,
            started_at=dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC),
            connector=at_depot,
        ),
        priced_session_create(
            driver=driver_a,
            started_at=dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC),
            connector=without_depot,
            billed_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        ),
        priced_session_create(
            driver=driver_a,
            location_kind="home",
            purpose="business",
            started_at=dt.datetime(2026, 3, 3, 18, tzinfo=dt.UTC),
        ),
        priced_session_create(
            driver=driver_a,
            purpose="business",
            started_at=dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC),
        ),
        ChargingSessionFactory(
            fleet=fleet,
            driver=driver_a,
            vehicle=None,
            active=True,
            started_at=dt.datetime(2026, 3, 4, 8, 30, 15, tzinfo=dt.UTC),
        ),
    ]
    rows = {
        row["id"]: row
        for row in ChargingSession.objects.filter(driver=driver_a).values(*SESSION_ROW_FIELDS)
    }

    for session in sessions:
        session = ChargingSession.objects.select_related(
            "fleet", "vehicle", "connector__station__depot"
        ).get(pk=session.pk)
        assert (
            DriverSessionRowSerializer(rows[session.pk]).data
            == DriverSessionSerializer(session).data
        )
