"""What a save sets off, all in one place.

Every way content changes (the admin, the editors' desk, the scheduler, the importer, the
link-card fetcher, a shell) saves models; the receivers below are the only code that reacts,
so this module is the whole list. Models readers see (`models.Announced`) save in a
transaction, and their receivers run inside it.

In the change's transaction:
- `record()` writes a `Change` row (the outbox) for each column and post whose readers must
  hear of it, with what they will see of the post (rendered by the post partial), and moves
  `Column.changed_at` unless another transaction holds the column row (it never waits for
  one): no lock is held on the column until commit, so a long transaction (an import, a shell
  left open) holds up nobody else's publishing. Writers of a post's bylines and cards lock the
  post first (`models.PartOfPost`), so each render includes what the writer before committed;
- `linkcards.ensure_cards()` places a pending card for each URL pasted on a line of its own.

After commit (`transaction.on_commit`, Zulip's `send_event_on_commit` idea, but from a record
that committed with the change, so nothing is lost if the process dies right after commit):
- `broadcast.flush()` turns the column's changes into events (per-column seq, the latest render
  of each post), in a short transaction of its own, and publishes them (liveblog/broadcast.py);
- `linkcards.fetch_in_background()` fetches the new cards' pages;
- `deskfeed.changed()` tells the column's open desks which post changed (drafts and scheduled posts
  included, which readers never hear of; liveblog/desk.py).
A change whose flush did not happen (the process died, a lock wait timed out) is finished by
`broadcast.sweep()`, which the scheduler runs every second.
"""

import threading
from contextlib import contextmanager
from functools import partial

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from liveblog import broadcast, deskfeed, linkcards
from liveblog.models import Author, Byline, Change, Column, Event, LinkCard, Post, Series


def record(column_id, post_id=None, using=DEFAULT_DB_ALIAS):
    """Readers of this column must hear of this post (or of the column itself) once the transaction commits."""
    broadcast.forget_flushes()  # a new transaction: what this thread flushed before says nothing about it
    touched = touch_unless_held(column_id, using)
    # What readers will see, rendered now, so that publishing after commit only numbers and sends it. When
    # one transaction saves a post, then its bylines and cards, each save renders again and the last wins.
    seen = broadcast.what_readers_see(column_id, post_id, using) if post_id and rendering_now() else {}
    change = Change.objects.using(using).create(column_id=column_id, post_id=post_id, touched=touched, **seen)
    transaction.on_commit(partial(broadcast.flush_after_commit, column_id, change.pk, using), using=using)
    deskfeed.changed(column_id, post_id, using)  # the editors' open desks, drafts included


_bulk = threading.local()


@contextmanager
def without_rendering():
    """Record changes without rendering them: the publisher renders each post once after commit, unless a
    later change in the same transaction renders it. For bulk writers (the importer), which would otherwise
    render a post once for every save of it, its bylines and its cards."""
    _bulk.depth = getattr(_bulk, "depth", 0) + 1
    try:
        yield
    finally:
        _bulk.depth -= 1


def rendering_now():
    return not getattr(_bulk, "depth", 0)


def touch_unless_held(column_id, using):
    """Move the column's `changed_at` now, unless another transaction holds its row: then the publisher
    moves it after commit (a column row held by an import must not hold up this save)."""
    free = Column.objects.using(using).select_for_update(no_key=True, skip_locked=True).filter(pk=column_id)
    return bool(Column.objects.using(using).filter(pk__in=free.values("pk")).touch())


def deleted_with(origin, *models):
    """Whether a delete is part of deleting one of `models` (whose own change says it all)."""
    return isinstance(origin, models) or getattr(origin, "model", None) in models


# Posts


@receiver(post_save, sender=Post, dispatch_uid="liveblog.changes.post_saved")
def post_saved(sender, instance, raw=False, using=DEFAULT_DB_ALIAS, update_fields=None, **kwargs):
    if raw:
        return
    cards = []
    if update_fields is None or "body" in update_fields:
        with without_rendering():  # the post's own change, recorded next, renders them
            cards = linkcards.ensure_cards(instance)
    record(instance.column_id, instance.pk, using)
    if cards:
        transaction.on_commit(partial(linkcards.fetch_in_background, cards), using=using)
    # Moved to another column: the readers of the one it left must see it go.
    left = (
        Event.objects.using(using)
        .filter(post_id=instance.pk)
        .exclude(column_id=instance.column_id)
        .only("column_id", "kind")
        .order_by("-created_at", "-seq")
        .first()
    )
    if left is not None and left.kind in Event.SHOWING:
        record(left.column_id, instance.pk, using)


@receiver(post_delete, sender=Post, dispatch_uid="liveblog.changes.post_deleted")
def post_deleted(sender, instance, using=DEFAULT_DB_ALIAS, origin=None, **kwargs):
    if not deleted_with(origin, Column):  # the column goes with its events: nobody is left to tell
        record(instance.column_id, instance.pk, using)


@receiver(post_save, sender=Byline, dispatch_uid="liveblog.changes.byline_saved")
@receiver(post_save, sender=LinkCard, dispatch_uid="liveblog.changes.card_saved")
def part_saved(sender, instance, raw=False, using=DEFAULT_DB_ALIAS, **kwargs):
    if not raw:
        part_changed(instance, using)


@receiver(post_delete, sender=Byline, dispatch_uid="liveblog.changes.byline_deleted")
@receiver(post_delete, sender=LinkCard, dispatch_uid="liveblog.changes.card_deleted")
def part_deleted(sender, instance, using=DEFAULT_DB_ALIAS, origin=None, **kwargs):
    if not deleted_with(origin, Post, Column):  # the post's own change says it all
        part_changed(instance, using)


def part_changed(part, using):
    column_id = Post.objects.using(using).filter(pk=part.post_id).values_list("column_id", flat=True).first()
    if column_id is not None:
        record(column_id, part.post_id, using)


# Columns, and what their pages show of others


@receiver(post_save, sender=Column, dispatch_uid="liveblog.changes.column_saved")
def column_saved(sender, instance, raw=False, created=False, using=DEFAULT_DB_ALIAS, **kwargs):
    if raw:
        return
    if not created:  # ended or reopened
        record(instance.pk, None, using)
    neighbours_changed(instance, using)


@receiver(post_delete, sender=Column, dispatch_uid="liveblog.changes.column_deleted")
def column_deleted(sender, instance, using=DEFAULT_DB_ALIAS, **kwargs):
    neighbours_changed(instance, using)


def neighbours_changed(column, using):
    # The next column of the series links back to this one ("the previous column ... here").
    if column.series_id is not None:
        others = Column.objects.using(using).filter(series_id=column.series_id).exclude(pk=column.pk)
        for column_id in others.values_list("pk", flat=True):
            record(column_id, None, using)


@receiver(post_save, sender=Author, dispatch_uid="liveblog.changes.author_saved")
def author_saved(sender, instance, raw=False, created=False, using=DEFAULT_DB_ALIAS, **kwargs):
    if raw or created:
        return
    # Names and links in bylines.
    columns = Column.objects.using(using).filter(posts__bylines__author=instance).distinct()
    for column_id in columns.values_list("pk", flat=True):
        record(column_id, None, using)


@receiver(post_save, sender=Series, dispatch_uid="liveblog.changes.series_saved")
def series_saved(sender, instance, raw=False, using=DEFAULT_DB_ALIAS, **kwargs):
    if not raw:
        for column_id in Column.objects.using(using).filter(series=instance).values_list("pk", flat=True):
            record(column_id, None, using)
