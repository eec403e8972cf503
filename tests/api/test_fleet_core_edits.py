"""Fleet endpoints that delete depots, cost centers, drivers and vehicles, mark a driver as
left, and change charge tokens, vehicle assignments and odometer readings: exact answers,
refusals that name the field and the rule and change nothing, fields a caller may not set,
and who may call (viewer and finance 403, another fleet's row 404)."""

import datetime as dt
import threading
import time

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.charging.models import ChargingSession
from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.choices import MembershipRole
from apps.fleets.models import CostCenter, Depot
from apps.vehicles.choices import VehicleStatus
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from tests.celery_workers import current_database_url
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ChargingStationFactory,
    CostCenterFactory,
    DepotFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    OdometerReadingFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
ADMIN, MANAGER, FINANCE, VIEWER = (
    MembershipRole.ADMIN,
    MembershipRole.MANAGER,
    MembershipRole.FINANCE,
    MembershipRole.VIEWER,
)
LEFT_AT = dt.datetime(2026, 11, 2, 10, 30, tzinfo=UTC)


def error_attrs(response) -> list:
    return [error["attr"] for error in response.json()["errors"]]


def error_codes(response) -> list:
    return [error["code"] for error in response.json()["errors"]]


def error_details(response) -> list:
    return [error["detail"] for error in response.json()["errors"]]


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def token_row(token: ChargeToken) -> tuple:
    return tuple(
        ChargeToken.objects.filter(pk=token.pk).values_list(
            "driver_id", "uid", "kind", "valid_from", "valid_until", "is_active"
        )[0]
    )


def assignment_row(assignment: VehicleAssignment) -> tuple:
    return tuple(
        VehicleAssignment.objects.filter(pk=assignment.pk).values_list(
            "vehicle_id", "driver_id", "starts_at", "ends_at"
        )[0]
    )


def reading_row(reading: OdometerReading) -> tuple:
    return tuple(
        OdometerReading.objects.filter(pk=reading.pk).values_list(
            "vehicle_id", "km", "recorded_at"
        )[0]
    )


# --- deleting depots, cost centers, drivers and vehicles ------------------------------------


def unused_depot(fleet):
    return DepotFactory(fleet=fleet, name="Spare yard")


def unused_cost_center(fleet):
    return CostCenterFactory(fleet=fleet, code="CC-900", name="Unused")


def driver_without_history(fleet):
    return DriverFactory(fleet=fleet, first_name="Noor", last_name="Visser")


def vehicle_without_history(fleet):
    return VehicleFactory(fleet=fleet, plate="EV-900-Z")


DELETABLE = [
    pytest.param("depots", Depot, unused_depot, id="depot"),
    pytest.param("cost-centers", CostCenter, unused_cost_center, id="cost-center"),
    pytest.param("drivers", Driver, driver_without_history, id="driver"),
    pytest.param("vehicles", Vehicle, vehicle_without_history, id="vehicle"),
]


