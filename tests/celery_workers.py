"""Real processes for the tests that prove behaviour across processes: Celery workers consuming a
queue of the test's own on the test database, and Django processes released together by a
barrier, each with a connection of its own."""

import importlib
import json
import multiprocessing
import os
import queue as queue_module
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from voltop.celery import app

WORKER_READY_SECONDS = 60
WORKER_STOP_SECONDS = 10

# `celery worker` on one queue, which is also where the tasks it sends go (a billing lane
# re-queues itself): a worker started with `--queues` alone would send them to "celery".
WORKER_MAIN = """
import sys
from voltop.celery import app

queue, hostname = sys.argv[1:]
app.conf.task_default_queue = queue
app.worker_main([
    "worker", "--pool=solo", "--queues", queue, "--hostname", hostname, "--without-gossip",
    "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
])
"""


def current_database_url() -> str:
    """The URL of the database the test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class CeleryWorker:
    """One `celery worker` process (solo pool: one task at a time) and its log file."""

    def __init__(self, *, hostname: str, process: subprocess.Popen, log_path: Path):
        self.hostname = hostname
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the worker dies at once, acknowledging nothing and cleaning nothing up."""
        if self.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=WORKER_STOP_SECONDS)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class CeleryWorkers:
    """The worker processes of one test, all consuming the test's queue. Tasks the test process
    sends go to that queue; extra environment (e.g. BILLING_UNIT_DRIVERS=1) is per worker."""

    def __init__(self, *, queue: str, log_dir: Path):
        self.queue = queue
        self.log_dir = log_dir
        self.started: list[CeleryWorker] = []

    def start(self, **environment: str) -> CeleryWorker:
        """Start one worker and return once it answers a ping."""
        [worker] = self.start_several(1, **environment)
        return worker

    def start_several(self, count: int, **environment: str) -> list[CeleryWorker]:
        """Start `count` workers at once and return once every one answers a ping."""
        workers = [self._spawn(environment) for _ in range(count)]
        deadline = time.monotonic() + WORKER_READY_SECONDS
        waiting = {worker.hostname: worker for worker in workers}
        while waiting:
            for worker in waiting.values():
                assert worker.is_alive(), (
                    f"worker {worker.hostname} exited with {worker.process.returncode} "
                    f"before answering:\n{worker.log_tail()}"
                )
            assert time.monotonic() < deadline, (
                f"workers {sorted(waiting)} did not answer a ping within {WORKER_READY_SECONDS} s"
            )
            for reply in app.control.ping(destination=list(waiting), timeout=1):
                for hostname in reply:
                    waiting.pop(hostname, None)
        return workers

    def _spawn(self, environment: dict[str, str]) -> CeleryWorker:
        hostname = f"{self.queue}-{len(self.started) + 1}@test"
        log_path = self.log_dir / f"{hostname}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed arguments
                [sys.executable, "-c", WORKER_MAIN, self.queue, hostname],
                cwd=settings.BASE_DIR,
                env={
                    **os.environ,
                    "DATABASE_URL": current_database_url(),
                    "REDIS_URL": settings.REDIS_URL,
                    **environment,
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = CeleryWorker(hostname=hostname, process=process, log_path=log_path)
        self.started.append(worker)
        return worker

    def kill_all(self) -> None:
        for worker in self.started:
            worker.kill()

    def logs(self) -> str:
        """Every worker's last log lines, for a failure message."""
        return "\n".join(f"--- {w.hostname}:\n{w.log_tail()}" for w in self.started)


@pytest.fixture(name="celery_workers")
def celery_workers_fixture(transactional_db, tmp_path):
    """`celery_workers`: start real Celery worker processes on Redis against the test database,
    on a queue of the test's own. At teardown, before the database is emptied, every worker is
    killed (SIGKILL) and the queue's messages left in Redis are deleted.

    A test module imports this function to have the fixture."""
    workers = CeleryWorkers(queue=f"test-{uuid.uuid4().hex[:8]}", log_dir=tmp_path)
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = workers.queue
    try:
        yield workers
    finally:
        app.conf.task_default_queue = previous_queue
        workers.kill_all()
        broker_queue_forget(workers.queue)


def broker_queue_forget(queue: str) -> None:
    """Delete a queue's messages from Redis, those waiting and those a killed worker took
    without acknowledging (kombu keeps these in the `unacked` hash to deliver them again)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.delete(queue, *client.keys(f"_kombu.binding*.{queue}"))
        for tag, payload in client.hgetall("unacked").items():
            _message, _exchange, routing_key = json.loads(payload)
            if routing_key == queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


# Django processes released together ------------------------------------------------------------


def _django_process_main(
    target: str,
    kwargs: dict,
    environment: dict[str, str],
    celery_queue: str | None,
    barrier,
    results,
    index: int,
) -> None:
    """A fresh interpreter: configure Django on the given database, connect, wait for the others
    at the barrier, then call `target` and send back what it returned or the traceback."""
    try:
        os.environ.update(environment)
        import django

        django.setup()
        from django.db import connection as own_connection

        if celery_queue:
            app.conf.task_default_queue = celery_queue
        module_name, _, function_name = target.partition(":")
        function = getattr(importlib.import_module(module_name), function_name)
        own_connection.ensure_connection()
        barrier.wait(timeout=WORKER_READY_SECONDS)
        results.put((index, True, function(**kwargs)))
    except BaseException:  # every failure goes back to the test as text
        barrier.abort()  # the others stop waiting for this one
        results.put((index, False, traceback.format_exc()))


def django_processes_run(
    calls: list[tuple[Callable, dict[str, Any]]],
    *,
    celery_queue: str | None = None,
    timeout: float = 60,
) -> list[Any]:
    """Call each `function(**kwargs)` in a process of its own (spawned, with its own database
    connection to the test database and its own broker connection), released together by a
    barrier once all are ready. Returns what each returned, in order; fails the test with the
    traceback of any that raised, and kills any still running after `timeout` seconds.

    The functions must be module-level; they are imported in the child after Django is set up.
    With `celery_queue`, tasks they enqueue go to that queue (a test's worker queue).
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(calls))
    results = context.Queue()
    environment = {"DATABASE_URL": current_database_url(), "REDIS_URL": settings.REDIS_URL}
    processes = [
        context.Process(
            target=_django_process_main,
            args=(
                f"{function.__module__}:{function.__qualname__}",
                kwargs,
                environment,
                celery_queue,
                barrier,
                results,
                index,
            ),
            daemon=True,
        )
        for index, (function, kwargs) in enumerate(calls)
    ]
    for process in processes:
        process.start()
    outcomes: dict[int, tuple[bool, Any]] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(outcomes) < len(calls):
            remaining = deadline - time.monotonic()
            try:
                index, ok, value = results.get(timeout=max(remaining, 0.01))
            except queue_module.Empty:
                pytest.fail(
                    f"{len(calls) - len(outcomes)} of {len(calls)} processes had not finished "
                    f"after {timeout:.0f} s"
                )
            outcomes[index] = (ok, value)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    failures = [value for ok, value in outcomes.values() if not ok]
    assert not failures, "a process raised:\n" + "\n".join(failures)
    return [outcomes[index][1] for index in range(len(calls))]
