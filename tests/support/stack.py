"""The production stack as tests run it: the processes `make serve` runs, on a free port.

Also a private redis-server for the fault tests (never the machine's shared one).
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-key-for-the-production-stack-" + "x" * 20


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=20.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def process_stat(pid):
    """/proc/<pid>/stat from field 3 on (the state; field N is at index N - 3), or None once the process is
    gone. Split after the command's closing parenthesis: the command itself may hold spaces."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid):
    stat = process_stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has exited; only its parent has not reaped it yet


def database_url():
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def stack_env(redis_url):
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="liveblog.settings",
        DEBUG="0",
        SECRET_KEY=SECRET,
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url,
        CHANNEL_PREFIX=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        ALLOWED_HOSTS="localhost,127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        LOG_LEVEL="WARNING",
        LIVE_RECONCILE_SECONDS="1",
        # The server stores and serves the images where the tests put and look for them.
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


class Stack:
    """`manage.py serve` (WORKERS uvicorn processes + the scheduler) with the test database."""

    def __init__(
        self, redis_url, workers=2, setup=False, env=None, scheduler=True, log=None, port=None, socket_workers=0
    ):
        self.redis_url = redis_url
        self.socket_workers = socket_workers  # with some, live sockets are on socket_port (serve --socket-workers)
        self.log = log  # a file for the server's output, when the test reads it
        self.scheduler = scheduler
        self.env = env or {}
        self.workers = workers
        self.port = port or free_port()
        self.socket_port = free_port() if socket_workers else self.port
        self.setup = setup
        self.process = None

    @property
    def url(self):
        return f"http://localhost:{self.port}"

    @property
    def ws_url(self):
        return f"ws://localhost:{self.socket_port}"

    def start(self):
        command = [sys.executable, "manage.py", "serve", "--port", str(self.port), "--workers", str(self.workers)]
        if not self.setup:
            command.append("--no-setup")
        if not self.scheduler:
            command.append("--no-scheduler")
        if self.socket_workers:
            command += ["--socket-workers", str(self.socket_workers), "--socket-port", str(self.socket_port)]
        output = open(self.log, "a") if self.log else None  # noqa: SIM115  the server writes to it until it stops
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**stack_env(self.redis_url), **self.env},
            start_new_session=True,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
        if output:
            output.close()  # the child has its own copy
        wait_for(self.healthy, timeout=60, interval=0.2, message="the server to answer /healthz")
        return self

    def healthy(self):
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited with {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def children(self):
        """The pids of the server's worker (page and socket) and scheduler processes."""
        try:
            return [
                int(pid)
                for pid in Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            ]
        except OSError:
            return []

    def restart(self):
        self.stop()
        self.start()


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test may stop and start."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="liveblog-redis-")
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self.answers, timeout=10, message="redis-server")
        return self

    def answers(self):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def collect_static():
    """What `serve` does before it starts: hashed, compressed static files and their manifest in STATIC_ROOT.

    The original names are collected too, so a live_server with the test settings serves from the same folder."""
    env = stack_env(settings.REDIS_URL)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
