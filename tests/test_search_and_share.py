from datetime import UTC, datetime

import extruct
import pytest
from lxml import etree, html

from liveblog.models import Byline, Column, Post
from tests.support.images import png
from tests.support.richpages import build_rich_column

pytestmark = pytest.mark.django_db

BASE = "http://testserver"


def extract(client, url):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    data = extruct.extract(page, base_url=BASE + url, syntaxes=["json-ld", "opengraph"], uniform=True)
    return page, data


def only(items, type_):
    found = [item for item in items if item.get("@type") == type_]
    assert len(found) == 1, items
    return found[0]


def meta(page, name):
    values = html.fromstring(page).xpath(f'//meta[@name="{name}" or @property="{name}"]/@content')
    return values[0] if values else None


def test_column_page_describes_itself_as_a_live_blog_posting(client):
    column, posts = build_rich_column()
    column.refresh_from_db()
    _page, data = extract(client, column.get_absolute_url())
    blog = only(data["json-ld"], "LiveBlogPosting")

    assert blog["headline"] == "Aleppo: live updates"
    assert blog["description"] == "Rescue workers say the strikes continued overnight."
    assert blog["image"] == BASE + column.press_image.url
    assert blog["url"] == BASE + "/live/aleppo-live/"
    assert datetime.fromisoformat(blog["datePublished"]) == datetime(2016, 10, 11, 6, tzinfo=UTC)
    assert datetime.fromisoformat(blog["coverageStartTime"]) == datetime(2016, 10, 11, 6, tzinfo=UTC)
    assert datetime.fromisoformat(blog["dateModified"]) == column.changed_at
    assert "coverageEndTime" not in blog  # still live

    updates = {update["url"]: update for update in blog["liveBlogUpdate"]}
    assert set(updates) == {f"{BASE}/live/aleppo-live/#post-{post.pk}" for post in posts}
    for post in posts:
        update = updates[f"{BASE}/live/aleppo-live/#post-{post.pk}"]
        post.refresh_from_db()
        assert update["@type"] == "BlogPosting"
        assert update["headline"] == post.headline
        assert datetime.fromisoformat(update["datePublished"]) == post.published_at
        assert datetime.fromisoformat(update["dateModified"]) == max(post.published_at, post.updated_at)
        assert update["author"] == [
            {"@type": "Person", "name": a.name, "url": BASE + a.get_absolute_url()} for a in post.ordered_authors()
        ]
        assert "<" not in update["articleBody"]
    first = updates[f"{BASE}/live/aleppo-live/#post-{posts[0].pk}"]
    assert first["articleBody"].startswith("First paragraph of update 0 with a link.")
    assert "A quoted witness. one two" in first["articleBody"]


def test_ended_column_gives_its_coverage_end(client, column, make_post):
    make_post("Last word")
    column.state = Column.State.ENDED
    column.ended_at = datetime(2016, 10, 12, 18, tzinfo=UTC)
    column.save()
    _, data = extract(client, column.get_absolute_url())
    blog = only(data["json-ld"], "LiveBlogPosting")
    assert datetime.fromisoformat(blog["coverageEndTime"]) == datetime(2016, 10, 12, 18, tzinfo=UTC)


def test_no_headline_or_body_can_close_the_script_tag(client, column, author):
    hostile = '</script><script>alert("headline")</script><!--'
    post = Post.objects.create(
        column=column,
        headline=hostile,
        body="<p>&lt;/script&gt;&lt;script&gt;alert('body')&lt;/script&gt; &amp; more</p>",
        status=Post.Status.PUBLISHED,
    )
    Byline.objects.create(post=post, author=author)
    for url in (column.get_absolute_url(), post.get_absolute_url()):
        page, data = extract(client, url)
        # Only our own script elements: the JSON-LD one (and none opened by a value).
        # No value opened a script element: besides script files and the live protocol's constants (no
        # values in them), only our JSON-LD, with the values inside it.
        scripts = html.fromstring(page).xpath("//script")
        inline = [s.get("type") for s in scripts if not s.get("src") and s.get("id") != "liveblog-protocol"]
        assert inline == ["application/ld+json"], url
        assert page.count("<script") == page.count("</script>") == len(scripts), url
        assert "\\u003C/script\\u003E\\u003Cscript\\u003Ealert" in page
        item = data["json-ld"][0]
        if url == column.get_absolute_url():
            item = item["liveBlogUpdate"][0]
        assert item["headline"] == hostile
        assert item["articleBody"] == "</script><script>alert('body')</script> & more"


