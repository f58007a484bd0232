"""A long transaction in a column (an import of many posts, a shell left open) cannot stall its live publishing.

The change's transaction only records what changed (liveblog/changes.py); the events are made after
commit, per column, in short transactions of their own (liveblog/broadcast.py). These tests hold a real
transaction open in another connection while an editor saves in the same column, and read what a reader's
socket receives from the production stack.
"""

import asyncio
import json
import threading
import time

import psycopg2
import pytest
import websockets
from django.db import connection, transaction

from liveblog import broadcast
from liveblog.columnfile import export_column, import_file
from liveblog.models import Change, Column, Event, Post
from tests.support.admin import fill_new_post, logged_in_editor
from tests.support.sockets import read_events, run

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

ORIGIN = "http://localhost"
WIRE_POSTS = 120  # more than broadcast.BATCH: the import's events go out in several transactions


def socket_url(stack, column, after):
    return f"{stack.ws_url}/ws/live/{column.slug}/?after={after}"


class ImportHeldOpen(threading.Thread):
    """The real importer, in a transaction left open (as in a shell) until `release` is set."""

    def __init__(self, column, path):
        super().__init__(daemon=True)
        self.column, self.path = column, path
        self.imported = threading.Event()
        self.release = threading.Event()
        self.error = None

    def run(self):
        try:
            with transaction.atomic():
                import_file(self.path)
                self.imported.set()
                self.release.wait(60)
        except Exception as error:  # noqa: BLE001  reported by the test
            self.error = error
            self.imported.set()
        finally:
            connection.close()


def wire_file(column, tmp_path):
    """The column's own file, re-imported with a new standfirst (the import saves the column) and many posts."""
    data = export_column(column)
    data["column"]["standfirst"] = "Wire copy follows."
    template = data["posts"][0]
    data["posts"] = [
        {**template, "key": f"wire-{i}", "headline": f"Wire copy {i}", "link_cards": []} for i in range(WIRE_POSTS)
    ]
    path = tmp_path / "wire.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_an_open_import_does_not_hold_up_an_editors_post_in_the_same_column(stack, column, make_post, tmp_path):
    make_post("Before the import")
    importer = ImportHeldOpen(column, wire_file(column, tmp_path))
    importer.start()
    assert importer.imported.wait(120) and importer.error is None
    # The import holds the column's row (it saved the column) and its thousands of rows, uncommitted.
    assert not Post.objects.filter(headline__startswith="Wire copy").exists()

    async def scenario():
        async with websockets.connect(socket_url(stack, column, after=1), origin=ORIGIN) as socket:
            started = time.monotonic()
            post = await asyncio.to_thread(make_post, "Breaking: while the wire imports")
            saved_in = time.monotonic() - started
            [event] = await read_events(socket, 1, timeout=5)
            seen_in = time.monotonic() - started
            importer.release.set()  # the import commits: its posts follow, after the editor's
            wire = await read_events(socket, WIRE_POSTS, timeout=30)
            return post, saved_in, event, seen_in, wire

    try:
        post, saved_in, event, seen_in, wire = run(scenario(), timeout=90)
    finally:
        importer.release.set()
        importer.join(60)
    print(f"editor's save took {saved_in * 1000:.0f} ms, reached the reader after {seen_in * 1000:.0f} ms")
    assert seen_in < 3
    assert (event["seq"], event["kind"], event["post_id"]) == (2, "published", post.pk)
    assert [e["seq"] for e in wire] == list(range(3, 3 + WIRE_POSTS))
    assert {e["post_id"] for e in wire} == set(
        Post.objects.filter(headline__startswith="Wire copy").values_list("pk", flat=True)
    )
    assert not Change.objects.exists()
    column.refresh_from_db()
    assert column.changed_at >= Post.objects.get(pk=post.pk).updated_at  # the validator moved past both


def test_a_change_whose_publishing_was_held_up_is_not_lost(column, make_post):
    """Another publisher holds the column's publishing lock past the timeout: the save commits anyway and
    the change waits in the outbox until the sweep (the scheduler, every second) publishes it."""
    make_post("First")
    holder = psycopg2.connect(**connection.get_connection_params())
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [broadcast.LOCK_SPACE, column.pk])
        started = time.monotonic()
        post = make_post("Held up")
        waited = time.monotonic() - started
        assert Post.objects.filter(pk=post.pk).exists()
        assert broadcast.pending(post)
        assert list(Event.objects.filter(column=column).values_list("seq", flat=True)) == [1]
    finally:
        holder.close()
    assert 2 < waited < 10  # the editor waited the lock timeout, no longer
    Change.objects.update(recorded_at=Change.objects.first().recorded_at - broadcast.SWEEP_AFTER)
    [event] = broadcast.sweep()
    assert (event.seq, event.kind, event.post_id) == (2, "published", post.pk)
    assert not broadcast.pending(post)


