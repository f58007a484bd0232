"""What open desks hear besides the readers' events: any post of the column changing (drafts and scheduled
posts included, which readers' events never carry), who saved what, autosave conflicts. Sent after commit
to one channel-layer group per column, which the desk consumers of that column join
(liveblog.deskconsumer); presence goes between the consumers themselves."""

import logging

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import DEFAULT_DB_ALIAS, transaction

logger = logging.getLogger(__name__)


def group(column_id):
    return f"liveblog.desk.{column_id}"


def tell(column_id, using=DEFAULT_DB_ALIAS, **event):
    """Tell the column's open desks once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send(column_id, event), using=using)


def send(column_id, event):
    from liveblog.broadcast import publisher, run_async  # the process's one sending loop

    layer = get_channel_layer()
    message = {"type": "desk.event", "event": event}
    try:
        if isinstance(layer, InMemoryChannelLayer):
            run_async(layer.group_send, group(column_id), message)
        else:
            publisher.run(layer.group_send, group(column_id), message)
    except Exception:  # a desk that missed this refreshes the post on the next event or reload
        logger.warning("Could not tell the desks of column %s", column_id, exc_info=True)


def changed(column_id, post_id, using=DEFAULT_DB_ALIAS):
    """A post of the column (or one of its parts) was saved or deleted, from anywhere: liveblog.changes
    calls this for every change it records; the desks fetch the post's card (gone: it was deleted)."""
    if post_id is not None:
        tell(column_id, using, kind="post", post_id=post_id)


def post_saved_by(post, user, name):
    tell(post.column_id, kind="saved", post_id=post.pk, version=post.version, by=name, by_user=user.pk)


def autosave_conflict(column_id, post_id, name):
    tell(column_id, kind="conflict", post_id=post_id, by=name)
