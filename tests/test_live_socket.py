"""The reader's WebSocket and the catch-up endpoint, against the real production stack."""

import asyncio
import socket as socket_module
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import websockets
from django.conf import settings
from django.utils import timezone
from websockets.exceptions import ConnectionClosed, InvalidStatus

from liveblog.broadcast import render_post
from liveblog.models import Column, Event, Post
from tests.support.sockets import read_events, run
from tests.support.stack import Stack

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

ORIGIN = "http://localhost"


def get(client, url):
    """The test client from a thread of its own, for the same reason (its async adapters refuse a running loop)."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(client.get, url).result()


async def close_code(socket, timeout=10):
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(socket.recv(), timeout)
    return socket.close_code


def socket_url(stack, column, after=None):
    query = "" if after is None else f"?after={after}"
    return f"{stack.ws_url}/ws/live/{column.slug}/{query}"


def last_seq(column):
    return column.events.order_by("-seq").values_list("seq", flat=True).first() or 0


def test_reader_gets_what_it_missed_then_live_events_in_order(stack, column, make_post, author):
    first = make_post("First")
    second = make_post("Second")
    third = make_post("Third")
    assert last_seq(column) == 3

    async def scenario():
        async with websockets.connect(socket_url(stack, column, after=1), origin=ORIGIN) as socket:
            missed = await read_events(socket, 2)
            await asyncio.to_thread(make_post, "Fourth", body="<p>Live text.</p>")
            live = await read_events(socket, 1)
            return missed + live

    events = run(scenario())
    assert [e["seq"] for e in events] == [2, 3, 4]
    assert [e["post_id"] for e in events[:2]] == [second.pk, third.pk]
    assert all(e["kind"] == "published" for e in events)
    fourth = Post.objects.get(headline="Fourth")
    assert events[2]["post_id"] == fourth.pk
    # The same partial as the page, bylines in place.
    assert f'id="post-{fourth.pk}"' in events[2]["html"]
    assert "Live text." in events[2]["html"] and author.name in events[2]["html"]
    assert first.pk not in [e["post_id"] for e in events]


def test_scheduled_posts_go_live_with_nobody_at_the_keyboard(stack, column, make_post):
    """The scheduler process `make serve` runs publishes the post at its time; readers get it live."""
    from tests.support.stack import ROOT, stack_env

    scheduler = subprocess.Popen(
        [sys.executable, "manage.py", "run_scheduler"], cwd=ROOT, env=stack_env(stack.redis_url)
    )

    async def scenario():
        async with websockets.connect(socket_url(stack, column, after=0), origin=ORIGIN) as socket:
            due = timezone.now() + timedelta(seconds=1)
            post = await asyncio.to_thread(make_post, "At noon sharp", status=Post.Status.SCHEDULED, published_at=due)
            return post, await read_events(socket, 1, timeout=15)

    try:
        post, [event] = run(scenario())
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=20)
    assert (event["seq"], event["kind"], event["post_id"]) == (1, "published", post.pk)
    assert "At noon sharp" in event["html"]


def test_readers_get_each_event_exactly_once_while_posts_keep_coming(stack, column, make_post):
    make_post("Before anyone connects")

    async def scenario():
        async def reader(after):
            async with websockets.connect(socket_url(stack, column, after=after), origin=ORIGIN) as socket:
                return [e["seq"] for e in await read_events(socket, 21 - after)]

        async def editor():
            for i in range(20):
                await asyncio.to_thread(make_post, f"Update {i}")

        readers = [asyncio.ensure_future(reader(after)) for after in (0, 1, 0, 1)]
        await editor()
        return await asyncio.gather(*readers)

    for after, seqs in zip((0, 1, 0, 1), run(scenario()), strict=True):
        assert seqs == list(range(after + 1, 22))


@pytest.fixture(scope="module")
def stack_without_safety_net(django_db_setup, collected_static):
    """A stack whose periodic database reconciliation is too slow to matter within a test."""
    server = Stack(settings.REDIS_URL, scheduler=False, env={"LIVE_RECONCILE_SECONDS": "60"}).start()
    yield server
    server.stop()


def test_a_lost_message_is_read_from_the_database(stack_without_safety_net, column, make_post):
    """The channel layer delivers at most once: a seq that skips ahead makes the server fill the gap.

    The periodic reconciliation is off here, so only the gap fill can deliver seq 2 in time."""
    post = make_post("Published")

    async def scenario():
        url = socket_url(stack_without_safety_net, column, after=1)
        async with websockets.connect(url, origin=ORIGIN) as socket:
            # A first live event proves this server process is subscribed: its start-up catch-up is over.
            await asyncio.to_thread(make_post, "Warm-up")
            warm = await read_events(socket, 1)
            # An event committed whose message never reached Redis (written here without sending).
            hidden = await asyncio.to_thread(write_event_without_sending, column, post, seq=3)
            await asyncio.to_thread(make_post, "Next")
            return hidden, warm + await read_events(socket, 2)

    hidden, events = run(scenario())
    assert [e["seq"] for e in events] == [2, 3, 4]
    assert events[1]["html"] == hidden.html


def write_event_without_sending(column, post, seq):
    html = render_post(Post.objects.for_display().get(pk=post.pk))
    return Event.objects.create(column=column, seq=seq, kind=Event.Kind.EDITED, post_id=post.pk, html=html)


def test_after_beyond_the_last_seq_asks_for_a_reload(stack, column, make_post):
    make_post("Only one")

    async def scenario():
        async with websockets.connect(socket_url(stack, column, after=50), origin=ORIGIN) as socket:
            return await close_code(socket)

    assert run(scenario()) == 4409


def test_unknown_column_closes_with_a_clear_code(stack, db):
    async def scenario():
        async with websockets.connect(f"{stack.ws_url}/ws/live/no-such-column/?after=0", origin=ORIGIN) as socket:
            return await close_code(socket)

    assert run(scenario()) == 4404


def test_origins_outside_allowed_hosts_are_refused(stack, column):
    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(socket_url(stack, column, after=0), origin="https://evil.example"):
                pass
        return refused.value.response.status_code

    assert run(scenario()) == 403


def test_readers_may_only_ping(stack, column, make_post):
    async def scenario():
        async with websockets.connect(socket_url(stack, column, after=0), origin=ORIGIN) as socket:
            await socket.send("ping")
            pong = await asyncio.wait_for(socket.recv(), 10)
            await socket.send('{"type": "publish", "html": "<script>"}')
            return pong, await close_code(socket)

    assert run(scenario()) == ("pong", 1008)


@pytest.mark.parametrize("size", [1000, 100_000])
def test_oversized_frames_close_the_socket(stack, column, size):
    async def scenario():
        async with websockets.connect(socket_url(stack, column, after=0), origin=ORIGIN, max_size=None) as socket:
            await socket.send("x" * size)
            return await close_code(socket)

    assert run(scenario()) == 1009


def test_a_burst_of_a_thousand_connects_is_served(stack, column, make_post):
    async def scenario():
        async def reader():
            socket = await websockets.connect(socket_url(stack, column, after=0), origin=ORIGIN, open_timeout=60)
            return socket

        sockets = await asyncio.gather(*(reader() for _ in range(1000)), return_exceptions=True)
        failures = [s for s in sockets if isinstance(s, BaseException)]
        opened = [s for s in sockets if not isinstance(s, BaseException)]
        try:
            await asyncio.to_thread(make_post, "To everyone")
            received = await asyncio.gather(*(read_events(s, 1, timeout=30) for s in opened), return_exceptions=True)
        finally:
            await asyncio.gather(*(s.close() for s in opened), return_exceptions=True)
        return failures, received

    failures, received = run(scenario())
    assert failures == []
    assert len(received) == 1000
    assert all(not isinstance(r, BaseException) and r[0]["seq"] == 1 for r in received)


# Catch-up over HTTP


def test_catch_up_lists_events_after_a_seq(client, column, make_post):
    posts = [make_post(f"Update {i}") for i in range(3)]
    ids = [post.pk for post in posts]
    posts[0].status = Post.Status.DRAFT
    posts[0].save()
    posts[1].delete()

    response = get(client, f"/live/{column.slug}/events?after=1")
    assert response.status_code == 200
    assert "max-age" in response["Cache-Control"] and response["ETag"]
    data = response.json()
    assert data["last_seq"] == 5 and data["more"] is False
    assert [(e["seq"], e["kind"], e["post_id"]) for e in data["events"]] == [
        (2, "published", ids[1]),
        (3, "published", ids[2]),
        (4, "unpublished", ids[0]),
        (5, "deleted", ids[1]),
    ]
    assert "Update 2" in data["events"][1]["html"] and data["events"][2]["html"] == ""


def test_catch_up_beyond_the_last_seq_and_bad_input(client, column, make_post):
    make_post("One")
    data = get(client, f"/live/{column.slug}/events?after=9").json()
    assert data["events"] == [] and data["last_seq"] == 1
    assert get(client, f"/live/{column.slug}/events?after=abc").status_code == 400
    assert get(client, "/live/nope/events?after=0").status_code == 404


def test_catch_up_pages_long_histories(client, column, make_post):
    for i in range(205):
        make_post(f"Update {i}")
    first = get(client, f"/live/{column.slug}/events?after=0").json()
    assert len(first["events"]) == 200 and first["more"] is True
    rest = get(client, f"/live/{column.slug}/events?after=200").json()
    assert [e["seq"] for e in rest["events"]] == [201, 202, 203, 204, 205] and rest["more"] is False


def test_column_page_says_where_live_updates_start(client, column, make_post):
    make_post("One")
    make_post("Two")
    page = get(client, column.get_absolute_url()).content.decode()
    assert 'data-last-seq="2"' in page
    assert Column.objects.get(pk=column.pk).events.count() == 2


def test_a_reader_too_slow_to_keep_up_is_dropped_and_delays_no_one(stack, column, make_post):
    """A reader that stops reading is closed with 4008 (catch up, then reconnect); the others get everything."""
    body = "<p>" + "A long live update. " * 2500 + "</p>"  # about 50 KB a frame
    slow = stalled_reader(stack, column)
    count = 200

    async def scenario():
        async with websockets.connect(socket_url(stack, column, after=0), origin=ORIGIN, max_size=None) as socket:
            reading = asyncio.ensure_future(read_events(socket, count, timeout=30))
            for i in range(count):
                await asyncio.to_thread(make_post, f"Long update {i}", body=body)
            return [e["seq"] for e in await reading]

    assert run(scenario()) == list(range(1, count + 1))
    assert close_code_of(slow) == 4008


def stalled_reader(stack, column):
    """A WebSocket client with a tiny receive buffer that never reads: what a stuck browser looks like."""
    from websockets.client import ClientProtocol
    from websockets.protocol import State
    from websockets.uri import parse_uri

    sock = socket_module.socket()
    sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", stack.port))
    protocol = ClientProtocol(parse_uri(socket_url(stack, column, after=0)), origin="http://localhost", max_size=None)
    protocol.send_request(protocol.connect())
    sock.sendall(b"".join(protocol.data_to_send()))
    sock.settimeout(10)
    while protocol.state is not State.OPEN:
        assert protocol.handshake_exc is None, protocol.handshake_exc
        protocol.receive_data(sock.recv(4096))
    return sock, protocol


def close_code_of(slow):
    """Read everything the server queued for the stalled reader and return its close code."""
    sock, protocol = slow
    sock.settimeout(30)
    while protocol.close_rcvd is None:
        data = sock.recv(1 << 20)
        if not data:
            protocol.receive_eof()
            break
        protocol.receive_data(data)
        protocol.events_received()
    sock.close()
    return protocol.close_rcvd.code if protocol.close_rcvd else None


def test_the_demo_stack_delivers_the_schedulers_posts_through_the_database(column, make_post):
    """`make run`: one daphne process on the in-memory layer, the scheduler a second process that cannot reach
    it; the server's hub finds the scheduler's events in the database within seconds."""
    from tests.support.stack import ROOT, free_port, stack_env, wait_for

    port = free_port()
    env = {**stack_env(""), "DEBUG": "1", "LIVE_RECONCILE_SECONDS": "1"}
    env.pop("REDIS_URL")
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env
        ),
        subprocess.Popen([sys.executable, "manage.py", "run_scheduler"], cwd=ROOT, env=env),
    ]
    try:
        wait_for(lambda: port_answers(port), timeout=30, message="the demo server")

        async def scenario():
            url = f"ws://localhost:{port}/ws/live/{column.slug}/?after=0"
            async with websockets.connect(url, origin=ORIGIN) as socket:
                due = timezone.now() + timedelta(seconds=1)
                post = await asyncio.to_thread(
                    make_post, "Demo schedule", status=Post.Status.SCHEDULED, published_at=due
                )
                return post, await read_events(socket, 1, timeout=20)

        post, [event] = run(scenario())
        assert (event["seq"], event["kind"], event["post_id"]) == (1, "published", post.pk)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def port_answers(port):
    with socket_module.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
