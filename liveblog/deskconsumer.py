"""The desk's WebSocket: editors only, thin transport, no database writes.

`/ws/desk/<column_id>/?after=<seq>` carries, as JSON text frames:
- the readers' events of the column exactly as readers get them (`{"seq", "kind", "post_id", ...}`),
  through this process's fan-out hub;
- the desk-only events (`{"desk": "post" | "saved" | "conflict", ...}`, liveblog.deskfeed);
- presence (`{"desk": "presence", "id", "name", "editing", "state"}`), between the consumers of the
  column's group: each announces its desk on joining, whenever the browser says what it is editing (which
  it does every PRESENCE_SECONDS, so the browser itself is the heartbeat: a closed laptop or a crashed
  tab stops announcing even if its socket lingers on the server), and says goodbye on leaving; browsers
  forget whoever has not announced for PRESENCE_EXPIRES seconds;
- readers (`{"desk": "readers", "readers", "processes", "handout_ms", "handout_seq"}`): every
  CENSUS_SECONDS the consumer asks every process's hub for its count (liveblog.fanout answers from memory).

The browser may only say which post it is editing: `{"editing": <post id> | null}`. Anything else closes
the socket with 1008; so does claiming to edit without the right to change posts.
"""

import asyncio
import contextlib
import json
import logging
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from liveblog import deskfeed, editing, fanout
from liveblog.broadcast import GROUP
from liveblog.consumers import parse_after
from liveblog.models import Column

logger = logging.getLogger(__name__)

PRESENCE_SECONDS = 2
PRESENCE_EXPIRES = 6  # browsers drop a desk not heard of for this long (a crashed process says no goodbye)
CENSUS_SECONDS = 2
CLOSE_POLICY = 1008


def who_is(user):
    return user.has_perm("liveblog.view_post"), editing.editor_name(user), editing.permissions(user)["change"]


class DeskConsumer(AsyncWebsocketConsumer):
    is_desk = True  # the hub leaves desks out of its reader count

    async def dispatch(self, message):
        # Channels runs close_old_connections in the one database thread before every message; a desk
        # touches the database only while connecting (through database_sync_to_async, which does it), and
        # must not wait for busy HTTP requests to see a colleague leave.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            return await self.close()  # before accepting: the handshake is refused (403)
        allowed, self.name, self.can_change = await database_sync_to_async(who_is)(user)
        column = await database_sync_to_async(
            Column.objects.filter(pk=self.scope["url_route"]["kwargs"]["column_id"]).values("pk", "slug").first
        )()
        if not allowed or column is None:
            return await self.close()
        self.column_id, self.slug = column["pk"], column["slug"]
        self.group = deskfeed.group(self.column_id)
        self.editing = None
        self.census = {}  # process -> (reply, when)
        self.outbox = asyncio.Queue()
        self.feed = None
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.tasks = [asyncio.ensure_future(self.forward()), asyncio.ensure_future(self.heartbeat())]
        self.feed = await fanout.hub.join(self.slug, self)
        after = parse_after(self.scope.get("query_string", b""))
        for item in await fanout.hub.backlog(self.feed, self.feed.last_seq if after is None else after):
            self.offer(item)
        await self.announce("here")
        await self.channel_layer.group_send(self.group, {"type": "desk.hello", "from": self.channel_name})

    async def disconnect(self, code):
        if getattr(self, "feed", None) is not None:
            fanout.hub.leave(self.feed, self)
            self.feed = None
        for task in getattr(self, "tasks", []):
            task.cancel()
        if hasattr(self, "group"):
            with contextlib.suppress(Exception):
                await self.announce("gone")
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # From the hub: the readers' events, handed over without waiting (the hub serves every reader in turn).

    def offer(self, item):
        self.outbox.put_nowait(item[1]["text"])

    async def forward(self):
        while True:
            await self.send(text_data=await self.outbox.get())

    # From the browser

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "")
            editing = message["editing"]
            if set(message) != {"editing"} or not (editing is None or isinstance(editing, int)):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return await self.close(CLOSE_POLICY)
        if editing is not None and not self.can_change:
            return await self.close(CLOSE_POLICY)  # only editors who may change posts edit them
        self.editing = editing
        await self.announce("here")

    # From the column's group

    async def announce(self, state):
        presence = {"desk": "presence", "id": self.channel_name, "name": self.name, "editing": self.editing}
        await self.channel_layer.group_send(
            self.group, {"type": "desk.presence", "presence": {**presence, "state": state}}
        )

    async def desk_presence(self, message):
        await self.send_json(message["presence"])

    async def desk_hello(self, message):
        if message["from"] != self.channel_name:
            await self.announce("here")

    async def desk_event(self, message):
        event = dict(message["event"])  # the in-memory layer hands every member the same dict
        await self.send_json({"desk": event.pop("kind"), **event})

    async def desk_readers(self, message):
        self.census[message["process"]] = (message, time.monotonic())

    async def heartbeat(self):
        while True:
            await asyncio.sleep(CENSUS_SECONDS)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away for a moment: the next beat tries again
                logger.warning("Desk heartbeat failed", exc_info=True)

    async def beat(self):
        census = {"type": "desk.census", "column_id": self.column_id, "reply_to": self.channel_name}
        await self.channel_layer.group_send(GROUP, census)
        self.report_readers()

    def report_readers(self):
        fresh = [reply for reply, when in self.census.values() if time.monotonic() - when < 3 * CENSUS_SECONDS]
        if not fresh:
            return
        last = max(fresh, key=lambda reply: reply["handout_seq"] or 0)
        self.outbox.put_nowait(
            json.dumps(
                {
                    "desk": "readers",
                    "readers": sum(reply["readers"] for reply in fresh),
                    "processes": len(fresh),
                    "handout_seq": last["handout_seq"],
                    "handout_ms": max(
                        (
                            r["handout_ms"]
                            for r in fresh
                            if r["handout_seq"] == last["handout_seq"] and r["handout_ms"] is not None
                        ),
                        default=None,
                    ),
                }
            )
        )

    async def send_json(self, content):
        self.outbox.put_nowait(json.dumps(content))  # one sender task keeps the frames in order
