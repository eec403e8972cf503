"""Logins behind a proxy, through a simulated one: every request connects from the proxy's
address (REMOTE_ADDR) and carries the X-Forwarded-For header the proxy, or a client, wrote.
The login throttles and the lockout read the client's address through the trusted proxies
only (TRUSTED_PROXY_COUNT)."""

import datetime as dt

import pytest
import redis
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.api.conftest import PASSWORD
from tests.conftest import TEST_CACHE_KEY_PREFIX

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"
PROXY = "10.0.0.2"


def log_in_through_proxy(email: str, password: str, *, forwarded_for: str):
    """A login as it reaches Voltop from the proxy: a new connection each time, as clients at
    different addresses make."""
    return APIClient().post(
        LOGIN,
        {"email": email, "password": password},
        format="json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


class TestNoTrustedProxy:
    def test_a_spoofed_forwarded_for_is_ignored_and_the_login_throttle_holds(self, driver_a):
        statuses = [
            log_in_through_proxy(
                "sanne@example.com", "wrong", forwarded_for=f"198.51.100.{n}"
            ).status_code
            for n in range(11)
        ]

        assert statuses == [401] * 10 + [429]

    def test_a_spoofed_forwarded_for_is_ignored_and_the_lockout_holds(self, settings, driver_a):
        settings.AXES_ENABLED = True
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                "login": "1000/min",
            },
        }
        for n in range(10):
            log_in_through_proxy("sanne@example.com", "wrong", forwarded_for=f"198.51.100.{n}")

        response = log_in_through_proxy(
            "sanne@example.com", PASSWORD, forwarded_for="198.51.100.99"
        )

        assert response.status_code == 429
        assert response.json()["errors"][0]["code"] == "account_locked"


ATTACKER = "198.51.100.66"
ELSEWHERE = "203.0.113.20"


@pytest.fixture
def behind_one_trusted_proxy(settings):
    """One proxy in front, trusted; the lockout on at its configured limit of 10; the address
    throttle out of the way, so what these tests see is the lockout."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 10
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "login": "1000/min",
        },
    }


def forwarded_by_proxy(client_address: str) -> str:
    """What the trusted proxy sends on: whatever the client wrote, then the client's address."""
    return f"10.9.9.9, {client_address}"


@pytest.mark.usefixtures("behind_one_trusted_proxy")
class TestOneTrustedProxy:
    def test_an_attackers_failures_do_not_lock_out_the_user_from_another_address(self, driver_a):
        failures = [
            log_in_through_proxy(
                "sanne@example.com", "wrong", forwarded_for=forwarded_by_proxy(ATTACKER)
            ).status_code
            for _ in range(10)
        ]

        from_elsewhere = log_in_through_proxy(
            "sanne@example.com", PASSWORD, forwarded_for=forwarded_by_proxy(ELSEWHERE)
        )
        from_the_attacker = log_in_through_proxy(
            "sanne@example.com", PASSWORD, forwarded_for=forwarded_by_proxy(ATTACKER)
        )

        assert failures == [401] * 9 + [429]
        assert from_elsewhere.status_code == 200
        assert from_the_attacker.status_code == 429
        assert from_the_attacker.json()["errors"][0]["code"] == "account_locked"

    def test_failures_against_one_login_do_not_lock_out_another_login(self, driver_a, manager_user):
        for _ in range(10):
            log_in_through_proxy(
                "sanne@example.com", "wrong", forwarded_for=forwarded_by_proxy(ATTACKER)
            )

        response = log_in_through_proxy(
            "mila@example.com", PASSWORD, forwarded_for=forwarded_by_proxy(ELSEWHERE)
        )

        assert response.status_code == 200

    def test_a_spoofed_address_left_of_the_proxys_entry_does_not_escape_the_lockout(self, driver_a):
        for n in range(10):
            log_in_through_proxy(
                "sanne@example.com",
                "wrong",
                forwarded_for=f"192.0.2.{n}, {ATTACKER}",
            )

        response = log_in_through_proxy(
            "sanne@example.com", PASSWORD, forwarded_for=f"192.0.2.99, {ATTACKER}"
        )

        assert response.status_code == 429


@pytest.mark.usefixtures("behind_one_trusted_proxy")
class TestAdminLoginBehindOneTrustedProxy:
    @staticmethod
    def admin_log_in(client: Client, username: str, password: str, *, address: str):
        return client.post(
            reverse("admin:login"),
            {"username": username, "password": password, "next": reverse("admin:index")},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=forwarded_by_proxy(address),
        )

    def test_an_attackers_failures_do_not_lock_out_the_manager_from_another_address(
        self, manager_user
    ):
        failures = [
            TestAdminLoginBehindOneTrustedProxy.admin_log_in(
                Client(), "mila", "wrong", address=ATTACKER
            ).status_code
            for _ in range(10)
        ]

        from_elsewhere = TestAdminLoginBehindOneTrustedProxy.admin_log_in(
            Client(), "mila", PASSWORD, address=ELSEWHERE
        )
        from_the_attacker = TestAdminLoginBehindOneTrustedProxy.admin_log_in(
            Client(), "mila", PASSWORD, address=ATTACKER
        )

        assert failures == [200] * 9 + [429]
        assert from_elsewhere.status_code == 302
        assert from_elsewhere.url == reverse("admin:index")
        assert from_the_attacker.status_code == 429
        assert "locked for 15 minutes" in from_the_attacker.content.decode()


