"""Suite-wide fixtures: service requirements (PostgreSQL, Redis) and common users."""

import pytest
import redis
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test import override_settings

from apps.payments import services as payments_services
from apps.payments.models import BillingRun


def _service_missing(item: pytest.Item, reason: str) -> None:
    if settings.VOLTOP_REQUIRE_SERVICES:
        pytest.fail(f"{reason} (VOLTOP_REQUIRE_SERVICES=1, so this fails instead of skipping)")
    pytest.skip(reason)


def _redis_reachable() -> bool:
    if not settings.REDIS_URL:
        return False
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _service_missing(item, "needs PostgreSQL: set DATABASE_URL=postgres://…")
    if item.get_closest_marker("celery_worker") and not _redis_reachable():
        _service_missing(item, "needs Redis for a real Celery worker: set REDIS_URL")
    if item.get_closest_marker("redis") and not _redis_reachable():
        _service_missing(item, "needs Redis: set REDIS_URL=redis://… to a running server")


@pytest.fixture(scope="session", autouse=True)
def _required_services_present() -> None:
    """With VOLTOP_REQUIRE_SERVICES=1 the whole suite must run on PostgreSQL with Redis up."""
    if not settings.VOLTOP_REQUIRE_SERVICES:
        return
    if connection.vendor != "postgresql":
        pytest.fail("VOLTOP_REQUIRE_SERVICES=1 but DATABASE_URL does not point to PostgreSQL")
    if not _redis_reachable():
        pytest.fail("VOLTOP_REQUIRE_SERVICES=1 but Redis at REDIS_URL does not answer")


TEST_CACHE_KEY_PREFIX = "voltop-test"


@pytest.fixture(scope="session", autouse=True)
def _test_cache_apart_from_other_data():
    """Tests keep their throttle and lockout counters under a key prefix of their own, so they
    never meet a developer's data in the same Redis; with REDIS_URL set but no Redis answering,
    they count in memory (tests that need Redis skip or fail on their marker)."""
    if settings.REDIS_URL and _redis_reachable():
        test_cache = {**settings.CACHES["default"], "KEY_PREFIX": TEST_CACHE_KEY_PREFIX}
    else:
        test_cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    with override_settings(CACHES={"default": test_cache}):
        AxesProxyHandler.get_implementation(force=True)
        yield
    AxesProxyHandler.get_implementation(force=True)


def _test_cache_clear() -> None:
    """Delete the tests' own keys only: Redis's FLUSHDB, which `cache.clear()` sends, would also
    empty the Celery queues sharing the database."""
    test_cache = caches["default"]
    if not isinstance(test_cache, RedisCache):  # in this process's memory: the tests' own
        test_cache.clear()
        return
    client = test_cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{TEST_CACHE_KEY_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_throttles_and_lockouts(settings):
    """Each test starts with empty throttle counters and lockouts; the login lockout
    (django-axes) is on only where a test turns it on, since Django's test client logs in
    without a request."""
    _test_cache_clear()
    settings.AXES_ENABLED = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Tests create many users; the production hasher's deliberate slowness is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _celery_tasks_run_in_process(request):
    """Tasks run eagerly in tests, whatever REDIS_URL says, except where a test starts a real
    worker (marker `celery_worker`) to prove the path through the broker."""
    from voltop.celery import app

    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def run_billing(django_capture_on_commit_callbacks):
    """Bill a fleet's period as the beat, the admin and the command do; the work enqueued on
    commit runs as the transaction ends (Celery is eager in these tests)."""

    def run(fleet, label: str) -> BillingRun:
        with django_capture_on_commit_callbacks(execute=True):
            run, _ = payments_services.billing_run_start(
                fleet=fleet, period=payments_services.billing_period_for(fleet=fleet, label=label)
            )
        run.refresh_from_db()
        return run

    return run
