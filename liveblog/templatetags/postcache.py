"""`post|version`: what the post partial shows of a post, as a short key for `{% cache %}`.

Everything the partial reads (the post's fields, its bylines' authors, its link cards), all prefetched with
the post, so the key costs no query; any change to any of them, by any path (the admin, the importer, the
card fetcher, a shell), makes a new key, so a kept rendering is never an old one.
"""

import hashlib

from django import template

register = template.Library()


def fields(instance):
    return tuple(str(getattr(instance, field.attname)) for field in instance._meta.concrete_fields)


@register.filter
def version(post):
    parts = [fields(post), post.column.slug]
    parts += [(byline.position, fields(byline.author)) for byline in post.bylines.all()]
    parts += [fields(card) for card in post.link_cards.all()]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
