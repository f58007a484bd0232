"""Per-process fan-out: one channel-layer message per process per event, then memory.

Each server process runs one Hub. The hub owns ONE channel on the channel layer,
a member of the group liveblog.broadcast.GROUP, so an event costs one message per
process however many readers it has (one channel per reader would cost one
Redis push per reader and a Redis connection per `group_add` during a burst of
connects). The hub keeps, per column with readers here, the last seq it handed
out and a short memory of recent frames, and gives each reader the
pre-serialised frame through a small bounded queue: a reader that cannot keep up
overflows its queue, is closed with Close.SLOW and catches up on its own; the
others never wait for it.

The channel layer delivers at most once. The hub therefore never trusts it for
completeness: a frame whose seq skips ahead makes the hub read the missing
events from the database first, and every LIVE_RECONCILE_SECONDS it asks the
database for the columns' last seq, which also covers a Redis outage and events
written by another process on the single-process demo's in-memory layer
(the scheduler of `make run`).
"""

import asyncio
import collections
import contextlib
import logging
import os
import socket
import time

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db.models import Q

from liveblog.broadcast import GROUP, frame
from liveblog.models import Column, Event

logger = logging.getLogger(__name__)

QUEUE_SIZE = 64  # frames a reader may lag behind before it is dropped
RECENT = 256  # frames kept per column, so joining readers catch up from memory
BACKLOG_LIMIT = 1000  # more than this behind: the reader catches up over HTTP instead
STOP_SECONDS = 2  # at shutdown, wait this long at most for the subscription to end


def as_item(seq, text):
    # One ASGI message per event and process, shared by every reader's send (servers only read it).
    return seq, {"type": "websocket.send", "text": text}


class UnknownColumn(Exception):
    pass


class Feed:
    """One column's live stream in this process."""

    def __init__(self, column_id, slug, recent):
        self.column_id = column_id
        self.slug = slug
        self.readers = set()
        self.recent = collections.deque((as_item(seq, text) for seq, text in recent), maxlen=RECENT)
        self.last_seq = recent[-1][0] if recent else 0
        self.last_handout = (None, None)  # (seq, seconds) of the last hand-out, for the desk (liveblog.desk)

    def since(self, after):
        """Frames after `after` from memory, or None when memory does not reach back that far."""
        if after >= self.last_seq:
            return []
        if not self.recent or self.recent[0][0] > after + 1:
            return None
        # From the newest back: a reconnecting reader is usually a few frames behind, and during a reconnect
        # storm thousands of them ask at once, so scanning all RECENT frames each time was measurable.
        items = []
        for item in reversed(self.recent):
            if item[0] <= after:
                break
            items.append(item)
        items.reverse()
        return items

    def hand_out(self, seq, text):
        """Give the next frame to every reader here. Synchronous: no reader can delay another."""
        if seq != self.last_seq + 1:
            return  # already handed out, or a gap that catch_up() fills from the database
        item = as_item(seq, text)
        self.recent.append(item)
        self.last_seq = seq
        started = time.perf_counter()  # once per event, never per reader
        for reader in tuple(self.readers):
            reader.offer(item)
        self.last_handout = (seq, time.perf_counter() - started)


