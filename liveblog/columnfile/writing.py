"""Writing what a checked column file asks for: one transaction creates or updates the column.

The images it needs are written inside it and removed again if it does not commit. Posts are saved through
the model like an editor's (that is what tells readers), and only when something changed, so importing the
same file twice changes nothing.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils.text import slugify

from liveblog import changes
from liveblog.columnfile import bodies
from liveblog.columnfile.fields import CARD, COLUMN, POST, SERIES
from liveblog.columnfile.imagefiles import Files, set_image
from liveblog.columnfile.reading import read_file
from liveblog.models import Author, Byline, Column, LinkCard, Post, Series


@dataclass
class Summary:
    column: Column
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    images_written: int = 0


def import_file(path):
    """Create or update the column described by the file; raise ColumnFileError if it does not fit."""
    plan = read_file(path)
    files = Files()
    try:
        # Each post is rendered for readers once, after commit, not at every save of it and its parts.
        with transaction.atomic(), changes.without_rendering():
            summary = apply(plan, files)
    except BaseException:
        # Nothing is half-imported: the images this import wrote go with its transaction.
        files.remove()
        raise
    summary.images_written = len(files.written)
    return summary


def set_fields(instance, **values):
    changed = False
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def assign(instance, shape, spec, files):
    """Set the model fields the file gives as they are, and its images. True if anything changed."""
    changed = set_fields(instance, **shape.plain_values(spec))
    for field in shape.images:
        changed |= set_image(getattr(instance, field.model_field), spec[field.name], files)
    return changed


def apply(plan, files):
    series = None
    if plan.series:
        series = Series.objects.filter(slug=plan.series["slug"]).first() or Series(slug=plan.series["slug"])
        if assign(series, SERIES, plan.series, files) or not series.pk:
            series.save()

    spec = plan.column
    column = Column.objects.filter(slug=spec["slug"]).first() or Column(slug=spec["slug"])
    changed = set_fields(column, series=series)
    changed |= assign(column, COLUMN, spec, files)
    if changed or not column.pk:
        column.save()

    summary = Summary(column)
    authors = {}
    for spec in plan.posts:
        outcome = apply_post(column, spec, authors, plan.token, files)
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


def apply_post(column, spec, authors, token, files):
    if spec["key"]:
        post = column.posts.filter(import_key=spec["key"]).first()
    else:
        post = column.posts.filter(headline=spec["headline"], published_at=spec["published_at"]).first()
    new = post is None
    if new:
        post = Post(column=column, import_key=spec["key"])
    changed = set_fields(post, body=bodies.with_images(post, spec["body_html"], token, files))
    changed |= assign(post, POST, spec, files)
    if new:
        post.save()

    wanted = [author_named(name, authors) for name in spec["authors"]]
    if new or [b.author_id for b in post.bylines.all()] != [a.pk for a in wanted]:
        post.bylines.all().delete()
        for position, author in enumerate(wanted):
            Byline.objects.create(post=post, author=author, position=position)
        changed = True

    existing = {card.url: card for card in post.link_cards.all()}
    for card_spec in spec["link_cards"]:
        card = existing.get(card_spec["url"]) or LinkCard(post=post, url=card_spec["url"])
        card_changed = assign(card, CARD, card_spec, files)
        if not card.pk or card.fetch_state == LinkCard.FetchState.PENDING:
            # A card from the file is used as it is: it replaces the placeholder saving the post made for
            # its URL, and the fetcher leaves it alone. A card fetched earlier keeps its state.
            card_changed |= set_fields(card, fetch_state=LinkCard.FetchState.MANUAL, fetch_note="")
        if card_changed or not card.pk:
            card.save()
            changed = True

    if new:
        return "added"
    if changed:
        # Saved last, with its bylines and cards in place: saving the post is what tells readers.
        post.save()
        return "updated"
    return "unchanged"


def author_named(name, cache):
    if name not in cache:
        author = Author.objects.filter(name=name).order_by("pk").first()
        if author is None:
            base = slugify(name)[:180] or "author"
            slug, n = base, 1
            while Author.objects.filter(slug=slug).exists():
                n += 1
                slug = f"{base}-{n}"
            author = Author.objects.create(name=name, slug=slug)
        cache[name] = author
    return cache[name]
