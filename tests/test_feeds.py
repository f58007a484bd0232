from datetime import UTC, datetime

import feedparser
import pytest

from liveblog.models import Column, Post
from tests.support.richpages import build_rich_column

pytestmark = pytest.mark.django_db


def parse(client, url):
    response = client.get(url)
    assert response.status_code == 200
    headers = {"content-type": response["Content-Type"], "content-location": f"http://testserver{url}"}
    feed = feedparser.parse(response.content, response_headers=headers)
    assert not feed.bozo, feed.get("bozo_exception")
    return response, feed


@pytest.mark.parametrize("kind", ["atom", "rss"])
def test_column_feed_entries_carry_every_field(client, kind):
    column, posts = build_rich_column()
    Post.objects.create(column=column, headline="Draft never syndicated", status=Post.Status.DRAFT)
    response, feed = parse(client, f"/live/{column.slug}/feed/{kind}/")

    assert response["Content-Type"].startswith(f"application/{kind}+xml")
    assert feed.version == ("atom10" if kind == "atom" else "rss20")
    assert feed.feed.title == "Aleppo: live updates"
    assert feed.feed.link == "http://testserver/live/aleppo-live/"
    # Newest first, every published post, no draft.
    assert [e.title for e in feed.entries] == [p.headline for p in sorted(posts, key=lambda p: p.published_at)][::-1]

    newest_with_card = next(p for p in reversed(posts) if p.link_cards.exists())
    entry = next(e for e in feed.entries if e.title == newest_with_card.headline)
    assert entry.link == f"http://testserver/live/aleppo-live/#post-{newest_with_card.pk}"
    assert entry.published_parsed[:5] == newest_with_card.published_at.timetuple()[:5]
    if kind == "atom":
        assert entry.updated_parsed is not None
    assert [a.name for a in entry.authors] == [a.name for a in newest_with_card.ordered_authors()]

    html = entry.content[0].value if kind == "atom" else entry.description
    # Cleaned body with the card as a plain link and an absolute image; the lone URL paragraph is gone.
    assert "First paragraph of update 5" in html
    assert '<a href="https://example.org/story-5"' in html
    assert "Story 5 elsewhere" in html
    card = newest_with_card.link_cards.get()
    assert f'src="http://testserver{card.image.url}"' in html
    assert 'alt="Picture for story 5"' in html
    assert "<p>https://example.org/story-5</p>" not in html
    assert "aside" not in html  # the page's card markup is not for feed readers

    figure_entry = next(e for e in feed.entries if e.title == "A photo from the ground")
    figure_html = figure_entry.content[0].value if kind == "atom" else figure_entry.description
    assert 'src="http://testserver/media/uploads/ground' in figure_html


def test_feed_for_all_live_columns_leaves_ended_columns_out(client, make_post, column):
    ended = Column.objects.create(title="Old story", slug="old-story", state=Column.State.ENDED)
    make_post("Live news")
    make_post("Old news", column=ended)
    for kind in ("atom", "rss"):
        _, feed = parse(client, f"/feed/{kind}/")
        assert [e.title for e in feed.entries] == ["Live news"]


def test_column_page_advertises_its_feeds(client, column):
    page = client.get(column.get_absolute_url()).content.decode()
    atom = f'type="application/atom+xml" title="{column.title} (Atom)" href="/live/{column.slug}/feed/atom/">'
    assert f'<link rel="alternate" {atom}' in page
    assert f'type="application/rss+xml" title="{column.title} (RSS)" href="/live/{column.slug}/feed/rss/">' in page


def test_unknown_column_feed_is_404(client, db):
    assert client.get("/live/nope/feed/atom/").status_code == 404


def test_feed_times_are_exact_across_the_clock_change(client, make_post, column):
    # 2016-10-30 01:00 UTC is when London leaves summer time: both posts must stay an hour apart.
    make_post("Before the change", published_at=datetime(2016, 10, 30, 0, 30, tzinfo=UTC))
    make_post("After the change", published_at=datetime(2016, 10, 30, 1, 30, tzinfo=UTC))
    _, feed = parse(client, f"/live/{column.slug}/feed/rss/")
    times = {e.title: e.published for e in feed.entries}
    assert times == {
        "Before the change": "Sun, 30 Oct 2016 00:30:00 +0000",
        "After the change": "Sun, 30 Oct 2016 01:30:00 +0000",
    }
