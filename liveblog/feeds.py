"""Atom and RSS feeds of published posts, per column and for all live columns.

Each entry carries the post's headline, permalink, publish and update times,
every author, and the cleaned body with its link cards as plain links and
images (templates/liveblog/feed_item.html, built from the same body segments
as the page's post partial). URLs in the body are made absolute, since a feed
reader has no page to resolve them against.
"""

from urllib.parse import urljoin

from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.utils import feedgenerator
from django.utils.html import escape
from django.utils.text import Truncator

from liveblog import caching
from liveblog.body import plain_text
from liveblog.models import Column, Post

FEED_SIZE = 50


class AtomFeed(feedgenerator.Atom1Feed):
    """Atom with the full body as <content> and one <author> per byline."""

    def add_item_elements(self, handler, item):
        content = item["description"]
        super().add_item_elements(handler, {**item, "description": None, "author_name": None})
        if item.get("summary"):
            # Plain text, said to be HTML and escaped as such: readers that take any summary for HTML (many
            # do) then show "<script>" in a post's text as the text it is.
            handler.addQuickElement("summary", escape(item["summary"]), {"type": "html"})
        handler.addQuickElement("content", content, {"type": "html"})
        for name, url in item["authors"]:
            handler.startElement("author", {})
            handler.addQuickElement("name", name)
            handler.addQuickElement("uri", urljoin(self.feed["link"], url))
            handler.endElement("author")


class RssFeed(feedgenerator.Rss201rev2Feed):
    """RSS 2.0 naming every author (RSS's own <author> wants an e-mail address)."""

    def rss_attributes(self):
        return {**super().rss_attributes(), "xmlns:dc": "http://purl.org/dc/elements/1.1/"}

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, {**item, "author_name": None})
        for name, _url in item["authors"]:
            handler.addQuickElement("dc:creator", name)


class PostFeed(Feed):
    """What both kinds of feed say about a post."""

    description_template = "liveblog/feed_item.html"

    def get_context_data(self, **kwargs):
        request = kwargs["request"]
        return {"post": kwargs["item"], "base_url": request.build_absolute_uri("/")}

    def item_title(self, post):
        return post.headline

    def item_link(self, post):
        return post.get_anchor_url()

    def item_pubdate(self, post):
        return post.published_at

    def item_updateddate(self, post):
        return post.modified_at

    def item_categories(self, post):
        return [post.column.title]

    def item_extra_kwargs(self, post):
        return {
            "authors": [(author.name, author.get_absolute_url()) for author in post.ordered_authors()],
            "summary": Truncator(plain_text(post.body)).chars(300),
        }


class ColumnFeed(PostFeed):
    def get_object(self, request, slug):
        return get_object_or_404(Column, slug=slug)

    def title(self, column):
        return column.title

    def link(self, column):
        return column.get_absolute_url()

    def description(self, column):
        # RSS readers read descriptions as HTML: the plain-text standfirst is escaped for them.
        return escape(column.standfirst or f"Live updates: {column.title}")

    def subtitle(self, column):
        return column.standfirst or None

    def items(self, column):
        return column.posts.published().for_display()[:FEED_SIZE]


class LiveColumnsFeed(PostFeed):
    title = "Liveblog: all live columns"
    link = "/"
    description = "The latest updates from every live column."

    def items(self):
        return (
            Post.objects.published()
            .filter(column__state=Column.State.LIVE)
            .for_display()
            .order_by("-published_at", "-id")[:FEED_SIZE]
        )


class ColumnAtom(ColumnFeed):
    feed_type = AtomFeed


class ColumnRss(ColumnFeed):
    feed_type = RssFeed


class LiveColumnsAtom(LiveColumnsFeed):
    feed_type = AtomFeed


class LiveColumnsRss(LiveColumnsFeed):
    feed_type = RssFeed


column_atom = caching.cached_by_column(ColumnAtom())
column_rss = caching.cached_by_column(ColumnRss())
live_atom = caching.cached_by_any_column(LiveColumnsAtom())
live_rss = caching.cached_by_any_column(LiveColumnsRss())
