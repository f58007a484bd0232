from ckeditor_uploader.fields import RichTextUploadingField
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.urls import reverse
from django.utils import timezone

from liveblog import body, protocol
from liveblog.images import SafeImageField


class Announced(models.Model):
    """A model readers hear of when it changes. Its save runs in a transaction of its own (or the caller's),
    so what liveblog/changes.py records about the change commits with it or not at all. (Deletes already
    run their signals inside the deleting transaction.)"""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            self.hold_first(using)
            super().save(*args, **kwargs)

    def hold_first(self, using):
        """Lock what must be locked before this row is written; nothing but the row itself by default."""


class Series(Announced):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "series"

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("series", args=[self.slug])


class Author(Announced):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    bio = models.TextField(blank=True, max_length=1000)
    photo = SafeImageField(upload_to="authors/", blank=True)
    photo_alt = models.CharField("photo description", max_length=300, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="author"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("author", args=[self.slug])

    def clean(self):
        require_description(self, "photo", "photo_alt")


class ColumnQuerySet(models.QuerySet):
    def touch(self):
        """Mark these columns changed now, in one UPDATE."""
        return self.update(changed_at=timezone.now())

    def live_first(self):
        # "live" sorts before "ended" alphabetically reversed; spell it out instead.
        return self.order_by(
            models.Case(models.When(state=Column.State.LIVE, then=0), default=1),
            "-started_at",
        )


class Column(Announced):
    class State(models.TextChoices):
        LIVE = "live", "Live"
        ENDED = "ended", "Ended"

    series = models.ForeignKey(Series, null=True, blank=True, on_delete=models.SET_NULL, related_name="columns")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    standfirst = models.TextField(blank=True, max_length=1000)
    header_photo = SafeImageField(upload_to="columns/", blank=True)
    header_photo_alt = models.CharField("header photo description", max_length=300, blank=True)
    photo_credit = models.CharField(max_length=200, blank=True, help_text='For example "Photo via Reuters".')
    state = models.CharField(max_length=10, choices=State.choices, default=State.LIVE)
    press_image = SafeImageField(
        upload_to="press/", blank=True, help_text="The image shown when the column is shared (og:image)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What readers see last changed: the column, or any post, byline or card in it.
    # Feeds, JSON-LD and the HTTP validators (liveblog/caching.py) read it.
    changed_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ColumnQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["series", "started_at"], name="column_series_started_idx")]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.changed_at = timezone.now()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "changed_at"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("column", args=[self.slug])

    def clean(self):
        require_description(self, "header_photo", "header_photo_alt")

    @property
    def is_live(self):
        return self.state == self.State.LIVE

    def use_as_press_image(self, image):
        """Share this (already guarded) stored image as the column's og:image."""
        self.press_image.name = image.name
        self.save(update_fields=["press_image", "updated_at"])

    def previous_in_series(self):
        if self.series_id is None:
            return None
        return (
            Column.objects.filter(series_id=self.series_id, started_at__lt=self.started_at)
            .order_by("-started_at")
            .only("title", "slug")
            .first()
        )


class PostQuerySet(models.QuerySet):
    def published(self):
        """What readers may see, everywhere. Drafts and scheduled posts never leak."""
        return self.filter(status=Post.Status.PUBLISHED, published_at__lte=timezone.now())

    def for_display(self):
        """Everything the post partial prints, in a fixed number of queries."""
        return self.select_related("column").prefetch_related(*display_prefetches())


class Post(Announced):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        PUBLISHED = "published", "Published"

    column = models.ForeignKey(Column, on_delete=models.CASCADE, related_name="posts")
    headline = models.CharField(max_length=300)
    body = RichTextUploadingField(blank=True)
    authors = models.ManyToManyField(Author, through="Byline", related_name="posts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(
        default=timezone.now, help_text="Shown to readers. For a scheduled post, when it goes live."
    )
    pinned = models.BooleanField(default=False, help_text="Keep at the top of the column.")
    key_event = models.BooleanField(default=False, help_text='List in the column\'s "Key events".')
    # The post's identifier in the system it was imported from (docs/column-file.md), so re-imports update it.
    # NULL, not "", for posts made here: the per-column unique constraint ignores NULLs.
    import_key = models.CharField(max_length=200, null=True, blank=True, editable=False)  # noqa: DJ001
    # Moves on every save: an edit made on an older version is refused, never silently written over a newer one.
    version = models.PositiveIntegerField(default=1, editable=False)
    # Who wrote it first (the desk pre-fills an editor's bylines from their last post in the column).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(fields=["column", "status", "-published_at", "-id"], name="post_column_stream_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["column", "import_key"], name="post_unique_import_key_per_column"),
        ]

    def __str__(self):
        return self.headline

    def save(self, *args, **kwargs):
        self.body = body.clean_html(self.body)
        if not self._state.adding:
            self.version += 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("post", args=[self.column.slug, self.pk])

    @property
    def modified_at(self):
        """When readers last saw it change (a scheduled post's publish time may come after its last save)."""
        return max(self.published_at, self.updated_at)

    @property
    def anchor(self):
        return f"post-{self.pk}"

    def get_anchor_url(self):
        return f"{self.column.get_absolute_url()}#{self.anchor}"

    def body_segments(self):
        """The body split around its link cards: [("html", str) | ("card", LinkCard), ...]."""
        return body.segments(self.body, list(self.link_cards.all()))

    def ordered_authors(self):
        return [byline.author for byline in self.bylines.all()]


