"""The per-username failure throttle on its own: the rate setting, counting only failures, the
wait until the window ends, usernames told apart without regard to case, and addresses the
username logged in from let through."""

import datetime as dt

import pytest
import time_machine

from voltop.core.login_failures import (
    LoginFailureRate,
    TooManyLoginFailures,
    login_attempt_begin,
    login_attempt_succeeded,
    login_failure_rate_parse,
)

TEN_PAST_TEN = dt.datetime(2026, 6, 1, 10, 10, tzinfo=dt.UTC)
OFFICE = "203.0.113.20"
HOME = "198.51.100.7"


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("50/hour", LoginFailureRate(failures=50, window_seconds=3600)),
        ("50/h", LoginFailureRate(failures=50, window_seconds=3600)),
        ("5/min", LoginFailureRate(failures=5, window_seconds=60)),
        ("200/day", LoginFailureRate(failures=200, window_seconds=86400)),
        (" 3 / s ", LoginFailureRate(failures=3, window_seconds=1)),
    ],
)
def test_a_rate_is_read_as_drf_writes_rates(text, rate):
    assert login_failure_rate_parse(text) == rate


@pytest.mark.parametrize("text", ["", "50", "0/hour", "-1/hour", "50/week", "fifty/hour"])
def test_a_rate_that_is_not_one_is_refused(text):
    with pytest.raises(ValueError, match="is not a rate such as 50/hour"):
        login_failure_rate_parse(text)


@time_machine.travel(TEN_PAST_TEN, tick=False)
def test_beyond_the_limit_an_attempt_is_refused_until_the_window_ends_and_counts_nothing(
    settings,
):
    settings.LOGIN_FAILURES_PER_USERNAME_RATE = "3/hour"
    for _ in range(3):
        login_attempt_begin(username="sanne", client_address=OFFICE)

    with pytest.raises(TooManyLoginFailures) as refused:
        login_attempt_begin(username="SANNE ", client_address=OFFICE)
    with pytest.raises(TooManyLoginFailures):
        login_attempt_begin(username="sanne", client_address=OFFICE)

    assert refused.value.wait_seconds == 50 * 60
    assert refused.value.code == "auth.too_many_login_failures"
    assert refused.value.status == 429
    assert refused.value.message == (
        "Too many failed logins for this username; logins with it are paused. "
        "Try again in 50 minutes."
    )


@time_machine.travel(TEN_PAST_TEN, tick=False)
def test_an_attempt_that_succeeds_is_taken_back(settings):
    settings.LOGIN_FAILURES_PER_USERNAME_RATE = "2/hour"
    for _ in range(5):
        login_attempt_succeeded(login_attempt_begin(username="sanne", client_address=HOME))
    login_attempt_begin(username="sanne", client_address=OFFICE)
    login_attempt_begin(username="sanne", client_address=OFFICE)

    with pytest.raises(TooManyLoginFailures):
        login_attempt_begin(username="sanne", client_address=OFFICE)


def test_the_next_window_starts_afresh(settings):
    settings.LOGIN_FAILURES_PER_USERNAME_RATE = "1/hour"
    with time_machine.travel(TEN_PAST_TEN, tick=False):
        login_attempt_begin(username="sanne", client_address=OFFICE)
        with pytest.raises(TooManyLoginFailures):
            login_attempt_begin(username="sanne", client_address=OFFICE)
    with time_machine.travel(TEN_PAST_TEN + dt.timedelta(minutes=50), tick=False):
        login_attempt_begin(username="sanne", client_address=OFFICE)
        with pytest.raises(TooManyLoginFailures) as refused:
            login_attempt_begin(username="sanne", client_address=OFFICE)

    assert refused.value.wait_seconds == 3600


def test_a_success_after_its_window_expired_takes_back_nothing(settings):
    settings.LOGIN_FAILURES_PER_USERNAME_RATE = "1/s"
    with time_machine.travel(TEN_PAST_TEN, tick=False):
        attempt = login_attempt_begin(username="sanne", client_address=HOME)
    with time_machine.travel(TEN_PAST_TEN + dt.timedelta(seconds=5), tick=False):
        login_attempt_succeeded(attempt)
        login_attempt_begin(username="sanne", client_address=OFFICE)
        with pytest.raises(TooManyLoginFailures):
            login_attempt_begin(username="sanne", client_address=OFFICE)


@time_machine.travel(TEN_PAST_TEN, tick=False)
def test_beyond_the_limit_an_address_the_username_logged_in_from_is_let_through(settings):
    settings.LOGIN_FAILURES_PER_USERNAME_RATE = "2/hour"
    login_attempt_succeeded(login_attempt_begin(username="sanne", client_address=HOME))
    for _ in range(2):
        login_attempt_begin(username="sanne", client_address=OFFICE)

    with pytest.raises(TooManyLoginFailures):
        login_attempt_begin(username="sanne", client_address=OFFICE)
    with pytest.raises(TooManyLoginFailures):
        login_attempt_begin(username="sanne", client_address=None)
    login_attempt_succeeded(login_attempt_begin(username="SANNE", client_address=HOME))


@time_machine.travel(TEN_PAST_TEN, tick=False)
def test_an_address_is_remembered_for_the_username_that_logged_in_from_it_only(settings):
    settings.LOGIN_FAILURES_PER_USERNAME_RATE = "1/hour"
    login_attempt_succeeded(login_attempt_begin(username="bram", client_address=HOME))
    login_attempt_begin(username="sanne", client_address=OFFICE)

    with pytest.raises(TooManyLoginFailures):
        login_attempt_begin(username="sanne", client_address=HOME)


@time_machine.travel(TEN_PAST_TEN, tick=False)
def test_with_no_days_to_remember_an_address_none_is_let_through(settings):
    settings.LOGIN_FAILURES_PER_USERNAME_RATE = "1/hour"
    settings.LOGIN_KNOWN_ADDRESS_DAYS = 0
    login_attempt_succeeded(login_attempt_begin(username="sanne", client_address=HOME))
    login_attempt_begin(username="sanne", client_address=OFFICE)

    with pytest.raises(TooManyLoginFailures):
        login_attempt_begin(username="sanne", client_address=HOME)
