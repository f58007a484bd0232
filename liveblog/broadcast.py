"""Saving is what tells readers: every change to what readers see becomes an Event.

Signals on Post, Byline, LinkCard and Column record, inside the transaction of the
change, one Event per post (or column) and transaction, with its per-column `seq`
and the post rendered by the one post partial. The admin saves a post first and
its bylines and link cards after it, all in one transaction: the first save
allocates the seq, every later save of the same post re-renders the same event,
so readers get one event with everything in place. After commit the stored
events go to the channel layer; liveblog.fanout hands them to the readers.

Sequence numbers are allocated under a lock on the column row, held until
commit, so the committed events of a column are always a gapless prefix.
"""

import asyncio
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Max
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.template.loader import render_to_string

from liveblog.models import Byline, Column, Event, LinkCard, Post

logger = logging.getLogger(__name__)

# Every server process's hub is a member of this one group (liveblog.fanout).
GROUP = "liveblog.events"


def frame(event_dict):
    """The text a reader's socket receives; also one item of the catch-up JSON."""
    return json.dumps(event_dict, separators=(",", ":"))


def render_post(post):
    return render_to_string("liveblog/_post.html", {"post": post, "editor": False})


def render_key_event(post):
    return render_to_string("liveblog/_key_event.html", {"post": post}).strip()


class Pending:
    """The events one transaction has written so far, sent once it commits."""

    def __init__(self, using):
        self.using = using
        self.events = {}  # (column_id, post_id or None) -> Event
        self.callback = self.send  # one bound method, so we can find it in the on_commit list

    def send(self):
        ids = [event.pk for event in self.events.values()]
        # Read back what was committed: a savepoint rolled back since may have undone a re-render.
        for event in Event.objects.using(self.using).filter(pk__in=ids).order_by("column_id", "seq"):
            publish(event)


def pending_for(using):
    conn = connections[using]
    pending = getattr(conn, "liveblog_pending", None)
    # Our on_commit callback leaves the list on commit and on rollback: then this transaction is a new one.
    if pending is None or not any(callback == pending.callback for _, callback, _ in conn.run_on_commit):
        pending = Pending(using)
        conn.liveblog_pending = pending
        transaction.on_commit(pending.callback, using=using)
    return pending


def allocate_seq(column_id, using):
    # The row lock serialises writers of one column until commit: seqs commit in order, with no gaps.
    list(Column.objects.using(using).select_for_update().filter(pk=column_id).values_list("pk", flat=True))
    last = Event.objects.using(using).filter(column_id=column_id).aggregate(last=Max("seq"))["last"]
    return (last or 0) + 1


def post_changed(post_id, column_id, using=DEFAULT_DB_ALIAS, deleted=False):
    """Record (or update) this transaction's event for a post. Must run inside the transaction."""
    pending = pending_for(using)
    key = (column_id, post_id)
    event = pending.events.get(key)
    if event is None:
        previous = (
            Event.objects.using(using)
            .filter(column_id=column_id, post_id=post_id)
            .only("kind", "pinned", "key_event")
            .order_by("-seq")
            .first()
        )
        had_it = previous is not None and previous.kind in Event.SHOWING
    else:
        previous, had_it = event.previous, event.had_it

    post = None
    if not deleted:
        post = Post.objects.using(using).published().for_display().filter(pk=post_id, column_id=column_id).first()

    if post is None and not had_it and event is None:
        return None  # readers never saw it and still may not: nothing to tell
    if post is not None:
        if not had_it:
            kind = Event.Kind.PUBLISHED
        elif post.pinned != previous.pinned:
            kind = Event.Kind.PINNED if post.pinned else Event.Kind.UNPINNED
        elif post.key_event != previous.key_event:
            kind = Event.Kind.KEY_EVENT
        else:
            kind = Event.Kind.EDITED
    else:
        exists = not deleted and Post.objects.using(using).filter(pk=post_id).exists()
        kind = Event.Kind.UNPUBLISHED if exists else Event.Kind.DELETED

    if event is None:
        event = Event(column_id=column_id, post_id=post_id, seq=allocate_seq(column_id, using))
        event.previous, event.had_it = previous, had_it
        pending.events[key] = event
    event.kind = kind
    event.pinned = bool(post and post.pinned)
    event.key_event = bool(post and post.key_event)
    event.html = render_post(post) if post is not None else ""
    event.key_html = render_key_event(post) if post is not None and post.key_event else ""
    event.save(using=using)
    return event