def display_prefetches():
    """What the post partial reads besides the post: one query for bylines, one for cards."""
    return [models.Prefetch("bylines", queryset=Byline.objects.select_related("author")), "link_cards"]


class PartOfPost(Announced):
    """A row printed inside its post: a byline, a link card.

    Its writers lock the post's row first, as saving the post itself does. So the writers of one post
    follow each other, and what each renders of the post for readers inside its transaction
    (liveblog/changes.py) already includes what the one before committed. Locks are also always
    taken post first, so an editor saving a post with its cards and the fetcher filling one of
    them cannot deadlock.
    """

    class Meta:
        abstract = True

    def hold_first(self, using):
        list(Post.objects.using(using).select_for_update(no_key=True).filter(pk=self.post_id).values_list("pk"))

    def delete(self, using=None, keep_parents=False):
        using = using or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            self.hold_first(using)
            return super().delete(using=using, keep_parents=keep_parents)


class Byline(PartOfPost):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="bylines")
    author = models.ForeignKey(Author, on_delete=models.PROTECT, related_name="bylines")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["post", "author"], name="byline_unique_author_per_post")]

    def __str__(self):
        return f"{self.author} on {self.post}"


class LinkCard(PartOfPost):
    class FetchState(models.TextChoices):
        MANUAL = "manual", "Typed by hand"
        PENDING = "pending", "Fetching the page…"
        OK = "ok", "Filled from the page"
        FAILED = "failed", "Could not fetch the page"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="link_cards")
    url = models.URLField("URL", max_length=2000)
    title = models.CharField(max_length=300, blank=True)
    summary = models.TextField(blank=True, max_length=1000)
    image = SafeImageField(upload_to="cards/", blank=True)
    image_alt = models.CharField("image description", max_length=300, blank=True)
    site_name = models.CharField(max_length=200, blank=True)
    embedded_at = models.DateTimeField(default=timezone.now)
    canonical_url = models.URLField(
        "canonical URL", max_length=2000, blank=True, help_text="The address the page gives for itself."
    )
    fetch_state = models.CharField(max_length=10, choices=FetchState.choices, default=FetchState.MANUAL)
    fetch_note = models.TextField(blank=True)
    # What the last fetch put in each field: a field that differs from it was typed by the editor and is kept.
    fetched = models.JSONField(default=dict, blank=True, editable=False)
    # [[width, stored name], ...] of the local copies made from the fetched image, for srcset.
    image_widths = models.JSONField(default=list, blank=True, editable=False)
    fetch_started_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["embedded_at", "id"]
        constraints = [models.UniqueConstraint(fields=["post", "url"], name="linkcard_unique_url_per_post")]
        indexes = [models.Index(fields=["fetch_state", "fetch_started_at"], name="linkcard_fetch_state_idx")]

    def __str__(self):
        return self.title or self.url

    def save(self, *args, **kwargs):
        if self._state.adding and self.pk is None:
            self.take_over_placeholder(kwargs)
        super().save(*args, **kwargs)

    def take_over_placeholder(self, kwargs):
        """A card saved for a URL that already has an automatic card (the post was saved first, as the admin
        and importers do) replaces that card instead of breaking the one-card-per-URL rule."""
        automatic = [self.FetchState.PENDING, self.FetchState.OK, self.FetchState.FAILED]
        placeholder = (
            LinkCard.objects.filter(post_id=self.post_id, url=self.url, fetch_state__in=automatic)
            .only("pk", "embedded_at")
            .first()
        )
        if placeholder is not None and self.post_id is not None:
            self.pk = placeholder.pk
            self.embedded_at = placeholder.embedded_at
            self._state.adding = False
            kwargs.pop("force_insert", None)

    def clean(self):
        require_description(self, "image", "image_alt")

    @property
    def srcset(self):
        """The local copies in several widths, when they still belong to the current image."""
        if not self.image or not self.image_widths or self.image.name not in {n for _, n in self.image_widths}:
            return ""
        storage = self.image.storage
        return ", ".join(f"{storage.url(name)} {width}w" for width, name in self.image_widths)

    @property
    def display_title(self):
        return self.title or self.host

    @property
    def host(self):
        from urllib.parse import urlsplit

        return urlsplit(self.url).hostname or self.url


