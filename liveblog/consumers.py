"""The reader's WebSocket: thin, read-only transport of the column's events.

`/ws/live/<slug>/?after=<seq>`: first the events after `seq` the reader lacks,
then live ones, each frame exactly once and in seq order. The only message a
reader may send is "ping" (answered "pong"); anything else closes the socket.

This consumer never touches the database itself (the hub reads it), so it skips
what Channels' generic consumers do per message: since Channels 4.2 every
dispatched message first runs `close_old_connections` in a worker thread, and
`await_many_dispatch` creates a task per message. Here a reader costs one task
(reading the client) and an outbox that only fills while its socket cannot take
more; the hub starts each send directly (see `offer`).
"""

import asyncio
import collections
import contextlib
import types
from urllib.parse import parse_qs

from channels.consumer import AsyncConsumer

from liveblog import fanout
from liveblog.protocol import PING, PONG, Close

MAX_CLIENT_MESSAGE = 64  # bytes; "ping" is all a reader says (the server also caps frames, see `serve`)


class LiveConsumer(AsyncConsumer):
    channel_layer_alias = None  # the per-process hub holds the one channel-layer subscription

    async def __call__(self, scope, receive, send):
        self.scope = scope
        self.base_send = send
        self.feed = None
        self.sent = 0  # the last seq this reader has been sent
        self.outbox = None  # frames waiting while a send waits for the socket (a deque, made when needed)
        self.flushing = None  # the task finishing a send that had to wait, if any
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.connect":
                    await self.connect()
                elif kind == "websocket.receive":
                    await self.client_says(message.get("text"), message.get("bytes"))
                elif kind == "websocket.disconnect":
                    break
        finally:
            self.stop()

    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        after = parse_after(self.scope.get("query_string", b""))
        await self.base_send({"type": "websocket.accept"})
        try:
            feed = await fanout.hub.join(slug, self)
        except fanout.UnknownColumn:
            return await self.close(Close.UNKNOWN_COLUMN)
        self.feed = feed
        # Live frames that arrive while the backlog goes out wait in the outbox, behind it.
        self.flushing = asyncio.current_task()
        if after is None:
            after = feed.last_seq
        backlog = await fanout.hub.backlog(feed, after)
        if after > feed.last_seq:
            return await self.close(Close.AHEAD)
        if len(backlog) > fanout.BACKLOG_LIMIT:
            return await self.close(Close.BEHIND)
        self.sent = after
        self.outbox = collections.deque(backlog) + (self.outbox or collections.deque())
        await self.drain()

    def offer(self, item):
        """Called by the hub for every new frame, for every reader: never waits, never delays the next reader."""
        if self.flushing is not None:
            if self.outbox is None:
                self.outbox = collections.deque()
            if len(self.outbox) >= fanout.QUEUE_SIZE:
                # Too slow: let go of it now; the browser catches up over HTTP and reconnects.
                self.leave()
                self.closing = asyncio.ensure_future(self.close(Close.SLOW))
            else:
                self.outbox.append(item)
            return
        seq, message = item
        if seq <= self.sent:
            return
        # Start the ASGI send right here rather than in a task per reader: on a writable socket it completes
        # without ever suspending (a few microseconds), and only a socket that must drain costs a task.
        try:
            pending = start_eagerly(self.base_send(message))
        except Exception:  # noqa: BLE001  this reader is gone; the others must still get the frame
            self.stop()
            return
        self.sent = seq
        if pending is not None:
            self.flushing = asyncio.ensure_future(self.finish(pending))

    async def finish(self, pending):
        try:
            await pending
            await self.drain()
        except Exception:  # noqa: BLE001  the client went away mid-send; the disconnect follows
            self.stop()

    async def drain(self):
        send = self.base_send
        while self.outbox:
            seq, message = self.outbox.popleft()
            if seq > self.sent:  # the backlog may already have carried it
                await send(message)
                self.sent = seq
        self.flushing = None
        self.outbox = None  # an empty deque is 600 bytes; a reader that keeps up needs none

    async def client_says(self, text, data):
        if text == PING:
            await self.base_send({"type": "websocket.send", "text": PONG})
        elif len(text or data or b"") > MAX_CLIENT_MESSAGE:
            await self.close(Close.TOO_BIG)
        else:
            await self.close(Close.POLICY)

    async def close(self, code):
        self.stop()
        with contextlib.suppress(Exception):  # the socket may be gone already
            await self.base_send({"type": "websocket.close", "code": code})

    def leave(self):
        if self.feed is not None:
            fanout.hub.leave(self.feed, self)
            self.feed = None

    def stop(self):
        self.leave()
        flushing, self.flushing = self.flushing, None
        if flushing is not None and flushing is not asyncio.current_task():
            flushing.cancel()
        self.outbox = None


def start_eagerly(coroutine):
    """Run a coroutine up to its first suspension, now. Returns None if it finished, else an awaitable
    that finishes it (what Python 3.12's eager tasks do; this project runs on 3.11)."""
    try:
        waiting_for = coroutine.send(None)
    except StopIteration:
        return None
    except BaseException:
        coroutine.close()
        raise
    return resume(coroutine, waiting_for)


@types.coroutine
def resume(coroutine, waiting_for):
    while True:
        try:
            value = yield waiting_for
        except BaseException as thrown:  # noqa: BLE001  the future's exception or a cancellation: pass it in
            try:
                waiting_for = coroutine.throw(thrown)
            except StopIteration as done:
                return done.value
            continue
        try:
            waiting_for = coroutine.send(value)
        except StopIteration as done:
            return done.value


def parse_after(query_string):
    values = parse_qs(query_string.decode("latin-1")).get("after")
    if not values:
        return None
    try:
        return max(0, int(values[0]))
    except ValueError:
        return 0