def column_changed(column, using=DEFAULT_DB_ALIAS):
    previous = (
        Event.objects.using(using)
        .filter(column_id=column.pk, kind__in=[Event.Kind.COLUMN_ENDED, Event.Kind.COLUMN_REOPENED])
        .only("kind")
        .order_by("-seq")
        .first()
    )
    was_ended = previous is not None and previous.kind == Event.Kind.COLUMN_ENDED
    if column.is_live == (not was_ended):
        return None
    pending = pending_for(using)
    key = (column.pk, None)
    event = pending.events.get(key) or Event(column_id=column.pk, seq=allocate_seq(column.pk, using))
    event.kind = Event.Kind.COLUMN_REOPENED if column.is_live else Event.Kind.COLUMN_ENDED
    event.save(using=using)
    pending.events[key] = event
    return event


def publish(event):
    """Hand one committed event to every server process. Never fails the caller: readers catch up."""
    message = {"type": "live.event", "column_id": event.column_id, "seq": event.seq, "frame": frame(event.as_dict())}
    layer = get_channel_layer()
    try:
        if hasattr(layer, "group_send") and not isinstance(layer, InMemoryChannelLayer):
            publisher.run(layer.group_send(GROUP, message))
        else:
            run_async(layer.group_send, GROUP, message)
    except Exception:  # the change is committed; the hubs' catch-up from the database will deliver it
        logger.warning("Could not send event %s to the channel layer; readers will catch up", event, exc_info=True)


class Publisher:
    """One event loop thread per process for sending to Redis, so its connections are reused
    (async_to_sync from a plain thread would start a loop, and a Redis connection, per event)."""

    TIMEOUT = 5  # seconds; a Redis that hangs must not hold the editor's request

    def __init__(self):
        self.loop = None
        self.lock = threading.Lock()

    def run(self, coroutine):
        with self.lock:
            if self.loop is None or self.pid != os.getpid():
                self.loop = asyncio.new_event_loop()
                self.pid = os.getpid()
                threading.Thread(target=self.loop.run_forever, name="liveblog-publisher", daemon=True).start()
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout=self.TIMEOUT)
        except BaseException:
            future.cancel()
            raise


publisher = Publisher()


def run_async(function, *args):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return async_to_sync(function)(*args)
    # This thread runs an event loop of its own (a sync caller inside async code): send from beside it.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(async_to_sync(function), *args).result()


# The receivers: every code path that saves these models tells readers.


@receiver(post_save, sender=Post, dispatch_uid="liveblog.broadcast.post_saved")
def post_saved(sender, instance, raw=False, using=DEFAULT_DB_ALIAS, **kwargs):
    if raw:
        return
    post_changed(instance.pk, instance.column_id, using=using)
    # Moved to another column: the readers of the one it left must see it go.
    elsewhere = (
        Event.objects.using(using)
        .filter(post_id=instance.pk)
        .exclude(column_id=instance.column_id)
        .only("column_id", "kind")
        .order_by("-created_at", "-seq")
        .first()
    )
    if elsewhere is not None and elsewhere.kind in Event.SHOWING:
        post_changed(instance.pk, elsewhere.column_id, using=using)


@receiver(post_delete, sender=Post, dispatch_uid="liveblog.broadcast.post_deleted")
def post_deleted(sender, instance, using=DEFAULT_DB_ALIAS, origin=None, **kwargs):
    if isinstance(origin, Column) or getattr(origin, "model", None) is Column:
        return  # the column goes, with its events: nobody is left to tell
    post_changed(instance.pk, instance.column_id, using=using, deleted=True)


@receiver(post_save, sender=Byline, dispatch_uid="liveblog.broadcast.byline_saved")
@receiver(post_save, sender=LinkCard, dispatch_uid="liveblog.broadcast.card_saved")
def part_saved(sender, instance, raw=False, using=DEFAULT_DB_ALIAS, **kwargs):
    if not raw:
        part_changed(instance, using)


@receiver(post_delete, sender=Byline, dispatch_uid="liveblog.broadcast.byline_deleted")
@receiver(post_delete, sender=LinkCard, dispatch_uid="liveblog.broadcast.card_deleted")
def part_deleted(sender, instance, using=DEFAULT_DB_ALIAS, origin=None, **kwargs):
    # Deleting the post (or its column) deletes its parts first; the post's own event says it all.
    if isinstance(origin, Post | Column) or getattr(origin, "model", None) in (Post, Column):
        return
    part_changed(instance, using)


def part_changed(part, using):
    column_id = Post.objects.using(using).filter(pk=part.post_id).values_list("column_id", flat=True).first()
    if column_id is not None:
        post_changed(part.post_id, column_id, using=using)


@receiver(post_save, sender=Column, dispatch_uid="liveblog.broadcast.column_saved")
def column_saved(sender, instance, raw=False, created=False, using=DEFAULT_DB_ALIAS, **kwargs):
    if not raw and not created:
        column_changed(instance, using=using)
