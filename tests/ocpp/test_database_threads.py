"""The gateway's database threads run a service again when PostgreSQL rolled it back to end a
deadlock, and only then."""

import asyncio

import pytest
from django.db import OperationalError

from apps.ocpp.database import ATTEMPTS, DatabaseThreads


class PostgresError(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def failing_first(times: int, sqlstate: str):
    calls = []

    def service(**kwargs):
        calls.append(kwargs)
        if len(calls) <= times:
            raise OperationalError("rolled back") from PostgresError(sqlstate)
        return "recorded"

    return service, calls


def run(service, **kwargs):
    async def on_a_thread():
        threads = DatabaseThreads(1)
        try:
            return await threads.run(service, **kwargs)
        finally:
            await asyncio.to_thread(threads.close)

    return asyncio.run(on_a_thread())


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"], ids=["deadlock", "serialization"])
def test_a_service_rolled_back_to_end_a_deadlock_runs_again(sqlstate):
    service, calls = failing_first(ATTEMPTS - 1, sqlstate)

    assert run(service, station_id=7) == "recorded"
    assert calls == [{"station_id": 7}] * ATTEMPTS


def test_a_deadlock_every_time_is_raised_after_the_last_attempt():
    service, calls = failing_first(ATTEMPTS, "40P01")

    with pytest.raises(OperationalError):
        run(service)
    assert len(calls) == ATTEMPTS


def test_any_other_database_error_is_raised_at_once():
    service, calls = failing_first(1, "57014")

    with pytest.raises(OperationalError):
        run(service)
    assert len(calls) == 1


def test_the_backlog_counts_the_services_waiting_for_a_thread():
    async def scenario():
        threads = DatabaseThreads(1)
        release = asyncio.Event()
        loop = asyncio.get_running_loop()
        running = asyncio.Event()

        def occupy():
            loop.call_soon_threadsafe(running.set)
            asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
            return "done"

        try:
            first = asyncio.create_task(threads.run(occupy))
            await running.wait()
            waiting = [asyncio.create_task(threads.run(lambda: "queued")) for _ in range(3)]
            await asyncio.sleep(0)
            backlog_while_busy = threads.backlog
            waiting[0].cancel()
            await asyncio.sleep(0)
            backlog_after_one_gave_up = threads.backlog
            release.set()
            results = await asyncio.gather(first, *waiting[1:])
            return backlog_while_busy, backlog_after_one_gave_up, results, threads.backlog
        finally:
            await asyncio.to_thread(threads.close)

    busy, after_cancel, results, after = asyncio.run(scenario())

    assert (busy, after_cancel) == (3, 2)
    assert results == ["done", "queued", "queued"]
    assert after == 0
