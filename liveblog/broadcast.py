"""Publishing: a column's recorded changes become Events, then go to every server process.

What a save records, and when this runs, is in liveblog/changes.py. Here, after the change has
committed, `flush(column)` runs a short transaction of its own per column: it takes the
column's publishing lock (waiting at most LOCK_TIMEOUT), claims the column's `Change` rows,
turns them into one Event per post (or one for the column), with the next per-column `seq`
and the post as the latest change rendered it (rendering it here only for the changes written
without a render, by the importer), moves `Column.changed_at` if the change could
not, deletes the changes and commits; then it publishes the events to the channel layer, and
liveblog.fanout hands them to the readers.

Guarantees: the committed events of a column are always a gapless prefix in seq order (one
publisher per column at a time; the unique (column, seq) constraint backs it up); each
committed change becomes exactly one event, since claiming a change deletes it in the
transaction that writes its event; several saves in one transaction (the admin saves the post,
then its bylines and cards) are one event with everything in place; and nothing is lost if a
process dies between commit and publish: its changes wait in the table for `sweep()`, and a
written event that was never sent is read from the database by the hubs (liveblog/fanout.py).
Only the publishing lock is held by a publisher, and only for one short transaction: a long
transaction elsewhere (an import, a shell left open) never holds it.
"""

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from liveblog.models import Change, Column, Event, Post

logger = logging.getLogger(__name__)

# Every server process's hub is a member of this one group (liveblog.fanout).
GROUP = "liveblog.events"
# How long a publisher waits for another publisher of the same column (who holds it for one short
# transaction), and for a column row held elsewhere when it must move changed_at itself.
LOCK_TIMEOUT = "3s"
# Posts published per transaction: a big import's thousands of posts go out in short transactions,
# between which an editor's save in the same column gets its turn.
BATCH = 100
CLAIM_LIMIT = 20 * BATCH  # changes read at once (a post saved with its bylines and cards has a few)
# sweep() leaves younger changes to the flush their own process runs right after commit.
SWEEP_AFTER = timedelta(seconds=2)
# A namespace for PostgreSQL advisory locks, so that ours never collide with anyone else's.
LOCK_SPACE = 0x4C42  # "LB"


def frame(event_dict):
    """The text a reader's socket receives; also one item of the catch-up JSON."""
    return json.dumps(event_dict, separators=(",", ":"))


def render_post(post):
    return render_to_string("liveblog/_post.html", {"post": post, "editor": False})


def render_key_event(post):
    return render_to_string("liveblog/_key_event.html", {"post": post}).strip()


class Claimed(Exception):
    """Another publisher claimed some of these changes first: start over."""


# Within one thread, the changes the last flush handled: the other on_commit callbacks of the same
# transaction (one per save) then cost nothing. Only a shortcut: without it they would find nothing to do.
_flushed = threading.local()


def forget_flushes():
    _flushed.__dict__.clear()


def flush_after_commit(column_id, change_id, using=DEFAULT_DB_ALIAS):
    """The on_commit callback of every recorded change. Never fails the caller: the change is committed,
    and sweep() publishes it if this does not."""
    if change_id in getattr(_flushed, "ids", ()):
        return
    failed = getattr(_flushed, "failed", None)
    if failed is not None and failed[0] == column_id and time.monotonic() - failed[1] < 1:
        return  # the same transaction's first callback just failed: do not make the editor wait twice
    try:
        flush(column_id, using)
    except Exception:
        _flushed.failed = (column_id, time.monotonic())
        logger.warning("Publishing column %s failed; the scheduler's sweep retries", column_id, exc_info=True)


def flush(column_id, using=DEFAULT_DB_ALIAS):
    """Turn the column's committed changes into events and publish them. Returns the events published."""
    published = []
    handled = set()
    while True:
        for _attempt in range(3):
            try:
                events, ids, more = make_events(column_id, using)
                break
            except (Claimed, IntegrityError):  # another publisher went first (SQLite has no publishing lock)
                continue
        else:
            raise Claimed(column_id)
        handled.update(ids)
        _flushed.ids = handled
        for event in events:
            publish(event)
        published.extend(events)
        if not more:
            return published


def make_events(column_id, using):
    """One short transaction: claim the changes of up to BATCH posts of the column, write their events."""
    with transaction.atomic(using=using):
        take_publishing_lock(column_id, using)
        changes = list(Change.objects.using(using).filter(column_id=column_id).order_by("id")[:CLAIM_LIMIT])
        if not changes:
            return [], [], False
        # Each post with all its changes: one event per post, however its saves were spread.
        post_ids = list(dict.fromkeys(change.post_id for change in changes))
        truncated = len(changes) == CLAIM_LIMIT
        if truncated and len(post_ids) > 1:
            post_ids.pop()  # its other changes may lie beyond the limit: next time
        more = truncated or len(post_ids) > BATCH
        chosen = set(post_ids[:BATCH])
        changes = [change for change in changes if change.post_id in chosen]
        ids = [change.pk for change in changes]
        if Change.objects.using(using).filter(pk__in=ids).delete()[0] != len(ids):
            raise Claimed(column_id)
        events = []
        last = Event.objects.using(using).filter(column_id=column_id).aggregate(last=Max("seq"))["last"] or 0
        latest = {change.post_id: change for change in changes}  # changes are in id order: the last wins
        for post_id in post_ids[:BATCH]:
            if post_id is not None:
                event = post_event(latest[post_id], using)
            else:
                column = Column.objects.using(using).filter(pk=column_id).first()
                event = column_event(column, using) if column is not None else None  # gone with its events
            if event is not None:
                last += 1
                event.seq = last
                event.save(using=using)
                events.append(event)
        if not all(change.touched for change in changes):
            touch_later_if_held(column_id, using)
        return events, ids, more


