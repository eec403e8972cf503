"""Services for tests of the gateway's worker processes: functions of a module, so that a
worker can import them."""

import os
import time

from django.db import connection


def process_and_database() -> tuple[int, str]:
    """The process this runs in, and the database its connection uses."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return os.getpid(), database


def pause_then_answer(*, seconds: float, answer: str) -> str:
    time.sleep(seconds)
    return answer
