"""The process's background machinery, started and stopped in one place.

Three things run beside a process's own work:
- the publisher's event-loop thread (`broadcast.publisher`), which sends events to the channel
  layer over reused connections;
- the link-card fetch pool (`linkcards.start_pool`), which fetches pasted URLs' pages after commit;
- in a server process, the fan-out hub (`fanout.hub`): the process's one channel-layer
  subscription and its reconcile loop, on the server's event loop.

`liveblog/asgi.py` wraps the application in `Lifespan`, so the server starts them at start-up
and stops them at shutdown (ASGI lifespan; `serve` runs uvicorn with it on). Daphne's
`runserver` (the demo) has no lifespan: there they start with the first request or socket. The
management commands that save content wrap their work in `running()`. A process that starts
nothing (a shell) still tells readers: each event is sent on a loop of its own, and new link
cards wait for the scheduler's fetch of pending cards.
"""

import asyncio
import contextlib
import logging

from liveblog import broadcast, fanout, linkcards

logger = logging.getLogger(__name__)


def start():
    broadcast.publisher.start()
    linkcards.start_pool()


def is_running():
    return broadcast.publisher.loop is not None


def stop():
    linkcards.stop_pool()  # lets fetches under way finish: they save cards, which publishes
    broadcast.publisher.stop()


@contextlib.contextmanager
def running():
    """For management commands: the publisher and the fetch pool for as long as the command runs
    (a command called from a process that runs them already leaves them running)."""
    if is_running():
        yield
        return
    start()
    try:
        yield
    finally:
        stop()


async def start_server():
    start()
    fanout.hub.start()


async def stop_server():
    await fanout.hub.stop()
    await asyncio.to_thread(stop)


class Lifespan:
    """ASGI middleware: the server's start-up and shutdown start and stop the machinery."""

    def __init__(self, application):
        self.application = application
        self.started = None  # the start-up, once begun

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if self.started is None:  # a server without lifespan (daphne's runserver)
            self.started = asyncio.ensure_future(start_server())
        await asyncio.shield(self.started)
        return await self.application(scope, receive, send)

    async def lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.started = asyncio.ensure_future(start_server())
                    await self.started
                except Exception as error:
                    logger.exception("Background machinery failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await stop_server()
                await send({"type": "lifespan.shutdown.complete"})
                return
