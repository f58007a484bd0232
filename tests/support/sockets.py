"""Talking to the stack's WebSockets from a test, beside Playwright."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor


def run(coroutine, timeout=60):
    # In a thread of its own: once Playwright's session has started, this thread has an event loop running.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, asyncio.wait_for(coroutine, timeout)).result()


async def read_events(socket, count, timeout=10):
    """The next `count` event frames, decoded."""
    events = []
    while len(events) < count:
        events.append(json.loads(await asyncio.wait_for(socket.recv(), timeout)))
    return events
