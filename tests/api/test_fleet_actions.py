"""The daily actions in the fleet API, through the same services as the admin: suspending and
reactivating a driver, blocking a token, reassigning a vehicle; and the fleet's IANA time zone
on `me` and the fleet's objects, whose times stay UTC."""

import datetime as dt

import pytest

from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken
from apps.fleets.choices import MembershipRole
from apps.vehicles.models import VehicleAssignment
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    DriverFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

MANAGER, VIEWER = MembershipRole.MANAGER, MembershipRole.VIEWER
MAR_1 = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
JUN_15 = dt.datetime(2026, 6, 15, 17, tzinfo=dt.UTC)


def errors(response) -> list[tuple[str, str | None]]:
    return [(error["code"], error["attr"]) for error in response.json()["errors"]]


def token_rows(driver) -> list[tuple]:
    return list(
        ChargeToken.objects.filter(driver=driver)
        .order_by("uid")
        .values_list("uid", "is_active", "blocked_by_suspension", "blocked_reason")
    )


class TestSuspension:
    def test_suspending_without_a_reason_is_refused_on_the_reason_and_changes_nothing(
        self, member_client, fleet, driver_a
    ):
        ChargeTokenFactory(driver=driver_a, uid="CARD1")

        response = member_client(MANAGER, fleet).post(
            f"/api/v1/fleet/drivers/{driver_a.pk}/suspend/", {"reason": ""}, format="json"
        )

        assert response.status_code == 400
        assert [attr for _, attr in errors(response)] == ["reason"]
        driver_a.refresh_from_db()
        assert (driver_a.status, driver_a.suspension_reason) == (DriverStatus.ACTIVE, "")
        assert token_rows(driver_a) == [("CARD1", True, False, "")]

    def test_a_lost_card_stays_blocked_when_the_driver_is_reactivated(
        self, member_client, fleet, driver_a
    ):
        client = member_client(MANAGER, fleet)
        ChargeTokenFactory(driver=driver_a, uid="CARD1")
        lost = ChargeTokenFactory(driver=driver_a, uid="CARD2")

        client.post(
            f"/api/v1/fleet/drivers/{driver_a.pk}/suspend/",
            {"reason": "Licence withdrawn"},
            format="json",
        )
        blocked = client.post(
            f"/api/v1/fleet/charge-tokens/{lost.pk}/block/", {"reason": "Lost"}, format="json"
        )
        reactivated = client.post(f"/api/v1/fleet/drivers/{driver_a.pk}/reactivate/")

        assert blocked.status_code == 200
        assert {key: blocked.json()[key] for key in ("is_active", "blocked_reason")} == {
            "is_active": False,
            "blocked_reason": "Lost",
        }
        assert reactivated.status_code == 200
        assert token_rows(driver_a) == [
            ("CARD1", True, False, ""),
            ("CARD2", False, False, "Lost"),
        ]

    def test_reactivating_an_active_driver_is_refused_with_409(
        self, member_client, fleet, driver_a
    ):
        response = member_client(MANAGER, fleet).post(
            f"/api/v1/fleet/drivers/{driver_a.pk}/reactivate/"
        )

        assert response.status_code == 409
        assert errors(response) == [("drivers.driver_status_refused", "status")]

    def test_suspending_a_driver_who_left_is_refused_with_409(self, member_client, fleet):
        gone = DriverFactory(fleet=fleet, status=DriverStatus.LEFT)

        response = member_client(MANAGER, fleet).post(
            f"/api/v1/fleet/drivers/{gone.pk}/suspend/", {"reason": "Late"}, format="json"
        )

        assert response.status_code == 409
        gone.refresh_from_db()
        assert (gone.status, gone.suspension_reason) == (DriverStatus.LEFT, "")

    def test_blocking_needs_a_reason_a_manager_and_the_tokens_fleet(
        self, member_client, fleet, other_fleet, driver_a
    ):
        token = ChargeTokenFactory(driver=driver_a, uid="CARD1")
        url = f"/api/v1/fleet/charge-tokens/{token.pk}/block/"

        without_reason = member_client(MANAGER, fleet).post(url, {}, format="json")
        by_viewer = member_client(VIEWER, fleet).post(url, {"reason": "Lost"}, format="json")
        by_other_fleet = member_client(MANAGER, other_fleet).post(
            url, {"reason": "Lost"}, format="json"
        )

        assert (without_reason.status_code, by_viewer.status_code, by_other_fleet.status_code) == (
            400,
            403,
            404,
        )
        assert token_rows(driver_a) == [("CARD1", True, False, "")]


