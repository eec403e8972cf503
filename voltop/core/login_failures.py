"""Failed logins per username, counted over every client address: a throttle that slows
password guessing spread across many addresses, which the lockout per (username, address)
does not see.

Only failures count. Each attempt is counted as it begins and taken back when it succeeds, so
attempts made at the same moment cannot slip past the limit together. Once a username has
`LOGIN_FAILURES_PER_USERNAME_RATE` failures in the current window (e.g. 50 in a clock hour),
further attempts from new client addresses are refused without checking the password until
the window ends. An address the username has logged in from within
`LOGIN_KNOWN_ADDRESS_DAYS` is let through, so the person it belongs to is not kept out by
someone guessing from elsewhere; there the lockout per (username, address) still holds. The
account is never locked: nothing is stored on it, and the refusal lifts by itself with the
window. The counts live in the cache (Redis when REDIS_URL is set, so every process shares
them).
"""

import hashlib
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from voltop.core.errors import DomainError

_RATE = re.compile(r"^\s*(?P<count>[1-9][0-9]*)\s*/\s*(?P<unit>s|sec|m|min|h|hour|d|day)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TooManyLoginFailures(DomainError):
    """The username has had as many failed logins as the window allows."""

    code = "auth.too_many_login_failures"
    status = 429

    def __init__(self, *, wait_seconds: int):
        minutes = max(1, math.ceil(wait_seconds / 60))
        super().__init__(
            "Too many failed logins for this username; logins with it are paused. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            field=None,
        )
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class LoginFailureRate:
    """At most `failures` failed logins per username in each window of `window_seconds`."""

    failures: int
    window_seconds: int


def login_failure_rate_parse(text: str) -> LoginFailureRate:
    """`50/hour` (or `/s`, `/min`, `/day`, …, as DRF writes rates) as a rate; ValueError if not."""
    match = _RATE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a rate such as 50/hour.")
    return LoginFailureRate(
        failures=int(match["count"]), window_seconds=_UNIT_SECONDS[match["unit"][0]]
    )


@dataclass(frozen=True)
class LoginAttempt:
    """An attempt counted as a failure until `login_attempt_succeeded` takes it back."""

    key: str
    known_address_key: str | None


def _username_digest(username: str) -> str:
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def _window_key(username: str, window: int) -> str:
    return f"login-failures:{_username_digest(username)}:{window}"


def _known_address_key(username: str, client_address: str | None) -> str | None:
    """The key under which `client_address` is remembered as one `username` logged in from."""
    if not client_address:
        return None
    address_digest = hashlib.sha256(client_address.encode()).hexdigest()
    return f"login-known-address:{_username_digest(username)}:{address_digest}"


def _count_one_more(key: str, *, timeout: int) -> int:
    """Add one to the count under `key` (atomic in Redis), starting it at 1 if absent."""
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def login_attempt_begin(*, username: str, client_address: str | None) -> LoginAttempt:
    """Count an attempt to log in as `username` from `client_address` as a failure, before its
    password is checked.

    Raises TooManyLoginFailures, counting nothing, when the username already has the limit of
    failures in the current window and has not logged in from this address lately."""
    rate = login_failure_rate_parse(settings.LOGIN_FAILURES_PER_USERNAME_RATE)
    now = time.time()
    window = int(now // rate.window_seconds)
    key = _window_key(username, window)
    known_address_key = _known_address_key(username, client_address)
    count = _count_one_more(key, timeout=rate.window_seconds)
    if count > rate.failures and not (known_address_key and cache.get(known_address_key)):
        cache.decr(key)
        window_end = (window + 1) * rate.window_seconds
        raise TooManyLoginFailures(wait_seconds=max(1, math.ceil(window_end - now)))
    return LoginAttempt(key=key, known_address_key=known_address_key)


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """The attempt logged in: it is not a failure, so it no longer counts, and its address is
    remembered as one the username logs in from."""
    if attempt.known_address_key:
        cache.set(attempt.known_address_key, 1, timeout=settings.LOGIN_KNOWN_ADDRESS_DAYS * 86_400)
    try:
        cache.decr(attempt.key)
    except ValueError:  # the window ended and its count expired meanwhile
        return
