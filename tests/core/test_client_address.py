"""The client's address is read through the trusted proxies only: with none, the connecting
address; with N, the entry the outermost trusted proxy appended to X-Forwarded-For."""

import pytest
from django.test import RequestFactory

from voltop.core.client_address import client_address, client_address_from


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "trusted_proxies", "expected"),
    [
        ("10.0.0.5", None, 0, "10.0.0.5"),
        ("10.0.0.5", "203.0.113.9", 0, "10.0.0.5"),
        ("10.0.0.5", "203.0.113.9", 1, "203.0.113.9"),
        ("10.0.0.5", "1.2.3.4, 203.0.113.9", 1, "203.0.113.9"),
        ("10.0.0.5", "1.2.3.4, 203.0.113.9, 10.0.0.4", 2, "203.0.113.9"),
        ("10.0.0.5", " 2001:db8::1 ", 1, "2001:db8::1"),
        ("10.0.0.5", "203.0.113.9", 2, "10.0.0.5"),
        ("10.0.0.5", "", 1, "10.0.0.5"),
        ("10.0.0.5", "not-an-address", 1, "10.0.0.5"),
        ("10.0.0.5", "203.0.113.9, ", 1, "10.0.0.5"),
    ],
)
def test_the_client_address_is_read_through_the_trusted_proxies_only(
    remote_addr, forwarded_for, trusted_proxies, expected
):
    address = client_address_from(
        remote_addr=remote_addr, forwarded_for=forwarded_for, trusted_proxies=trusted_proxies
    )

    assert address == expected


def test_a_request_is_read_with_the_trusted_proxy_count_setting(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().post(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9"
    )

    assert client_address(request) == "203.0.113.9"


def test_with_no_trusted_proxy_a_request_is_read_from_its_connecting_address(settings):
    request = RequestFactory().post("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert client_address(request) == "10.0.0.5"