class Hub:
    def __init__(self):
        self.feeds = {}  # column_id -> Feed
        self.by_slug = {}  # slug -> Feed
        self.loading = {}  # slug -> Future[Feed]
        self.tasks = []
        self.channel = None
        self.layer = None

    # Readers

    async def join(self, slug, reader):
        feed = self.by_slug.get(slug)
        if feed is None:
            feed = await self.load(slug)
        feed.readers.add(reader)
        return feed

    def leave(self, feed, reader):
        feed.readers.discard(reader)
        if not feed.readers and self.feeds.get(feed.column_id) is feed:
            del self.feeds[feed.column_id]
            self.by_slug.pop(feed.slug, None)

    async def load(self, slug):
        future = self.loading.get(slug)
        if future is None:
            # One database read however many readers of this column connect at once.
            future = self.loading[slug] = asyncio.ensure_future(load_feed(slug))
            future.add_done_callback(lambda _: self.loading.pop(slug, None))
        feed = await asyncio.shield(future)
        if feed is None:
            raise UnknownColumn(slug)
        existing = self.feeds.get(feed.column_id)
        if existing is not None:
            return existing
        self.feeds[feed.column_id] = feed
        self.by_slug[slug] = feed
        return feed

    async def backlog(self, feed, after):
        """The frames after `after` for a joining reader, in seq order."""
        if after > feed.last_seq:
            await self.catch_up([feed])
        items = feed.since(after)
        if items is None:
            rows = await database_sync_to_async(events_after)({feed.column_id: after}, BACKLOG_LIMIT + 1)
            items = [as_item(seq, text) for _, seq, text in rows]
        return items

    # The one subscription of this process

    def start(self):
        """Subscribe and start reconciling, on the server's event loop (liveblog/runtime.py calls it)."""
        if self.tasks:
            return
        loop = asyncio.get_running_loop()
        self.tasks = [
            loop.create_task(self.listen()),
            loop.create_task(self.reconcile()),
            loop.create_task(self.stay_in_group()),
        ]

    async def stop(self):
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: channels-redis may finish a cancelled receive only when its blocking read returns.
            await asyncio.wait(tasks, timeout=STOP_SECONDS)
        channel, self.channel = self.channel, None
        if channel is not None:
            with contextlib.suppress(Exception):  # a Redis that is away forgets the group by itself
                await asyncio.wait_for(self.layer.group_discard(GROUP, channel), STOP_SECONDS)

    async def listen(self):
        self.layer = get_channel_layer()
        delay = 0.1
        while True:
            try:
                if self.channel is None:
                    # The default prefix: channels-redis serves every process-specific channel of one prefix
                    # from one blocking read, under one lock per process; a hub channel of its own prefix
                    # would hold that lock for seconds while the desks' channels (liveblog.deskconsumer)
                    # wait behind it.
                    self.channel = await self.layer.new_channel()
                await self.layer.group_add(GROUP, self.channel)
                # Whatever was sent before this process listened (or while Redis was away) is in the database.
                await self.catch_up(list(self.feeds.values()))
                delay = 0.1
                while True:
                    message = await self.layer.receive(self.channel)
                    await self.on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Channel layer unavailable; retrying in %.1fs", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def on_message(self, message):
        if message.get("type") == "desk.census":
            return await self.census(message)
        feed = self.feeds.get(message.get("column_id"))
        if feed is None:
            return
        seq = message["seq"]
        if seq > feed.last_seq + 1:
            await self.catch_up([feed])  # the layer lost something: read the gap
        feed.hand_out(seq, message["frame"])

    async def census(self, message):
        """Answer a desk asking how many readers this process serves for a column (liveblog.deskconsumer)."""
        feed = self.feeds.get(message["column_id"])
        readers, (seq, seconds) = 0, (None, None)
        if feed is not None:
            # Off the publish path: counted when a desk asks, every few seconds.
            readers = sum(1 for reader in feed.readers if not getattr(reader, "is_desk", False))
            seq, seconds = feed.last_handout
        reply = {
            "type": "desk.readers",
            "process": f"{socket.gethostname()}:{os.getpid()}",
            "readers": readers,
            "handout_seq": seq,
            "handout_ms": None if seconds is None else round(seconds * 1000, 3),
        }
        with contextlib.suppress(Exception):  # that desk is gone; the next census asks again
            await self.layer.send(message["reply_to"], reply)

    async def stay_in_group(self):
        """Re-join the group well within its expiry: membership lapses LIVE_GROUP_EXPIRY seconds after the
        last join, which is how a dead process's channel leaves it (and a restarted Redis forgets it)."""
        while True:
            await asyncio.sleep(settings.LIVE_GROUP_EXPIRY / 3)
            try:
                if self.channel is not None:
                    await self.layer.group_add(GROUP, self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Could not re-join the live group", exc_info=True)

    async def reconcile(self):
        while True:
            await asyncio.sleep(settings.LIVE_RECONCILE_SECONDS)
            try:
                feeds = [feed for feed in self.feeds.values() if feed.readers]
                if feeds:
                    await self.catch_up(feeds)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Live catch-up round failed", exc_info=True)

    async def catch_up(self, feeds):
        """Hand out, in order, every committed event the feeds have not handed out yet (one query)."""
        if not feeds:
            return
        positions = {feed.column_id: feed.last_seq for feed in feeds}
        rows = await database_sync_to_async(events_after)(positions)
        for column_id, seq, text in rows:
            feed = self.feeds.get(column_id)
            if feed is not None:
                feed.hand_out(seq, text)


# Database reads (run in a worker thread)


def read_feed(slug):
    column_id = Column.objects.filter(slug=slug).values_list("pk", flat=True).first()
    if column_id is None:
        return None
    recent = Event.objects.filter(column_id=column_id).order_by("-seq")[:RECENT]
    return Feed(column_id, slug, [(event.seq, frame(event.as_dict())) for event in reversed(recent)])


load_feed = database_sync_to_async(read_feed)


def events_after(positions, limit=5000):
    """[(column_id, seq, frame)] of the events after each column's seq in `positions`, in order."""
    condition = Q()
    for column_id, seq in positions.items():
        condition |= Q(column_id=column_id, seq__gt=seq)
    events = Event.objects.filter(condition).order_by("column_id", "seq")[:limit]
    return [(event.column_id, event.seq, frame(event.as_dict())) for event in events]


hub = Hub()
