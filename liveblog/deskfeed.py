"""What open desks hear besides the readers' events: drafts and scheduled posts changing, who saved what,
autosave conflicts. Sent after commit to one channel-layer group per column, which the desk consumers of
that column join (liveblog.deskconsumer); presence goes between the consumers themselves."""

import logging

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from liveblog.models import Byline, LinkCard, Post

logger = logging.getLogger(__name__)


def group(column_id):
    return f"liveblog.desk.{column_id}"


def tell(column_id, **event):
    """Tell the column's open desks once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send(column_id, event))


def send(column_id, event):
    from liveblog.broadcast import publisher, run_async  # the process's one sending loop

    layer = get_channel_layer()
    message = {"type": "desk.event", "event": event}
    try:
        if isinstance(layer, InMemoryChannelLayer):
            run_async(layer.group_send, group(column_id), message)
        else:
            publisher.run(layer.group_send(group(column_id), message))
    except Exception:  # a desk that missed this refreshes the post on the next event or reload
        logger.warning("Could not tell the desks of column %s", column_id, exc_info=True)


def post_saved_by(post, user):
    from liveblog.desk import editor_name

    tell(post.column_id, kind="saved", post_id=post.pk, version=post.version, by=editor_name(user), by_user=user.pk)


def post_deleted(column_id, post_id):
    tell(column_id, kind="deleted", post_id=post_id)


def autosave_conflict(column_id, post_id, name):
    tell(column_id, kind="conflict", post_id=post_id, by=name)


# Every save of a post or its parts, from anywhere (the admin, the scheduler, the card fetcher): desks
# show drafts and scheduled posts, which readers' events never carry.


@receiver(post_save, sender=Post, dispatch_uid="liveblog.deskfeed.post_saved")
def post_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        tell(instance.column_id, kind="post", post_id=instance.pk, version=instance.version, status=instance.status)


@receiver(post_delete, sender=Post, dispatch_uid="liveblog.deskfeed.post_deleted")
def post_gone(sender, instance, **kwargs):
    post_deleted(instance.column_id, instance.pk)


@receiver(post_save, sender=Byline, dispatch_uid="liveblog.deskfeed.byline_saved")
@receiver(post_save, sender=LinkCard, dispatch_uid="liveblog.deskfeed.card_saved")
def part_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        column_id = Post.objects.filter(pk=instance.post_id).values_list("column_id", flat=True).first()
        if column_id is not None:
            tell(column_id, kind="post", post_id=instance.post_id)
