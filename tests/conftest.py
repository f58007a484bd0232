import os

import pytest
from django.db import transaction
from django.utils import timezone

from liveblog import runtime
from liveblog.models import Author, Byline, Column, LinkCard, Post, Series

# Fixtures for the production stack (server processes, a private redis-server).
pytest_plugins = ["tests.stack"]

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
    return Series.objects.create(title="Syria Crisis", slug="syria-crisis")


@pytest.fixture
def column(db, series):
    return Column.objects.create(title="Aleppo: live updates", slug="aleppo-live", series=series)


@pytest.fixture
def author(db):
    return Author.objects.create(name="Rania Haddad", slug="rania-haddad")


@pytest.fixture
def make_post(column, author):
    def make(headline="An update", body="<p>Text.</p>", column=column, authors=(author,), cards=(), **fields):
        fields.setdefault("status", Post.Status.PUBLISHED)
        fields.setdefault("published_at", timezone.now())
        # One transaction, like the admin saving a post with its inlines: readers get one event.
        with transaction.atomic():
            post = Post.objects.create(column=column, headline=headline, body=body, **fields)
            for position, each in enumerate(authors):
                Byline.objects.create(post=post, author=each, position=position)
            for url in cards:
                LinkCard.objects.create(post=post, url=url, title=f"Card for {url}")
        return post

    return make


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
def chromium():
    """The machine's real Chromium, driven by Playwright (which cannot download its own here)."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()
