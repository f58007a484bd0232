"""The fixtures every test may use. Shared code that is not a fixture lives in tests/support/."""

import asyncio
import os
import shutil

import pytest
from django.conf import settings

from liveblog import runtime
from tests.cards.web import OutsideWeb
from tests.support import factories
from tests.support.stack import Stack, collect_static

# Playwright's sync API keeps an event loop running in the test thread; the ORM
# calls a test makes beside it are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session", autouse=True)
def background_machinery():
    """This process saves content like a command does: with the publisher and the link-card pool running."""
    with runtime.running():
        yield


@pytest.fixture
def series(db):
    return factories.make_series("Syria Crisis", "syria-crisis")


@pytest.fixture
def column(db, series):
    return factories.make_column("Aleppo: live updates", "aleppo-live", series=series)


@pytest.fixture
def author(db):
    return factories.make_author("Rania Haddad", "rania-haddad")


@pytest.fixture
def make_post(column, author):
    """Makes a published post in `column` by `author` (see factories.make_post for the rest)."""

    def make(headline="An update", body="<p>Text.</p>", column=column, authors=(author,), cards=(), **fields):
        return factories.make_post(column, headline, body, authors=authors, cards=cards, **fields)

    return make


@pytest.fixture
def newsroom_editor(db):
    """A newsroom editor: staff with the Liveblog permissions, not a superuser."""
    return factories.make_editor("editor", password="editor-test-pass")


@pytest.fixture
def editor_client(client, newsroom_editor):
    """The test client, logged in as the newsroom editor."""
    client.force_login(newsroom_editor)
    client.defaults["HTTP_ORIGIN"] = "http://testserver"  # as a browser sends with every POST
    return client


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine's network is closed; Chromium's own background traffic only makes noise.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def outside():
    """The outside web of tests/cards/web.py: a local HTTP server with the pages tests put up."""
    web = OutsideWeb()
    yield web
    web.close()


@pytest.fixture
def web(outside, settings):
    """The local outside web, reachable by the fetcher as news.test (loopback allowed, its port allowed)."""
    settings.LINKCARD_FETCH_ALLOW_LOOPBACK = True
    settings.LINKCARD_FETCH_ALLOWED_PORTS = [outside.port]
    settings.LINKCARD_FETCH_STATIC_HOSTS = {"news.test": ["127.0.0.1"]}
    outside.hits.clear()
    outside.served.clear()
    return outside


@pytest.fixture(scope="session")
def chromium():
    """The machine's real Chromium, driven by Playwright (which cannot download its own here)."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def no_browser_loop_outside_browser_tests(request):
    """Once Chromium has started, Playwright's loop stays marked as running in this thread, and Django's test
    client then refuses to run the async middleware (servestatic's) for tests that never touch the browser.
    Those tests run with the loop set aside; the next browser test gets it back."""
    if "chromium" in request.fixturenames or asyncio._get_running_loop() is None:
        yield
        return
    playwright_loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(playwright_loop)


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def collected_static():
    """STATIC_ROOT as `serve` fills it, once per run: the production stack and live_server both serve it."""
    collect_static()
    return settings.STATIC_ROOT


@pytest.fixture(scope="session")
def stack(django_db_setup, collected_static):
    """The production stack on the machine's Redis (this run's own prefix), for the whole session.

    Without its scheduler: that would publish other tests' scheduled posts behind their backs; the test of
    scheduled posts runs `run_scheduler` itself, and the fault tests run the stack whole."""
    server = Stack(settings.REDIS_URL, scheduler=False).start()
    yield server
    server.stop()