class Event(models.Model):
    """One change readers must see, numbered per column; what live pushes and catch-up deliver."""

    # The kinds, and which of them show the post, belong to the live protocol (liveblog/protocol.py).
    Kind = protocol.Kind
    SHOWING = protocol.SHOWING

    column = models.ForeignKey(Column, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # A plain number, not a foreign key: the removal of a deleted post must outlive it.
    post_id = models.BigIntegerField(null=True, blank=True)
    pinned = models.BooleanField(default=False)
    key_event = models.BooleanField(default=False)
    html = models.TextField(blank=True, help_text="The post rendered by the post partial, as readers see it.")
    key_html = models.TextField(blank=True, help_text="The post's entry in the Key events list, if it is one.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["column", "seq"]
        constraints = [models.UniqueConstraint(fields=["column", "seq"], name="event_unique_seq_per_column")]
        indexes = [models.Index(fields=["column", "post_id", "-seq"], name="event_column_post_idx")]

    def __str__(self):
        return f"{self.column_id}#{self.seq} {self.kind} post {self.post_id}"

    def get_absolute_url(self):
        return reverse("column_events", args=[self.column.slug]) + f"?after={self.seq - 1}"

    def as_dict(self):
        """The event's frame (liveblog/protocol.py)."""
        return {
            protocol.Field.SEQ: self.seq,
            protocol.Field.KIND: self.kind,
            protocol.Field.POST_ID: self.post_id,
            protocol.Field.HTML: self.html,
            protocol.Field.KEY_HTML: self.key_html,
        }


class Change(models.Model):
    """A change readers must hear of, not yet turned into an Event: the outbox of liveblog/broadcast.py.

    Written in the change's own transaction (liveblog/changes.py), so a committed change always has one;
    taking no lock on the column, so a transaction left open holds up nobody else's publishing. After
    commit the publisher turns a column's changes into events and deletes them in one short transaction.
    """

    # Plain numbers, not foreign keys: a foreign key would lock the column row against concurrent writers
    # of it, and the change of a deleted post or column must outlive it.
    column_id = models.BigIntegerField()
    post_id = models.BigIntegerField(null=True, blank=True, help_text="None: the column itself changed.")
    # Whether the change's transaction could move Column.changed_at (it skips a column row another
    # transaction holds); the publisher moves it otherwise.
    touched = models.BooleanField(default=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    # What the column's readers see of the post once this change commits, rendered inside the change's
    # transaction so that the publisher, after commit, only numbers and sends it.
    class Seen(models.TextChoices):
        LATER = "", "Left to the publisher"  # recorded without rendering (the importer's bulk writes)
        SHOWN = "shown", "Shown"
        HIDDEN = "hidden", "Not shown: a draft, scheduled, or moved to another column"
        GONE = "gone", "Deleted"

    readers_see = models.CharField(max_length=6, choices=Seen.choices, blank=True, default=Seen.LATER)
    pinned = models.BooleanField(default=False)
    key_event = models.BooleanField(default=False)
    html = models.TextField(blank=True)
    key_html = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["column_id", "id"], name="change_column_idx"),
            models.Index(fields=["recorded_at"], name="change_recorded_idx"),
        ]

    def __str__(self):
        return f"column {self.column_id} post {self.post_id} at {self.recorded_at:%H:%M:%S}"

    def get_absolute_url(self):
        return reverse("column_events", args=[Column.objects.get(pk=self.column_id).slug])


class Autosave(models.Model):
    """What an editor has typed on a column's desk and not sent yet: a new post (post is None) or an edit."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    column = models.ForeignKey(Column, on_delete=models.CASCADE, related_name="autosaves")
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.CASCADE, related_name="autosaves")
    base_version = models.PositiveIntegerField(null=True, blank=True, help_text="The post's version the edit began on.")
    content = models.JSONField(default=dict, blank=True)  # headline, body, authors, pinned, key_event
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-saved_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "column"], condition=models.Q(post__isnull=True), name="autosave_unique_new_post"
            ),
            models.UniqueConstraint(
                fields=["user", "post"], condition=models.Q(post__isnull=False), name="autosave_unique_edit"
            ),
        ]

    def __str__(self):
        return f"{self.user} on {self.column}"

    def get_absolute_url(self):
        return reverse("admin:liveblog_column_desk", args=[self.column_id])


def require_description(instance, image_field, description_field):
    """Every image a reader may meet needs its text alternative, asked of the editor."""
    if getattr(instance, image_field) and not getattr(instance, description_field).strip():
        label = instance._meta.get_field(image_field).verbose_name
        raise ValidationError(
            {
                description_field: f"Describe the {label} for readers who cannot see it "
                "(screen readers, images turned off), or remove the image."
            },
            code="description_required",
        )
