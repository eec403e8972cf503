"""Waiting, in a test, until another database session is blocked on a lock a connection of the
test holds: the point at which a concurrency test lets that lock go."""

import time

import psycopg
from django.db import connection


def wait_until_blocked_by(blocker: psycopg.Connection, context: object = None) -> None:
    """Wait (at most 10 s) until a session waits on a lock `blocker` holds; `context` is shown
    when none did."""
    deadline = time.monotonic() + 10
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [blocker.info.backend_pid],
            )
            if cursor.fetchone() is not None:
                return
        assert time.monotonic() < deadline, f"nothing waited on the lock: {context}"
        time.sleep(0.05)
