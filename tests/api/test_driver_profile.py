"""The driver's own profile, current vehicle and charge tokens under /api/v1/me/."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from apps.drivers.choices import DriverStatus, TokenKind
from apps.drivers.models import ChargeToken
from apps.drivers.services import driver_set_status
from tests.factories import (
    ChargeTokenFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PROFILE_URL = "/api/v1/me/"
VEHICLE_URL = "/api/v1/me/vehicle/"
TOKENS_URL = "/api/v1/me/tokens/"


def block_url(token: ChargeToken) -> str:
    return f"/api/v1/me/tokens/{token.pk}/block/"


def error_codes(response) -> list[tuple[str, str | None]]:
    return [(error["code"], error["attr"]) for error in response.json()["errors"]]


def driver_row(driver) -> dict:
    """What a driver's profile holds in the database, to assert that nothing changed."""
    fields = ["fleet_id", "status", "home_rate_per_kwh", "email", "phone", "iban"]
    fields += ["employee_number", "first_name", "last_name", "cost_center_id", "user_id"]
    driver.refresh_from_db()
    return {name: getattr(driver, name) for name in fields}


# Profile ------------------------------------------------------------------------------------


def test_profile_shows_the_driver_with_fleet_cost_center_and_a_masked_iban(
    driver_a, driver_a_client, fleet
):
    response = driver_a_client.get(PROFILE_URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": driver_a.pk,
        "first_name": "Sanne",
        "last_name": "de Vries",
        "email": "sanne@example.com",
        "employee_number": "E00042",
        "phone": "+31 6 12345678",
        "status": "active",
        "fleet": {
            "id": fleet.pk,
            "name": "Voltop Logistics",
            "currency": "EUR",
            "time_zone": "Europe/Amsterdam",
        },
        "time_zone": "Europe/Amsterdam",
        "cost_center": {"code": "CC-100", "name": "Field service"},
        "home_rate_per_kwh": "0.25000",
        "home_rate_currency": "EUR",
        "iban_masked": "**************4300",
        "account_holder": "",
    }


def test_profile_of_a_driver_without_cost_center_or_iban_shows_null_and_empty(
    driver_a, driver_a_client
):
    driver_a.cost_center, driver_a.iban = None, ""
    driver_a.save(update_fields=["cost_center", "iban"])

    body = driver_a_client.get(PROFILE_URL).json()

    assert (body["cost_center"], body["iban_masked"]) == (None, "")


def test_profile_is_read_in_two_queries(driver_a_client, django_assert_num_queries):
    with django_assert_num_queries(2):  # the login with its driver, the profile
        response = driver_a_client.get(PROFILE_URL)

    assert response.status_code == 200


def test_each_driver_sees_only_their_own_profile(driver_a, driver_b_client, driver_b):
    body = driver_b_client.get(PROFILE_URL).json()

    assert (body["id"], body["email"]) == (driver_b.pk, "bram@example.com")


def test_patch_changes_the_phone_and_nothing_else(driver_a, driver_a_client):
    before = driver_row(driver_a)

    response = driver_a_client.patch(PROFILE_URL, {"phone": "+31 20 7654321"}, format="json")

    assert response.status_code == 200
    assert response.json()["phone"] == "+31 20 7654321"
    assert driver_row(driver_a) == {**before, "phone": "+31 20 7654321"}


