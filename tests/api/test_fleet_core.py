"""Fleet endpoints of the fleets, drivers and vehicles apps under /api/v1/fleet/: who may read
and change what by role (members and API keys), exact bodies, refusals that change nothing,
Idempotency-Key replays and query counts that do not grow with the page."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.choices import BillingPeriodKind, MembershipRole
from apps.fleets.models import CostCenter, Depot, Fleet, FleetApiKey, Membership
from apps.vehicles.choices import VehicleStatus
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from tests.factories import (
    ChargeTokenFactory,
    CostCenterFactory,
    DepotFactory,
    DriverFactory,
    MembershipFactory,
    OdometerReadingFactory,
    UserFactory,
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


def error_attrs(response) -> list:
    return [error["attr"] for error in response.json()["errors"]]


def error_codes(response) -> list:
    return [error["code"] for error in response.json()["errors"]]


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- who may call at all ------------------------------------------------------------------

FLEET_LISTS = [
    "/api/v1/fleet/fleets/",
    "/api/v1/fleet/depots/",
    "/api/v1/fleet/cost-centers/",
    "/api/v1/fleet/members/",
    "/api/v1/fleet/drivers/",
    "/api/v1/fleet/charge-tokens/",
    "/api/v1/fleet/vehicles/",
    "/api/v1/fleet/vehicle-assignments/",
    "/api/v1/fleet/odometer-readings/",
]


class TestWhoMayCall:
    @pytest.mark.parametrize("url", [*FLEET_LISTS, "/api/v1/fleet/api-keys/"])
    def test_anonymous_is_refused_with_401(self, anonymous_client, url):
        assert anonymous_client.get(url).status_code == 401

    @pytest.mark.parametrize("url", [*FLEET_LISTS, "/api/v1/fleet/api-keys/"])
    def test_driver_without_membership_is_refused_with_403(self, driver_a_client, url):
        response = driver_a_client.get(url)

        assert response.status_code == 403
        assert error_codes(response) == ["permission_denied"]

    @pytest.mark.parametrize("url", FLEET_LISTS)
    def test_every_role_reads_every_list(self, member_client, fleet, url):
        for role in (ADMIN, MANAGER, FINANCE, VIEWER):
            assert member_client(role, fleet).get(url).status_code == 200, role

    @pytest.mark.parametrize(
        ("url", "row_add"),
        [
            ("/api/v1/fleet/fleets/", lambda client, fleet: MembershipFactory(user=client.user)),
            ("/api/v1/fleet/cost-centers/", lambda client, fleet: CostCenterFactory(fleet=fleet)),
            ("/api/v1/fleet/members/", lambda client, fleet: MembershipFactory(fleet=fleet)),
        ],
    )
    def test_list_queries_do_not_grow_with_the_page(
        self, member_client, fleet, url, row_add, django_assert_num_queries
    ):
        client = member_client(ADMIN, fleet)
        row_add(client, fleet)
        with django_assert_num_queries(4):  # user, roles, count, page
            first_count = client.get(url).json()["count"]
        for _ in range(3):
            row_add(client, fleet)
        with django_assert_num_queries(4):
            assert client.get(url).json()["count"] == first_count + 3

    def test_api_key_sees_only_its_own_fleet(self, api_key_client, fleet, other_fleet):
        response = api_key_client(VIEWER, fleet).get("/api/v1/fleet/fleets/")

        assert [row["id"] for row in response.json()["results"]] == [fleet.pk]

    def test_revoked_api_key_is_refused_with_401(self, api_key_client, fleet):
        client = api_key_client(VIEWER, fleet)
        assert client.get("/api/v1/fleet/drivers/").status_code == 200

        client.api_key.revoked_at = timezone.now()
        client.api_key.save(update_fields=["revoked_at"])
        response = client.get("/api/v1/fleet/drivers/")

        assert response.status_code == 401
        assert error_codes(response) == ["api_key_invalid"]

    def test_a_key_records_its_use_at_most_once_a_minute(self, api_key_client, fleet):
        client = api_key_client(VIEWER, fleet)
        first_use = dt.datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
        with time_machine.travel(first_use, tick=False):
            assert client.get("/api/v1/fleet/drivers/").status_code == 200
        with (
            time_machine.travel(first_use + dt.timedelta(seconds=59), tick=False),
            CaptureQueriesContext(connection) as within_the_minute,
        ):
            assert client.get("/api/v1/fleet/drivers/").status_code == 200
        recorded_within = FleetApiKey.objects.get(pk=client.api_key.pk).last_used_at
        with (
            time_machine.travel(first_use + dt.timedelta(seconds=60), tick=False),
            CaptureQueriesContext(connection) as a_minute_later,
        ):
            assert client.get("/api/v1/fleet/drivers/").status_code == 200

        assert updates_of_api_keys(within_the_minute) == 0
        assert recorded_within == first_use
        assert updates_of_api_keys(a_minute_later) == 1
        assert FleetApiKey.objects.get(pk=client.api_key.pk).last_used_at == (
            first_use + dt.timedelta(seconds=60)
        )


def updates_of_api_keys(queries: CaptureQueriesContext) -> int:
    table = FleetApiKey._meta.db_table
    return sum(
        1 for query in queries.captured_queries if query["sql"].startswith(f'UPDATE "{table}"')
    )


# --- fleets ---------------------------------------------------------------------------------


class TestFleets:
    def test_member_lists_only_their_fleets_with_exact_values(
        self, member_client, fleet, other_fleet
    ):
        client = member_client(VIEWER, fleet)

        response = client.get("/api/v1/fleet/fleets/")

        assert response.status_code == 200
        assert response.json()["count"] == 1
        body = response.json()["results"][0]
        assert {key: body[key] for key in body if key not in ("created_at", "updated_at")} == {
            "id": fleet.pk,
            "name": "Voltop Logistics",
            "slug": fleet.slug,
            "currency": "EUR",
            "time_zone": "Europe/Amsterdam",
            "country": "NL",
            "default_vat_rate": "21.00",
            "billing_period": "monthly",
            "payment_terms_days": 14,
            "legal_name": "",
            "street": "",
            "postal_code": "",
            "city": "",
            "vat_id": "",
            "iban": "",
            "bic": "",
            "csv_delimiter": ",",
            "csv_decimal_separator": ".",
            "csv_bom": False,
        }
        assert client.get(f"/api/v1/fleet/fleets/{other_fleet.pk}/").status_code == 404

    def test_admin_changes_name_vat_billing_period_and_terms(self, member_client, fleet):
        client = member_client(ADMIN, fleet)

        response = client.patch(
            f"/api/v1/fleet/fleets/{fleet.pk}/",
            {
                "name": "Voltop Field Service",
                "default_vat_rate": "9.00",
                "billing_period": "weekly",
                "payment_terms_days": 30,
            },
            format="json",
        )

        assert response.status_code == 200, response.json()
        fleet.refresh_from_db()
        assert (fleet.name, fleet.default_vat_rate, fleet.billing_period) == (
            "Voltop Field Service",
            Decimal("9.00"),
            BillingPeriodKind.WEEKLY,
        )
        assert fleet.payment_terms_days == 30
        assert response.json()["default_vat_rate"] == "9.00"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("slug", "renamed"),
            ("currency", "USD"),
            ("time_zone", "UTC"),
            ("country", "US"),
            ("id", 999),
        ],
    )
    def test_fixed_fields_are_refused_by_name_and_nothing_changes(
        self, member_client, fleet, field, value
    ):
        client = member_client(ADMIN, fleet)

        response = client.patch(
            f"/api/v1/fleet/fleets/{fleet.pk}/",
            {"name": "Changed", field: value},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == [field]
        assert error_codes(response) == ["not_settable"]
        fleet.refresh_from_db()
        assert (fleet.name, fleet.slug, fleet.currency, fleet.time_zone, fleet.country) == (
            "Voltop Logistics",
            fleet.slug,
            "EUR",
            "Europe/Amsterdam",
            "NL",
        )

    def test_admin_sets_the_seller_and_bank_settings_stored_compact(self, member_client, fleet):
        response = member_client(ADMIN, fleet).patch(
            f"/api/v1/fleet/fleets/{fleet.pk}/",
            {
                "legal_name": "Voltop Logistics B.V.",
                "vat_id": "nl 8530 15123 b01",
                "iban": "DE89 3704 0044 0532 0130 00",
                "bic": "COBADEFFXXX",
                "csv_delimiter": "\t",
            },
            format="json",
        )

        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["vat_id"], body["iban"], body["bic"], body["csv_delimiter"]) == (
            "NL853015123B01",
            "DE89370400440532013000",
            "COBADEFFXXX",
            "\t",
        )
        fleet.refresh_from_db()
        assert (fleet.legal_name, fleet.vat_id, fleet.iban) == (
            "Voltop Logistics B.V.",
            "NL853015123B01",
            "DE89370400440532013000",
        )

    def test_a_bic_of_another_country_than_the_iban_is_refused_on_bic_and_nothing_changes(
        self, member_client, fleet
    ):
        response = member_client(ADMIN, fleet).patch(
            f"/api/v1/fleet/fleets/{fleet.pk}/",
            {"legal_name": "Other B.V.", "iban": "DE89370400440532013000", "bic": "ABNANL2AXXX"},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["bic"]
        fleet.refresh_from_db()
        assert (fleet.legal_name, fleet.iban, fleet.bic) == ("", "", "")

    def test_vat_rate_above_100_is_refused_and_nothing_changes(self, member_client, fleet):
        response = member_client(ADMIN, fleet).patch(
            f"/api/v1/fleet/fleets/{fleet.pk}/", {"default_vat_rate": "120.00"}, format="json"
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["default_vat_rate"]
        fleet.refresh_from_db()
        assert fleet.default_vat_rate == Decimal("21.00")

    @pytest.mark.parametrize("role", [MANAGER, FINANCE, VIEWER])
    def test_non_admins_cannot_change_the_fleet(self, member_client, fleet, role):
        response = member_client(role, fleet).patch(
            f"/api/v1/fleet/fleets/{fleet.pk}/", {"name": "Changed"}, format="json"
        )

        assert response.status_code == 403
        assert Fleet.objects.get(pk=fleet.pk).name == "Voltop Logistics"

    def test_admin_of_another_fleet_gets_404(self, member_client, fleet, other_fleet):
        response = member_client(ADMIN, other_fleet).patch(
            f"/api/v1/fleet/fleets/{fleet.pk}/", {"name": "Changed"}, format="json"
        )

        assert response.status_code == 404
        assert Fleet.objects.get(pk=fleet.pk).name == "Voltop Logistics"

    def test_put_is_not_offered(self, member_client, fleet):
        response = member_client(ADMIN, fleet).put(
            f"/api/v1/fleet/fleets/{fleet.pk}/", {"name": "Changed"}, format="json"
        )

        assert response.status_code == 405


# --- depots and cost centers ------------------------------------------------------------------


class TestDepots:
    def test_manager_adds_a_depot_and_a_replay_returns_the_same_one(self, member_client, fleet):
        client = member_client(MANAGER, fleet)
        payload = {
            "fleet": fleet.pk,
            "name": "Amsterdam West",
            "address": "Basisweg 10",
            "grid_connection_limit_kw": "400.0",
        }

        first = client.post(
            "/api/v1/fleet/depots/", payload, format="json", HTTP_IDEMPOTENCY_KEY="depot-1"
        )
        replay = client.post(
            "/api/v1/fleet/depots/", payload, format="json", HTTP_IDEMPOTENCY_KEY="depot-1"
        )

        assert first.status_code == 201, first.json()
        depot = Depot.objects.get(fleet=fleet)
        assert first.json()["id"] == depot.pk
        assert first.json()["grid_connection_limit_kw"] == "400.0"
        assert depot.grid_connection_limit_kw == Decimal("400.0")
        assert replay.status_code == 201
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == first.json()
        assert Depot.objects.filter(fleet=fleet).count() == 1

    def test_depot_in_a_fleet_of_mine_where_i_only_view_is_refused(
        self, member_client, fleet, other_fleet
    ):
        client = member_client(MANAGER, fleet)
        MembershipFactory(user=client.user, fleet=other_fleet, role=VIEWER)

        response = client.post(
            "/api/v1/fleet/depots/",
            {"fleet": other_fleet.pk, "name": "Sneaky", "grid_connection_limit_kw": "10.0"},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["fleet"]
        assert not Depot.objects.exists()

    def test_duplicate_name_is_refused_and_nothing_changes(self, member_client, fleet):
        DepotFactory(fleet=fleet, name="Amsterdam West")
        other = DepotFactory(fleet=fleet, name="Utrecht")

        response = member_client(ADMIN, fleet).patch(
            f"/api/v1/fleet/depots/{other.pk}/", {"name": "Amsterdam West"}, format="json"
        )

        assert response.status_code == 400
        other.refresh_from_db()
        assert other.name == "Utrecht"

    def test_moving_a_depot_to_another_fleet_is_refused(self, member_client, fleet, other_fleet):
        depot = DepotFactory(fleet=fleet)

        response = member_client(ADMIN, fleet).patch(
            f"/api/v1/fleet/depots/{depot.pk}/", {"fleet": other_fleet.pk}, format="json"
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["fleet"]
        depot.refresh_from_db()
        assert depot.fleet_id == fleet.pk

    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewer_cannot_add_depots(self, member_client, fleet, role):
        response = member_client(role, fleet).post(
            "/api/v1/fleet/depots/",
            {"fleet": fleet.pk, "name": "X", "grid_connection_limit_kw": "10.0"},
            format="json",
        )

        assert response.status_code == 403
        assert not Depot.objects.exists()

    def test_manager_of_another_fleet_sees_none_and_gets_404(
        self, member_client, fleet, other_fleet
    ):
        depot = DepotFactory(fleet=fleet)
        client = member_client(MANAGER, other_fleet)

        assert client.get("/api/v1/fleet/depots/").json()["count"] == 0
        assert client.get(f"/api/v1/fleet/depots/{depot.pk}/").status_code == 404
        assert (
            client.patch(
                f"/api/v1/fleet/depots/{depot.pk}/", {"name": "Mine"}, format="json"
            ).status_code
            == 404
        )

    def test_an_ordering_the_client_chooses_ties_on_the_id_in_its_direction(
        self, member_client, fleet, other_fleet
    ):
        client = member_client(VIEWER, fleet)
        MembershipFactory(user=client.user, fleet=other_fleet, role=VIEWER)
        first = DepotFactory(fleet=fleet, name="Noord")
        second = DepotFactory(fleet=other_fleet, name="Noord")

        def ids(ordering: str) -> list[int]:
            response = client.get("/api/v1/fleet/depots/", {"ordering": ordering})
            return [row["id"] for row in response.json()["results"]]

        assert ids("name") == [first.pk, second.pk]
        assert ids("-name") == [second.pk, first.pk]

    def test_list_queries_do_not_grow_with_the_page(
        self, member_client, fleet, django_assert_num_queries
    ):
        client = member_client(VIEWER, fleet)
        DepotFactory(fleet=fleet)
        with django_assert_num_queries(4):  # user, roles, count, page
            assert client.get("/api/v1/fleet/depots/").json()["count"] == 1
        DepotFactory.create_batch(5, fleet=fleet)
        with django_assert_num_queries(4):
            assert client.get("/api/v1/fleet/depots/").json()["count"] == 6


class TestCostCenters:
    def test_manager_adds_and_renames_a_cost_center(self, member_client, fleet):
        client = member_client(MANAGER, fleet)

        created = client.post(
            "/api/v1/fleet/cost-centers/",
            {"fleet": fleet.pk, "code": "CC-200", "name": "Sales"},
            format="json",
        )
        renamed = client.patch(
            f"/api/v1/fleet/cost-centers/{created.json()['id']}/",
            {"name": "Sales North", "is_active": False},
            format="json",
        )

        assert created.status_code == 201, created.json()
        assert renamed.status_code == 200
        cost_center = CostCenter.objects.get(pk=created.json()["id"])
        assert (cost_center.code, cost_center.name, cost_center.is_active) == (
            "CC-200",
            "Sales North",
            False,
        )

    def test_bad_code_is_refused_by_field_and_nothing_is_created(self, member_client, fleet):
        response = member_client(MANAGER, fleet).post(
            "/api/v1/fleet/cost-centers/",
            {"fleet": fleet.pk, "code": "CC 200!", "name": "Sales"},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["code"]
        assert not CostCenter.objects.filter(fleet=fleet).exists()

    def test_api_key_with_manager_role_adds_one(self, api_key_client, fleet):
        response = api_key_client(MANAGER, fleet).post(
            "/api/v1/fleet/cost-centers/",
            {"fleet": fleet.pk, "code": "ERP-1", "name": "From ERP"},
            format="json",
        )

        assert response.status_code == 201
        assert CostCenter.objects.filter(fleet=fleet, code="ERP-1").exists()

    def test_api_key_with_viewer_role_is_refused(self, api_key_client, fleet):
        response = api_key_client(VIEWER, fleet).post(
            "/api/v1/fleet/cost-centers/",
            {"fleet": fleet.pk, "code": "ERP-1", "name": "From ERP"},
            format="json",
        )

        assert response.status_code == 403
        assert not CostCenter.objects.filter(code="ERP-1").exists()


# --- members --------------------------------------------------------------------------------


class TestMembers:
    def test_every_role_lists_the_members(self, member_client, fleet):
        client = member_client(FINANCE, fleet)

        response = client.get("/api/v1/fleet/members/")

        assert response.status_code == 200
        assert response.json()["results"] == [
            {
                "id": client.membership.pk,
                "fleet": fleet.pk,
                "user": {"id": client.user.pk, "email": client.user.email, "name": ""},
                "role": "finance",
                "created_at": iso(client.membership.created_at),
                "updated_at": iso(client.membership.updated_at),
            }
        ]

    def test_admin_gives_an_existing_login_a_role(self, member_client, fleet):
        newcomer = UserFactory(username="noor", email="noor@example.com")

        response = member_client(ADMIN, fleet).post(
            "/api/v1/fleet/members/",
            {"fleet": fleet.pk, "email": "Noor@Example.com", "role": "finance"},
            format="json",
        )

        assert response.status_code == 201, response.json()
        membership = Membership.objects.get(user=newcomer)
        assert (membership.fleet_id, membership.role) == (fleet.pk, "finance")
        assert response.json()["user"]["email"] == "noor@example.com"
        newcomer.refresh_from_db()
        assert newcomer.is_staff is False

    def test_a_deactivated_login_is_not_given_a_role(self, member_client, fleet):
        UserFactory(username="noor", email="noor@example.com", is_active=False)
        client = member_client(ADMIN, fleet)

        response = client.post(
            "/api/v1/fleet/members/",
            {"fleet": fleet.pk, "email": " NOOR@example.com", "role": "finance"},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["email"]
        assert Membership.objects.filter(fleet=fleet).count() == 1

    def test_unknown_email_and_is_staff_are_refused_and_nothing_changes(self, member_client, fleet):
        client = member_client(ADMIN, fleet)

        unknown = client.post(
            "/api/v1/fleet/members/",
            {"fleet": fleet.pk, "email": "ghost@example.com", "role": "viewer"},
            format="json",
        )
        staff = client.post(
            "/api/v1/fleet/members/",
            {"fleet": fleet.pk, "email": client.user.email, "role": "viewer", "is_staff": True},
            format="json",
        )

        assert unknown.status_code == 400
        assert error_attrs(unknown) == ["email"]
        assert staff.status_code == 400
        assert error_attrs(staff) == ["is_staff"]
        assert Membership.objects.filter(fleet=fleet).count() == 1

    def test_a_second_membership_in_the_same_fleet_is_refused(self, member_client, fleet):
        client = member_client(ADMIN, fleet)
        member = MembershipFactory(fleet=fleet, role=VIEWER)

        response = client.post(
            "/api/v1/fleet/members/",
            {"fleet": fleet.pk, "email": member.user.email, "role": "admin"},
            format="json",
        )

        assert response.status_code == 400
        member.refresh_from_db()
        assert member.role == VIEWER
        assert Membership.objects.filter(fleet=fleet).count() == 2

    def test_admin_changes_a_role_and_removes_a_member(self, member_client, fleet):
        client = member_client(ADMIN, fleet)
        member = MembershipFactory(fleet=fleet, role=VIEWER)

        changed = client.patch(
            f"/api/v1/fleet/members/{member.pk}/", {"role": "manager"}, format="json"
        )
        member.refresh_from_db()
        role_after_change = member.role
        removed = client.delete(f"/api/v1/fleet/members/{member.pk}/")

        assert changed.status_code == 200
        assert role_after_change == "manager"
        assert removed.status_code == 204
        assert not Membership.objects.filter(pk=member.pk).exists()

    def test_the_last_admin_cannot_be_demoted_or_removed(self, member_client, fleet):
        client = member_client(ADMIN, fleet)
        url = f"/api/v1/fleet/members/{client.membership.pk}/"

        demoted = client.patch(url, {"role": "viewer"}, format="json")
        removed = client.delete(url)

        assert demoted.status_code == 409
        assert error_codes(demoted) == ["fleets.last_admin"]
        assert removed.status_code == 409
        client.membership.refresh_from_db()
        assert client.membership.role == ADMIN

    def test_moving_a_member_to_another_fleet_is_refused(self, member_client, fleet, other_fleet):
        client = member_client(ADMIN, fleet)
        member = MembershipFactory(fleet=fleet, role=VIEWER)

        response = client.patch(
            f"/api/v1/fleet/members/{member.pk}/", {"fleet": other_fleet.pk}, format="json"
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["fleet"]
        member.refresh_from_db()
        assert member.fleet_id == fleet.pk

    @pytest.mark.parametrize("role", [MANAGER, FINANCE, VIEWER])
    def test_only_admins_change_members(self, member_client, fleet, role):
        client = member_client(role, fleet)

        response = client.patch(
            f"/api/v1/fleet/members/{client.membership.pk}/", {"role": "admin"}, format="json"
        )

        assert response.status_code == 403
        client.membership.refresh_from_db()
        assert client.membership.role == role

    def test_admin_api_key_reads_members_but_cannot_change_them(self, api_key_client, fleet):
        client = api_key_client(ADMIN, fleet)
        member = MembershipFactory(fleet=fleet, role=VIEWER)

        listed = client.get("/api/v1/fleet/members/")
        changed = client.patch(
            f"/api/v1/fleet/members/{member.pk}/", {"role": "admin"}, format="json"
        )

        assert listed.status_code == 200
        assert changed.status_code == 403
        member.refresh_from_db()
        assert member.role == VIEWER


# --- API keys -------------------------------------------------------------------------------


class TestApiKeys:
    def test_admin_makes_a_key_shown_once_that_works_until_revoked(
        self, member_client, fleet, anonymous_client
    ):
        client = member_client(ADMIN, fleet)

        created = client.post(
            "/api/v1/fleet/api-keys/",
            {"fleet": fleet.pk, "name": "Payroll export", "role": "finance"},
            format="json",
        )

        assert created.status_code == 201, created.json()
        body = created.json()
        key = FleetApiKey.objects.get(pk=body["id"])
        assert body["key"].startswith(f"vt_{key.prefix}_")
        assert (key.name, key.role, key.created_by_id) == (
            "Payroll export",
            "finance",
            client.user.pk,
        )
        assert body["key"] not in str(client.get("/api/v1/fleet/api-keys/").content)
        assert "key" not in client.get(f"/api/v1/fleet/api-keys/{key.pk}/").json()

        anonymous_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {body['key']}")
        assert anonymous_client.get("/api/v1/fleet/drivers/").status_code == 200
        revoked = client.post(f"/api/v1/fleet/api-keys/{key.pk}/revoke/")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        assert anonymous_client.get("/api/v1/fleet/drivers/").status_code == 401

    def test_revoking_twice_keeps_the_first_revocation(self, member_client, fleet):
        client = member_client(ADMIN, fleet)
        key = FleetApiKey.objects.create(
            fleet=fleet, name="Old", role=VIEWER, prefix="abc123", secret_hash="x"
        )
        first = client.post(f"/api/v1/fleet/api-keys/{key.pk}/revoke/").json()["revoked_at"]

        second = client.post(f"/api/v1/fleet/api-keys/{key.pk}/revoke/").json()["revoked_at"]

        assert first == second

    @pytest.mark.parametrize("role", [MANAGER, FINANCE, VIEWER])
    def test_only_admins_see_and_make_keys(self, member_client, fleet, role):
        client = member_client(role, fleet)

        assert client.get("/api/v1/fleet/api-keys/").status_code == 403
        response = client.post(
            "/api/v1/fleet/api-keys/",
            {"fleet": fleet.pk, "name": "Mine", "role": "admin"},
            format="json",
        )
        assert response.status_code == 403
        assert not FleetApiKey.objects.exists()

    def test_an_admin_api_key_cannot_make_or_list_keys(self, api_key_client, fleet):
        client = api_key_client(ADMIN, fleet)

        listed = client.get("/api/v1/fleet/api-keys/")
        made = client.post(
            "/api/v1/fleet/api-keys/",
            {"fleet": fleet.pk, "name": "Another", "role": "admin"},
            format="json",
        )

        assert listed.status_code == 403
        assert made.status_code == 403
        assert FleetApiKey.objects.count() == 1

    def test_admin_of_another_fleet_cannot_revoke(self, member_client, fleet, other_fleet):
        key = FleetApiKey.objects.create(
            fleet=fleet, name="Payroll", role=VIEWER, prefix="def456", secret_hash="x"
        )

        response = member_client(ADMIN, other_fleet).post(
            f"/api/v1/fleet/api-keys/{key.pk}/revoke/"
        )

        assert response.status_code == 404
        key.refresh_from_db()
        assert key.revoked_at is None


# --- drivers --------------------------------------------------------------------------------


class TestDrivers:
    def test_list_with_exact_values_and_money_with_its_currency(
        self, member_client, fleet, driver_a, other_fleet_driver
    ):
        response = member_client(VIEWER, fleet).get("/api/v1/fleet/drivers/")

        assert response.status_code == 200
        assert response.json()["count"] == 1
        body = response.json()["results"][0]
        assert body == {
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
            "status": "active",
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
            "updated_at": iso(driver_a.updated_at),
        }

    def test_filters_by_status_cost_center_and_search(
        self, member_client, fleet, driver_a, driver_b, cost_center
    ):
        driver_b.status = DriverStatus.SUSPENDED
        driver_b.save()
        loner = DriverFactory(fleet=fleet, first_name="Lotte", last_name="Bakker")
        client = member_client(VIEWER, fleet)

        def ids(query: str) -> list[int]:
            return [
                row["id"] for row in client.get(f"/api/v1/fleet/drivers/?{query}").json()["results"]
            ]

        assert ids("status=suspended") == [driver_b.pk]
        assert sorted(ids(f"cost_center={cost_center.pk}")) == sorted([driver_a.pk, driver_b.pk])
        assert ids("search=vries") == [driver_a.pk]
        assert ids("search=E00042") == [driver_a.pk]
        assert ids("search=lotte bakker") == [loner.pk]

    def test_list_queries_do_not_grow_with_the_page(
        self, member_client, fleet, driver_a, django_assert_num_queries
    ):
        client = member_client(VIEWER, fleet)
        with django_assert_num_queries(4):  # user, roles, count, page with fleet and cost center
            assert client.get("/api/v1/fleet/drivers/").json()["count"] == 1
        DriverFactory.create_batch(5, fleet=fleet)
        with django_assert_num_queries(4):
            assert client.get("/api/v1/fleet/drivers/").json()["count"] == 6

    def test_manager_adds_a_driver_and_a_replay_adds_no_second(
        self, member_client, fleet, cost_center
    ):
        client = member_client(MANAGER, fleet)
        payload = {
            "fleet": fleet.pk,
            "employee_number": "E00100",
            "first_name": "Noor",
            "last_name": "Visser",
            "email": " Noor@Example.com ",
            "cost_center": cost_center.pk,
            "home_rate_per_kwh": "0.31000",
            "iban": "NL91 ABNA 0417 1643 00",
        }

        first = client.post(
            "/api/v1/fleet/drivers/", payload, format="json", HTTP_IDEMPOTENCY_KEY="driver-1"
        )
        replay = client.post(
            "/api/v1/fleet/drivers/", payload, format="json", HTTP_IDEMPOTENCY_KEY="driver-1"
        )

        assert first.status_code == 201, first.json()
        driver = Driver.objects.get(employee_number="E00100")
        assert (driver.email, driver.iban, driver.home_rate_per_kwh, driver.status) == (
            "noor@example.com",
            "NL91ABNA0417164300",
            Decimal("0.31000"),
            DriverStatus.ACTIVE,
        )
        assert driver.user_id is None
        assert first.json()["iban_masked"] == "**************4300"
        assert "iban" not in first.json()
        assert replay.json() == first.json()
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert Driver.objects.filter(employee_number="E00100").count() == 1

    @pytest.mark.parametrize("field", ["status", "user", "is_staff", "id", "created_at"])
    def test_unsettable_fields_are_refused_by_name_and_nothing_is_created(
        self, member_client, fleet, driver_a, field
    ):
        response = member_client(MANAGER, fleet).post(
            "/api/v1/fleet/drivers/",
            {
                "fleet": fleet.pk,
                "employee_number": "E00101",
                "first_name": "Noor",
                "last_name": "Visser",
                "email": "noor@example.com",
                field: {"status": "suspended", "user": driver_a.user_id}.get(field, True),
            },
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == [field]
        assert not Driver.objects.filter(employee_number="E00101").exists()

    def test_duplicate_employee_number_and_cost_center_of_another_fleet_are_refused(
        self, member_client, fleet, other_fleet, driver_a
    ):
        client = member_client(MANAGER, fleet)
        foreign_cost_center = CostCenter.objects.create(fleet=other_fleet, code="X", name="X")

        duplicate = client.post(
            "/api/v1/fleet/drivers/",
            {
                "fleet": fleet.pk,
                "employee_number": "E00042",
                "first_name": "Twin",
                "last_name": "Sister",
                "email": "twin@example.com",
            },
            format="json",
        )
        foreign = client.patch(
            f"/api/v1/fleet/drivers/{driver_a.pk}/",
            {"cost_center": foreign_cost_center.pk},
            format="json",
        )

        assert duplicate.status_code == 400
        assert foreign.status_code == 400
        assert error_attrs(foreign) == ["cost_center"]
        assert Driver.objects.filter(fleet=fleet).count() == 1
        driver_a.refresh_from_db()
        assert driver_a.cost_center.fleet_id == fleet.pk

    def test_manager_changes_the_home_rate_iban_and_account_holder(
        self, member_client, fleet, driver_a
    ):
        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/drivers/{driver_a.pk}/",
            {
                "home_rate_per_kwh": "0.28000",
                "iban": "DE89 3704 0044 0532 0130 00",
                "account_holder": "Sanne und Jan de Vries",
            },
            format="json",
        )

        assert response.status_code == 200, response.json()
        driver_a.refresh_from_db()
        assert driver_a.home_rate_per_kwh == Decimal("0.28000")
        assert driver_a.iban == "DE89370400440532013000"
        assert driver_a.account_holder == "Sanne und Jan de Vries"
        assert response.json()["home_rate_per_kwh"] == "0.28000"
        assert response.json()["account_holder"] == "Sanne und Jan de Vries"

    def test_invalid_iban_is_refused_and_nothing_changes(self, member_client, fleet, driver_a):
        response = member_client(MANAGER, fleet).patch(
            f"/api/v1/fleet/drivers/{driver_a.pk}/",
            {"iban": "NL00ABNA0000000000", "phone": "+31 6 00000000"},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["iban"]
        driver_a.refresh_from_db()
        assert (driver_a.iban, driver_a.phone) == ("NL91ABNA0417164300", "+31 6 12345678")

    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewer_cannot_change_drivers(self, member_client, fleet, driver_a, role):
        client = member_client(role, fleet)

        changed = client.patch(
            f"/api/v1/fleet/drivers/{driver_a.pk}/", {"home_rate_per_kwh": "9.00000"}, format="json"
        )
        suspended = client.post(f"/api/v1/fleet/drivers/{driver_a.pk}/suspend/")

        assert (changed.status_code, suspended.status_code) == (403, 403)
        driver_a.refresh_from_db()
        assert (driver_a.home_rate_per_kwh, driver_a.status) == (Decimal("0.25000"), "active")

    def test_manager_of_another_fleet_gets_404_and_nothing_changes(
        self, member_client, other_fleet, driver_a
    ):
        client = member_client(MANAGER, other_fleet)

        assert client.get(f"/api/v1/fleet/drivers/{driver_a.pk}/").status_code == 404
        assert client.post(f"/api/v1/fleet/drivers/{driver_a.pk}/suspend/").status_code == 404
        driver_a.refresh_from_db()
        assert driver_a.status == DriverStatus.ACTIVE

    def test_suspend_blocks_tokens_and_reactivate_unblocks_them(
        self, member_client, fleet, driver_a
    ):
        token = ChargeTokenFactory(driver=driver_a)
        client = member_client(MANAGER, fleet)

        suspended = client.post(
            f"/api/v1/fleet/drivers/{driver_a.pk}/suspend/", {"reason": "Licence withdrawn"}
        )
        token.refresh_from_db()
        token_active_after_suspend = token.is_active
        reactivated = client.post(f"/api/v1/fleet/drivers/{driver_a.pk}/reactivate/")

        assert (suspended.json()["status"], suspended.json()["suspension_reason"]) == (
            "suspended",
            "Licence withdrawn",
        )
        assert token_active_after_suspend is False
        assert reactivated.status_code == 200
        assert (reactivated.json()["status"], reactivated.json()["suspension_reason"]) == (
            "active",
            "",
        )
        driver_a.refresh_from_db()
        token.refresh_from_db()
        assert (driver_a.status, token.is_active) == (DriverStatus.ACTIVE, True)

    def test_api_key_with_manager_role_suspends(self, api_key_client, fleet, driver_a):
        response = api_key_client(MANAGER, fleet).post(
            f"/api/v1/fleet/drivers/{driver_a.pk}/suspend/", {"reason": "Licence withdrawn"}
        )

        assert response.status_code == 200
        driver_a.refresh_from_db()
        assert driver_a.status == DriverStatus.SUSPENDED


class TestChargeTokens:
    def test_manager_issues_a_token_and_a_replay_issues_no_second(
        self, member_client, fleet, driver_a
    ):
        client = member_client(MANAGER, fleet)
        payload = {
            "driver": driver_a.pk,
            "uid": " 04a1b2c3d4 ",
            "valid_from": "2026-03-01T00:00:00+01:00",
        }

        first = client.post(
            "/api/v1/fleet/charge-tokens/", payload, format="json", HTTP_IDEMPOTENCY_KEY="tok-1"
        )
        replay = client.post(
            "/api/v1/fleet/charge-tokens/", payload, format="json", HTTP_IDEMPOTENCY_KEY="tok-1"
        )

        assert first.status_code == 201, first.json()
        token = ChargeToken.objects.get(driver=driver_a)
        assert first.json() == {
            "id": token.pk,
            "driver": driver_a.pk,
            "uid": "04A1B2C3D4",
            "kind": "RFID",
            "valid_from": "2026-02-28T23:00:00Z",
            "valid_until": None,
            "is_active": True,
            "blocked_reason": "",
            "blocked_by_suspension": False,
            "created_at": iso(token.created_at),
        }
        assert replay.json() == first.json()
        assert ChargeToken.objects.count() == 1

    def test_uid_in_use_and_suspended_driver_are_refused_and_nothing_is_issued(
        self, member_client, fleet, driver_a, driver_b
    ):
        ChargeTokenFactory(driver=driver_a, uid="04A1B2C3D4")
        driver_b.status = DriverStatus.SUSPENDED
        driver_b.save()
        client = member_client(MANAGER, fleet)

        in_use = client.post(
            "/api/v1/fleet/charge-tokens/",
            {"driver": driver_a.pk, "uid": "04a1b2c3d4", "valid_from": "2026-03-01T00:00:00Z"},
            format="json",
        )
        suspended = client.post(
            "/api/v1/fleet/charge-tokens/",
            {"driver": driver_b.pk, "uid": "FFFF", "valid_from": "2026-03-01T00:00:00Z"},
            format="json",
        )

        assert in_use.status_code == 409
        assert error_attrs(in_use) == ["uid"]
        assert suspended.status_code == 422
        assert error_codes(suspended) == ["drivers.driver_not_active"]
        assert ChargeToken.objects.count() == 1

    def test_driver_of_another_fleet_is_refused_by_field(
        self, member_client, fleet, other_fleet_driver
    ):
        response = member_client(MANAGER, fleet).post(
            "/api/v1/fleet/charge-tokens/",
            {"driver": other_fleet_driver.pk, "uid": "AB", "valid_from": "2026-03-01T00:00:00Z"},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["driver"]
        assert not ChargeToken.objects.exists()

    def test_deactivate_and_list_filters(self, member_client, fleet, driver_a, driver_b):
        lost = ChargeTokenFactory(driver=driver_a, uid="AAAA01")
        ChargeTokenFactory(driver=driver_b, uid="BBBB01")
        client = member_client(MANAGER, fleet)

        response = client.post(f"/api/v1/fleet/charge-tokens/{lost.pk}/deactivate/")

        assert response.json()["is_active"] is False
        active = client.get("/api/v1/fleet/charge-tokens/?is_active=true").json()["results"]
        assert [row["uid"] for row in active] == ["BBBB01"]
        by_uid = client.get("/api/v1/fleet/charge-tokens/?uid=aaaa01").json()["results"]
        assert [row["id"] for row in by_uid] == [lost.pk]

    def test_viewer_cannot_deactivate(self, member_client, fleet, driver_a):
        token = ChargeTokenFactory(driver=driver_a)

        response = member_client(VIEWER, fleet).post(
            f"/api/v1/fleet/charge-tokens/{token.pk}/deactivate/"
        )

        assert response.status_code == 403
        token.refresh_from_db()
        assert token.is_active is True

    def test_list_queries_do_not_grow_with_the_page(
        self, api_key_client, fleet, driver_a, django_assert_num_queries
    ):
        client = api_key_client(VIEWER, fleet)
        ChargeTokenFactory(driver=driver_a)
        with django_assert_num_queries(4):  # key, key last used, count, page
            assert client.get("/api/v1/fleet/charge-tokens/").json()["count"] == 1
        ChargeTokenFactory.create_batch(4, driver=driver_a)
        with django_assert_num_queries(3):  # key (its use was recorded under a minute ago)
            assert client.get("/api/v1/fleet/charge-tokens/").json()["count"] == 5


# --- vehicles -------------------------------------------------------------------------------


VEHICLE_PAYLOAD = {
    "vin": "wvwzzz1kz1p000001",
    "plate": "ev-123-x",
    "make": "Volkswagen",
    "model": "ID.4 Pro",
    "model_year": 2025,
    "usable_battery_kwh": "77.0",
    "max_ac_kw": "11.0",
    "max_dc_kw": "135.0",
    "connector_standards": ["IEC_62196_T2", "IEC_62196_T2_COMBO"],
}


class TestVehicles:
    def test_manager_adds_a_vehicle_and_a_replay_adds_no_second(
        self, member_client, fleet, cost_center
    ):
        depot = DepotFactory(fleet=fleet)
        client = member_client(MANAGER, fleet)
        payload = {
            **VEHICLE_PAYLOAD,
            "fleet": fleet.pk,
            "home_depot": depot.pk,
            "cost_center": cost_center.pk,
        }

        first = client.post(
            "/api/v1/fleet/vehicles/", payload, format="json", HTTP_IDEMPOTENCY_KEY="veh-1"
        )
        replay = client.post(
            "/api/v1/fleet/vehicles/", payload, format="json", HTTP_IDEMPOTENCY_KEY="veh-1"
        )

        assert first.status_code == 201, first.json()
        vehicle = Vehicle.objects.get()
        assert (vehicle.vin, vehicle.plate, vehicle.status) == (
            "WVWZZZ1KZ1P000001",
            "EV-123-X",
            VehicleStatus.ACTIVE,
        )
        assert first.json()["usable_battery_kwh"] == "77.0"
        assert first.json()["home_depot"] == depot.pk
        assert replay.json() == first.json()
        assert Vehicle.objects.count() == 1

    def test_bad_vin_and_depot_of_another_fleet_are_refused_and_nothing_is_created(
        self, member_client, fleet, other_fleet
    ):
        client = member_client(ADMIN, fleet)
        MembershipFactory(user=client.user, fleet=other_fleet, role=ADMIN)
        foreign_depot = DepotFactory(fleet=other_fleet)

        bad_vin = client.post(
            "/api/v1/fleet/vehicles/",
            {**VEHICLE_PAYLOAD, "fleet": fleet.pk, "vin": "WVWZZZ1KZ1P00000I"},
            format="json",
        )
        foreign = client.post(
            "/api/v1/fleet/vehicles/",
            {**VEHICLE_PAYLOAD, "fleet": fleet.pk, "home_depot": foreign_depot.pk},
            format="json",
        )

        assert bad_vin.status_code == 400
        assert "vin" in error_attrs(bad_vin)
        assert foreign.status_code == 400
        assert error_attrs(foreign) == ["home_depot"]
        assert not Vehicle.objects.exists()

    def test_a_plate_of_the_fleet_in_another_case_is_refused_on_its_field_and_nothing_changes(
        self, member_client, fleet
    ):
        existing = VehicleFactory(fleet=fleet, plate="EV-123-X")
        other = VehicleFactory(fleet=fleet, plate="EV-456-Y")
        client = member_client(MANAGER, fleet)

        added = client.post(
            "/api/v1/fleet/vehicles/", {**VEHICLE_PAYLOAD, "fleet": fleet.pk}, format="json"
        )
        renamed = client.patch(
            f"/api/v1/fleet/vehicles/{other.pk}/", {"plate": " Ev-123-x"}, format="json"
        )

        for response in (added, renamed):
            assert response.status_code == 409
            assert response.json()["errors"] == [
                {
                    "code": "vehicles.plate_in_use",
                    "detail": "Another vehicle of this fleet already has the licence plate "
                    "EV-123-X (case does not matter).",
                    "attr": "plate",
                }
            ]
        assert list(Vehicle.objects.order_by("pk").values_list("pk", "plate")) == [
            (existing.pk, "EV-123-X"),
            (other.pk, "EV-456-Y"),
        ]

    def test_filters_by_status_depot_and_search(self, member_client, fleet):
        depot = DepotFactory(fleet=fleet)
        at_depot = VehicleFactory(fleet=fleet, plate="EV-001-A", home_depot=depot)
        in_shop = VehicleFactory(fleet=fleet, plate="EV-002-B", status=VehicleStatus.MAINTENANCE)
        client = member_client(VIEWER, fleet)

        def ids(query: str) -> list[int]:
            return [
                row["id"]
                for row in client.get(f"/api/v1/fleet/vehicles/?{query}").json()["results"]
            ]

        assert ids("status=maintenance") == [in_shop.pk]
        assert ids(f"home_depot={depot.pk}") == [at_depot.pk]
        assert ids("search=002") == [in_shop.pk]
        assert ids(f"search={at_depot.vin[-6:].lower()}") == [at_depot.pk]

    def test_manager_retires_a_vehicle_but_cannot_move_it(self, member_client, fleet, other_fleet):
        vehicle = VehicleFactory(fleet=fleet)
        client = member_client(MANAGER, fleet)

        moved = client.patch(
            f"/api/v1/fleet/vehicles/{vehicle.pk}/",
            {"fleet": other_fleet.pk, "status": "retired"},
            format="json",
        )
        vehicle.refresh_from_db()
        status_after_refusal = vehicle.status
        retired = client.patch(
            f"/api/v1/fleet/vehicles/{vehicle.pk}/", {"status": "retired"}, format="json"
        )

        assert moved.status_code == 400
        assert error_attrs(moved) == ["fleet"]
        assert status_after_refusal == VehicleStatus.ACTIVE
        assert retired.status_code == 200
        vehicle.refresh_from_db()
        assert vehicle.status == VehicleStatus.RETIRED

    @pytest.mark.parametrize("role", [FINANCE, VIEWER])
    def test_finance_and_viewer_cannot_change_vehicles(self, member_client, fleet, role):
        vehicle = VehicleFactory(fleet=fleet)

        response = member_client(role, fleet).patch(
            f"/api/v1/fleet/vehicles/{vehicle.pk}/", {"status": "retired"}, format="json"
        )

        assert response.status_code == 403
        vehicle.refresh_from_db()
        assert vehicle.status == VehicleStatus.ACTIVE

    def test_manager_of_another_fleet_sees_none_and_gets_404(
        self, member_client, fleet, other_fleet
    ):
        vehicle = VehicleFactory(fleet=fleet)
        client = member_client(MANAGER, other_fleet)

        assert client.get("/api/v1/fleet/vehicles/").json()["count"] == 0
        assert client.get(f"/api/v1/fleet/vehicles/{vehicle.pk}/").status_code == 404

    def test_list_queries_do_not_grow_with_the_page(
        self, member_client, fleet, django_assert_num_queries
    ):
        client = member_client(VIEWER, fleet)
        VehicleFactory(fleet=fleet)
        with django_assert_num_queries(4):  # user, roles, count, page
            assert client.get("/api/v1/fleet/vehicles/").json()["count"] == 1
        VehicleFactory.create_batch(5, fleet=fleet)
        with django_assert_num_queries(4):
            assert client.get("/api/v1/fleet/vehicles/").json()["count"] == 6


class TestVehicleAssignments:
    def test_manager_assigns_a_driver_and_a_replay_assigns_once(
        self, member_client, fleet, driver_a
    ):
        vehicle = VehicleFactory(fleet=fleet, plate="EV-777-Z")
        client = member_client(MANAGER, fleet)
        payload = {
            "vehicle": vehicle.pk,
            "driver": driver_a.pk,
            "starts_at": "2026-03-01T08:00:00+01:00",
        }

        first = client.post(
            "/api/v1/fleet/vehicle-assignments/",
            payload,
            format="json",
            HTTP_IDEMPOTENCY_KEY="assign-1",
        )
        replay = client.post(
            "/api/v1/fleet/vehicle-assignments/",
            payload,
            format="json",
            HTTP_IDEMPOTENCY_KEY="assign-1",
        )

        assert first.status_code == 201, first.json()
        assignment = VehicleAssignment.objects.get()
        assert first.json() == {
            "id": assignment.pk,
            "vehicle": vehicle.pk,
            "vehicle_plate": "EV-777-Z",
            "driver": driver_a.pk,
            "driver_name": "Sanne de Vries",
            "starts_at": "2026-03-01T07:00:00Z",
            "ends_at": None,
            "created_at": iso(assignment.created_at),
        }
        assert replay.json() == first.json()
        assert VehicleAssignment.objects.count() == 1

    def test_overlap_is_refused_on_starts_at_and_nothing_is_assigned(
        self, member_client, fleet, driver_a, driver_b
    ):
        vehicle = VehicleFactory(fleet=fleet)
        VehicleAssignmentFactory(
            vehicle=vehicle, driver=driver_a, starts_at=dt.datetime(2026, 1, 1, tzinfo=UTC)
        )

        response = member_client(MANAGER, fleet).post(
            "/api/v1/fleet/vehicle-assignments/",
            {"vehicle": vehicle.pk, "driver": driver_b.pk, "starts_at": "2026-03-01T08:00:00Z"},
            format="json",
        )

        assert response.status_code == 409
        assert error_attrs(response) == ["starts_at"]
        assert error_codes(response) == ["vehicles.assignment_overlaps"]
        assert "Sanne de Vries" in response.json()["errors"][0]["detail"]
        assert VehicleAssignment.objects.count() == 1

    def test_vehicle_of_another_fleet_is_refused_by_field(
        self, member_client, fleet, other_fleet, driver_a
    ):
        foreign = VehicleFactory(fleet=other_fleet)

        response = member_client(MANAGER, fleet).post(
            "/api/v1/fleet/vehicle-assignments/",
            {"vehicle": foreign.pk, "driver": driver_a.pk, "starts_at": "2026-03-01T08:00:00Z"},
            format="json",
        )

        assert response.status_code == 400
        assert error_attrs(response) == ["vehicle"]
        assert not VehicleAssignment.objects.exists()

    def test_end_closes_the_assignment_and_an_end_before_the_start_is_refused(
        self, member_client, fleet, driver_a
    ):
        assignment = VehicleAssignmentFactory(
            vehicle=VehicleFactory(fleet=fleet),
            driver=driver_a,
            starts_at=dt.datetime(2026, 2, 1, tzinfo=UTC),
        )
        client = member_client(MANAGER, fleet)
        url = f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/end/"

        too_early = client.post(url, {"ends_at": "2026-01-01T00:00:00Z"}, format="json")
        assignment.refresh_from_db()
        ends_at_after_refusal = assignment.ends_at
        ended = client.post(url, {"ends_at": "2026-03-01T00:00:00+01:00"}, format="json")

        assert too_early.status_code == 422
        assert error_attrs(too_early) == ["ends_at"]
        assert ends_at_after_refusal is None
        assert ended.status_code == 200
        assert ended.json()["ends_at"] == "2026-02-28T23:00:00Z"
        assignment.refresh_from_db()
        assert assignment.ends_at == dt.datetime(2026, 2, 28, 23, tzinfo=UTC)

    def test_viewer_cannot_assign_or_end(self, member_client, fleet, driver_a):
        assignment = VehicleAssignmentFactory(vehicle=VehicleFactory(fleet=fleet), driver=driver_a)
        client = member_client(VIEWER, fleet)

        ended = client.post(f"/api/v1/fleet/vehicle-assignments/{assignment.pk}/end/")

        assert ended.status_code == 403
        assignment.refresh_from_db()
        assert assignment.ends_at is None

    def test_list_is_newest_first_with_a_cursor_and_fixed_queries(
        self, member_client, fleet, driver_a, django_assert_num_queries
    ):
        client = member_client(VIEWER, fleet)
        older = VehicleAssignmentFactory(
            vehicle=VehicleFactory(fleet=fleet),
            driver=driver_a,
            starts_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
        )
        newer = VehicleAssignmentFactory(
            vehicle=VehicleFactory(fleet=fleet),
            driver=driver_a,
            starts_at=dt.datetime(2026, 2, 1, tzinfo=UTC),
        )
        with django_assert_num_queries(3):  # user, roles, page with vehicle and driver
            body = client.get("/api/v1/fleet/vehicle-assignments/").json()
        assert [row["id"] for row in body["results"]] == [newer.pk, older.pk]
        assert set(body) == {"next", "previous", "results"}
        for month in (3, 4, 5):
            VehicleAssignmentFactory(
                vehicle=VehicleFactory(fleet=fleet),
                driver=driver_a,
                starts_at=dt.datetime(2026, month, 1, tzinfo=UTC),
            )
        with django_assert_num_queries(3):
            assert len(client.get("/api/v1/fleet/vehicle-assignments/").json()["results"]) == 5


class TestOdometerReadings:
    def test_manager_records_a_reading_and_a_replay_records_once(self, member_client, fleet):
        vehicle = VehicleFactory(fleet=fleet)
        client = member_client(MANAGER, fleet)
        payload = {"vehicle": vehicle.pk, "km": 12_345, "recorded_at": "2026-03-01T09:30:00+01:00"}

        first = client.post(
            "/api/v1/fleet/odometer-readings/", payload, format="json", HTTP_IDEMPOTENCY_KEY="o-1"
        )
        replay = client.post(
            "/api/v1/fleet/odometer-readings/", payload, format="json", HTTP_IDEMPOTENCY_KEY="o-1"
        )

        assert first.status_code == 201, first.json()
        reading = OdometerReading.objects.get()
        assert first.json() == {
            "id": reading.pk,
            "vehicle": vehicle.pk,
            "km": 12_345,
            "recorded_at": "2026-03-01T08:30:00Z",
            "created_at": iso(reading.created_at),
        }
        assert replay.json() == first.json()
        assert OdometerReading.objects.count() == 1

    def test_out_of_order_readings_are_refused_and_nothing_is_recorded(self, member_client, fleet):
        vehicle = VehicleFactory(fleet=fleet)
        OdometerReadingFactory(
            vehicle=vehicle, km=10_000, recorded_at=dt.datetime(2026, 1, 1, 8, tzinfo=UTC)
        )
        OdometerReadingFactory(
            vehicle=vehicle, km=12_000, recorded_at=dt.datetime(2026, 2, 1, 8, tzinfo=UTC)
        )
        client = member_client(MANAGER, fleet)

        def record(km: int, recorded_at: str):
            return client.post(
                "/api/v1/fleet/odometer-readings/",
                {"vehicle": vehicle.pk, "km": km, "recorded_at": recorded_at},
                format="json",
            )

        backwards = record(9_000, "2026-03-01T08:00:00Z")
        above_later = record(13_000, "2026-01-15T08:00:00Z")
        same_moment = record(10_000, "2026-01-01T08:00:00Z")

        assert backwards.status_code == 422
        assert error_attrs(backwards) == ["km"]
        assert error_codes(backwards) == ["vehicles.odometer_went_backwards"]
        assert (
            "12000 km recorded on 2026-02-01 09:00 CET" in backwards.json()["errors"][0]["detail"]
        )
        assert above_later.status_code == 422
        assert error_attrs(above_later) == ["km"]
        assert same_moment.status_code == 409
        assert error_attrs(same_moment) == ["recorded_at"]
        assert OdometerReading.objects.count() == 2

    def test_list_is_newest_first_filtered_by_vehicle_with_fixed_queries(
        self, api_key_client, fleet, other_fleet, django_assert_num_queries
    ):
        vehicle, other_vehicle = VehicleFactory(fleet=fleet), VehicleFactory(fleet=fleet)
        first = OdometerReadingFactory(
            vehicle=vehicle, km=100, recorded_at=dt.datetime(2026, 1, 1, tzinfo=UTC)
        )
        second = OdometerReadingFactory(
            vehicle=vehicle, km=200, recorded_at=dt.datetime(2026, 2, 1, tzinfo=UTC)
        )
        OdometerReadingFactory(vehicle=other_vehicle)
        OdometerReadingFactory(vehicle=VehicleFactory(fleet=other_fleet))
        client = api_key_client(FINANCE, fleet)

        with django_assert_num_queries(3):  # key, key last used, page
            body = client.get(f"/api/v1/fleet/odometer-readings/?vehicle={vehicle.pk}").json()

        assert [row["id"] for row in body["results"]] == [second.pk, first.pk]
        assert len(client.get("/api/v1/fleet/odometer-readings/").json()["results"]) == 3

    def test_finance_cannot_record(self, member_client, fleet):
        vehicle = VehicleFactory(fleet=fleet)

        response = member_client(FINANCE, fleet).post(
            "/api/v1/fleet/odometer-readings/",
            {"vehicle": vehicle.pk, "km": 1, "recorded_at": "2026-03-01T08:00:00Z"},
            format="json",
        )

        assert response.status_code == 403
        assert not OdometerReading.objects.exists()
