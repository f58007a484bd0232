"""Template tags for feeds, share cards and structured data (liveblog.seo)."""

import json
from urllib.parse import urljoin

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from liveblog import seo
from liveblog.body import clean_html, plain_text

register = template.Library()

# The escapes of Django's json_script: inside <script>, "<", ">" and "&" as
# JSON \u escapes, so a value can never spell "</script>" or "<!--".
SCRIPT_SAFE = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.filter
def ld_json(data):
    """A JSON-LD script element whose content no value can break out of."""
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(SCRIPT_SAFE)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(text))


@register.filter
def absolute(base_url, url):
    return urljoin(base_url, url)


@register.filter
def absolute_html(cleaned_html, base_url):
    """Cleaned body HTML with its relative links and images made absolute (feeds)."""
    return mark_safe(clean_html(cleaned_html, base_url=base_url))


@register.inclusion_tag("liveblog/_column_head.html", takes_context=True)
def column_head(context, column, pinned, posts):
    request = context["request"]
    return {
        "column": column,
        "paged": context.get("paged"),
        "card": seo.column_share_card(request, column),
        "structured_data": seo.live_blog_posting(request, column, [*pinned, *posts]),
    }


@register.inclusion_tag("liveblog/_post_head.html", takes_context=True)
def post_head(context, post):
    request = context["request"]
    # The body is read once for both the share card and the structured data.
    image, image_alt = seo.first_image(post)
    text = plain_text(post.body)
    return {
        "column": post.column,
        "card": seo.post_share_card(request, post, image, image_alt, text),
        "structured_data": seo.news_article(request, post, image, text),
    }