class TestDelete:
    @pytest.mark.parametrize(("segment", "model", "row_make"), DELETABLE)
    @pytest.mark.parametrize("role", [MANAGER, ADMIN])
    def test_editing_roles_delete_a_row_nothing_refers_to(
        self, member_client, fleet, segment, model, row_make, role
    ):
        row = row_make(fleet)
        bystander = row_make(FleetFactory())
        client = member_client(role, fleet)

        response = client.delete(f"/api/v1/fleet/{segment}/{row.pk}/")

        assert response.status_code == 204
        assert response.content == b""
        assert not model.objects.filter(pk=row.pk).exists()
        assert model.objects.filter(pk=bystander.pk).exists()
        assert client.get(f"/api/v1/fleet/{segment}/{row.pk}/").status_code == 404

    @pytest.mark.parametrize(("segment", "model", "row_make"), DELETABLE)
    @pytest.mark.parametrize("role", [VIEWER, FINANCE])
    def test_viewer_and_finance_cannot_delete(
        self, member_client, fleet, segment, model, row_make, role
    ):
        row = row_make(fleet)

        response = member_client(role, fleet).delete(f"/api/v1/fleet/{segment}/{row.pk}/")

        assert response.status_code == 403
        assert error_codes(response) == ["permission_denied"]
        assert model.objects.filter(pk=row.pk).exists()

    @pytest.mark.parametrize(("segment", "model", "row_make"), DELETABLE)
    def test_admin_of_another_fleet_gets_404_and_nothing_is_deleted(
        self, member_client, fleet, other_fleet, segment, model, row_make
    ):
        row = row_make(fleet)

        response = member_client(ADMIN, other_fleet).delete(f"/api/v1/fleet/{segment}/{row.pk}/")

        assert response.status_code == 404
        assert model.objects.filter(pk=row.pk).exists()

    @pytest.mark.parametrize(("segment", "model", "row_make"), DELETABLE)
    def test_viewer_api_key_cannot_delete(self, api_key_client, fleet, segment, model, row_make):
        row = row_make(fleet)

        response = api_key_client(VIEWER, fleet).delete(f"/api/v1/fleet/{segment}/{row.pk}/")

        assert response.status_code == 403
        assert model.objects.filter(pk=row.pk).exists()

    def test_depot_still_in_use_is_refused_with_409_saying_what_refers_to_it(
        self, member_client, fleet
    ):
        depot = DepotFactory(fleet=fleet, name="North")
        VehicleFactory(fleet=fleet, home_depot=depot)
        ChargingStationFactory.create_batch(2, fleet=fleet, depot=depot)

        response = member_client(MANAGER, fleet).delete(f"/api/v1/fleet/depots/{depot.pk}/")

        assert response.status_code == 409
        assert error_codes(response) == ["fleets.depot_in_use"]
        assert error_attrs(response) == [None]
        assert error_details(response) == [
            "Depot North cannot be deleted: it is still referred to by 1 vehicle and "
            "2 charging stations. Move those to another depot first."
        ]
        assert Depot.objects.filter(pk=depot.pk).exists()

    def test_cost_center_still_in_use_is_refused_and_suggests_marking_it_inactive(
        self, member_client, fleet, cost_center, driver_a, driver_b
    ):
        ChargingSessionFactory(fleet=fleet, driver=driver_a, cost_center=cost_center)

        response = member_client(ADMIN, fleet).delete(
            f"/api/v1/fleet/cost-centers/{cost_center.pk}/"
        )

        assert response.status_code == 409
        assert error_codes(response) == ["fleets.cost_center_in_use"]
        assert error_details(response) == [
            "Cost center CC-100 Field service cannot be deleted: it is still referred to by "
            "2 drivers and 1 charging session. Mark it inactive instead."
        ]
        cost_center.refresh_from_db()
        assert cost_center.is_active is True
        assert Driver.objects.filter(cost_center=cost_center).count() == 2

    def test_driver_without_history_is_deleted_with_their_tokens_only(
        self, member_client, fleet, driver_a
    ):
        newcomer = DriverFactory(fleet=fleet)
        own_tokens = ChargeTokenFactory.create_batch(2, driver=newcomer)
        colleague_token = ChargeTokenFactory(driver=driver_a)

        response = member_client(MANAGER, fleet).delete(f"/api/v1/fleet/drivers/{newcomer.pk}/")

        assert response.status_code == 204
        assert not Driver.objects.filter(pk=newcomer.pk).exists()
        assert not ChargeToken.objects.filter(pk__in=[t.pk for t in own_tokens]).exists()
        assert list(ChargeToken.objects.values_list("pk", flat=True)) == [colleague_token.pk]

    def test_driver_with_history_is_refused_with_409_and_told_to_mark_them_as_left(
        self, member_client, fleet, driver_a
    ):
        token = ChargeTokenFactory(driver=driver_a)
        vehicle = VehicleFactory(fleet=fleet)
        ChargingSessionFactory(fleet=fleet, driver=driver_a, vehicle=vehicle, token=token)
        VehicleAssignmentFactory(vehicle=vehicle, driver=driver_a)

        response = member_client(MANAGER, fleet).delete(f"/api/v1/fleet/drivers/{driver_a.pk}/")

        assert response.status_code == 409
        assert error_codes(response) == ["drivers.driver_has_history"]
        assert error_details(response) == [
            "Driver Sanne de Vries (E00042) cannot be deleted: their history is still "
            "referred to by 1 vehicle assignment and 1 charging session. Mark the driver as "
            "left instead."
        ]
        driver_a.refresh_from_db()
        assert driver_a.status == DriverStatus.ACTIVE
        assert token_row(token)[-1] is True
        assert ChargingSession.objects.filter(driver=driver_a).count() == 1

    def test_vehicle_with_odometer_readings_is_refused_and_its_readings_are_kept(
        self, member_client, fleet
    ):
        vehicle = VehicleFactory(fleet=fleet, plate="EV-901-Q", model="ID.4 Pro")
        reading = OdometerReadingFactory(vehicle=vehicle)

        response = member_client(MANAGER, fleet).delete(f"/api/v1/fleet/vehicles/{vehicle.pk}/")

        assert response.status_code == 409
        assert error_codes(response) == ["vehicles.vehicle_has_history"]
        assert error_details(response) == [
            "Vehicle EV-901-Q (Volkswagen ID.4 Pro) cannot be deleted: its history is still "
            "referred to by 1 odometer reading. Retire it instead."
        ]
        assert Vehicle.objects.filter(pk=vehicle.pk).exists()
        assert OdometerReading.objects.filter(pk=reading.pk).exists()


# --- marking a driver as left ---------------------------------------------------------------


