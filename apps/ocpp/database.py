"""The gateway's database work, off its event loop: a pool of threads, each with its own
connection, so chargers' writes run side by side rather than one at a time on asgiref's single
shared thread."""

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from django.db import close_old_connections, connections

Result = TypeVar("Result")


def _call_with_fresh_connection(function: Callable[..., Result], kwargs: dict) -> Result:
    close_old_connections()
    return function(**kwargs)


def _close_connections(everyone_here: threading.Barrier) -> None:
    connections.close_all()
    everyone_here.wait()


class DatabaseThreads:
    """Runs services for the event loop on `size` threads."""

    def __init__(self, size: int):
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="ocpp-database")

    async def run(self, function: Callable[..., Result], /, **kwargs) -> Result:
        """`function(**kwargs)` on one of the threads; the event loop goes on meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, partial(_call_with_fresh_connection, function, kwargs)
        )

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
