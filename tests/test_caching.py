from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.cache import get_max_age
from django.utils.http import http_date

from liveblog.caching import MAX_AGE
from liveblog.models import Byline, Column, LinkCard

pytestmark = pytest.mark.django_db


@pytest.fixture
def urls(column, make_post):
    post = make_post("First update", cards=["https://example.org/a"])
    return {
        "column": column.get_absolute_url(),
        "post": post.get_absolute_url(),
        "atom": f"/live/{column.slug}/feed/atom/",
        "rss": f"/live/{column.slug}/feed/rss/",
        "all-atom": "/feed/atom/",
        "all-rss": "/feed/rss/",
        "home": "/",
        "series": column.series.get_absolute_url(),
        "author": "/authors/rania-haddad/",
        "events": f"/live/{column.slug}/events?after=0",
    }


def cache_control(response):
    return {part.strip() for part in response["Cache-Control"].split(",")}


KINDS = ["column", "post", "atom", "rss", "all-atom", "all-rss", "home", "series", "author", "events"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_unchanged_column_answers_304(client, urls, kind):
    first = client.get(urls[kind])
    assert first.status_code == 200
    assert first["ETag"].startswith('W/"')
    assert cache_control(first) == {"public", f"max-age={MAX_AGE}", f"s-maxage={MAX_AGE}"}
    assert "Cookie" in first["Vary"]

    again = client.get(urls[kind], HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert get_max_age(again) == MAX_AGE


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_post_changes_the_validator(client, urls, make_post, kind, django_capture_on_commit_callbacks):
    first = client.get(urls[kind])
    with django_capture_on_commit_callbacks(execute=True):  # the event is written once the change commits
        make_post("Second update")
    after = client.get(urls[kind], HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != first["ETag"]
    if kind not in ("post", "home", "series"):
        assert "Second update" in after.content.decode()


@pytest.mark.parametrize(
    "change",
    [
        "edit post",
        "delete post",
        "add byline",
        "edit card",
        "delete card",
        "rename author",
        "edit column",
        "rename series",
    ],
)
def test_every_change_readers_see_moves_the_validator(client, column, make_post, author, change):
    post = make_post("Kept", cards=["https://example.org/a"])
    other = make_post("Other")
    url = column.get_absolute_url()
    before = client.get(url)["ETag"]
    if change == "edit post":
        post.headline = "Kept, corrected"
        post.save()
    elif change == "delete post":
        other.delete()
    elif change == "add byline":
        Byline.objects.create(post=post, author=author.__class__.objects.create(name="B. Second", slug="b-second"))
    elif change == "edit card":
        card = LinkCard.objects.get(post=post)
        card.title = "A better title"
        card.save()
    elif change == "delete card":
        LinkCard.objects.filter(post=post).delete()
    elif change == "rename author":
        author.name = "Rania H. Haddad"
        author.save()
    elif change == "edit column":
        column.standfirst = "New standfirst"
        column.save()
    elif change == "rename series":
        column.series.title = "Syria"
        column.series.save()
    response = client.get(url, HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert response["ETag"] != before


def test_a_new_column_in_the_series_moves_its_neighbours(client, column):
    url = column.get_absolute_url()
    before = client.get(url)["ETag"]
    Column.objects.create(title="Day two", slug="day-two", series=column.series)
    assert client.get(url, HTTP_IF_NONE_MATCH=before).status_code == 200


def test_a_settled_change_also_gives_last_modified(client, urls, column):
    # HTTP dates have whole seconds: only a change older than a moment gets one.
    # A change right now (the fixtures' own may be seconds old by now on a busy machine).
    Column.objects.filter(pk=column.pk).update(changed_at=timezone.now())
    fresh = client.get(urls["column"])
    assert "Last-Modified" not in fresh
    long_ago = timezone.now() - timedelta(hours=1)
    Column.objects.filter(pk=column.pk).update(changed_at=long_ago)
    for kind in KINDS:
        response = client.get(urls[kind])
        assert response["Last-Modified"] == http_date(long_ago.timestamp()), kind
        again = client.get(urls[kind], HTTP_IF_MODIFIED_SINCE=response["Last-Modified"])
        assert again.status_code == 304, kind


def test_revalidating_the_column_page_costs_one_query(client, urls):
    etag = client.get(urls["column"])["ETag"]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(urls["column"], HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert len(queries) == 1


@pytest.mark.parametrize("kind", ["column", "post", "home", "series", "author"])
def test_editors_views_are_never_cached_publicly(client, admin_user, urls, kind):
    reader_etag = client.get(urls[kind])["ETag"]
    client.force_login(admin_user)
    response = client.get(urls[kind], HTTP_IF_NONE_MATCH=reader_etag)
    # The reader's copy is not the editor's page: a full answer, stored nowhere.
    assert response.status_code == 200
    assert "ETag" not in response
    assert {"private", "no-store"} <= cache_control(response)
    assert "public" not in cache_control(response)
    assert "Cookie" in response["Vary"]


def test_editor_affordances_never_reach_a_public_response(client, admin_user, column, make_post):
    from tests.support.images import png

    post = make_post("With a picture")
    card = LinkCard(post=post, url="https://example.org/p", image_alt="A picture")
    card.image.save("p.png", png(), save=False)
    card.save()
    client.force_login(admin_user)
    page = client.get(column.get_absolute_url())
    assert "Set as default press image" in page.content.decode()
    assert "no-store" in cache_control(page)


def test_a_request_carrying_a_session_is_private(client, urls):
    client.cookies["sessionid"] = "whatever"
    response = client.get(urls["column"])
    assert response.status_code == 200
    assert {"private", "no-store"} <= cache_control(response)


def test_unknown_column_is_404_not_cached(client, db):
    response = client.get("/live/nope/feed/rss/")
    assert response.status_code == 404
    assert "public" not in response.get("Cache-Control", "")