class TestDriverLeave:
    def test_manager_marks_a_driver_as_left_tokens_off_and_assignment_ended_now(
        self, member_client, fleet, driver_a, driver_b, time_machine
    ):
        time_machine.move_to(LEFT_AT, tick=False)
        tokens = ChargeTokenFactory.create_batch(2, driver=driver_a)
        colleague_token = ChargeTokenFactory(driver=driver_b)
        vehicle = VehicleFactory(fleet=fleet)
        past = VehicleAssignmentFactory(
            vehicle=vehicle,
            driver=driver_a,
            starts_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
            ends_at=dt.datetime(2026, 2, 1, tzinfo=UTC),
        )
        running = VehicleAssignmentFactory(
            vehicle=vehicle, driver=driver_a, starts_at=dt.datetime(2026, 3, 1, tzinfo=UTC)
        )
        client = member_client(MANAGER, fleet)

        response = client.post(f"/api/v1/fleet/drivers/{driver_a.pk}/leave/")

        assert response.status_code == 200, response.json()
        driver_a.refresh_from_db()
        assert response.json() == {
            "id": driver_a.pk,
            "fleet": fleet.pk,
            "employee_number": "E00042",
            "first_name": "Sanne",
            "last_name": "de Vries",
            "email": "sanne@example.com",
            "phone": "+31 6 12345678",
            "licence_number": "",
            "licence_expires_on": None,
            "cost_center": driver_a.cost_center_id,
            "status": "left",
            "suspension_reason": "",
            "time_zone": "Europe/Amsterdam",
            "home_rate_per_kwh": "0.25000",
            "home_rate_currency": "EUR",
            "iban_masked": "**************4300",
            "account_holder": "",
            "street": "",
            "postal_code": "",
            "city": "",
            "country": "",
            "created_at": iso(driver_a.created_at),
            "updated_at": "2026-11-02T10:30:00Z",
        }
        assert driver_a.status == DriverStatus.LEFT
        assert [token_row(token)[-1] for token in tokens] == [False, False]
        assert token_row(colleague_token)[-1] is True
        assert assignment_row(running)[-1] == LEFT_AT
        assert assignment_row(past)[-1] == dt.datetime(2026, 2, 1, tzinfo=UTC)

    def test_leaving_again_changes_nothing(self, member_client, fleet, driver_a, time_machine):
        time_machine.move_to(LEFT_AT, tick=False)
        running = VehicleAssignmentFactory(
            vehicle=VehicleFactory(fleet=fleet),
            driver=driver_a,
            starts_at=dt.datetime(2026, 3, 1, tzinfo=UTC),
        )
        first = member_client(MANAGER, fleet).post(f"/api/v1/fleet/drivers/{driver_a.pk}/leave/")
        time_machine.move_to(LEFT_AT + dt.timedelta(hours=2), tick=False)

        again = member_client(MANAGER, fleet).post(f"/api/v1/fleet/drivers/{driver_a.pk}/leave/")

        assert (first.status_code, again.status_code) == (200, 200)
        assert again.json() == first.json()
        assert assignment_row(running)[-1] == LEFT_AT

    def test_an_assignment_not_started_yet_is_refused_and_nothing_changes(
        self, member_client, fleet, driver_a, time_machine
    ):
        time_machine.move_to(LEFT_AT, tick=False)
        token = ChargeTokenFactory(driver=driver_a)
        running = VehicleAssignmentFactory(
            vehicle=VehicleFactory(fleet=fleet),
            driver=driver_a,
            starts_at=dt.datetime(2026, 3, 1, tzinfo=UTC),
        )
        planned = VehicleAssignmentFactory(
            vehicle=VehicleFactory(fleet=fleet, plate="EV-002-B", model="ID.3"),
            driver=driver_a,
            starts_at=dt.datetime(2026, 12, 1, 8, tzinfo=UTC),
        )

        response = member_client(MANAGER, fleet).post(f"/api/v1/fleet/drivers/{driver_a.pk}/leave/")

        assert response.status_code == 409
        assert error_codes(response) == ["vehicles.assignment_not_started"]
        assert error_attrs(response) == [None]
        assert error_details(response) == [
            "Sanne de Vries is assigned EV-002-B (Volkswagen ID.3) from 2026-12-01 09:00 CET, "
            "which has not started yet; give that assignment to another driver first."
        ]
        driver_a.refresh_from_db()
        assert driver_a.status == DriverStatus.ACTIVE
        assert token_row(token)[-1] is True
        assert assignment_row(running)[-1] is None
        assert assignment_row(planned)[-1] is None

    def test_a_driver_who_is_charging_may_leave_and_the_session_runs_on(
        self, member_client, fleet, driver_a
    ):
        session = ChargingSessionFactory(fleet=fleet, driver=driver_a, active=True)

        response = member_client(MANAGER, fleet).post(f"/api/v1/fleet/drivers/{driver_a.pk}/leave/")

        assert response.status_code == 200
        assert response.json()["status"] == "left"
        session.refresh_from_db()
        assert (session.status, session.ended_at) == ("active", None)

    def test_fields_sent_with_leave_are_ignored(self, member_client, fleet, other_fleet, driver_a):
        response = member_client(MANAGER, fleet).post(
            f"/api/v1/fleet/drivers/{driver_a.pk}/leave/",
            {"status": "active", "fleet": other_fleet.pk, "id": 999, "email": "x@example.com"},
            format="json",
        )

        assert response.status_code == 200
        driver_a.refresh_from_db()
        assert (driver_a.pk, driver_a.fleet_id, driver_a.status, driver_a.email) == (
            response.json()["id"],
            fleet.pk,
            DriverStatus.LEFT,
            "sanne@example.com",
        )

    def test_a_left_driver_is_refused_on_the_api_and_at_login_like_a_suspended_one(
        self, member_client, fleet, driver_a, driver_a_client, anonymous_client
    ):
        assert driver_a_client.get("/api/v1/me/").status_code == 200

        member_client(MANAGER, fleet).post(f"/api/v1/fleet/drivers/{driver_a.pk}/leave/")
        with_token = driver_a_client.get("/api/v1/me/")
        login = anonymous_client.post(
            "/api/v1/auth/login/",
            {"email": "sanne@example.com", "password": "correct horse battery staple"},
            format="json",
        )

        assert with_token.status_code == 401
        assert error_codes(with_token) == ["driver_not_active"]
        assert login.status_code == 401
        assert error_codes(login) == ["driver_not_active"]

    @pytest.mark.parametrize("role", [VIEWER, FINANCE])
    def test_viewer_and_finance_cannot_mark_a_driver_as_left(
        self, member_client, fleet, driver_a, role
    ):
        token = ChargeTokenFactory(driver=driver_a)

        response = member_client(role, fleet).post(f"/api/v1/fleet/drivers/{driver_a.pk}/leave/")

        assert response.status_code == 403
        driver_a.refresh_from_db()
        assert driver_a.status == DriverStatus.ACTIVE
        assert token_row(token)[-1] is True

    def test_manager_of_another_fleet_gets_404(self, member_client, other_fleet, driver_a):
        response = member_client(MANAGER, other_fleet).post(
            f"/api/v1/fleet/drivers/{driver_a.pk}/leave/"
        )

        assert response.status_code == 404
        driver_a.refresh_from_db()
        assert driver_a.status == DriverStatus.ACTIVE


