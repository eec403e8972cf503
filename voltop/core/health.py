"""Health checks of the services Voltop depends on: the database and the Celery broker."""

from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    ok: bool
    detail: str


def database_status() -> ServiceStatus:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return ServiceStatus("database", ok=False, detail=type(error).__name__)
    return ServiceStatus("database", ok=True, detail=connection.vendor)


def broker_status() -> ServiceStatus:
    if not settings.REDIS_URL:
        return ServiceStatus("broker", ok=True, detail="eager (no REDIS_URL)")
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        return ServiceStatus("broker", ok=False, detail=type(error).__name__)
    finally:
        client.close()
    return ServiceStatus("broker", ok=True, detail="redis")
