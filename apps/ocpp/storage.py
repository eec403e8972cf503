"""The gateway's storage path: what every charger sends (its credentials as it connects, its
connecting and leaving, its boot, status reports, starts, meter values and stops) and the
answers to the calls sent to it are gathered for a few milliseconds and recorded by one
service call per batch, so that a thousand stored messages a second, or thousands of
chargers connecting at once, cost a few statements each tick rather than several each. A
charger is answered once what it sent is committed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from voltop.core.errors import DomainError

if TYPE_CHECKING:
    from apps.ocpp.database import DatabaseThreads

logger = logging.getLogger(__name__)

GATHER_SECONDS = 0.02
BATCH_MAX = 500
BATCHES_AT_ONCE = 2

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class Batcher(Generic[Item, Outcome]):
    """Gathers items and records them a batch at a time with `service(batch=[...])`, which
    returns an outcome per item: what was recorded, or the DomainError that refused it."""

    def __init__(
        self,
        database: DatabaseThreads,
        service: Callable[..., Sequence[Outcome | DomainError]],
        *,
        batch_max: int = BATCH_MAX,
    ):
        self._database = database
        self._service = service
        self._batch_max = batch_max
        self._waiting: list[tuple[Item, asyncio.Future]] = []
        self._news = asyncio.Event()
        self._writers = asyncio.Semaphore(BATCHES_AT_ONCE)
        self._batches: set[asyncio.Task] = set()

    async def record(self, item: Item) -> Outcome | DomainError:
        """Record `item` with the next batch: its outcome."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= self._batch_max:
            self._news.set()
        return await future

    async def run(self) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._news.wait(), GATHER_SECONDS)
                self._news.clear()
                while self._waiting:
                    batch = self._waiting[: self._batch_max]
                    self._waiting = self._waiting[self._batch_max :]
                    await self._writers.acquire()
                    task = asyncio.create_task(self._write(batch))
                    self._batches.add(task)
                    task.add_done_callback(self._batches.discard)
        finally:
            for task in list(self._batches):
                task.cancel()

    async def _write(self, batch: list[tuple[Item, asyncio.Future]]) -> None:
        try:
            outcomes = await self._database.run(self._service, batch=[item for item, _ in batch])
        except Exception as error:
            logger.exception(
                "ocpp.batch_not_recorded",
                extra={"service": self._service.__name__, "messages": len(batch)},
            )
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        finally:
            self._writers.release()
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