# --- changing a charge token ----------------------------------------------------------------


class TestChargeTokenEdit:
    def test_manager_changes_uid_kind_and_validity_with_exact_values(
        self, member_client, fleet, driver_a
    ):
        token = ChargeTokenFactory(driver=driver_a, uid="04A1B2C3D4")

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/",
            {
                "uid": " 04a1b2c3ff ",
                "kind": "APP_USER",
                "valid_from": "2026-02-01T00:00:00+01:00",
                "valid_until": "2027-01-01T00:00:00+01:00",
            },
            format="json",
        )

        assert response.status_code == 200, response.json()
        assert response.json() == {
            "id": token.pk,
            "driver": driver_a.pk,
            "uid": "04A1B2C3FF",
            "kind": "APP_USER",
            "valid_from": "2026-01-31T23:00:00Z",
            "valid_until": "2026-12-31T23:00:00Z",
            "is_active": True,
            "blocked_reason": "",
            "blocked_by_suspension": False,
            "created_at": iso(token.created_at),
        }
        assert token_row(token) == (
            driver_a.pk,
            "04A1B2C3FF",
            TokenKind.APP_USER,
            dt.datetime(2026, 1, 31, 23, tzinfo=UTC),
            dt.datetime(2026, 12, 31, 23, tzinfo=UTC),
            True,
        )

    def test_manager_gives_the_token_to_another_driver_of_the_fleet(
        self, member_client, fleet, driver_a, driver_b
    ):
        token = ChargeTokenFactory(driver=driver_a)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/", {"driver": driver_b.pk}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["driver"] == driver_b.pk
        assert token_row(token)[0] == driver_b.pk

    def test_uid_of_another_active_token_is_refused_and_nothing_changes(
        self, member_client, fleet, driver_a, driver_b
    ):
        ChargeTokenFactory(driver=driver_b, uid="BBBB01")
        token = ChargeTokenFactory(driver=driver_a, uid="AAAA01")
        before = token_row(token)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/",
            {"uid": "bbbb01", "kind": "OTHER"},
            format="json",
        )

        assert response.status_code == 409
        assert error_attrs(response) == ["uid"]
        assert error_codes(response) == ["drivers.token_uid_in_use"]
        assert error_details(response) == ["An active token with UID BBBB01 already exists."]
        assert token_row(token) == before

    def test_valid_until_before_valid_from_is_refused_and_nothing_changes(
        self, member_client, fleet, driver_a
    ):
        token = ChargeTokenFactory(driver=driver_a)
        before = token_row(token)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/",
            {"uid": "CHANGED", "valid_until": "2025-12-31T00:00:00Z"},
            format="json",
        )

        assert response.status_code == 422
        assert error_attrs(response) == ["valid_until"]
        assert error_codes(response) == ["drivers.invalid_token_period"]
        assert error_details(response) == ["Valid until must be after valid from."]
        assert token_row(token) == before

    def test_active_token_for_a_suspended_driver_is_refused_and_nothing_changes(
        self, member_client, fleet, driver_a, driver_b
    ):
        driver_b.status = DriverStatus.SUSPENDED
        driver_b.save()
        token = ChargeTokenFactory(driver=driver_a)
        before = token_row(token)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/", {"driver": driver_b.pk}, format="json"
        )

        assert response.status_code == 422
        assert error_codes(response) == ["drivers.driver_not_active"]
        assert token_row(token) == before

    def test_driver_of_another_fleet_of_mine_is_refused_by_field(
        self, member_client, fleet, other_fleet, driver_a, other_fleet_driver
    ):
        token = ChargeTokenFactory(driver=driver_a)
        before = token_row(token)
        client = member_client(MANAGER, fleet)
        MembershipFactory(user=client.user, fleet=other_fleet, role=MANAGER)

        response = client.patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/",
            {"driver": other_fleet_driver.pk},
            format="json",
        )

        assert response.status_code == 422
        assert error_attrs(response) == ["driver"]
        assert error_codes(response) == ["drivers.token_other_fleet"]
        assert error_details(response) == [
            f"Driver {other_fleet_driver} belongs to another fleet; a token stays in its "
            "fleet, so issue them a new one there."
        ]
        assert token_row(token) == before

    def test_driver_of_a_fleet_not_mine_is_refused_as_unknown(
        self, member_client, fleet, driver_a, other_fleet_driver
    ):
        token = ChargeTokenFactory(driver=driver_a)
        before = token_row(token)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/",
            {"driver": other_fleet_driver.pk},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["driver"]
        assert error_codes(response) == ["does_not_exist"]
        assert token_row(token) == before

    @pytest.mark.parametrize(
        ("field", "value"),
        [("is_active", True), ("id", 999), ("created_at", "2026-01-01T00:00:00Z"), ("fleet", 1)],
    )
    def test_fields_a_manager_may_not_set_are_refused_by_name_and_nothing_changes(
        self, member_client, fleet, driver_a, field, value
    ):
        token = ChargeTokenFactory(driver=driver_a, is_active=False)
        before = token_row(token)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/",
            {"uid": "CHANGED", field: value},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == [field]
        assert error_codes(response) == ["not_settable"]
        assert token_row(token) == before

    def test_uid_too_long_is_refused_by_field(self, member_client, fleet, driver_a):
        token = ChargeTokenFactory(driver=driver_a)
        before = token_row(token)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/", {"uid": "A" * 37}, format="json"
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["uid"]
        assert token_row(token) == before

    @pytest.mark.parametrize("role", [VIEWER, FINANCE])
    def test_viewer_and_finance_cannot_change_a_token(self, member_client, fleet, driver_a, role):
        token = ChargeTokenFactory(driver=driver_a)
        before = token_row(token)

        response = member_client(role, fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/", {"uid": "CHANGED"}, format="json"
        )

        assert response.status_code == 403
        assert token_row(token) == before

    def test_manager_of_another_fleet_gets_404(self, member_client, other_fleet, driver_a):
        token = ChargeTokenFactory(driver=driver_a)
        before = token_row(token)

        response = member_client(MANAGER, other_fleet).patch(
            f"/api/v1/fleet/charge-tokens/{token.pk}/", {"uid": "CHANGED"}, format="json"
        )

        assert response.status_code == 404
        assert token_row(token) == before