@pytest.mark.redis
def test_lockout_counts_live_in_redis_where_every_worker_reads_them(
    behind_one_trusted_proxy, driver_a
):
    for _ in range(3):
        log_in_through_proxy(
            "sanne@example.com", "wrong", forwarded_for=forwarded_by_proxy(ATTACKER)
        )

    another_workers_redis = redis.Redis.from_url(settings.REDIS_URL)
    try:
        counts = [
            int(another_workers_redis.get(key))
            for key in another_workers_redis.scan_iter(match=f"{TEST_CACHE_KEY_PREFIX}:*:axes-*")
        ]
    finally:
        another_workers_redis.close()

    assert counts == [3]


def client_addresses(count: int) -> list[str]:
    return [f"198.51.{n // 250}.{n % 250 + 1}" for n in range(count)]


@pytest.mark.usefixtures("behind_one_trusted_proxy")
class TestFailuresPerUsername:
    """The per-username throttle: 50 failures an hour by default, over every address."""

    @time_machine.travel(dt.datetime(2026, 6, 1, 10, 5, tzinfo=dt.UTC), tick=False)
    def test_the_per_username_throttle_stops_a_guess_spread_over_100_addresses(self, driver_a):
        responses = [
            log_in_through_proxy(
                "sanne@example.com", f"guess-{n}", forwarded_for=forwarded_by_proxy(address)
            )
            for n, address in enumerate(client_addresses(100))
        ]

        assert [response.status_code for response in responses] == [401] * 50 + [429] * 50
        assert responses[50].json() == {
            "type": "client_error",
            "errors": [
                {
                    "code": "auth.too_many_login_failures",
                    "detail": "Too many failed logins for this username; logins with it are "
                    "paused. Try again in 55 minutes.",
                    "attr": None,
                }
            ],
        }
        assert responses[50]["Retry-After"] == "3300"

    def test_the_throttle_pauses_the_username_for_the_window_but_never_locks_the_account(
        self, driver_a
    ):
        with time_machine.travel(dt.datetime(2026, 6, 1, 10, 5, tzinfo=dt.UTC), tick=False):
            for address in client_addresses(50):
                log_in_through_proxy(
                    "sanne@example.com", "wrong", forwarded_for=forwarded_by_proxy(address)
                )
            during_the_hour = log_in_through_proxy(
                "sanne@example.com", PASSWORD, forwarded_for=forwarded_by_proxy(ELSEWHERE)
            )
        with time_machine.travel(dt.datetime(2026, 6, 1, 11, 0, 1, tzinfo=dt.UTC), tick=False):
            after_the_hour = log_in_through_proxy(
                "sanne@example.com", PASSWORD, forwarded_for=forwarded_by_proxy(ELSEWHERE)
            )

        assert during_the_hour.status_code == 429
        assert after_the_hour.status_code == 200

    def test_the_user_still_logs_in_from_an_address_they_logged_in_from_before(self, driver_a):
        home = "192.0.2.44"
        with time_machine.travel(dt.datetime(2026, 5, 20, 8, 0, tzinfo=dt.UTC), tick=False):
            before_the_guessing = log_in_through_proxy(
                "sanne@example.com", PASSWORD, forwarded_for=forwarded_by_proxy(home)
            )
        with time_machine.travel(dt.datetime(2026, 6, 1, 10, 5, tzinfo=dt.UTC), tick=False):
            for address in client_addresses(50):
                log_in_through_proxy(
                    "sanne@example.com", "wrong", forwarded_for=forwarded_by_proxy(address)
                )
            from_home = log_in_through_proxy(
                "sanne@example.com", PASSWORD, forwarded_for=forwarded_by_proxy(home)
            )
            from_a_new_address = log_in_through_proxy(
                "sanne@example.com", PASSWORD, forwarded_for=forwarded_by_proxy(ELSEWHERE)
            )

        assert before_the_guessing.status_code == 200
        assert from_home.status_code == 200
        assert from_a_new_address.status_code == 429

    def test_only_failures_count_and_another_username_is_not_paused(
        self, settings, driver_a, driver_b
    ):
        settings.LOGIN_FAILURES_PER_USERNAME_RATE = "2/hour"
        with time_machine.travel(dt.datetime(2026, 6, 1, 10, 5, tzinfo=dt.UTC), tick=False):
            statuses = [
                log_in_through_proxy(
                    "sanne@example.com", password, forwarded_for=forwarded_by_proxy(address)
                ).status_code
                for password, address in zip(
                    [PASSWORD, PASSWORD, PASSWORD, "wrong", "wrong", PASSWORD],
                    client_addresses(6),
                    strict=True,
                )
            ]
            another_username = log_in_through_proxy(
                "bram@example.com", PASSWORD, forwarded_for=forwarded_by_proxy(ELSEWHERE)
            )

        assert statuses == [200, 200, 200, 401, 401, 429]
        assert another_username.status_code == 200

    def test_the_admin_login_is_under_the_same_throttle(self, settings, manager_user):
        settings.LOGIN_FAILURES_PER_USERNAME_RATE = "3/hour"
        with time_machine.travel(dt.datetime(2026, 6, 1, 10, 5, tzinfo=dt.UTC), tick=False):
            for address in client_addresses(3):
                TestAdminLoginBehindOneTrustedProxy.admin_log_in(
                    Client(), "mila", "wrong", address=address
                )
            client = Client()
            response = TestAdminLoginBehindOneTrustedProxy.admin_log_in(
                client, "mila", PASSWORD, address=ELSEWHERE
            )

        assert response.status_code == 200
        assert "Too many failed logins for this username" in response.content.decode()
        assert "_auth_user_id" not in client.session
