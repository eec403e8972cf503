"""The per-username failure throttle on its own: the rate setting, counting only failures, the
wait until the window ends, and usernames told apart without regard to case."""

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
        login_attempt_begin(username="sanne")

    with pytest.raises(TooManyLoginFailures) as refused:
        login_attempt_begin(username="SANNE ")
    with pytest.raises(TooManyLoginFailures):
        login_attempt_begin(username="sanne")

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
        login_attempt_succeeded(login_attempt_begin(username="sanne"))
    login_attempt_begin(username="sanne")
    login_attempt_begin(username="sanne")

    with pytest.raises(TooManyLoginFailures):
        login_attempt_begin(username="sanne")


def test_the_next_window_starts_afresh(settings):
    settings.LOGIN_FAILURES_PER_USERNAME_RATE = "1/hour"
    with time_machine.travel(TEN_PAST_TEN, tick=False):
        login_attempt_begin(username="sanne")
        with pytest.raises(TooManyLoginFailures):
            login_attempt_begin(username="sanne")
    with time_machine.travel(TEN_PAST_TEN + dt.timedelta(minutes=50), tick=False):
        login_attempt_begin(username="sanne")
        with pytest.raises(TooManyLoginFailures) as refused:
            login_attempt_begin(username="sanne")

    assert refused.value.wait_seconds == 3600


def test_a_success_after_its_window_expired_takes_back_nothing(settings):
    settings.LOGIN_FAILURES_PER_USERNAME_RATE = "1/s"
    with time_machine.travel(TEN_PAST_TEN, tick=False):
        attempt = login_attempt_begin(username="sanne")
    with time_machine.travel(TEN_PAST_TEN + dt.timedelta(seconds=5), tick=False):
        login_attempt_succeeded(attempt)
        login_attempt_begin(username="sanne")
        with pytest.raises(TooManyLoginFailures):
            login_attempt_begin(username="sanne")
