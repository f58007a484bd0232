"""Scheduled posts go live at their time with nobody at the keyboard.

`manage.py run_scheduler` calls `publish_due()` every second. It publishes by
saving the post, like an editor would, so readers hear of it through the same
events (liveblog/changes.py).
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from liveblog.models import Change, Event, Post

BATCH = 100
# A post saved as published with a future time becomes visible by the clock alone; look back this far for them.
CLOCK_WINDOW = timedelta(days=1)


def publish_due(now=None):
    """Publish what is due; returns the posts that went live."""
    now = now or timezone.now()
    done = []
    due = Post.objects.filter(status=Post.Status.SCHEDULED, published_at__lte=now).order_by("published_at", "pk")
    for pk in list(due.values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            # skip_locked: an editor saving it right now, or a second scheduler, wins.
            post = Post.objects.select_for_update(skip_locked=True).filter(pk=pk, status=Post.Status.SCHEDULED).first()
            if post is not None:
                post.status = Post.Status.PUBLISHED
                post.save()
                done.append(post)

    latest_kind = Event.objects.filter(column_id=OuterRef("column_id"), post_id=OuterRef("pk")).order_by("-seq")
    unannounced = (
        Post.objects.published()
        .filter(published_at__gte=now - CLOCK_WINDOW)
        .annotate(last_kind=Subquery(latest_kind.values("kind")[:1]))
        .filter(Q(last_kind__isnull=True) | ~Q(last_kind__in=Event.SHOWING))
        # A change still on its way is announced by its own flush (or the sweep), not by a second save.
        .filter(~Exists(Change.objects.filter(post_id=OuterRef("pk"))))
        .order_by("published_at", "pk")
    )
    for post in unannounced[:BATCH]:
        post.save()  # tells readers, like any save
        done.append(post)
    return done
