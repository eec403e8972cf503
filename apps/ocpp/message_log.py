"""Every OCPP frame the gateway sees, kept for the station's admin page: gathered in memory and
written in one INSERT every half second, so a busy gateway spends one statement, not one per
frame."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from django.utils import timezone

from apps.charging.chargers import FrameSeen, charger_messages_record

if TYPE_CHECKING:
    from apps.ocpp.database import DatabaseThreads

logger = logging.getLogger(__name__)

WRITE_EVERY_SECONDS = 0.5


class MessageLog:
    """The frames seen since the last write."""

    def __init__(self, database: DatabaseThreads):
        self._database = database
        self._frames: list[FrameSeen] = []

    def add(self, station_id: int, *, sent_by_charger: bool, frame: str) -> None:
        self._frames.append(FrameSeen(station_id, timezone.now(), sent_by_charger, frame))

    async def run(self) -> None:
        """Write the frames every WRITE_EVERY_SECONDS until cancelled, then the last ones."""
        try:
            while True:
                await asyncio.sleep(WRITE_EVERY_SECONDS)
                await self.write()
        finally:
            with contextlib.suppress(Exception):
                await self.write()

    async def write(self) -> None:
        frames, self._frames = self._frames, []
        if not frames:
            return
        try:
            await self._database.run(charger_messages_record, frames=frames)
        except Exception:
            logger.exception("ocpp.messages_not_kept", extra={"frames": len(frames)})