# --- changing a vehicle assignment ----------------------------------------------------------


@pytest.fixture
def vehicle(fleet):
    return VehicleFactory(fleet=fleet, plate="EV-777-Z")


@pytest.fixture
def assignment(vehicle, driver_a):
    return VehicleAssignmentFactory(
        vehicle=vehicle,
        driver=driver_a,
        starts_at=dt.datetime(2026, 3, 1, tzinfo=UTC),
        ends_at=dt.datetime(2026, 4, 1, tzinfo=UTC),
    )


class TestAssignmentEdit:
    def test_manager_moves_the_period_and_changes_the_driver_with_exact_values(
        self, member_client, fleet, vehicle, assignment, driver_b
    ):
        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/",
            {
                "driver": driver_b.pk,
                "starts_at": "2026-03-02T08:00:00+01:00",
                "ends_at": "2026-03-20T18:00:00+01:00",
            },
            format="json",
        )

        assert response.status_code == 200, response.json()
        assert response.json() == {
            "id": assignment.pk,
            "vehicle": vehicle.pk,
            "vehicle_plate": "EV-777-Z",
            "driver": driver_b.pk,
            "driver_name": "Bram Jansen",
            "starts_at": "2026-03-02T07:00:00Z",
            "ends_at": "2026-03-20T17:00:00Z",
            "created_at": iso(assignment.created_at),
        }
        assert assignment_row(assignment) == (
            vehicle.pk,
            driver_b.pk,
            dt.datetime(2026, 3, 2, 7, tzinfo=UTC),
            dt.datetime(2026, 3, 20, 17, tzinfo=UTC),
        )

    def test_an_end_left_out_is_kept_and_an_end_of_null_opens_it(
        self, member_client, fleet, vehicle, assignment, driver_a
    ):
        client = member_client(MANAGER, fleet)
        url = f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/"

        moved = client.patch(url, {"starts_at": "2026-03-05T00:00:00Z"}, format="json")
        opened = client.patch(url, {"ends_at": None}, format="json")

        assert moved.json()["ends_at"] == "2026-04-01T00:00:00Z"
        assert opened.json()["ends_at"] is None
        assert assignment_row(assignment) == (
            vehicle.pk,
            driver_a.pk,
            dt.datetime(2026, 3, 5, tzinfo=UTC),
            None,
        )

    def test_overlap_with_another_assignment_is_refused_naming_the_field_and_nothing_changes(
        self, member_client, fleet, vehicle, assignment, driver_b
    ):
        VehicleAssignmentFactory(
            vehicle=vehicle,
            driver=driver_b,
            starts_at=dt.datetime(2026, 5, 1, tzinfo=UTC),
            ends_at=dt.datetime(2026, 6, 1, tzinfo=UTC),
        )
        before = assignment_row(assignment)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/",
            {"starts_at": "2026-05-15T00:00:00Z", "ends_at": None},
            format="json",
        )

        assert response.status_code == 409
        assert error_attrs(response) == ["starts_at"]
        assert error_codes(response) == ["vehicles.assignment_overlaps"]
        assert error_details(response) == [
            "EV-777-Z (Volkswagen ID.4 Pro) is already assigned to Bram Jansen from "
            "2026-05-01 02:00 CEST until 2026-06-01 02:00 CEST."
        ]
        assert assignment_row(assignment) == before

    def test_an_end_before_the_start_is_refused_and_nothing_changes(
        self, member_client, fleet, assignment
    ):
        before = assignment_row(assignment)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/",
            {"ends_at": "2026-02-01T00:00:00Z"},
            format="json",
        )

        assert response.status_code == 422
        assert error_attrs(response) == ["ends_at"]
        assert error_codes(response) == ["vehicles.invalid_assignment_period"]
        assert error_details(response) == ["The assignment must end after it starts."]
        assert assignment_row(assignment) == before

    def test_giving_it_to_a_suspended_driver_is_refused_and_nothing_changes(
        self, member_client, fleet, assignment, driver_b
    ):
        driver_b.status = DriverStatus.SUSPENDED
        driver_b.save()
        before = assignment_row(assignment)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/",
            {"driver": driver_b.pk},
            format="json",
        )

        assert response.status_code == 422
        assert error_attrs(response) == ["driver"]
        assert error_codes(response) == ["vehicles.driver_not_active"]
        assert assignment_row(assignment) == before

    @pytest.mark.parametrize(
        ("field", "value"),
        [("vehicle", None), ("id", 999), ("vehicle_plate", "X"), ("fleet", 1)],
    )
    def test_fields_that_cannot_change_are_refused_by_name_and_nothing_changes(
        self, member_client, fleet, assignment, field, value
    ):
        other_vehicle = VehicleFactory(fleet=fleet)
        before = assignment_row(assignment)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/",
            {"ends_at": None, field: other_vehicle.pk if value is None else value},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == [field]
        assert error_codes(response) == ["not_settable"]
        assert assignment_row(assignment) == before

    @pytest.mark.parametrize("role", [VIEWER, FINANCE])
    def test_viewer_and_finance_cannot_change_an_assignment(
        self, member_client, fleet, assignment, role
    ):
        before = assignment_row(assignment)

        response = member_client(role, fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/",
            {"ends_at": None},
            format="json",
        )

        assert response.status_code == 403
        assert assignment_row(assignment) == before

    @pytest.mark.parametrize(
        ("status", "status_text"),
        [(DriverStatus.LEFT, "left the company"), (DriverStatus.SUSPENDED, "suspended")],
    )
    @pytest.mark.parametrize(
        ("changes", "field", "what"),
        [
            ({"ends_at": None}, "ends_at", "reopened"),
            ({"ends_at": "2026-04-15T00:00:00Z"}, "ends_at", "ended later"),
            ({"starts_at": "2026-02-15T00:00:00Z"}, "starts_at", "started earlier"),
        ],
        ids=["reopened", "ended-later", "started-earlier"],
    )
    def test_the_assignment_of_an_inactive_driver_is_not_reopened_or_lengthened(
        self, member_client, fleet, assignment, driver_a, status, status_text, changes, field, what
    ):
        Driver.objects.filter(pk=driver_a.pk).update(status=status)
        before = assignment_row(assignment)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/", changes, format="json"
        )

        assert response.status_code == 422
        assert error_attrs(response) == [field]
        assert error_codes(response) == ["vehicles.driver_not_active"]
        assert error_details(response) == [
            f"Driver Sanne de Vries (E00042) is not active ({status_text}): their assignment "
            f"can be ended or shortened, not {what}."
        ]
        assert assignment_row(assignment) == before

    @pytest.mark.parametrize(
        ("changes", "field", "what"),
        [
            ({"ends_at": None}, "ends_at", "reopened"),
            ({"ends_at": "2026-04-15T00:00:00Z"}, "ends_at", "ended later"),
            ({"starts_at": "2026-02-15T00:00:00Z"}, "starts_at", "started earlier"),
        ],
        ids=["reopened", "ended-later", "started-earlier"],
    )
    def test_the_assignment_of_a_retired_vehicle_is_not_reopened_or_lengthened(
        self, member_client, fleet, vehicle, assignment, changes, field, what
    ):
        Vehicle.objects.filter(pk=vehicle.pk).update(status=VehicleStatus.RETIRED)
        before = assignment_row(assignment)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/", changes, format="json"
        )

        assert response.status_code == 422
        assert error_attrs(response) == [field]
        assert error_codes(response) == ["vehicles.vehicle_retired"]
        assert error_details(response) == [
            "Vehicle EV-777-Z (Volkswagen ID.4 Pro) is retired: its assignment can be ended "
            f"or shortened, not {what}."
        ]
        assert assignment_row(assignment) == before

    def test_the_assignment_of_a_retired_vehicle_is_not_given_to_another_driver(
        self, member_client, fleet, vehicle, assignment, driver_b
    ):
        Vehicle.objects.filter(pk=vehicle.pk).update(status=VehicleStatus.RETIRED)
        before = assignment_row(assignment)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/",
            {"driver": driver_b.pk},
            format="json",
        )

        assert response.status_code == 422
        assert error_attrs(response) == ["driver"]
        assert error_codes(response) == ["vehicles.vehicle_retired"]
        assert error_details(response) == [
            "Vehicle EV-777-Z (Volkswagen ID.4 Pro) is retired: its assignment keeps its driver."
        ]
        assert assignment_row(assignment) == before

    @pytest.mark.parametrize("inactive", ["driver_left", "vehicle_retired"])
    def test_the_assignment_of_a_driver_who_left_or_a_retired_vehicle_can_still_be_shortened(
        self, member_client, fleet, vehicle, assignment, driver_a, inactive
    ):
        if inactive == "driver_left":
            Driver.objects.filter(pk=driver_a.pk).update(status=DriverStatus.LEFT)
        else:
            Vehicle.objects.filter(pk=vehicle.pk).update(status=VehicleStatus.RETIRED)
        client = member_client(MANAGER, fleet)
        url = f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/"

        kept = client.patch(url, {"ends_at": "2026-04-01T00:00:00Z"}, format="json")
        shortened = client.patch(
            url,
            {"starts_at": "2026-03-05T00:00:00Z", "ends_at": "2026-03-20T00:00:00Z"},
            format="json",
        )

        assert (kept.status_code, shortened.status_code) == (200, 200), shortened.json()
        assert assignment_row(assignment) == (
            vehicle.pk,
            driver_a.pk,
            dt.datetime(2026, 3, 5, tzinfo=UTC),
            dt.datetime(2026, 3, 20, tzinfo=UTC),
        )

    def test_manager_of_another_fleet_gets_404(self, member_client, other_fleet, assignment):
        before = assignment_row(assignment)

        response = member_client(MANAGER, other_fleet).patch(
            f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/",
            {"ends_at": None},
            format="json",
        )

        assert response.status_code == 404
        assert assignment_row(assignment) == before


