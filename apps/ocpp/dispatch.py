"""The gateway's side of the calls Voltop sends chargers: it takes the queued calls of its
connected stations, sends each, and records the charger's answer or why there was none.

With REDIS_URL set it wakes as soon as a call is announced on the Redis channel, and looks at
the table every few seconds besides, for any announcement it missed; without Redis it looks
at the table twice a second."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import redis.asyncio
from django.conf import settings
from django.utils import timezone
from ocpp.charge_point import (
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)
from ocpp.exceptions import OCPPError
from ocpp.v16 import call as central_system_calls
from websockets.exceptions import ConnectionClosed

from apps.charging.charger_calls import (
    CALLS_CHANNEL,
    CallToSend,
    ChargerCallOutcome,
    charger_calls_take_queued,
)

if TYPE_CHECKING:
    from apps.ocpp.gateway import Gateway

logger = logging.getLogger(__name__)

LOOK_EVERY_SECONDS_WITH_REDIS = 5.0
LOOK_EVERY_SECONDS_WITHOUT_REDIS = 0.5
NOT_IMPLEMENTED_CODES = frozenset({"NotImplemented", "NotSupported"})


def ocpp_payload_of(action: str, payload: dict):
    """The `ocpp` package's payload object for a CALL of `action`, or a TypeError naming the
    fields it does not know or misses."""
    return getattr(central_system_calls, action)(**camel_to_snake_case(payload))


def ocpp_json_of(result) -> dict:
    """A CALLRESULT payload object as the charger wrote it (camelCase, without empty fields)."""
    return snake_to_camel_case(remove_nones(serialize_as_dict(result)))


class CallDispatcher:
    """Sends the gateway's queued calls until cancelled."""

    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self._news = asyncio.Event()
        self._deliveries: set[asyncio.Task] = set()

    async def run(self) -> None:
        listening = asyncio.create_task(self._listen()) if settings.REDIS_URL else None
        look_every = (
            LOOK_EVERY_SECONDS_WITH_REDIS if listening else LOOK_EVERY_SECONDS_WITHOUT_REDIS
        )
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._news.wait(), look_every)
                self._news.clear()
                await self._send_queued()
        finally:
            if listening is not None:
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening
            for delivery in list(self._deliveries):
                delivery.cancel()

    async def _listen(self) -> None:
        """Wake the dispatcher for every call announced on Redis; reconnect after an outage."""
        while True:
            client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
            try:
                async with client.pubsub() as subscription:
                    await subscription.subscribe(CALLS_CHANNEL)
                    self._news.set()
                    async for message in subscription.listen():
                        if message["type"] == "message":
                            self._news.set()
            except redis.RedisError as error:
                logger.warning("ocpp.calls_channel_lost", extra={"error": str(error)})
                await asyncio.sleep(1)
            finally:
                await client.aclose()

    async def _send_queued(self) -> None:
        try:
            calls = await self.gateway.database.run(
                charger_calls_take_queued,
                connected=set(self.gateway.connections),
                now=timezone.now(),
            )
        except Exception:
            logger.exception("ocpp.calls_not_taken")
            return
        for queued in calls:
            delivery = asyncio.create_task(self._deliver(queued))
            self._deliveries.add(delivery)
            delivery.add_done_callback(self._deliveries.discard)

    def wake(self) -> None:
        """Look at the queued calls now."""
        self._news.set()

    async def _deliver(self, queued: CallToSend) -> None:
        try:
            answer = await self._answer_of(queued)
        except CallFailed as failure:
            logger.warning(
                "ocpp.call_failed",
                extra={
                    "station": queued.ocpp_identity,
                    "action": queued.action,
                    "error": str(failure),
                },
            )
            outcome = ChargerCallOutcome(
                queued.call_id,
                timezone.now(),
                error=str(failure),
                not_implemented=failure.not_implemented,
            )
        else:
            outcome = ChargerCallOutcome(queued.call_id, timezone.now(), answer=answer)
        await self.gateway.call_outcomes.record(outcome)

    async def _answer_of(self, queued: CallToSend) -> dict:
        charger = self.gateway.connections.get(queued.ocpp_identity)
        if charger is None:
            raise CallFailed("The station disconnected before the call was sent.")
        try:
            payload = ocpp_payload_of(queued.action, queued.payload)
        except TypeError as error:
            raise CallFailed(f"The payload does not fit {queued.action}: {error}.") from error
        try:
            result = await charger.call(payload, suppress=False)
        except ConnectionClosed as error:
            raise CallFailed("The station disconnected before the call could be sent.") from error
        except OCPPError as error:
            raise CallFailed(
                f"{error.code}: {error.description} {error.details or ''}".strip(),
                not_implemented=error.code in NOT_IMPLEMENTED_CODES,
            ) from error
        except TimeoutError as error:
            raise CallFailed(
                f"The charger did not answer within {settings.OCPP_CALL_TIMEOUT_SECONDS:g} s."
            ) from error
        return ocpp_json_of(result)


class CallFailed(Exception):
    """Why a call got no CALLRESULT; `not_implemented` when the charger does not know it."""

    def __init__(self, reason: str, *, not_implemented: bool = False):
        super().__init__(reason)
        self.not_implemented = not_implemented
