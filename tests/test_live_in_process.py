"""The reader's consumer and the process's hub, in this process, with Channels' WebsocketCommunicator.

Fast beside the end-to-end tests (tests/test_live_socket.py starts whole server processes): the real
consumer, hub, channel layer (this run's Redis) and database, without a server in between.
"""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.urls import path

from liveblog import broadcast, fanout, runtime
from liveblog.consumers import LiveConsumer
from liveblog.models import Event, Post
from liveblog.protocol import Close

pytestmark = pytest.mark.django_db(transaction=True)

application = URLRouter([path("ws/live/<slug:slug>/", LiveConsumer.as_asgi())])


@pytest.fixture(scope="module")
def server_loop(django_db_blocker):
    """An event loop in a thread of its own with the hub started on it, as in a server process."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-server-loop", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(runtime.start_server(), loop).result(10)
    yield loop
    asyncio.run_coroutine_threadsafe(fanout.hub.stop(), loop).result(10)
    # The hub read the database from Channels' worker thread: let go of that connection.
    with django_db_blocker.unblock():
        asyncio.run_coroutine_threadsafe(database_sync_to_async(connections.close_all)(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture
def run(server_loop):
    def run(scenario):
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(scenario(), 30), server_loop).result(40)

    return run


def reader(column, after=None):
    query = "" if after is None else f"?after={after}"
    return WebsocketCommunicator(application, f"/ws/live/{column.slug}/{query}")


async def frames(communicator, count):
    return [await communicator.receive_json_from(timeout=5) for _ in range(count)]


async def closed_with(communicator):
    while True:
        message = await communicator.receive_output(timeout=5)
        if message["type"] == "websocket.close":
            return message["code"]


def test_backlog_then_live_events_in_order_exactly_once(column, make_post, run):
    posts = [make_post(f"Update {i}") for i in range(3)]

    async def scenario():
        first, second = reader(column, after=1), reader(column)
        assert (await first.connect())[0] and (await second.connect())[0]
        missed = await frames(first, 2)
        fourth = await sync_to_async(make_post)("Live one")
        live = await frames(first, 1), await frames(second, 1)
        assert await first.receive_nothing(timeout=0.3) and await second.receive_nothing(timeout=0.01)
        await first.disconnect()
        await second.disconnect()
        return missed, live, fourth

    missed, (first_live, second_live), fourth = run(scenario)
    assert [(e["seq"], e["post_id"]) for e in missed] == [(2, posts[1].pk), (3, posts[2].pk)]
    assert first_live == second_live
    assert (first_live[0]["seq"], first_live[0]["kind"], first_live[0]["post_id"]) == (4, "published", fourth.pk)
    assert "Live one" in first_live[0]["html"]


def test_the_hub_holds_one_feed_per_column_and_lets_it_go(column, make_post, run):
    make_post("One")

    async def scenario():
        readers = [reader(column) for _ in range(3)]
        for each in readers:
            await each.connect()
        while len(getattr(fanout.hub.feeds.get(column.pk), "readers", ())) < 3:  # joining follows the accept
            await asyncio.sleep(0.01)
        feeds = len(fanout.hub.feeds)
        for each in readers:
            await each.disconnect()
        return feeds, column.pk in fanout.hub.feeds

    assert run(scenario) == (1, False)  # three readers, one feed; gone with the last reader


def test_a_lost_channel_layer_message_is_read_from_the_database(column, make_post, run):
    """Events 2 and 3 are written, only 3 reaches the hub: it reads 2 from the database first."""
    make_post("One")

    async def scenario():
        communicator = reader(column)
        await communicator.connect()
        post = await sync_to_async(Post.objects.get)(headline="One")
        _lost, sent = [
            await sync_to_async(Event.objects.create)(
                column=column, seq=seq, kind=Event.Kind.EDITED, post_id=post.pk, html=f"<p>edit {seq}</p>"
            )
            for seq in (2, 3)
        ]
        await get_channel_layer().group_send(broadcast.GROUP, broadcast.message(sent))
        received = await frames(communicator, 2)
        await communicator.disconnect()
        return received

    assert [(e["seq"], e["html"]) for e in run(scenario)] == [(2, "<p>edit 2</p>"), (3, "<p>edit 3</p>")]


def test_readers_may_only_ping(column, run):
    async def scenario():
        codes = []
        for text in ("ping", "hello", "x" * 100):
            communicator = reader(column)
            await communicator.connect()
            await communicator.send_to(text_data=text)
            if text == "ping":
                assert await communicator.receive_from(timeout=5) == "pong"
                await communicator.disconnect()
            else:
                codes.append(await closed_with(communicator))
        return codes

    assert run(scenario) == [Close.POLICY, Close.TOO_BIG]


def test_unknown_column_and_after_beyond_the_last_seq_close_with_their_codes(column, make_post, run):
    make_post("One")

    async def scenario():
        unknown = WebsocketCommunicator(application, "/ws/live/no-such-column/")
        await unknown.connect()
        ahead = reader(column, after=5)
        await ahead.connect()
        return await closed_with(unknown), await closed_with(ahead)

    assert run(scenario) == (Close.UNKNOWN_COLUMN, Close.AHEAD)


def test_a_feed_replays_from_memory_only_what_follows_after():
    """Feed.since(after): nothing when the reader is not behind, the frames after `after` in order when memory
    reaches back, None (read the database) when it does not. No database, no server loop."""
    feed = fanout.Feed(1, "a-column", [(seq, f"frame {seq}") for seq in range(1, fanout.RECENT + 45)])
    first, last = feed.recent[0][0], feed.last_seq  # the oldest frames fell out of memory
    assert (first, last) == (45, fanout.RECENT + 44)

    assert feed.since(last) == [] and feed.since(last + 3) == []
    assert [seq for seq, _ in feed.since(last - 3)] == [last - 2, last - 1, last]
    assert feed.since(last - 1) == [(last, {"type": "websocket.send", "text": f"frame {last}"})]
    assert [seq for seq, _ in feed.since(first - 1)] == list(range(first, last + 1))
    assert feed.since(first - 2) is None and feed.since(0) is None
