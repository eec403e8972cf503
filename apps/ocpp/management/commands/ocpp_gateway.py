"""`manage.py ocpp_gateway --host 127.0.0.1 --port 9000`: serve chargers over OCPP 1.6J."""

import asyncio
import signal
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.ocpp.gateway import Gateway
from apps.ocpp.tls import TLS_HINT, gateway_ssl_context, gateway_tls_problem

# How long a thread may hold the GIL while another waits for it. Python's 5 ms lets the
# database threads keep the event loop waiting 5 ms after each socket read or write under
# load; at 1 ms the median reply under load fell from 660 ms to 200 ms (bench/ocpp.py, 1,000
# chargers).
SWITCH_INTERVAL_SECONDS = 0.001


async def gateway_serve_until_stopped(host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM, then close every connection and the database threads."""
    gateway = Gateway()
    server = await gateway.serve(host, port, ssl_context=gateway_ssl_context())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop_signal, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    await gateway.close()


class Command(BaseCommand):
    help = (
        "Serve chargers over OCPP 1.6J at ws://HOST:PORT/ocpp/<charge point identity> "
        "(wss:// with OCPP_TLS_CERTFILE and OCPP_TLS_KEYFILE)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=9000, help="Port to listen on.")

    def handle(self, *args, **options) -> None:
        problem = gateway_tls_problem()
        if problem:
            raise CommandError(f"{problem} {TLS_HINT}")
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        asyncio.run(gateway_serve_until_stopped(options["host"], options["port"]))
