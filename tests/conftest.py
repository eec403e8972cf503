"""Suite-wide fixtures: service requirements (PostgreSQL, Redis) and common users."""

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection


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


@pytest.fixture(autouse=True)
def _fresh_throttles_and_lockouts(settings):
    """Each test starts with empty throttle counters; the login lockout (django-axes) is on only
    where a test turns it on, since Django's test client logs in without a request."""
    cache.clear()
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
