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

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-key-for-the-production-stack-" + "x" * 20
PASSWORD = "correct horse battery staple"


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
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


class Stack:
    """`manage.py serve` (WORKERS uvicorn processes + the scheduler) with the test database."""

    def __init__(self, redis_url, workers=2, setup=False, env=None, scheduler=True, log=None, port=None):
        self.redis_url = redis_url
        self.log = log  # a file for the server's output, when the test reads it
        self.scheduler = scheduler
        self.env = env or {}
        self.workers = workers
        self.port = port or free_port()
        self.setup = setup
        self.process = None

    @property
    def url(self):
        return f"http://localhost:{self.port}"

    @property
    def ws_url(self):
        return f"ws://localhost:{self.port}"

    def start(self):
        command = [sys.executable, "manage.py", "serve", "--port", str(self.port), "--workers", str(self.workers)]
        if not self.setup:
            command.append("--no-setup")
        if not self.scheduler:
            command.append("--no-scheduler")
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
        """The pids of the server's worker and scheduler processes."""
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


@pytest.fixture(scope="session")
def collected_static():
    """The production stack serves hashed static files: collect them once per run."""
    env = stack_env(settings.REDIS_URL)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)


@pytest.fixture(scope="session")
def stack(django_db_setup, collected_static):
    """The production stack on the machine's Redis (this run's own prefix), for the whole session.

    Without its scheduler: that would publish other tests' scheduled posts behind their backs; the test of
    scheduled posts runs `run_scheduler` itself, and the fault tests run the stack whole."""
    server = Stack(settings.REDIS_URL, scheduler=False).start()
    yield server
    server.stop()


def logged_in_editor(chromium, server):
    """A Chromium page logged in to the stack's admin as a superuser."""
    user = get_user_model().objects.create_superuser("editor", "editor@example.org")
    # The server runs the production settings, whose hashers do not include the tests' fast one.
    user.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    user.save()
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/admin/login/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    yield page
    context.close()


def fill_new_post(page, column, headline, body_html, author_name):
    """The admin's add form, as an editor fills it: column, headline, a byline picked with the autocomplete,
    the body in CKEditor, published."""
    page.select_option("#id_column", str(column.pk))
    page.fill("#id_headline", headline)
    page.click("#bylines-0 .select2-selection")
    page.fill(".select2-search__field", author_name.split()[0])
    page.click(f".select2-results__option:has-text('{author_name}')")
    fill_body(page, body_html)
    page.select_option("#id_status", "published")


def fill_body(page, html):
    ready = "window.CKEDITOR && CKEDITOR.instances.id_body && CKEDITOR.instances.id_body.status === 'ready'"
    page.wait_for_function(ready)
    page.evaluate("html => CKEDITOR.instances.id_body.setData(html)", html)
