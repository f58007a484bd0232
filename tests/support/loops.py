"""Running a coroutine from a test."""

import asyncio
from concurrent.futures import ThreadPoolExecutor


def run_coroutine(coroutine, timeout=60):
    """Run it to the end in a thread and event loop of its own: once Playwright's session has started (any
    browser test earlier in the run), the test's own thread has an event loop running, and asyncio.run refuses."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, asyncio.wait_for(coroutine, timeout)).result()
