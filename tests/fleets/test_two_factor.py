"""Two-factor logins (django-otp TOTP): turning on an authenticator app in the admin, the admin
login asking for its code (lockout kept), a fleet requiring it of its admins and finance
members, and the API login's `otp`."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from apps.fleets.choices import MembershipRole
from tests.factories import (
    DriverFactory,
    DriverUserFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
)
from tests.fleets.test_admin import fleet_payload

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
SETUP = "/admin/two-factor/"
LOGIN_API = "/api/v1/auth/login/"
REFRESH_API = "/api/v1/auth/refresh/"
FLEET_VEHICLES = "/api/v1/fleet/vehicles/"
START = dt.datetime(2026, 12, 6, 17, 0, tzinfo=dt.UTC)


def code(device: TOTPDevice, *, at: dt.datetime | None = None) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if at is not None:
        totp.time = at.timestamp()
    return f"{totp.token():0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(code(device)) + 1) % 1_000_000:06d}"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def staff():
    return StaffUserFactory(username="anna", email="anna@example.com")


@pytest.fixture
def app_on(staff):
    return TOTPDevice.objects.create(user=staff, name="Authenticator app", confirmed=True)


def admin_login(client, username="anna", password=PASSWORD, otp_token=None):
    data = {"username": username, "password": password}
    if otp_token is not None:
        data["otp_token"] = otp_token
    return client.post(reverse("admin:login"), data)


def logged_in(client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


class TestSetup:
    def test_the_page_shows_a_qr_code_and_the_secret_of_an_unconfirmed_device(self, client, staff):
        client.force_login(staff)

        response = client.get(SETUP)

        (device,) = TOTPDevice.objects.filter(user=staff)
        page = response.content.decode()
        assert response.status_code == 200
        assert not device.confirmed
        assert "<svg" in page
        assert response.context["secret"] in page
        assert len(response.context["secret"]) == 32

    def test_showing_the_page_again_keeps_the_device_the_app_scanned(self, client, staff):
        client.force_login(staff)

        first = client.get(SETUP).context["secret"]
        second = client.get(SETUP).context["secret"]

        assert first == second
        assert TOTPDevice.objects.filter(user=staff).count() == 1

    def test_a_wrong_code_is_refused_on_the_field_and_the_device_stays_unconfirmed(
        self, client, staff, clock
    ):
        client.force_login(staff)
        client.get(SETUP)
        device = TOTPDevice.objects.get(user=staff)

        response = client.post(SETUP, {"otp_token": wrong_code(device)})

        assert response.status_code == 200
        assert list(response.context["form"].errors) == ["otp_token"]
        device.refresh_from_db()
        assert not device.confirmed

    def test_the_code_of_the_app_confirms_the_device_and_verifies_the_session(
        self, client, staff, clock
    ):
        client.force_login(staff)
        client.get(SETUP)
        device = TOTPDevice.objects.get(user=staff)

        response = client.post(SETUP, {"otp_token": code(device)})

        assert response.status_code == 302
        device.refresh_from_db()
        assert device.confirmed
        assert client.get(SETUP).context["verified"] is True

    def test_the_page_is_for_staff_only(self, client):
        client.force_login(DriverUserFactory())

        response = client.get(SETUP)

        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]
        assert not TOTPDevice.objects.exists()


class TestAdminLogin:
    def test_the_code_field_is_on_the_login_page(self, client):
        page = client.get(reverse("admin:login")).content.decode()

        assert 'name="otp_token"' in page
        assert "Code from your authenticator app" in page

    def test_a_login_without_an_app_needs_no_code(self, client, staff):
        response = admin_login(client)

        assert response.status_code == 302
        assert logged_in(client)

    def test_a_login_with_an_app_is_refused_without_its_code(self, client, staff, app_on):
        response = admin_login(client)

        assert response.status_code == 200
        assert "enter the code your authenticator app shows" in response.content.decode()
        assert not logged_in(client)

    def test_a_login_with_a_wrong_code_is_refused(self, client, staff, app_on, clock):
        response = admin_login(client, otp_token=wrong_code(app_on))

        assert response.status_code == 200
        assert "The code is wrong" in response.content.decode()
        assert not logged_in(client)

    def test_a_login_with_the_code_is_let_in_verified(self, client, staff, app_on, clock):
        response = admin_login(client, otp_token=code(app_on))

        assert response.status_code == 302
        assert client.get(SETUP).context["verified"] is True

    def test_the_lockout_still_locks_a_login_with_an_app(self, settings, client, staff, app_on):
        settings.AXES_ENABLED = True
        settings.AXES_FAILURE_LIMIT = 2
        for _ in range(2):
            admin_login(client, password="wrong")

        response = admin_login(client, otp_token=code(app_on))

        assert response.status_code == 429
        assert "locked for 15 minutes" in response.content.decode()
        assert not logged_in(client)

    def test_wrong_codes_count_against_the_username_like_wrong_passwords(
        self, settings, client, staff, app_on, clock
    ):
        settings.LOGIN_FAILURES_PER_USERNAME_RATE = "2/hour"
        for _ in range(2):
            admin_login(client, otp_token=wrong_code(app_on))

        response = admin_login(client, otp_token=code(app_on))

        assert response.status_code == 200
        assert "Too many failed logins" in response.content.decode()
        assert not logged_in(client)


class TestFleetRequirement:
    @pytest.fixture
    def strict_fleet(self):
        return FleetFactory(name="Strict fleet", require_two_factor=True)

    @pytest.mark.parametrize("role", [MembershipRole.ADMIN, MembershipRole.FINANCE])
    def test_admins_and_finance_without_an_app_can_only_set_one_up(
        self, client, staff, strict_fleet, role
    ):
        MembershipFactory(user=staff, fleet=strict_fleet, role=role)
        client.force_login(staff)

        pages = [reverse("admin:index"), reverse("admin:fleets_membership_changelist")]
        responses = [client.get(page) for page in pages]

        assert [response.status_code for response in responses] == [302, 302]
        assert {response["Location"] for response in responses} == {SETUP}
        assert client.get(SETUP).status_code == 200
        assert client.post(reverse("admin:logout")).status_code == 200

    def test_after_confirming_an_app_the_admin_opens(self, client, staff, strict_fleet, clock):
        MembershipFactory(user=staff, fleet=strict_fleet, role=MembershipRole.FINANCE)
        client.force_login(staff)
        client.get(SETUP)

        client.post(SETUP, {"otp_token": code(TOTPDevice.objects.get(user=staff))})

        assert client.get(reverse("admin:index")).status_code == 200

    def test_a_session_not_verified_by_the_app_is_sent_to_confirm_it(
        self, client, staff, strict_fleet, app_on, clock
    ):
        MembershipFactory(user=staff, fleet=strict_fleet, role=MembershipRole.ADMIN)
        client.force_login(staff)

        assert client.get(reverse("admin:index"))["Location"] == SETUP
        client.post(SETUP, {"otp_token": code(app_on)})
        assert client.get(reverse("admin:index")).status_code == 200

    @pytest.mark.parametrize("role", [MembershipRole.MANAGER, MembershipRole.VIEWER])
    def test_managers_and_viewers_are_not_required(self, client, staff, strict_fleet, role):
        MembershipFactory(user=staff, fleet=strict_fleet, role=role)
        client.force_login(staff)

        assert client.get(reverse("admin:index")).status_code == 200

    def test_a_fleet_admin_turns_the_requirement_on_and_is_then_sent_to_set_up(self, client, staff):
        fleet = FleetFactory(name="Fleet A", slug="fleet-a")
        MembershipFactory(user=staff, fleet=fleet, role=MembershipRole.ADMIN)
        client.force_login(staff)

        response = client.post(
            reverse("admin:fleets_fleet_change", args=[fleet.pk]),
            fleet_payload(fleet, require_two_factor="on"),
        )

        assert response.status_code == 302
        fleet.refresh_from_db()
        assert fleet.require_two_factor
        assert client.get(reverse("admin:index"))["Location"] == SETUP

    def test_admins_of_a_fleet_that_does_not_require_it_are_not_required(self, client, staff):
        MembershipFactory(user=staff, fleet=FleetFactory(), role=MembershipRole.ADMIN)
        client.force_login(staff)

        assert client.get(reverse("admin:index")).status_code == 200


class TestApiLogin:
    def log_in(self, **extra):
        body = {"email": "anna@example.com", "password": PASSWORD, **extra}
        return APIClient().post(LOGIN_API, body, format="json")

    def test_a_staff_login_with_an_app_is_refused_without_the_code(self, staff, app_on):
        response = self.log_in()

        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "otp_required"
        assert "access" not in response.json()

    def test_a_wrong_code_is_refused(self, staff, app_on, clock):
        response = self.log_in(otp=wrong_code(app_on))

        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "otp_invalid"

    def test_the_code_lets_the_staff_login_in(self, staff, app_on, clock):
        response = self.log_in(otp=code(app_on))

        assert response.status_code == 200
        assert set(response.json()) >= {"access", "refresh"}

    def test_a_code_is_not_accepted_twice(self, staff, app_on, clock):
        first = self.log_in(otp=code(app_on))

        second = self.log_in(otp=code(app_on))

        assert first.status_code == 200
        assert second.json()["errors"][0]["code"] == "otp_invalid"

    def test_a_staff_login_without_an_app_needs_no_code(self, staff):
        assert self.log_in().status_code == 200

    def test_a_member_a_fleet_requires_it_of_is_refused_until_an_app_is_on(self, staff):
        fleet = FleetFactory(require_two_factor=True)
        MembershipFactory(user=staff, fleet=fleet, role=MembershipRole.FINANCE)

        response = self.log_in()

        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "otp_setup_required"

    def test_drivers_log_in_without_a_code(self):
        fleet = FleetFactory(require_two_factor=True)
        DriverFactory(
            fleet=fleet, user=DriverUserFactory(username="sanne", email="sanne@example.com")
        )

        response = APIClient().post(
            LOGIN_API, {"email": "sanne@example.com", "password": PASSWORD}, format="json"
        )

        assert response.status_code == 200

    def fleet_member(self, staff, **fleet_fields):
        fleet = FleetFactory(**fleet_fields)
        MembershipFactory(user=staff, fleet=fleet, role=MembershipRole.FINANCE)
        return fleet

    def vehicles_and_refresh(self, tokens: dict):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        listed = client.get(FLEET_VEHICLES)
        refreshed = APIClient().post(REFRESH_API, {"refresh": tokens["refresh"]}, format="json")
        return listed, refreshed

    def test_tokens_got_without_a_code_stop_working_once_an_app_is_on(self, staff):
        self.fleet_member(staff)
        tokens = self.log_in().json()
        TOTPDevice.objects.create(user=staff, name="Authenticator app", confirmed=True)

        listed, refreshed = self.vehicles_and_refresh(tokens)

        assert listed.status_code == 401
        assert listed.json()["errors"][0]["code"] == "otp_required"
        assert refreshed.status_code == 401
        assert refreshed.json()["errors"][0]["code"] == "otp_required"

    def test_tokens_got_without_a_code_stop_working_once_the_fleet_requires_one(self, staff):
        fleet = self.fleet_member(staff)
        tokens = self.log_in().json()
        fleet.require_two_factor = True
        fleet.save(update_fields=["require_two_factor"])

        listed, refreshed = self.vehicles_and_refresh(tokens)

        assert listed.json()["errors"][0]["code"] == "otp_required"
        assert refreshed.json()["errors"][0]["code"] == "otp_required"

    def test_tokens_got_with_the_code_work_and_refresh(self, staff, app_on, clock):
        self.fleet_member(staff, require_two_factor=True)
        tokens = self.log_in(otp=code(app_on)).json()

        listed, refreshed = self.vehicles_and_refresh(tokens)
        relisted, _ = self.vehicles_and_refresh(refreshed.json())

        assert (listed.status_code, refreshed.status_code, relisted.status_code) == (200, 200, 200)

    def test_a_staff_login_without_an_app_keeps_its_tokens(self, staff):
        self.fleet_member(staff)
        tokens = self.log_in().json()

        listed, refreshed = self.vehicles_and_refresh(tokens)

        assert (listed.status_code, refreshed.status_code) == (200, 200)

    def test_the_lockout_still_locks_a_login_with_an_app(self, settings, staff, app_on, clock):
        settings.AXES_ENABLED = True
        settings.AXES_FAILURE_LIMIT = 3
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"login": "1000/min"},
        }
        for _ in range(3):
            self.log_in(password="wrong", otp=code(app_on))

        locked = self.log_in(otp=code(app_on))

        assert locked.status_code == 429
        assert locked.json()["errors"][0]["code"] == "account_locked"
