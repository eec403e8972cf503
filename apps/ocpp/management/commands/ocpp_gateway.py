"""`manage.py ocpp_gateway --host 127.0.0.1 --port 9000`: serve chargers over OCPP 1.6J."""

import asyncio
import signal

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.ocpp.database import gateway_database
from apps.ocpp.gateway import Gateway, gateway_process_configure
from apps.ocpp.tls import TLS_HINT, gateway_ssl_context, gateway_tls_problem


async def gateway_serve_until_stopped(host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM, then close every connection and the database workers."""
    gateway = Gateway(gateway_database())
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
        gateway_process_configure()
        asyncio.run(gateway_serve_until_stopped(options["host"], options["port"]))
