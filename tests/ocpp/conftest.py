"""The OCPP gateway on loopback, in a thread of its own with its event loop, writing to the
test database through its database threads."""

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from apps.ocpp.database import DatabaseProcesses, DatabaseThreads
from apps.ocpp.gateway import Gateway


@dataclass
class RunningGateway:
    gateway: Gateway
    port: int
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine, timeout: float = 30):
        """Run `coroutine` on the gateway's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@pytest.fixture
def gateway(request, transactional_db, settings):
    """The gateway, finding queued calls by looking at the table, or (tests marked redis) told
    of them on the Redis channel. It keeps chargers' tags up to date only where a test sets
    OCPP_TAG_SYNC_SECONDS, so that other tests see only the calls they make."""
    settings.OCPP_CALL_TIMEOUT_SECONDS = 5
    settings.OCPP_TAG_SYNC_SECONDS = 0
    if not request.node.get_closest_marker("redis"):
        settings.REDIS_URL = ""
    with gateway_running() as running:
        yield running


@contextlib.contextmanager
def gateway_running(
    ssl_context: ssl.SSLContext | None = None,
    database: DatabaseThreads | DatabaseProcesses | None = None,
) -> Iterator[RunningGateway]:
    """The gateway on a free loopback port, in a thread with its own event loop, running its
    services on `database` (two threads unless a test says otherwise)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="ocpp-gateway", daemon=True)
    thread.start()
    gateway = Gateway(database or DatabaseThreads(2))
    server = asyncio.run_coroutine_threadsafe(
        gateway.serve("127.0.0.1", 0, ssl_context=ssl_context), loop
    ).result(10)
    running = RunningGateway(gateway, server.sockets[0].getsockname()[1], loop)
    try:
        yield running
    finally:

        async def stop():
            server.close()
            await server.wait_closed()
            await gateway.close()

        running.run(stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