def take_publishing_lock(column_id, using):
    connection = connections[using]
    if connection.vendor != "postgresql":
        return  # SQLite (the demo) has one writer at a time; the claim and the unique seq do the rest
    with connection.cursor() as cursor:  # one round trip
        cursor.execute(
            f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; SELECT pg_advisory_xact_lock(%s, %s)",
            [LOCK_SPACE, column_id],
        )


def touch_later_if_held(column_id, using):
    """Move changed_at, which the change's own transaction could not; if the column row is still held,
    leave a change behind for sweep() instead of waiting (a validator moves late; readers get the events)."""
    free = Column.objects.using(using).select_for_update(no_key=True, skip_locked=True).filter(pk=column_id)
    if not Column.objects.using(using).filter(pk__in=free.values("pk")).touch():
        Change.objects.using(using).create(column_id=column_id, post_id=None, touched=False)


def what_readers_see(column_id, post_id, using):
    """What the column's readers see of the post in this transaction's view: the fields of a `Change`."""
    post = Post.objects.using(using).published().for_display().filter(pk=post_id, column_id=column_id).first()
    if post is None:
        exists = Post.objects.using(using).filter(pk=post_id).exists()
        return {"readers_see": Change.Seen.HIDDEN if exists else Change.Seen.GONE}
    return {
        "readers_see": Change.Seen.SHOWN,
        "pinned": post.pinned,
        "key_event": post.key_event,
        "html": render_post(post),
        "key_html": render_key_event(post) if post.key_event else "",
    }


def post_event(change, using):
    """The event that brings the column's readers up to date with the post of this change (the latest of
    its post), or None if they need none."""
    column_id, post_id = change.column_id, change.post_id
    if change.readers_see == Change.Seen.LATER:
        change = Change(column_id=column_id, post_id=post_id, **what_readers_see(column_id, post_id, using))
    previous = (
        Event.objects.using(using)
        .filter(column_id=column_id, post_id=post_id)
        .only("kind", "pinned", "key_event")
        .order_by("-seq")
        .first()
    )
    had_it = previous is not None and previous.kind in Event.SHOWING
    shown = change.readers_see == Change.Seen.SHOWN
    if not shown and not had_it:
        return None  # readers never saw it and still may not: nothing to tell
    if not shown:
        kind = Event.Kind.UNPUBLISHED if change.readers_see == Change.Seen.HIDDEN else Event.Kind.DELETED
        return Event(column_id=column_id, post_id=post_id, kind=kind)
    if not had_it:
        kind = Event.Kind.PUBLISHED
    elif change.pinned != previous.pinned:
        kind = Event.Kind.PINNED if change.pinned else Event.Kind.UNPINNED
    elif change.key_event != previous.key_event:
        kind = Event.Kind.KEY_EVENT
    else:
        kind = Event.Kind.EDITED
    return Event(
        column_id=column_id,
        post_id=post_id,
        kind=kind,
        pinned=change.pinned,
        key_event=change.key_event,
        html=change.html,
        key_html=change.key_html,
    )


def column_event(column, using):
    """column_ended or column_reopened when the column's state differs from what readers were last told."""
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
    return Event(column=column, kind=Event.Kind.COLUMN_REOPENED if column.is_live else Event.Kind.COLUMN_ENDED)


def sweep(using=DEFAULT_DB_ALIAS):
    """Publish the changes whose own flush did not happen (the process died after commit, a lock wait
    timed out). The scheduler runs it every second. Returns the events published."""
    cutoff = timezone.now() - SWEEP_AFTER
    column_ids = (
        Change.objects.using(using).filter(recorded_at__lt=cutoff).values_list("column_id", flat=True).distinct()
    )
    published = []
    for column_id in list(column_ids.order_by("column_id")):
        try:
            published.extend(flush(column_id, using))
        except DatabaseError:
            logger.warning("Sweep: publishing column %s failed; retrying next time", column_id, exc_info=True)
    return published


def pending(post):
    """Whether a saved change of this post still waits to be published (the admin tells the editor)."""
    return Change.objects.filter(post_id=post.pk).exists()


def message(event):
    """The channel-layer message that carries one event to every hub (liveblog/fanout.py)."""
    return {"type": "live.event", "column_id": event.column_id, "seq": event.seq, "frame": frame(event.as_dict())}


def publish(event):
    """Hand one committed event to every server process. Never fails the caller: readers catch up."""
    layer = get_channel_layer()
    try:
        if not isinstance(layer, InMemoryChannelLayer):
            publisher.run(layer.group_send, GROUP, message(event))
        else:
            run_async(layer.group_send, GROUP, message(event))
    except Exception:  # the change is committed; the hubs' catch-up from the database will deliver it
        logger.warning("Could not send event %s to the channel layer; readers will catch up", event, exc_info=True)


class Publisher:
    """One event loop thread per process for sending to Redis, so its connections are reused
    (async_to_sync from a plain thread would start a loop, and a Redis connection, per event).
    liveblog/runtime.py starts and stops it; without it (a shell) each event is sent on a loop of its own."""

    TIMEOUT = 5  # seconds; a Redis that hangs must not hold the editor's request

    def __init__(self):
        self.loop = None
        self.thread = None

    def start(self):
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
            self.thread = threading.Thread(target=self.loop.run_forever, name="liveblog-publisher", daemon=True)
            self.thread.start()

    def stop(self):
        loop, self.loop = self.loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            self.thread.join(timeout=self.TIMEOUT)
            if not self.thread.is_alive():
                loop.close()

    def run(self, coroutine_function, *args):
        loop = self.loop
        if loop is None:
            return run_async(coroutine_function, *args)
        future = asyncio.run_coroutine_threadsafe(coroutine_function(*args), loop)
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