def test_post_page_is_a_news_article_with_canonical_at_the_column(client):
    _column, posts = build_rich_column()
    post = posts[3]
    card = post.link_cards.get()
    page, data = extract(client, post.get_absolute_url())

    canonical = html.fromstring(page).xpath('//link[@rel="canonical"]/@href')
    assert canonical == [BASE + "/live/aleppo-live/"]

    article = only(data["json-ld"], "NewsArticle")
    assert article["headline"] == "Update number 3"
    assert article["url"] == BASE + post.get_absolute_url()
    assert article["mainEntityOfPage"] == BASE + "/live/aleppo-live/"
    assert article["isPartOf"]["@type"] == "LiveBlogPosting"
    assert article["image"] == BASE + card.image.url
    assert [a["name"] for a in article["author"]] == ["Rania Haddad", "Tom Ellis"]
    assert datetime.fromisoformat(article["datePublished"]) == post.published_at
    assert article["description"].startswith("First paragraph of update 3")

    # Its share card: its own headline, summary and first image.
    og = data["opengraph"][0]
    assert og["og:title"] == "Update number 3"
    assert og["og:description"].startswith("First paragraph of update 3 with a link.")
    assert og["og:image"] == BASE + card.image.url
    assert og["og:url"] == BASE + post.get_absolute_url()
    assert meta(page, "twitter:card") == "summary_large_image"
    assert meta(page, "twitter:title") == "Update number 3"
    assert meta(page, "twitter:image") == BASE + card.image.url
    assert meta(page, "twitter:image:alt") == "Picture for story 3"


def test_post_share_image_is_the_first_image_in_reading_order(client):
    _, posts = build_rich_column()
    figure = posts[-1]  # an inline photo and no card
    _, data = extract(client, figure.get_absolute_url())
    og = data["opengraph"][0]
    assert og["og:image"].startswith(BASE + "/media/uploads/ground")
    assert og["og:image:alt"] == "Crowd at a checkpoint"


def test_column_shares_with_its_press_image_else_its_header_photo(client):
    column, _ = build_rich_column()
    page, data = extract(client, column.get_absolute_url())
    og = data["opengraph"][0]
    assert og["og:title"] == "Aleppo: live updates"
    assert og["og:description"] == "Rescue workers say the strikes continued overnight."
    assert og["og:url"] == BASE + "/live/aleppo-live/"
    assert og["og:image"] == BASE + column.press_image.url
    assert meta(page, "twitter:card") == "summary_large_image"
    assert meta(page, "twitter:image") == BASE + column.press_image.url

    column.press_image = ""
    column.save()
    page, data = extract(client, column.get_absolute_url())
    assert data["opengraph"][0]["og:image"] == BASE + column.header_photo.url
    assert meta(page, "twitter:image:alt") == "Smoke over the old city at dawn"


def test_column_without_images_gets_a_summary_card(client, column):
    page, data = extract(client, column.get_absolute_url())
    assert "og:image" not in data["opengraph"][0]
    assert meta(page, "twitter:card") == "summary"


def test_sitemap_lists_columns_series_and_authors(client, make_post, column, series):
    make_post("Something")
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    tree = etree.fromstring(response.content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = tree.xpath("//s:url/s:loc/text()", namespaces=ns)
    assert set(urls) == {f"{BASE}/live/aleppo-live/", f"{BASE}/series/syria-crisis/", f"{BASE}/authors/rania-haddad/"}
    column.refresh_from_db()
    lastmod = tree.xpath("//s:url[s:loc='http://testserver/live/aleppo-live/']/s:lastmod/text()", namespaces=ns)
    assert lastmod == [column.changed_at.date().isoformat()]


def test_robots_txt_points_at_the_sitemap_and_keeps_crawlers_out_of_the_admin(client, db):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "Disallow: /admin/" in lines
    assert "Disallow: /ckeditor/" in lines
    assert "Disallow: /cards/" in lines
    assert f"Sitemap: {BASE}/sitemap.xml" in lines


def test_share_images_are_absolute_urls_even_behind_another_host(client, column):
    column.header_photo.save("h.png", png(), save=False)
    column.header_photo_alt = "A header"
    column.save()
    response = client.get(column.get_absolute_url(), HTTP_HOST="localhost")
    assert meta(response.content.decode(), "og:image") == "http://localhost" + column.header_photo.url