# --- correcting an odometer reading ---------------------------------------------------------


@pytest.fixture
def readings(vehicle):
    """Three readings of the vehicle: 10 000 km on 1 Jan, 11 000 on 1 Feb, 12 000 on 1 Mar."""
    return [
        OdometerReadingFactory(
            vehicle=vehicle, km=km, recorded_at=dt.datetime(2026, month, 1, 8, tzinfo=UTC)
        )
        for month, km in ((1, 10_000), (2, 11_000), (3, 12_000))
    ]


class TestOdometerCorrect:
    def test_manager_corrects_km_and_time_with_exact_values(
        self, member_client, fleet, vehicle, readings
    ):
        middle = readings[1]

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/odometer-readings/{middle.pk}/",
            {"km": 11_500, "recorded_at": "2026-02-10T09:15:00+01:00"},
            format="json",
        )

        assert response.status_code == 200, response.json()
        assert response.json() == {
            "id": middle.pk,
            "vehicle": vehicle.pk,
            "km": 11_500,
            "recorded_at": "2026-02-10T08:15:00Z",
            "created_at": iso(middle.created_at),
        }
        assert reading_row(middle) == (
            vehicle.pk,
            11_500,
            dt.datetime(2026, 2, 10, 8, 15, tzinfo=UTC),
        )

    @pytest.mark.parametrize(
        ("changes", "detail"),
        [
            (
                {"km": 9_999},
                "9999 km is lower than the 10000 km recorded on 2026-01-01 09:00 CET; "
                "an odometer never goes back.",
            ),
            (
                {"km": 12_001},
                "12001 km is higher than the 12000 km recorded later, on 2026-03-01 09:00 CET.",
            ),
            (
                {"recorded_at": "2026-03-15T08:00:00Z"},
                "11000 km is lower than the 12000 km recorded on 2026-03-01 09:00 CET; "
                "an odometer never goes back.",
            ),
        ],
        ids=["below-earlier", "above-later", "moved-after-a-higher-one"],
    )
    def test_a_reading_out_of_order_is_refused_naming_km_and_nothing_changes(
        self, member_client, fleet, readings, changes, detail
    ):
        middle = readings[1]
        before = [reading_row(reading) for reading in readings]

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/odometer-readings/{middle.pk}/", changes, format="json"
        )

        assert response.status_code == 422
        assert error_attrs(response) == ["km"]
        assert error_codes(response) == ["vehicles.odometer_went_backwards"]
        assert error_details(response) == [detail]
        assert [reading_row(reading) for reading in readings] == before

    def test_a_second_reading_at_the_same_moment_is_refused_naming_recorded_at(
        self, member_client, fleet, readings
    ):
        middle = readings[1]
        before = reading_row(middle)

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/odometer-readings/{middle.pk}/",
            {"km": 12_000, "recorded_at": "2026-03-01T08:00:00Z"},
            format="json",
        )

        assert response.status_code == 409
        assert error_attrs(response) == ["recorded_at"]
        assert error_codes(response) == ["vehicles.odometer_reading_exists"]
        assert reading_row(middle) == before

    def test_negative_km_is_refused_by_the_field_rule(self, member_client, fleet, readings):
        before = reading_row(readings[0])

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/odometer-readings/{readings[0].pk}/", {"km": -1}, format="json"
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["km"]
        assert reading_row(readings[0]) == before

    @pytest.mark.parametrize(("field", "value"), [("vehicle", None), ("id", 999), ("fleet", 1)])
    def test_fields_that_cannot_change_are_refused_by_name_and_nothing_changes(
        self, member_client, fleet, readings, field, value
    ):
        other_vehicle = VehicleFactory(fleet=fleet)
        before = reading_row(readings[1])

        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/odometer-readings/{readings[1].pk}/",
            {"km": 11_100, field: other_vehicle.pk if value is None else value},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == [field]
        assert error_codes(response) == ["not_settable"]
        assert reading_row(readings[1]) == before

    @pytest.mark.parametrize("role", [VIEWER, FINANCE])
    def test_viewer_and_finance_cannot_correct(self, member_client, fleet, readings, role):
        before = reading_row(readings[1])

        response = member_client(role, fleet).patch(
            f"/api/v1/fleet/odometer-readings/{readings[1].pk}/", {"km": 11_100}, format="json"
        )

        assert response.status_code == 403
        assert reading_row(readings[1]) == before

    def test_manager_of_another_fleet_gets_404(self, member_client, other_fleet, readings):
        before = reading_row(readings[1])

        response = member_client(MANAGER, other_fleet).patch(
            f"/api/v1/fleet/odometer-readings/{readings[1].pk}/", {"km": 11_100}, format="json"
        )

        assert response.status_code == 404
        assert reading_row(readings[1]) == before


