"""`manage.py serve` supervises its processes: dead workers are logged and replaced, and none outlives it."""

import asyncio
import json
import logging
import os
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import override_settings
from websockets.sync.client import connect

from liveblog.broadcast import GROUP
from tests.support.stack import Stack, alive, wait_for

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def answers(url):
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_a_killed_worker_is_logged_with_its_pid_and_replaced(collected_static, column, tmp_path):
    log = tmp_path / "serve.log"
    server = Stack(settings.REDIS_URL, log=log).start()
    try:
        wait_for(lambda: len(server.children()) == 3, message="two workers and the scheduler")
        before = server.children()
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: f"(pid {victim}) was killed by SIGKILL" in log.read_text(), message="the death in the log")
        replacement = wait_for(lambda: set(server.children()) - set(before), message="a new worker")
        assert len(server.children()) == 3
        wait_for(lambda: f"replaces {victim}" in log.read_text(), message="the replacement in the log")
        assert all(answers(server.url) for _ in range(20))
        assert alive(replacement.pop())

        scheduler = next(
            pid for pid in server.children() if b"run_scheduler" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        os.kill(scheduler, signal.SIGTERM)  # it stops cleanly, and must still come back
        wait_for(lambda: f"scheduler (pid {scheduler}) exited with status 0" in log.read_text(), message="log")
        wait_for(lambda: len(server.children()) == 3, message="a new scheduler")
    finally:
        server.stop()


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_serve_never_leaves_workers_behind_and_a_restart_binds_the_port(collected_static, db, signum):
    first = Stack(settings.REDIS_URL).start()
    try:
        wait_for(lambda: len(first.children()) == 3, message="two workers and the scheduler")
        children = first.children()
        os.kill(first.process.pid, signum)
        first.process.wait(timeout=20)
        wait_for(lambda: not any(alive(pid) for pid in children), timeout=20, message="the workers to die")
        assert not answers(first.url)
    finally:
        first.stop()
    second = Stack(settings.REDIS_URL, port=first.port).start()  # at once: the port is free
    try:
        assert answers(second.url)
    finally:
        second.stop()


def group_members(redis_url, prefix):
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return {member.decode() for member in client.zrange(f"{prefix}:group:{GROUP}", 0, -1)}
    finally:
        client.close()


def in_a_thread(coroutine):
    # The session's Playwright may run an event loop in this thread.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def test_dead_workers_leave_the_live_group_and_publications_log_nothing(collected_static, column, make_post, caplog):
    """A SIGKILLed worker cannot say goodbye: its channel must lapse from the channel layer's group on its
    own (here a 6 s expiry instead of production's 30 s), while live workers stay in, and from then on no
    publication queues messages for the dead or logs "over capacity"."""
    base = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    assert base["group_expiry"] <= 60  # production's own figure: gone within a minute
    prefix = f"{base['prefix']}-expiry"
    layers = {
        "default": {**settings.CHANNEL_LAYERS["default"], "CONFIG": {**base, "prefix": prefix, "group_expiry": 6}}
    }
    env = {"CHANNEL_PREFIX": prefix, "LIVE_GROUP_EXPIRY": "6"}
    url = lambda server: f"{server.ws_url}/ws/live/{column.slug}/?after=0"  # noqa: E731
    with override_settings(CHANNEL_LAYERS=layers, LIVE_GROUP_EXPIRY=6):
        server = Stack(settings.REDIS_URL, env=env, scheduler=False).start()
        readers = []
        try:
            readers = [connect(url(server), origin="http://localhost", open_timeout=60) for _ in range(8)]
            wait_for(lambda: group_members(settings.REDIS_URL, prefix), message="the hubs to join")
            dead = group_members(settings.REDIS_URL, prefix)
            workers = server.children()
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: len(set(server.children()) - set(workers)) == 2, message="two new workers")
            for reader in readers:
                reader.close()
            readers = [connect(url(server), origin="http://localhost", open_timeout=60) for _ in range(8)]

            # Publications prune the group of members that have not re-joined within the expiry: once it has
            # passed, the dead are gone, while the live ones, re-joining, stay in across several periods.
            caplog.set_level(logging.INFO, logger="channels_redis")
            for headline in ("After one expiry", "After two"):
                time.sleep(7)
                post = make_post(headline)
                for reader in readers:
                    assert json.loads(reader.recv(timeout=10))["post_id"] == post.pk
                members = group_members(settings.REDIS_URL, prefix)
                assert members and not members & dead

            async def publish_many():
                layer = get_channel_layer()
                # Beyond a channel's capacity (100): a dead member would fill up and be logged "over capacity".
                # Paced, so the live members read them as they come.
                for seq in range(150):
                    await layer.group_send(GROUP, {"type": "live.event", "column_id": -1, "seq": seq, "frame": ""})
                    await asyncio.sleep(0.02)

            in_a_thread(publish_many())
            assert not [r for r in caplog.records if r.name.startswith("channels_redis")], caplog.text
        finally:
            for reader in readers:
                reader.close()
            server.stop()