class TestReassign:
    def test_reassign_ends_the_running_assignment_and_opens_the_new_one(
        self, member_client, fleet, driver_a, driver_b
    ):
        vehicle = VehicleFactory(fleet=fleet)
        running = VehicleAssignmentFactory(vehicle=vehicle, driver=driver_a, starts_at=MAR_1)

        response = member_client(MANAGER, fleet).post(
            f"/api/v1/fleet/vehicles/{vehicle.pk}/reassign/",
            {"driver": driver_b.pk, "starts_at": "2026-06-15T17:00:00Z"},
            format="json",
        )

        assert response.status_code == 201
        body = response.json()
        assert (body["driver"], body["starts_at"], body["ends_at"]) == (
            driver_b.pk,
            "2026-06-15T17:00:00Z",
            None,
        )
        running.refresh_from_db()
        assert running.ends_at == JUN_15
        assert VehicleAssignment.objects.filter(vehicle=vehicle).count() == 2

    def test_reassign_to_a_driver_of_another_fleet_or_by_another_fleet_changes_nothing(
        self, member_client, fleet, other_fleet, driver_a, other_fleet_driver
    ):
        vehicle = VehicleFactory(fleet=fleet)
        VehicleAssignmentFactory(vehicle=vehicle, driver=driver_a, starts_at=MAR_1)
        url = f"/api/v1/fleet/vehicles/{vehicle.pk}/reassign/"

        foreign_driver = member_client(MANAGER, fleet).post(
            url, {"driver": other_fleet_driver.pk}, format="json"
        )
        other_manager = member_client(MANAGER, other_fleet).post(
            url, {"driver": other_fleet_driver.pk}, format="json"
        )

        assert (foreign_driver.status_code, other_manager.status_code) == (400, 404)
        assert list(
            VehicleAssignment.objects.filter(vehicle=vehicle).values_list("driver_id", "ends_at")
        ) == [(driver_a.pk, None)]


class TestTimeZone:
    def test_me_carries_the_fleets_time_zone(self, driver_a_client):
        body = driver_a_client.get("/api/v1/me/").json()

        assert (body["time_zone"], body["fleet"]["time_zone"]) == (
            "Europe/Amsterdam",
            "Europe/Amsterdam",
        )

    def test_the_fleets_objects_carry_its_time_zone_and_their_times_stay_utc(
        self, member_client, fleet, driver_a
    ):
        client = member_client(VIEWER, fleet)
        vehicle = VehicleFactory(fleet=fleet)
        session = ChargingSessionFactory(
            fleet=fleet, driver=driver_a, started_at=JUN_15, ended_at=JUN_15 + dt.timedelta(hours=1)
        )

        fleet_body = client.get(f"/api/v1/fleet/fleets/{fleet.pk}/").json()
        driver_body = client.get(f"/api/v1/fleet/drivers/{driver_a.pk}/").json()
        vehicle_body = client.get(f"/api/v1/fleet/vehicles/{vehicle.pk}/").json()
        session_body = client.get(f"/api/v1/fleet/sessions/{session.pk}/").json()
        listed = client.get("/api/v1/fleet/sessions/").json()["results"]

        zones = {
            body["time_zone"] for body in (fleet_body, driver_body, vehicle_body, session_body)
        }
        assert zones == {listed[0]["time_zone"]} == {"Europe/Amsterdam"}
        assert session_body["started_at"] == "2026-06-15T17:00:00Z"
