"""Logins behind a proxy, through a simulated one: every request connects from the proxy's
address (REMOTE_ADDR) and carries the X-Forwarded-For header the proxy, or a client, wrote.
The login throttles and the lockout read the client's address through the trusted proxies
only (TRUSTED_PROXY_COUNT)."""

import pytest
from rest_framework.test import APIClient

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