# --- two managers changing one row at once ---------------------------------------------------

LOCK_WAIT_SECONDS = 10


def backends_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def patch_together_behind_a_row_lock(
    patches: list[tuple[APIClient, str, dict]], *, lock_sql: str, lock_params: list
) -> list:
    """Send each PATCH from a thread of its own while another connection holds the row lock of
    `lock_sql`; once every request waits on a lock, they have all read the row, and the lock
    is let go. Returns the responses (or what each raised) in the order of `patches`."""
    outcomes: dict[int, object] = {}

    def send(index: int, client: APIClient, url: str, body: dict) -> None:
        try:
            outcomes[index] = client.patch(url, body, format="json")
        except Exception as error:  # kept for the assertions, whatever it is
            outcomes[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send, args=(index, *patch)) for index, patch in enumerate(patches)
    ]
    with psycopg.connect(current_database_url()) as blocker:
        blocker.execute(lock_sql, lock_params)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while backends_waiting_on_a_lock() < len(threads):
            assert time.monotonic() < deadline, f"the requests did not all wait: {outcomes}"
            time.sleep(0.05)
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return [outcomes[index] for index in range(len(patches))]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_managers_changing_the_end_and_the_driver_of_an_assignment_at_once_keep_both(
    member_client, fleet, vehicle, assignment, driver_b
):
    """Both requests read the assignment, then wait on the vehicle's lock; each must change
    only the field it sent, on the row as the other left it."""
    url = f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/"

    responses = patch_together_behind_a_row_lock(
        [
            (member_client(MANAGER, fleet), url, {"ends_at": "2026-03-20T00:00:00Z"}),
            (member_client(MANAGER, fleet), url, {"driver": driver_b.pk}),
        ],
        lock_sql="SELECT id FROM vehicles_vehicle WHERE id = %s FOR UPDATE",
        lock_params=[vehicle.pk],
    )

    assert [getattr(response, "status_code", response) for response in responses] == [200, 200]
    assert assignment_row(assignment) == (
        vehicle.pk,
        driver_b.pk,
        dt.datetime(2026, 3, 1, tzinfo=UTC),
        dt.datetime(2026, 3, 20, tzinfo=UTC),
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_managers_correcting_the_km_and_the_time_of_a_reading_at_once_keep_both(
    member_client, fleet, vehicle, readings
):
    """Both requests read the reading, then wait on the vehicle's lock; each must change only
    the field it sent, on the row as the other left it."""
    middle = readings[1]
    url = f"/api/v1/fleet/odometer-readings/{middle.pk}/"

    responses = patch_together_behind_a_row_lock(
        [
            (member_client(MANAGER, fleet), url, {"km": 11_500}),
            (member_client(MANAGER, fleet), url, {"recorded_at": "2026-02-10T08:00:00Z"}),
        ],
        lock_sql="SELECT id FROM vehicles_vehicle WHERE id = %s FOR UPDATE",
        lock_params=[vehicle.pk],
    )

    assert [getattr(response, "status_code", response) for response in responses] == [200, 200]
    assert reading_row(middle) == (vehicle.pk, 11_500, dt.datetime(2026, 2, 10, 8, tzinfo=UTC))


def test_put_is_not_offered_on_the_changed_endpoints(member_client, fleet, assignment, readings):
    client = member_client(MANAGER, fleet)
    token = ChargeTokenFactory(driver=assignment.driver)

    statuses = [
        client.put(f"/api/v1/fleet/{segment}/{pk}/", {}, format="json").status_code
        for segment, pk in (
            ("charge-tokens", token.pk),
            ("vehicle-assignments", assignment.pk),
            ("odometer-readings", readings[0].pk),
        )
    ]

    assert statuses == [405, 405, 405]
