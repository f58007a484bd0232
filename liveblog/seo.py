"""What search engines and share previews read: schema.org JSON-LD and share cards.

Built as plain dicts here; templates print them through the `reach` template
tags, which escape JSON so that no headline or body can close its script tag.
"""

from html.parser import HTMLParser

from django.utils.text import Truncator

from liveblog.body import plain_text

SITE_NAME = "Liveblog"
SUMMARY_CHARS = 200


def absolute(request, url):
    return request.build_absolute_uri(url) if url else None


def share_image(column):
    """The column's share image: its press image, else its header photo."""
    if column.press_image:
        # The press image may come from a link card and has no description of its own.
        return column.press_image, ""
    if column.header_photo:
        return column.header_photo, column.header_photo_alt
    return None, ""


class FirstImage(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.found is None and tag == "img" and attrs.get("src"):
            self.found = (attrs["src"], attrs.get("alt") or "")


def first_image(post):
    """(url, description) of the first image a reader meets in the post, or (None, "")."""
    for kind, part in post.body_segments():
        if kind == "card" and part.image:
            return part.image.url, part.image_alt
        if kind == "html":
            parser = FirstImage()
            parser.feed(part)
            if parser.found:
                return parser.found
    return None, ""


def summary(post, text):
    return Truncator(text or post.headline).chars(SUMMARY_CHARS)


def person(request, author):
    return {"@type": "Person", "name": author.name, "url": absolute(request, author.get_absolute_url())}


def live_blog_posting(request, column, posts):
    """schema.org LiveBlogPosting for the column page, one liveBlogUpdate per post shown."""
    image, _ = share_image(column)
    url = absolute(request, column.get_absolute_url())
    data = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "@id": url,
        "url": url,
        "mainEntityOfPage": url,
        "headline": column.title,
        "description": column.standfirst or column.title,
        "datePublished": column.started_at.isoformat(),
        "dateModified": column.changed_at.isoformat(),
        "coverageStartTime": column.started_at.isoformat(),
        "publisher": {"@type": "Organization", "name": SITE_NAME},
    }
    if image:
        data["image"] = absolute(request, image.url)
    if not column.is_live:
        data["coverageEndTime"] = (column.ended_at or column.changed_at).isoformat()
    seen = set()
    updates = []
    for post in posts:
        if post.pk not in seen:  # a pinned post may also be in the stream
            seen.add(post.pk)
            updates.append(blog_posting(request, post))
    data["liveBlogUpdate"] = updates
    return data


def blog_posting(request, post):
    return {
        "@type": "BlogPosting",
        "headline": post.headline,
        "url": absolute(request, post.get_anchor_url()),
        "datePublished": post.published_at.isoformat(),
        "dateModified": post.modified_at.isoformat(),
        "author": [person(request, author) for author in post.ordered_authors()],
        "articleBody": plain_text(post.body),
    }


def news_article(request, post, image, text):
    """schema.org NewsArticle for a post page, part of its column's LiveBlogPosting.

    `image` and `text` are the post's first image URL and plain text (first_image, plain_text),
    computed once by the caller for this and the share card."""
    column = post.column
    column_url = absolute(request, column.get_absolute_url())
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": post.headline,
        "description": summary(post, text),
        "url": absolute(request, post.get_absolute_url()),
        "mainEntityOfPage": column_url,
        "isPartOf": {
            "@type": "LiveBlogPosting",
            "@id": column_url,
            "headline": column.title,
        },
        "datePublished": post.published_at.isoformat(),
        "dateModified": post.modified_at.isoformat(),
        "author": [person(request, author) for author in post.ordered_authors()],
        "articleBody": text,
        "publisher": {"@type": "Organization", "name": SITE_NAME},
    }
    if image:
        data["image"] = absolute(request, image)
    return data


def column_share_card(request, column):
    image, image_alt = share_image(column)
    return {
        "type": "article",
        "title": column.title,
        "description": Truncator(column.standfirst or column.title).chars(SUMMARY_CHARS),
        "url": absolute(request, column.get_absolute_url()),
        "image": absolute(request, image.url) if image else None,
        "image_alt": image_alt,
        "published": column.started_at,
        "modified": column.changed_at,
    }


def post_share_card(request, post, image, image_alt, text):
    return {
        "type": "article",
        "title": post.headline,
        "description": summary(post, text),
        # The share preview keeps the post's own headline; search engines get
        # the column through <link rel="canonical">.
        "url": absolute(request, post.get_absolute_url()),
        "image": absolute(request, image),
        "image_alt": image_alt,
        "published": post.published_at,
        "modified": post.modified_at,
        # Search engines go to the column; the share preview above keeps the post's own URL.
        "canonical": absolute(request, post.column.get_absolute_url()),
    }