def test_patch_with_a_phone_too_long_is_refused_and_changes_nothing(driver_a, driver_a_client):
    before = driver_row(driver_a)

    response = driver_a_client.patch(PROFILE_URL, {"phone": "1" * 33}, format="json")

    assert response.status_code == 400
    assert error_codes(response) == [("max_length", "phone")]
    assert driver_row(driver_a) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fleet", "other"),
        ("status", "active"),
        ("home_rate_per_kwh", "9.99000"),
        ("email", "mallory@example.com"),
        ("is_staff", True),
        ("iban", "DE89370400440532013000"),
        ("employee_number", "E99999"),
        ("cost_center", None),
        ("id", 1),
    ],
)
def test_patch_of_any_field_but_phone_is_refused_by_name_and_changes_nothing(
    driver_a, driver_a_client, other_fleet, field, value
):
    value = other_fleet.pk if value == "other" else value
    before = driver_row(driver_a)

    response = driver_a_client.patch(
        PROFILE_URL, {"phone": "+31 20 0000000", field: value}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert error_codes(response) == [("not_changeable", field)]
    assert driver_row(driver_a) == before
    assert not get_user_model().objects.filter(is_staff=True, driver=driver_a).exists()


def test_patch_naming_several_forbidden_fields_names_each_of_them(driver_a, driver_a_client):
    before = driver_row(driver_a)

    response = driver_a_client.patch(
        PROFILE_URL, {"status": "left", "fleet": 1, "home_rate_per_kwh": "1"}, format="json"
    )

    assert response.status_code == 400
    assert error_codes(response) == [
        ("not_changeable", "fleet"),
        ("not_changeable", "home_rate_per_kwh"),
        ("not_changeable", "status"),
    ]
    assert driver_row(driver_a) == before


def test_put_is_not_offered_and_changes_nothing(driver_a, driver_a_client):
    before = driver_row(driver_a)

    response = driver_a_client.put(PROFILE_URL, {"phone": "112"}, format="json")

    assert response.status_code == 405
    assert driver_row(driver_a) == before


# Current vehicle ----------------------------------------------------------------------------


def test_vehicle_shows_the_current_assignment_and_the_vehicle(driver_a, driver_a_client, fleet):
    vehicle = VehicleFactory(
        fleet=fleet,
        plate="EV-123-Q",
        usable_battery_kwh=Decimal("77.0"),
    )
    VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet),
        driver=driver_a,
        starts_at=dt.datetime(2025, 1, 1, tzinfo=UTC),
        ends_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
    )
    assignment = VehicleAssignmentFactory(
        vehicle=vehicle, driver=driver_a, starts_at=dt.datetime(2026, 1, 1, 7, tzinfo=UTC)
    )

    response = driver_a_client.get(VEHICLE_URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": assignment.pk,
        "starts_at": "2026-01-01T07:00:00Z",
        "ends_at": None,
        "vehicle": {
            "id": vehicle.pk,
            "plate": "EV-123-Q",
            "make": "Volkswagen",
            "model": "ID.4 Pro",
            "model_year": 2024,
            "usable_battery_kwh": "77.0",
            "max_ac_kw": "11.0",
            "max_dc_kw": "135.0",
            "connector_standards": ["IEC_62196_T2", "IEC_62196_T2_COMBO"],
        },
    }


def test_of_two_assignments_starting_together_the_vehicle_assigned_last_is_shown(
    driver_a, driver_a_client, fleet
):
    starts_at = dt.datetime(2026, 1, 1, 7, tzinfo=UTC)
    VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet), driver=driver_a, starts_at=starts_at
    )
    assigned_last = VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet), driver=driver_a, starts_at=starts_at
    )

    response = driver_a_client.get(VEHICLE_URL)

    assert (response.status_code, response.json()["id"]) == (200, assigned_last.pk)


def test_vehicle_without_a_current_assignment_is_not_found_with_a_clear_code(
    driver_a, driver_a_client, driver_b, fleet
):
    VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet),
        driver=driver_a,
        starts_at=dt.datetime(2025, 1, 1, tzinfo=UTC),
        ends_at=dt.datetime(2025, 6, 1, tzinfo=UTC),
    )
    VehicleAssignmentFactory(vehicle=VehicleFactory(fleet=fleet), driver=driver_b)

    response = driver_a_client.get(VEHICLE_URL)

    assert response.status_code == 404
    assert response.json() == {
        "type": "client_error",
        "errors": [
            {
                "code": "vehicles.no_vehicle_assigned",
                "detail": "No vehicle is assigned to you at the moment.",
                "attr": None,
            }
        ],
    }


def test_vehicle_is_read_in_two_queries(driver_a, driver_a_client, django_assert_num_queries):
    VehicleAssignmentFactory(vehicle=VehicleFactory(fleet=driver_a.fleet), driver=driver_a)

    with django_assert_num_queries(2):  # the login with its driver, the assignment with vehicle
        response = driver_a_client.get(VEHICLE_URL)

    assert response.status_code == 200


def test_vehicle_of_driver_b_is_not_shown_to_driver_a(driver_a_client, driver_b, fleet):
    VehicleAssignmentFactory(vehicle=VehicleFactory(fleet=fleet), driver=driver_b)

    assert driver_a_client.get(VEHICLE_URL).status_code == 404


# Charge tokens ------------------------------------------------------------------------------


@pytest.fixture
def card_a(driver_a):
    return ChargeTokenFactory(
        driver=driver_a,
        uid="04A1B2C3D4E5F6",
        valid_from=dt.datetime(2026, 1, 1, tzinfo=UTC),
        valid_until=dt.datetime(2028, 1, 1, tzinfo=UTC),
    )


