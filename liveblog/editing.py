"""Rules every editing path shares (the admin change form and the desk): versions, publish times, who edits,
how long a save waits for rows someone else holds."""

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.html import format_html

from liveblog.models import Author, Post

# An editor's save waits at most this long for rows another transaction holds (an import, a shell left open).
SAVE_LOCK_TIMEOUT = "5s"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's error code when lock_timeout runs out
BUSY_NOW = "another process (an import or a script) is changing this right now"
BUSY = f"Not saved: {BUSY_NOW}. Everything you typed is still here: save again in a moment."


class Busy(Exception):
    """A save gave up waiting for rows another transaction holds; nothing of it was saved."""


@contextmanager
def saving_without_waiting_long():
    """The transaction of an editor's save. Waiting for a lock gives up after SAVE_LOCK_TIMEOUT: the transaction
    rolls back and Busy is raised, so the editor hears of it instead of a save that hangs for as long as the
    other transaction stays open. SQLite (the demo) has no such waits worth bounding."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{SAVE_LOCK_TIMEOUT}'")
            yield
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        raise Busy from error


def current_version(post_id):
    """The stored version, locked until commit when inside a transaction (the save that follows is ours)."""
    posts = Post.objects.filter(pk=post_id)
    if transaction.get_connection().in_atomic_block:
        posts = posts.select_for_update()
    return posts.values_list("version", flat=True).first()


def check_version(form, post, field="base_version"):
    """Refuse an edit made on an older version of the post; keep the editor's text and show the newer one.

    The form then carries the newer version, so saving again (after merging) goes through."""
    if post.pk is None:
        return None
    sent = form.cleaned_data.get(field)
    if sent is None:
        return None
    current = current_version(post.pk)
    if current is None:
        return None
    if current == sent:
        post.version = current  # the instance may have been read before the lock: its save counts on from here
        return None
    newer = Post.objects.for_display().get(pk=post.pk)
    form.conflict = newer
    form.data = form.data.copy()
    form.data[form.add_prefix(field)] = str(current)
    form.add_error(
        None,
        ValidationError(
            format_html(
                "Someone else saved this post while you were editing it. Your text is kept in the form; "
                "theirs is below. Merge what you need into the form and save again.<br>"
                "<strong>Their headline:</strong> {}<br><strong>Their text:</strong> {}",
                newer.headline,
                newer.body,  # cleaned by nh3 when it was saved
            ),
            code="conflict",
        ),
    )
    return newer


def publish_time_is_now(form, cleaned):
    """A post published with the untouched default time takes the moment of publishing, not the moment the
    form opened: a post written over five minutes must not slip below the ones published meanwhile."""
    if cleaned.get("status") != Post.Status.PUBLISHED or "published_at" in form.changed_data:
        return
    instance = form.instance
    if instance.pk and Post.objects.filter(pk=instance.pk, status=Post.Status.PUBLISHED).exists():
        return  # already out: its time stays
    cleaned["published_at"] = timezone.now()


def permissions(user):
    return {
        "add": user.has_perm("liveblog.add_post"),
        "change": user.has_perm("liveblog.change_post"),
        "delete": user.has_perm("liveblog.delete_post"),
        "press": user.has_perm("liveblog.change_column"),
    }


def editor_name(user):
    """How colleagues see this editor on the desk ("Maya Okafor is editing")."""
    if full_name := user.get_full_name():
        return full_name
    author = Author.objects.filter(user=user).only("name").first()
    return author.name if author else user.get_username()
