"""The post body: cleaning on save, and finding where its link cards stand.

Templates only ever print HTML that went through clean_html(). A paragraph
holding nothing but a URL marks the spot of that URL's link card (docs/reading.md, docs/editing.md).
"""

import html
import re

import nh3

ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "s", "sub", "sup",
    "blockquote", "q", "cite", "ul", "ol", "li", "a", "img", "figure", "figcaption",
    "hr", "span", "small", "abbr", "code", "pre",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "figure": {"class"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
# The allowed attributes that hold plain text. Every other allowed attribute is treated as a URL and must
# pass URL_SCHEMES: nh3 checks only the attributes it knows as links (href, src), not cite or any added later.
TEXT_ATTRIBUTES = {"title", "alt", "width", "height", "class", "start"}
# What browsers strip or skip before reading a URL's scheme (WHATWG URL: C0 controls and spaces around it,
# tabs and newlines anywhere), so "java\tscript:" is read as the scheme it is.
URL_IGNORED = re.compile(r"[\t\n\r]")
C0_AND_SPACE = "".join(map(chr, range(0x21)))
URL_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")

# A lone URL, optionally linked to itself, in a paragraph of its own.
LONE_URL_PARAGRAPH = re.compile(
    r"<p>\s*(?:<a [^>]*>)?\s*(?P<url>https?://[^\s<>\"]+?)\s*(?:</a>)?\s*(?:<br>)?\s*</p>",
    re.IGNORECASE,
)


def url_allowed(value):
    """Whether a browser would read this URL with a scheme in URL_SCHEMES (relative URLs have none)."""
    url = URL_IGNORED.sub("", value).strip(C0_AND_SPACE)
    scheme = URL_SCHEME.match(url)
    return scheme is None or scheme.group(1).lower() in URL_SCHEMES


def keep_attribute(tag, attribute, value):
    """nh3's attribute filter: a URL attribute outside the scheme allow-list is dropped."""
    if attribute in TEXT_ATTRIBUTES:
        return value
    # A srcset-like list (added later, perhaps) holds several URLs: each must pass.
    candidates = [part.strip().split(" ")[0] for part in value.split(",")] if attribute.endswith("srcset") else [value]
    return value if all(url_allowed(url) for url in candidates) else None


def clean_html(value, base_url=None):
    """The editorial allow-list. With base_url, relative links and images become absolute (feeds)."""
    if not value:
        return ""
    return nh3.clean(
        value,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=keep_attribute,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        url_relative=("rewrite_with_base", base_url) if base_url else None,
    ).strip()


def lone_urls(cleaned_html):
    """The URLs standing alone in a paragraph, in body order: where cards go."""
    return [html.unescape(m.group("url")) for m in LONE_URL_PARAGRAPH.finditer(cleaned_html or "")]


def segments(cleaned_html, cards):
    """Split the body into HTML runs and the cards placed between them.

    A card whose URL has no paragraph of its own in the body goes after the body,
    so an editor's card is never silently hidden.
    """
    by_url = {card.url: card for card in cards}
    placed = set()
    parts = []
    position = 0
    for match in LONE_URL_PARAGRAPH.finditer(cleaned_html or ""):
        card = by_url.get(html.unescape(match.group("url")))
        if card is None or card.url in placed:
            continue
        if match.start() > position:
            parts.append(("html", cleaned_html[position : match.start()]))
        parts.append(("card", card))
        placed.add(card.url)
        position = match.end()
    if position < len(cleaned_html or ""):
        parts.append(("html", cleaned_html[position:]))
    parts.extend(("card", card) for card in cards if card.url not in placed)
    return parts


def plain_text(cleaned_html):
    """Body text for summaries, feeds and structured data."""
    spaced = re.sub(r"(</(?:p|h2|h3|h4|li|blockquote|figcaption)>|<br>)", r"\1 ", cleaned_html or "")
    text = html.unescape(nh3.clean(spaced, tags=set()))
    return re.sub(r"\s+", " ", text).strip()