def test_tokens_lists_my_tokens_active_first(driver_a, driver_a_client, driver_b, card_a):
    app_tag = ChargeTokenFactory(
        driver=driver_a, uid="APP-0001", kind=TokenKind.APP_USER, is_active=False
    )
    ChargeTokenFactory(driver=driver_b)

    response = driver_a_client.get(TOKENS_URL)

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": card_a.pk,
                "uid": "04A1B2C3D4E5F6",
                "kind": "RFID",
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_until": "2028-01-01T00:00:00Z",
                "is_active": True,
            },
            {
                "id": app_tag.pk,
                "uid": "APP-0001",
                "kind": "APP_USER",
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_until": None,
                "is_active": False,
            },
        ],
    }


@pytest.mark.parametrize("tokens", [1, 6])
def test_tokens_list_takes_three_queries_however_many_tokens(
    driver_a, driver_a_client, django_assert_num_queries, tokens
):
    ChargeTokenFactory.create_batch(tokens, driver=driver_a)

    with django_assert_num_queries(3):  # the login with its driver, the count, the page
        response = driver_a_client.get(TOKENS_URL)

    assert len(response.json()["results"]) == tokens


def test_block_deactivates_my_token(driver_a_client, card_a):
    response = driver_a_client.post(block_url(card_a))

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    card_a.refresh_from_db()
    assert card_a.is_active is False


def test_block_of_a_blocked_token_returns_it_unchanged(driver_a_client, card_a):
    driver_a_client.post(block_url(card_a))
    card_a.refresh_from_db()
    blocked_at = card_a.updated_at

    response = driver_a_client.post(block_url(card_a))

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    card_a.refresh_from_db()
    assert (card_a.is_active, card_a.updated_at) == (False, blocked_at)


def test_block_of_an_unknown_token_is_not_found(driver_a_client, card_a):
    response = driver_a_client.post(f"/api/v1/me/tokens/{card_a.pk + 1000}/block/")

    assert response.status_code == 404
    assert error_codes(response) == [("not_found", None)]


# Who may use these endpoints ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "status"),
    [
        ("anonymous_client", 401),
        ("manager_client", 403),
        ("driver_a_client", 200),
    ],
)
@pytest.mark.parametrize("url", [PROFILE_URL, TOKENS_URL])
def test_who_may_read_the_profile_and_tokens(request, driver_a, client, status, url):
    response = request.getfixturevalue(client).get(url)

    assert response.status_code == status


@pytest.mark.parametrize(
    ("client", "status"),
    [("anonymous_client", 401), ("manager_client", 403)],
)
def test_who_may_not_read_a_vehicle(request, driver_a, client, status):
    VehicleAssignmentFactory(vehicle=VehicleFactory(fleet=driver_a.fleet), driver=driver_a)

    assert request.getfixturevalue(client).get(VEHICLE_URL).status_code == status


@pytest.mark.parametrize(
    ("client", "status"),
    [("anonymous_client", 401), ("manager_client", 403)],
)
def test_who_may_not_change_a_profile(request, driver_a, client, status):
    before = driver_row(driver_a)

    response = request.getfixturevalue(client).patch(PROFILE_URL, {"phone": "1"}, format="json")

    assert response.status_code == status
    assert driver_row(driver_a) == before


@pytest.mark.parametrize(
    ("client", "status"),
    [
        ("anonymous_client", 401),
        ("manager_client", 403),
        ("driver_b_client", 404),
        ("other_fleet_driver_client", 404),
    ],
)
def test_only_the_owner_may_block_a_token_others_change_nothing(request, card_a, client, status):
    response = request.getfixturevalue(client).post(block_url(card_a))

    assert response.status_code == status
    card_a.refresh_from_db()
    assert card_a.is_active is True


@pytest.mark.parametrize("client", ["driver_b_client", "other_fleet_driver_client"])
def test_other_drivers_do_not_see_my_tokens(request, card_a, client):
    response = request.getfixturevalue(client).get(TOKENS_URL)

    assert response.json()["results"] == []


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", PROFILE_URL), ("get", VEHICLE_URL), ("get", TOKENS_URL), ("patch", PROFILE_URL)],
)
def test_a_suspended_driver_is_refused_though_the_token_is_still_valid(
    driver_a, driver_a_client, method, url
):
    driver_set_status(driver=driver_a, status=DriverStatus.SUSPENDED)
    before = driver_row(driver_a)

    response = getattr(driver_a_client, method)(url, {"phone": "1"}, format="json")

    assert response.status_code == 401
    assert error_codes(response) == [("driver_not_active", None)]
    assert driver_row(driver_a) == before


def test_a_suspended_driver_cannot_block_a_token(driver_a, driver_a_client, card_a):
    driver_set_status(driver=driver_a, status=DriverStatus.SUSPENDED)
    card_a.refresh_from_db()
    updated_at = card_a.updated_at

    response = driver_a_client.post(block_url(card_a))

    assert response.status_code == 401
    card_a.refresh_from_db()
    assert card_a.updated_at == updated_at
