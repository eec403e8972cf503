"""The gateway's database work, off its event loop: by default a pool of threads, each with
a connection of its own; or, with OCPP_DATABASE_PROCESSES on PostgreSQL, worker processes, each
with Django set up, so that the services' Python runs beside the event loop rather than taking
turns with it for one GIL. Either way chargers' writes run side by side rather than one at a
time on asgiref's single shared thread."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.util
import random
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import django
from django.conf import settings
from django.db import OperationalError, close_old_connections, connections

Result = TypeVar("Result")
logger = logging.getLogger(__name__)

# SQLSTATEs of a transaction PostgreSQL rolled back to end a deadlock (40P01) or a
# serialization conflict (40001), and how many times in all a service is tried.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 3
DATABASE_THREADS = 8


def _deadlocked(error: OperationalError) -> bool:
    """Whether PostgreSQL chose this transaction to end a deadlock or a serialization
    conflict: it rolled back, and running it again may well succeed."""
    return getattr(error.__cause__, "sqlstate", None) in RETRIED_SQLSTATES


def _call_with_fresh_connection(function: Callable[..., Result], kwargs: dict) -> Result:
    """`function(**kwargs)`, run again (up to ATTEMPTS times in all, after a short random
    pause) when PostgreSQL broke a deadlock by rolling it back: the services are atomic, and
    what a charger sends twice changes nothing the second time."""
    close_old_connections()
    attempt = 1
    while True:
        try:
            return function(**kwargs)
        except OperationalError as error:
            if attempt >= ATTEMPTS or not _deadlocked(error):
                raise
            logger.warning(
                "ocpp.database_retried",
                extra={"service": function.__name__, "attempt": attempt},
            )
            time.sleep(random.uniform(0.005, 0.05) * attempt)  # noqa: S311 - a pause, not a secret
            attempt += 1


def _close_connections(everyone_here: threading.Barrier) -> None:
    connections.close_all()
    everyone_here.wait()


class _Waiting:
    """A service submitted to the threads, counted in their backlog until a thread takes it
    or its caller gives up on it, whichever comes first."""

    def __init__(self, threads: DatabaseThreads):
        self._threads = threads
        self._counted = True
        with threads._waiting_lock:
            threads._waiting += 1

    def leave(self) -> None:
        with self._threads._waiting_lock:
            if self._counted:
                self._counted = False
                self._threads._waiting -= 1


def _taken(waiting: _Waiting, function: Callable[..., Result], kwargs: dict) -> Result:
    waiting.leave()
    return _call_with_fresh_connection(function, kwargs)


class DatabaseThreads:
    """Runs services for the event loop on `size` threads, and counts the services waiting for
    one of them: the gateway's backlog."""

    def __init__(self, size: int):
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="ocpp-database")
        self._waiting = 0
        self._waiting_lock = threading.Lock()

    @property
    def backlog(self) -> int:
        """How many services are waiting for a thread."""
        return self._waiting

    async def run(self, function: Callable[..., Result], /, **kwargs) -> Result:
        """`function(**kwargs)` on one of the threads; the event loop goes on meanwhile."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(self)
        try:
            return await loop.run_in_executor(
                self._executor, partial(_taken, waiting, function, kwargs)
            )
        finally:
            waiting.leave()

    def close(self, timeout: float = 10) -> None:
        """Close every thread's connection, then the threads: each thread closes its own, and
        waits for the others so that none closes two."""
        everyone_here = threading.Barrier(self.size, timeout=timeout)
        closing = [
            self._executor.submit(_close_connections, everyone_here) for _ in range(self.size)
        ]
        for done in closing:
            done.result()
        self._executor.shutdown(wait=True)


def _process_start(database_names: dict[str, str]) -> None:
    """Set up a worker process: Django, the databases its parent uses (a test run's test
    database too), and its connections closed when it ends. Stopping is its parent's to
    decide, so the signals a terminal or a supervisor sends the whole group are ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    django.setup()
    for alias, name in database_names.items():
        settings.DATABASES[alias]["NAME"] = name
    multiprocessing.util.Finalize(None, connections.close_all, exitpriority=10)


class DatabaseProcesses:
    """Runs services for the event loop in `size` worker processes. Services, their arguments
    and what they return or raise cross over pickled: functions of a module, model
    instances, dataclasses, DomainErrors. Settings changed in the parent after the start are
    not the workers': tests that change them use DatabaseThreads."""

    def __init__(self, size: int):
        self.size = size
        self._executor = ProcessPoolExecutor(
            max_workers=size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_process_start,
            initargs=({alias: connections[alias].settings_dict["NAME"] for alias in connections},),
        )
        self._given = 0
        self._given_lock = threading.Lock()

    @property
    def backlog(self) -> int:
        """How many services are waiting for a process."""
        return max(0, self._given - self.size)

    async def run(self, function: Callable[..., Result], /, **kwargs) -> Result:
        """`function(**kwargs)` in one of the processes; the event loop goes on meanwhile. A
        service whose caller gives up on it is counted until a process has finished it, or
        until it is withdrawn before one took it."""
        with self._given_lock:
            self._given += 1
        given = self._executor.submit(_call_with_fresh_connection, function, kwargs)
        given.add_done_callback(self._finished)
        return await asyncio.wrap_future(given)

    def _finished(self, _given: Future) -> None:
        with self._given_lock:
            self._given -= 1

    def close(self) -> None:
        """Let the processes finish what they were given, close their connections, and end."""
        self._executor.shutdown(wait=True)


def gateway_database() -> DatabaseThreads | DatabaseProcesses:
    """Where the gateway runs its services: OCPP_DATABASE_PROCESSES worker processes on
    PostgreSQL, threads when that is 0 or the database is SQLite (which takes one writer at a
    time, so processes would only wait for each other)."""
    processes = settings.OCPP_DATABASE_PROCESSES
    if processes and connections["default"].vendor == "postgresql":
        return DatabaseProcesses(processes)
    return DatabaseThreads(DATABASE_THREADS)
