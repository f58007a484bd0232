"""The desk's WebSocket: editors only, thin transport, no database writes.

`/ws/desk/<column_id>/?after=<seq>` carries, as JSON text frames:
- the readers' events of the column exactly as readers get them (`{"seq", "kind", "post_id", ...}`),
  through this process's fan-out hub;
- the desk-only events (`{"desk": "post" | "saved" | "deleted" | "conflict", ...}`, liveblog.deskfeed);
- presence (`{"desk": "presence", "id", "name", "editing", "state"}`), between the consumers of the
  column's group: each announces itself on joining, on every change and every PRESENCE_SECONDS, and says
  goodbye on leaving; browsers forget whoever has not announced for PRESENCE_EXPIRES seconds;
- readers (`{"desk": "readers", "readers", "processes", "handout_ms", "handout_seq"}`): every
  CENSUS_SECONDS the consumer asks every process's hub for its count (liveblog.fanout answers from memory).

The browser may only say which post it is editing: `{"editing": <post id> | null}`. Anything else closes
the socket with 1008; so does claiming to edit without the right to change posts.
"""

import asyncio
import contextlib
import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from liveblog import deskfeed, fanout
from liveblog.broadcast import GROUP
from liveblog.consumers import parse_after
from liveblog.models import Column

PRESENCE_SECONDS = 4
PRESENCE_EXPIRES = 10  # browsers drop a desk not heard of for this long (a crashed process says no goodbye)
CENSUS_SECONDS = 2
CLOSE_POLICY = 1008


def who_is(user):
    from liveblog.desk import editor_name, permissions

    column_ok = user.has_perm("liveblog.view_post")
    return column_ok, editor_name(user), permissions(user)["change"]


class DeskConsumer(AsyncWebsocketConsumer):
    is_desk = True  # the hub leaves desks out of its reader count

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
        await self.send_json({"desk": message["event"].pop("kind"), **message["event"]})

    async def desk_readers(self, message):
        self.census[message["process"]] = (message, time.monotonic())

    async def heartbeat(self):
        ticks = 0
        while True:
            await asyncio.sleep(CENSUS_SECONDS)
            ticks += 1
            census = {"type": "desk.census", "column_id": self.column_id, "reply_to": self.channel_name}
            await self.channel_layer.group_send(GROUP, census)
            self.report_readers()
            if ticks * CENSUS_SECONDS >= PRESENCE_SECONDS:
                ticks = 0
                await self.announce("here")

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
                        (r["handout_ms"] for r in fresh if r["handout_seq"] == last["handout_seq"]), default=None
                    ),
                }
            )
        )

    async def send_json(self, content):
        self.outbox.put_nowait(json.dumps(content))  # one sender task keeps the frames in order
