"""The reader pages as a reader meets them (docs/reading.md, docs/urls.md), server-rendered, no JavaScript involved."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from liveblog.models import Author, Column, Post

pytestmark = pytest.mark.django_db


def test_the_column_page_reads_top_to_bottom_like_a_live_column(client, series, column, make_post, author):
    earlier = Column.objects.create(
        title="Aleppo: the day before",
        slug="aleppo-before",
        series=series,
        started_at=column.started_at - timedelta(days=1),
    )
    column.photo_credit = "Photo via Reuters"
    column.standfirst = "Fighting continues in the east of the city."
    column.save()
    second = Author.objects.create(name="Omar Said", slug="omar-said")
    make_post("Ceasefire talks resume", key_event=True, published_at=datetime(2016, 10, 11, 23, 55, tzinfo=UTC))
    make_post("Read this first", pinned=True, published_at=datetime(2016, 10, 11, 8, 0, tzinfo=UTC))
    newest = make_post("Convoy reaches the city", authors=(author, second))

    # The body: the head repeats post text in its structured data.
    page = client.get(column.get_absolute_url()).content.decode().split("<body>", 1)[1]
    assert re.search(
        r"the previous column in our <em>Syria Crisis</em> series can be found\s*"
        rf'<a href="{earlier.get_absolute_url()}">here</a>',
        page,
    )
    assert 'class="column-state badge-live">Live<' in page
    assert "Fighting continues in the east of the city." in page
    assert "Oct 11, 2016 23:55 (GMT)" in page
    # Pinned and key events first, then the stream newest first.
    assert page.index("Key events") < page.index("Read this first") < page.index("Convoy reaches the city")
    assert page.index("Convoy reaches the city") < page.rindex("Ceasefire talks resume")
    assert f'id="post-{newest.pk}"' in page
    assert f'href="{column.get_absolute_url()}#post-{newest.pk}"' in page
    bylines = re.search(rf'id="post-{newest.pk}".*?<p class="bylines">(.*?)</p>', page, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", bylines) == "By Rania Haddad and Omar Said"
    assert 'href="/authors/omar-said/"' in bylines

    column.state = Column.State.ENDED
    column.save()
    assert 'class="column-state badge-ended">Ended<' in client.get(column.get_absolute_url()).content.decode()


def test_load_older_posts_pages_back_without_javascript(client, column, make_post):
    start = timezone.now() - timedelta(hours=1)
    for i in range(45):
        make_post(f"Update number {i:02d}", published_at=start + timedelta(minutes=i))
    first = client.get(column.get_absolute_url()).content.decode()
    assert "Update number 44" in first and "Update number 25" in first and "Update number 24" not in first
    older = re.search(r'href="(\?before=\d+)"[^>]*>Load older posts', first).group(1)
    second = client.get(column.get_absolute_url() + older).content.decode()
    assert "Update number 24" in second and "Update number 05" in second
    assert "Update number 25" not in second and "Update number 04" not in second
    third = client.get(column.get_absolute_url() + re.search(r'href="(\?before=\d+)"', second).group(1)).content
    assert b"Update number 00" in third and b"Load older posts" not in third
    assert client.get(column.get_absolute_url() + "?before=nonsense").status_code == 404


def test_post_series_author_and_home_pages(client, series, column, make_post, author):
    ended = Column.objects.create(
        title="Last week", slug="last-week", state=Column.State.ENDED, started_at=timezone.now() + timedelta(days=1)
    )
    post = make_post("A single update", body="<p>https://example.org/a</p>", cards=["https://example.org/a"])
    draft = make_post("Still a draft", status=Post.Status.DRAFT)

    single = client.get(post.get_absolute_url()).content.decode()
    assert "A single update" in single and "Card for https://example.org/a" in single
    assert f'<link rel="canonical" href="http://testserver{column.get_absolute_url()}">' in single
    assert client.get(draft.get_absolute_url()).status_code == 404

    assert "Aleppo: live updates" in client.get(series.get_absolute_url()).content.decode()
    author_page = client.get(author.get_absolute_url()).content.decode()
    assert "A single update" in author_page and "Still a draft" not in author_page

    home = client.get("/").content.decode()
    # Live columns first, even when an ended one is newer.
    assert home.index(column.title) < home.index(ended.title)
