"""`serve --socket-workers`: readers' live sockets on processes of their own, ahead of the page workers for the CPU."""

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from websockets.sync.client import connect

from tests.support.stack import ROOT, Stack, process_stat, stack_env, wait_for

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def niceness(pid):
    return int(process_stat(pid)[19 - 3])  # field 19 of /proc/<pid>/stat


def command_line(pid):
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


@pytest.fixture
def split_server(collected_static, tmp_path):
    log = tmp_path / "serve.log"
    server = Stack(settings.REDIS_URL, scheduler=False, socket_workers=1, log=log).start()
    server.log_file = log
    serving = lambda: [pid for pid in server.children() if serving_fd(pid) is not None]  # noqa: E731
    wait_for(lambda: len(serving()) == 3, message="two page workers and a socket worker")
    yield server
    server.stop()


def serving_fd(pid):
    """The listening socket a worker serves (`python -m liveblog.serving FD ...`), or None for a process that is
    not one yet (just forked, not yet exec'd) or gone."""
    try:
        arguments = command_line(pid)
    except OSError:
        return None
    return int(arguments[3]) if b"liveblog.serving" in arguments[:3] else None


def socket_workers_of(server):
    fds = {pid: fd for pid in server.children() if (fd := serving_fd(pid)) is not None}
    page_fd = min(fds.values())  # the page socket is bound first
    return [pid for pid, fd in fds.items() if fd != page_fd]


def test_readers_get_their_socket_from_the_socket_port_and_page_workers_yield_the_cpu(split_server, column, make_post):
    origin = f"ws://127.0.0.1:{split_server.socket_port}"
    with urllib.request.urlopen(f"{split_server.url}{column.get_absolute_url()}") as response:
        page = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert f'data-socket-origin="{origin}"' in page
    assert f"connect-src 'self' {origin}" in policy

    socket_workers = socket_workers_of(split_server)
    page_workers = set(split_server.children()) - set(socket_workers)
    assert len(socket_workers) == 1 and len(page_workers) == 2
    assert [niceness(pid) for pid in socket_workers] == [0]
    assert {niceness(pid) for pid in page_workers} == {10}

    with connect(f"{origin}/ws/live/{column.slug}/?after=0", origin=split_server.url, open_timeout=20) as reader:
        post = make_post("Polls close at eight")
        assert json.loads(reader.recv(timeout=10))["post_id"] == post.pk

    # Killed, it is logged and replaced like any worker, and readers reconnect to the new one.
    victim = socket_workers[0]
    os.kill(victim, signal.SIGKILL)
    log = split_server.log_file
    wait_for(lambda: f"socket worker 1 (pid {victim}) was killed by SIGKILL" in log.read_text(), message="the log")
    wait_for(lambda: victim not in split_server.children() and len(socket_workers_of(split_server)) == 1
             and all(serving_fd(pid) is not None for pid in split_server.children()),
             message="a new socket worker")  # fmt: skip
    with connect(f"{origin}/ws/live/{column.slug}/?after=0", origin=split_server.url, open_timeout=20) as reader:
        assert json.loads(reader.recv(timeout=10))["post_id"] == post.pk  # caught up from after=0


def serve(*arguments, **env):
    command = [sys.executable, "manage.py", "serve", "--no-setup", "--no-scheduler", *arguments]
    environment = {**stack_env(settings.REDIS_URL), **env}
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)


def test_socket_workers_on_every_address_need_to_be_told_where_readers_reach_them(db):
    refused = serve("--host", "0.0.0.0", "--port", "18000", "--socket-workers", "1")
    assert refused.returncode != 0
    assert "set LIVE_SOCKET_ORIGIN to where readers' browsers reach port 18001" in refused.stderr


def test_a_socket_origin_that_is_not_one_stops_start_up_with_a_clear_message():
    for wrong in ("live.example.org", "https://live.example.org", "wss://live.example.org/ws/"):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "liveblog.settings", "LIVE_SOCKET_ORIGIN": wrong}
        result = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode != 0, wrong
        assert "is not a WebSocket origin: write the scheme, host and port only" in result.stderr, wrong


@pytest.mark.browser
def test_a_reader_in_chromium_follows_the_column_over_the_socket_port(split_server, page, column, make_post):
    page.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation', e => window.violations.push(e.violatedDirective));"
    )
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{split_server.url}{column.get_absolute_url()}")
    page.wait_for_selector(".column[data-live-state=open]")

    post = make_post("Turnout at 61 per cent")
    assert "Turnout at 61 per cent" in page.wait_for_selector(f"#posts #post-{post.pk}").inner_text()
    assert sockets == [f"ws://127.0.0.1:{split_server.socket_port}/ws/live/{column.slug}/?after=0"]
    assert page.evaluate("window.violations") == []
