"""Rules every editing path shares (the admin change form and the desk): versions, publish times, who edits."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html

from liveblog.models import Author, Post


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
    if current is None or current == sent:
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