def test_a_column_row_held_elsewhere_delays_only_the_validator(column, make_post):
    """A transaction holding the column's row (a shell that saved the column) does not stop events; the
    column's changed_at moves once the row is free again."""
    before = Column.objects.get(pk=column.pk).changed_at
    holder = psycopg2.connect(**connection.get_connection_params())
    try:
        with holder.cursor() as cursor:
            cursor.execute("UPDATE liveblog_column SET standfirst = 'typed in a shell' WHERE id = %s", [column.pk])
        post = make_post("Published while the column row is held")
        assert Event.objects.filter(column=column, post_id=post.pk, kind="published").exists()
        assert Column.objects.get(pk=column.pk).changed_at == before
        assert Change.objects.filter(column_id=column.pk, post_id=None, touched=False).exists()
    finally:
        holder.rollback()
        holder.close()
    Change.objects.update(recorded_at=Change.objects.first().recorded_at - broadcast.SWEEP_AFTER)
    assert broadcast.sweep() == []
    assert Column.objects.get(pk=column.pk).changed_at > before
    assert not Change.objects.exists()


@pytest.mark.browser
def test_an_editor_whose_save_had_to_wait_is_told_and_loses_nothing(chromium, stack, column, author):
    """What an editor sees when publishing has to wait past the lock timeout: the post is saved, a warning
    says it has not reached readers yet and will by itself; the scheduler's sweep then sends it."""
    with logged_in_editor(chromium, stack) as editor:
        see_a_save_wait(editor, stack, column, author)


def see_a_save_wait(editor, stack, column, author):
    reader = editor.context.new_page()
    reader.goto(f"{stack.url}{column.get_absolute_url()}")
    reader.wait_for_function("document.querySelector('[data-last-seq]') !== null")
    holder = psycopg2.connect(**connection.get_connection_params())
    try:
        with holder.cursor() as cursor:  # a publisher of this column that takes its time
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [broadcast.LOCK_SPACE, column.pk])
        editor.goto(f"{stack.url}/admin/liveblog/post/add/")
        fill_new_post(editor, column, "Saved while publishing waits", "<p>Nothing is lost.</p>", author.name)
        editor.click("input[name=_save]")
        warning = editor.wait_for_selector(".messagelist .warning", timeout=20000)
        assert "has not reached readers yet" in warning.inner_text()
        assert "goes out by itself" in warning.inner_text()
        saved = Post.objects.get(headline="Saved while publishing waits")
        assert broadcast.pending(saved)
    finally:
        holder.close()
    Change.objects.update(recorded_at=Change.objects.first().recorded_at - broadcast.SWEEP_AFTER)
    [event] = broadcast.sweep()  # what the scheduler does every second
    assert event.post_id == saved.pk
    reader.wait_for_selector(f"#post-{saved.pk}", timeout=10000)
    reader.close()


@pytest.mark.browser
def test_an_editor_whose_save_would_wait_for_an_import_keeps_what_they_typed(chromium, stack, column, make_post):
    """The import is re-writing the very post the editor corrects: the save gives up after the admin's lock
    timeout with a clear error, the form keeps the correction, and saving again once the import is done works."""
    post = make_post("Casualty figures", body="<p>Seven people were hurt.</p>")
    holder = psycopg2.connect(**connection.get_connection_params())
    with logged_in_editor(chromium, stack) as editor:
        try:
            with holder.cursor() as cursor:  # an import's transaction, updating this post and left open
                cursor.execute("UPDATE liveblog_post SET headline = headline WHERE id = %s", [post.pk])
            editor.goto(f"{stack.url}/admin/liveblog/post/{post.pk}/change/")
            editor.fill("#id_headline", "Casualty figures, corrected")
            started = time.monotonic()
            editor.click("input[name=_save]")
            error = editor.wait_for_selector(".errorlist.nonfield", timeout=30000)
            waited = time.monotonic() - started
            assert "Not saved: another process" in error.inner_text()
            assert "Everything you typed is still here" in error.inner_text()
            assert editor.input_value("#id_headline") == "Casualty figures, corrected"
            assert Post.objects.get(pk=post.pk).headline == "Casualty figures"
            editor.set_viewport_size({"width": 375, "height": 800})  # on a phone the error reads whole
            box = error.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        finally:
            holder.rollback()
            holder.close()
        assert waited < 15
        editor.press("#id_headline", "Enter")  # the keyboard's way to save again
        editor.wait_for_selector(".messagelist .success")
    assert Post.objects.get(pk=post.pk).headline == "Casualty figures, corrected"
    [edited] = Event.objects.filter(column=column, post_id=post.pk, kind="edited")
    assert "Casualty figures, corrected" in edited.html
