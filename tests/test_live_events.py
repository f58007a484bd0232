"""Saving is what tells readers: every change becomes one event, in the change's transaction."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from liveblog.models import Author, Byline, Column, Event, LinkCard, Post
from liveblog.scheduler import publish_due

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(column):
    return list(Event.objects.filter(column=column).values_list("seq", "kind", "post_id"))


def test_a_post_saved_with_its_inlines_is_one_event_with_everything_in_place(column, author):
    second = Author.objects.create(name="Omar Said", slug="omar-said")
    with transaction.atomic():  # what the admin does: the post, then its inlines
        post = Post.objects.create(column=column, headline="Strike", body="<p>https://example.org/a</p>")
        post.status = Post.Status.PUBLISHED
        post.save()
        Byline.objects.create(post=post, author=author, position=0)
        Byline.objects.create(post=post, author=second, position=1)
        LinkCard.objects.create(post=post, url="https://example.org/a", title="The card title")
    [event] = Event.objects.filter(column=column)
    assert (event.seq, event.kind, event.post_id) == (1, "published", post.pk)
    assert "Rania Haddad" in event.html and "Omar Said" in event.html and "The card title" in event.html


def test_each_change_readers_see_is_an_event_and_drafts_are_silent(column, make_post):
    draft = make_post("Draft", status=Post.Status.DRAFT)
    assert kinds(column) == []

    draft.status = Post.Status.PUBLISHED
    draft.save()
    draft.headline = "Edited"
    draft.save()
    draft.pinned = True
    draft.save()
    draft.pinned = False
    draft.save()
    draft.key_event = True
    draft.save()
    draft.status = Post.Status.DRAFT
    draft.save()
    draft.save()  # still a draft: nothing new for readers
    draft.status = Post.Status.PUBLISHED
    draft.save()
    post_id = draft.pk
    draft.delete()
    assert kinds(column) == [
        (1, "published", post_id),
        (2, "edited", post_id),
        (3, "pinned", post_id),
        (4, "unpinned", post_id),
        (5, "key_event", post_id),
        (6, "unpublished", post_id),
        (7, "published", post_id),
        (8, "deleted", post_id),
    ]
    assert "Edited" in Event.objects.get(column=column, seq=2).html
    assert Event.objects.get(column=column, seq=8).html == ""


def test_editing_a_byline_or_card_alone_re_renders_the_post(column, make_post):
    post = make_post("With a card", body="<p>https://example.org/x</p>", cards=["https://example.org/x"])
    card = post.link_cards.get()
    card.title = "Filled in later by the fetcher"
    card.save()
    post.bylines.get().delete()
    assert [k for _, k, _ in kinds(column)] == ["published", "edited", "edited"]
    assert "Filled in later by the fetcher" in Event.objects.get(column=column, seq=2).html
    assert "Rania Haddad" not in Event.objects.get(column=column, seq=3).html


def test_a_card_filled_while_an_editor_saves_its_post_reaches_readers_with_both_changes(column, make_post):
    """Each change is rendered for readers inside its own transaction. The fetcher filling a card while an
    editor's save of the same post is still open waits for it (the post's row is taken first), so neither
    render misses the other's work: the reader's last event shows the new text and the filled card."""
    post = make_post("Strike", body="<p>The first version.</p>", cards=["https://example.org/a"])
    card = post.link_cards.get()
    editor_saved, commit_now = threading.Event(), threading.Event()
    finished = {}

    def editor():
        try:
            with transaction.atomic():
                post.body = "<p>The second version.</p><p>https://example.org/a</p>"
                post.save()
                editor_saved.set()
                commit_now.wait(10)
        finally:
            connection.close()

    def fetcher():
        try:
            card.title = "The filled card"
            card.save()
            finished["fetcher"] = True
        finally:
            connection.close()

    editing = threading.Thread(target=editor)
    editing.start()
    assert editor_saved.wait(10)
    filling = threading.Thread(target=fetcher)
    filling.start()
    filling.join(0.5)
    fetcher_waited = filling.is_alive()
    commit_now.set()
    editing.join(10)
    filling.join(10)
    assert finished == {"fetcher": True}

    last = Event.objects.filter(column=column, post_id=post.pk).latest("seq")
    assert "The second version." in last.html and "The filled card" in last.html
    assert fetcher_waited


def test_a_rolled_back_change_leaves_no_event_and_no_hole(column, make_post):
    make_post("One")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_post("Rolled back")
        Event.objects.create(column=column, seq=1, kind="edited")  # breaks the transaction
    make_post("Two")
    assert [seq for seq, _, _ in kinds(column)] == [1, 2]
    assert "Two" in Event.objects.get(column=column, seq=2).html


def test_sequences_are_per_column(series, column, make_post):
    other = Column.objects.create(title="Other", slug="other", series=series)
    make_post("A")
    make_post("B", column=other)
    make_post("C")
    assert [seq for seq, _, _ in kinds(column)] == [1, 2]
    assert [seq for seq, _, _ in kinds(other)] == [1]


def test_a_post_moved_to_another_column_leaves_the_first(series, column, make_post):
    other = Column.objects.create(title="Other", slug="other", series=series)
    post = make_post("Filed in the wrong column")
    post.column = other
    post.save()
    assert kinds(column) == [(1, "published", post.pk), (2, "unpublished", post.pk)]
    assert kinds(other) == [(1, "published", post.pk)]


def test_ending_a_column_is_an_event(column):
    column.state = Column.State.ENDED
    column.save()
    column.save()
    column.state = Column.State.LIVE
    column.save()
    assert [k for _, k, _ in kinds(column)] == ["column_ended", "column_reopened"]


def test_scheduled_posts_go_live_through_the_same_events(column, make_post):
    now = timezone.now()
    due = make_post("Due", status=Post.Status.SCHEDULED, published_at=now - timedelta(seconds=1))
    later = make_post("Later", status=Post.Status.SCHEDULED, published_at=now + timedelta(hours=1))
    by_the_clock = make_post("Published for later", published_at=now + timedelta(hours=1))
    assert kinds(column) == []
    # Time passes: the clock alone makes this one visible, no save happens.
    Post.objects.filter(pk=by_the_clock.pk).update(published_at=now - timedelta(seconds=1))

    assert {post.pk for post in publish_due()} == {due.pk, by_the_clock.pk}
    assert sorted(kinds(column)) == sorted([(1, "published", due.pk), (2, "published", by_the_clock.pk)])
    assert Post.objects.get(pk=due.pk).status == Post.Status.PUBLISHED
    assert Post.objects.get(pk=later.pk).status == Post.Status.SCHEDULED
    assert publish_due() == []
