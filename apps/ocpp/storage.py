"""The gateway's storage path for MeterValues, its busiest message: readings of every charger
gathered for a few milliseconds and recorded by one service call per batch, so that a thousand
stored messages a second cost a few statements each tick rather than several each. A charger is
answered once its readings are committed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from apps.charging.chargers import ChargerReadings, charging_sessions_charger_meter_values
from voltop.core.errors import DomainError

if TYPE_CHECKING:
    from apps.ocpp.database import DatabaseThreads

logger = logging.getLogger(__name__)

GATHER_SECONDS = 0.02
BATCH_MAX = 500
BATCHES_AT_ONCE = 2


class MeterValuesBatcher:
    """Gathers chargers' readings and records them a batch at a time."""

    def __init__(self, database: DatabaseThreads):
        self._database = database
        self._waiting: list[tuple[ChargerReadings, asyncio.Future]] = []
        self._news = asyncio.Event()
        self._writers = asyncio.Semaphore(BATCHES_AT_ONCE)
        self._batches: set[asyncio.Task] = set()

    async def record(self, item: ChargerReadings) -> DomainError | None:
        """Record `item` with the next batch; the error that refused it, or None."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= BATCH_MAX:
            self._news.set()
        return await future

    async def run(self) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._news.wait(), GATHER_SECONDS)
                self._news.clear()
                while self._waiting:
                    batch, self._waiting = self._waiting[:BATCH_MAX], self._waiting[BATCH_MAX:]
                    await self._writers.acquire()
                    task = asyncio.create_task(self._write(batch))
                    self._batches.add(task)
                    task.add_done_callback(self._batches.discard)
        finally:
            for task in list(self._batches):
                task.cancel()

    async def _write(self, batch: list[tuple[ChargerReadings, asyncio.Future]]) -> None:
        try:
            outcomes = await self._database.run(
                charging_sessions_charger_meter_values, batch=[item for item, _ in batch]
            )
        except Exception as error:
            logger.exception("ocpp.meter_values_not_recorded", extra={"messages": len(batch)})
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        finally:
            self._writers.release()
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
