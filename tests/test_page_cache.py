"""What readers get is rendered once per change and kept; a change is never hidden; editors get fresh pages."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext

from liveblog.models import Post

pytestmark = pytest.mark.django_db

KINDS = ["column", "post", "atom", "events"]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """A block whose changes are published at its end, as a real commit would have them (the catch-up's events)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def pages(column, make_post, committed):
    with committed():
        post = make_post("First update", cards=["https://example.org/a"])
    return post, {
        "column": column.get_absolute_url(),
        "post": post.get_absolute_url(),
        "atom": f"/live/{column.slug}/feed/atom/",
        "events": f"/live/{column.slug}/events?after=0",
    }


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(captured)


@pytest.mark.parametrize("kind", KINDS)
def test_a_page_is_rendered_once_per_change_and_a_change_is_never_hidden(client, pages, make_post, committed, kind):
    post, urls = pages
    first, rendering = queries(client, urls[kind])
    again, kept = queries(client, urls[kind])
    assert again == first
    assert kept == 1 < rendering  # only the column's validator is read

    # Behind the change machinery's back (no change of the column), the kept page stays: it IS the cache.
    Post.objects.filter(pk=post.pk).update(headline="Quietly renamed")
    assert "Quietly renamed" not in queries(client, urls[kind])[0]

    post.headline = "Renamed by an editor"
    with committed():
        post.save()  # a real change moves the column's validator: the next reader gets it at once
    content, _ = queries(client, urls[kind])
    assert "Renamed by an editor" in content
    if kind in ("column", "events"):
        with committed():
            fresh = make_post("Breaking")
        assert "Breaking" in queries(client, urls[kind])[0]
        assert fresh.pk


@pytest.mark.parametrize("kind", KINDS)
def test_editors_get_fresh_uncached_pages(client, pages, kind):
    post, urls = pages
    queries(client, urls[kind])  # kept for readers
    editor = get_user_model().objects.create_user("editor", is_staff=True)
    client.force_login(editor)
    Post.objects.filter(pk=post.pk).update(headline="Changed under the cache")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(urls[kind])
    assert len(captured) > 2  # rendered, not read from the cache
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    if kind != "events":  # the catch-up serves the events as stored at each change
        assert "Changed under the cache" in response.content.decode()
        client.logout()
        assert "Changed under the cache" not in client.get(urls[kind]).content.decode()


def test_a_new_post_renders_one_post_partial_not_the_whole_column(client, column, make_post):
    for i in range(5):
        make_post(f"Update {i}", cards=[f"https://example.org/{i}"])
    rendered = []

    def count(sender, template, **kwargs):
        if template.name == "liveblog/_post.html":
            rendered.append(kwargs["context"]["post"].headline)

    template_rendered.connect(count)
    try:
        client.get(column.get_absolute_url())
        assert len(rendered) == 5
        rendered.clear()
        make_post("Breaking")
        rendered.clear()  # the live event's own rendering, on save
        assert "Breaking" in client.get(column.get_absolute_url()).content.decode()
        assert rendered == ["Breaking"]
        rendered.clear()

        card = column.posts.get(headline="Update 2").link_cards.get()
        card.title = "A better title"
        card.save()  # a card's change re-renders its post, and only it
        rendered.clear()
        assert "A better title" in client.get(column.get_absolute_url()).content.decode()
        assert rendered == ["Update 2"]
    finally:
        template_rendered.disconnect(count)


def test_a_catch_up_answered_between_a_change_and_its_event_is_not_kept(
    client, column, make_post, django_capture_on_commit_callbacks
):
    """A change commits (moving the column's validator) and its event is written just after: a catch-up
    answered in between must not be kept, or confirmed by a 304, once the event exists."""
    url = f"/live/{column.slug}/events?after=0"
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        make_post("Breaking")
    between = client.get(url)
    assert between.json()["events"] == []  # committed, its event not written yet
    for callback in after_commit:
        callback()  # the event is written
    assert client.get(url, HTTP_IF_NONE_MATCH=between["ETag"]).status_code == 200
    assert [event["kind"] for event in client.get(url).json()["events"]] == ["published"]
