"""The reader's WebSocket: thin, read-only transport of the column's events.

`/ws/live/<slug>/?after=<seq>`: first the events after `seq` the reader lacks,
then live ones, each frame exactly once and in seq order. The only message a
reader may send is "ping" (answered "pong"); anything else closes the socket.

This consumer never touches the database itself (the hub reads it), so it skips
what Channels' generic consumers do per message: since Channels 4.2 every
dispatched message first runs `close_old_connections` in a worker thread, and
`await_many_dispatch` creates a task per message. Here a reader costs two tasks
(this one, reading the client, and its writer) and a bounded queue.
"""

import asyncio
import contextlib
from urllib.parse import parse_qs

from channels.consumer import AsyncConsumer

from liveblog import fanout

MAX_CLIENT_MESSAGE = 64  # bytes; "ping" is all a reader says (the server also caps frames, see `serve`)
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009


class LiveConsumer(AsyncConsumer):
    channel_layer_alias = None  # the per-process hub holds the one channel-layer subscription

    async def __call__(self, scope, receive, send):
        self.scope = scope
        self.base_send = send
        self.feed = None
        self.writer = None
        self.sent = 0
        self.queue = asyncio.Queue(maxsize=fanout.QUEUE_SIZE)
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
            self.feed = await fanout.hub.join(slug, self)
        except fanout.UnknownColumn:
            return await self.close(fanout.CLOSE_UNKNOWN_COLUMN)
        if after is None:
            after = self.feed.last_seq
        backlog = await fanout.hub.backlog(self.feed, after)
        if after > self.feed.last_seq:
            return await self.close(fanout.CLOSE_AHEAD)
        if len(backlog) > fanout.BACKLOG_LIMIT:
            return await self.close(fanout.CLOSE_BEHIND)
        self.sent = after
        self.writer = asyncio.ensure_future(self.write(backlog))

    async def write(self, backlog):
        send = self.base_send
        for seq, text in backlog:
            if seq > self.sent:
                await send({"type": "websocket.send", "text": text})
                self.sent = seq
        queue = self.queue
        while True:
            seq, text = await queue.get()
            if seq > self.sent:  # the backlog may already have carried it
                await send({"type": "websocket.send", "text": text})
                self.sent = seq

    def offer(self, item):
        """Called by the hub for every new frame; never waits."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # Too slow: let go of it now, the browser catches up over HTTP and reconnects.
            self.leave()
            self.closing = asyncio.ensure_future(self.close(fanout.CLOSE_SLOW))

    async def client_says(self, text, data):
        if text == "ping":
            await self.base_send({"type": "websocket.send", "text": "pong"})
        elif len(text or data or b"") > MAX_CLIENT_MESSAGE:
            await self.close(CLOSE_TOO_BIG)
        else:
            await self.close(CLOSE_POLICY)

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
        if self.writer is not None and self.writer is not asyncio.current_task():
            self.writer.cancel()
        self.writer = None


def parse_after(query_string):
    values = parse_qs(query_string.decode("latin-1")).get("after")
    if not values:
        return None
    try:
        return max(0, int(values[0]))
    except ValueError:
        return 0
