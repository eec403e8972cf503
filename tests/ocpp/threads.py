"""Database work of a test while its charge point holds the event loop."""

import asyncio

from django.db import connections


async def off_the_loop(function, /, *args, **kwargs):
    """`function(*args, **kwargs)` on a thread, whose database connection is closed after, so
    none is left open when the test database is dropped."""

    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return await asyncio.to_thread(call)
