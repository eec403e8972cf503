"""The API's contract as a whole: logging in and out, lockout and throttling, the one error
shape, Idempotency-Key, and the documentation served without a CDN."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken

from apps.drivers.choices import DriverStatus
from tests.api.conftest import PASSWORD
from voltop.core.models import IdempotencyRecord

pytestmark = pytest.mark.django_db

LOGIN, REFRESH, LOGOUT = "/api/v1/auth/login/", "/api/v1/auth/refresh/", "/api/v1/auth/logout/"


def log_in(client: APIClient, email: str, password: str = PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password}, format="json")


class TestLogin:
    def test_a_driver_logs_in_with_email_and_password_and_uses_the_access_token(
        self, anonymous_client, driver_a
    ):
        response = log_in(anonymous_client, "SANNE@example.com")

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access", "refresh", "access_expires_at", "refresh_expires_at"}
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
        assert client.get("/api/v1/me/").json()["employee_number"] == "E00042"

    def test_a_wrong_password_is_refused_in_the_error_shape(self, anonymous_client, driver_a):
        response = log_in(anonymous_client, "sanne@example.com", "wrong")

        assert response.status_code == 401
        assert response.json() == {
            "type": "client_error",
            "errors": [
                {
                    "code": "invalid_credentials",
                    "detail": "The e-mail address or the password is wrong.",
                    "attr": None,
                }
            ],
        }

    def test_a_missing_field_is_named(self, anonymous_client):
        response = anonymous_client.post(LOGIN, {"email": "x@example.com"}, format="json")

        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [
                {"code": "required", "detail": "This field is required.", "attr": "password"}
            ],
        }

    def test_a_suspended_driver_cannot_log_in(self, anonymous_client, driver_a):
        driver_a.status = DriverStatus.SUSPENDED
        driver_a.save(update_fields=["status"])

        response = log_in(anonymous_client, "sanne@example.com")

        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "driver_not_active"

    def test_a_driver_suspended_after_login_is_refused_at_once_with_a_valid_token(
        self, driver_a_client, driver_a
    ):
        assert driver_a_client.get("/api/v1/me/").status_code == 200
        driver_a.status = DriverStatus.SUSPENDED
        driver_a.save(update_fields=["status"])

        response = driver_a_client.get("/api/v1/me/")

        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "driver_not_active"

    def test_repeated_failures_lock_the_account_even_with_the_right_password(
        self, settings, anonymous_client, driver_a
    ):
        settings.AXES_ENABLED = True
        settings.AXES_FAILURE_LIMIT = 3
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"login": "1000/min"},
        }
        failures = [
            log_in(anonymous_client, "sanne@example.com", "wrong").status_code for _ in range(3)
        ]

        locked = log_in(anonymous_client, "sanne@example.com")

        assert failures[:2] == [401, 401]
        assert locked.status_code == 429
        assert locked.json()["errors"][0]["code"] == "account_locked"

    def test_logins_are_throttled(self, anonymous_client, driver_a):
        statuses = [
            log_in(anonymous_client, "sanne@example.com", "wrong").status_code for _ in range(11)
        ]

        assert statuses[:10] == [401] * 10
        assert statuses[10] == 429

    def test_an_access_token_naming_no_user_by_id_is_refused_in_the_error_shape(
        self, anonymous_client, driver_a
    ):
        token = AccessToken.for_user(driver_a.user)
        token["user_id"] = "not-a-number"
        anonymous_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

        response = anonymous_client.get(reverse("me-profile"))

        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "token_not_valid"


class TestRefreshAndLogout:
    def test_refreshing_rotates_the_refresh_token_and_blacklists_the_old_one(
        self, anonymous_client, driver_a
    ):
        first = log_in(anonymous_client, "sanne@example.com").json()

        rotated = anonymous_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
        replayed = anonymous_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")

        assert rotated.status_code == 200
        assert rotated.json()["refresh"] != first["refresh"]
        assert replayed.status_code == 401
        assert BlacklistedToken.objects.count() == 1

    def test_logout_blacklists_the_refresh_token(self, anonymous_client, driver_a):
        tokens = log_in(anonymous_client, "sanne@example.com").json()

        logout = anonymous_client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")
        refresh = anonymous_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

        assert logout.status_code == 204
        assert refresh.status_code == 401

    def test_logout_with_a_broken_token_names_the_field(self, anonymous_client):
        response = anonymous_client.post(LOGOUT, {"refresh": "not-a-token"}, format="json")

        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "refresh"

    def test_a_suspended_driver_cannot_refresh(self, anonymous_client, driver_a):
        tokens = log_in(anonymous_client, "sanne@example.com").json()
        driver_a.status = DriverStatus.SUSPENDED
        driver_a.save(update_fields=["status"])

        response = anonymous_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

        assert response.status_code == 401

    def test_an_expired_access_token_is_refused(self, anonymous_client, driver_a):
        with time_machine.travel(dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC), tick=False):
            access = log_in(anonymous_client, "sanne@example.com").json()["access"]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

        with time_machine.travel(dt.datetime(2026, 11, 1, 12, 11, tzinfo=dt.UTC), tick=False):
            response = client.get("/api/v1/me/")

        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "token_not_valid"


class TestIdempotencyKey:
    def home_session(self, client, key: str, energy_wh: int = 12_000, day: int = 2):
        return client.post(
            "/api/v1/me/home-sessions/",
            {
                "started_at": f"2026-11-{day:02d}T18:00:00+01:00",
                "ended_at": f"2026-11-{day:02d}T22:00:00+01:00",
                "energy_wh": energy_wh,
                "purpose": "business",
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )

    def test_a_replay_returns_the_stored_response_and_does_the_work_once(self, driver_a_client):
        first = self.home_session(driver_a_client, "k-1")
        replay = self.home_session(driver_a_client, "k-1")

        assert first.status_code == 201
        assert (replay.status_code, replay.json()) == (201, first.json())
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert IdempotencyRecord.objects.count() == 1
        assert (
            driver_a_client.get("/api/v1/me/sessions/").json()["results"][0]["id"]
            == first.json()["id"]
        )

    def test_the_same_key_with_another_body_is_refused_with_422(self, driver_a_client):
        self.home_session(driver_a_client, "k-1")

        response = self.home_session(driver_a_client, "k-1", energy_wh=13_000)

        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
        assert len(driver_a_client.get("/api/v1/me/sessions/").json()["results"]) == 1

    def test_keys_belong_to_their_sender(self, driver_a_client, driver_b_client):
        mine = self.home_session(driver_a_client, "k-1")
        theirs = self.home_session(driver_b_client, "k-1")

        assert (mine.status_code, theirs.status_code) == (201, 201)
        assert mine.json()["id"] != theirs.json()["id"]

    def test_a_refused_request_is_not_stored_so_the_key_can_be_used_again(self, driver_a_client):
        refused = self.home_session(driver_a_client, "k-1", energy_wh=-5)
        accepted = self.home_session(driver_a_client, "k-1")

        assert (refused.status_code, accepted.status_code) == (400, 201)

    def test_an_overlong_key_is_refused_naming_the_header(self, driver_a_client):
        response = self.home_session(driver_a_client, "k" * 256)

        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "Idempotency-Key"
        assert not IdempotencyRecord.objects.exists()

    def test_keys_older_than_the_retention_are_purged_and_younger_ones_kept(
        self, driver_a_client, settings
    ):
        from voltop.core.tasks import purge_idempotency_records

        self.home_session(driver_a_client, "old")
        IdempotencyRecord.objects.update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        self.home_session(driver_a_client, "new", day=3)

        purged = purge_idempotency_records()

        assert purged == 1
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


class TestDocumentation:
    def test_the_schema_is_openapi_3(self, client):
        response = client.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")

        assert response.status_code == 200
        schema = response.json()
        assert schema["openapi"].startswith("3.")
        assert "/api/v1/me/sessions/" in schema["paths"]

    def test_swagger_ui_is_served_from_this_server_without_a_cdn(self, client):
        response = client.get(reverse("api-docs"))

        page = response.content.decode()
        assert response.status_code == 200
        assert "swagger-ui" in page
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
        assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page


def test_a_locked_out_person_at_the_admin_login_gets_a_page_saying_why(settings, client, driver_a):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post(reverse("admin:login"), {"username": "sanne", "password": "wrong"})

    response = client.post(reverse("admin:login"), {"username": "sanne", "password": PASSWORD})

    assert response.status_code == 429
    assert "locked for 15 minutes" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/me/sessions/?started_before=5273-06-21T23:14:53-22:39"
        "&started_after=1055-07-04T19:55:58%2B15:44",
        "/api/v1/me/invoices/?period_start_after=2026-01-01T00:00:00-23:59",
        "/api/v1/fleet/sessions/?started_after=2026-01-01T00:00:00%2B23:00",
    ],
)
def test_a_time_filter_with_any_valid_offset_is_read_as_its_instant(
    path, driver_a_client, manager_client
):
    client = manager_client if "/fleet/" in path else driver_a_client

    response = client.get(path)

    assert response.status_code == 200, response.content
