"""Small model factories: each call saves one object with plausible defaults; any field can be overridden.

Default titles and slugs carry a running number, so two calls never collide on a unique field."""

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from liveblog.models import Author, Byline, Column, LinkCard, Post, Series

_numbers = itertools.count(1)


def _title_and_slug(title, slug, kind):
    title = title or f"{kind} {next(_numbers)}"
    return title, slug or slugify(title)


def make_series(title=None, slug=None, **fields):
    title, slug = _title_and_slug(title, slug, "Series")
    return Series.objects.create(title=title, slug=slug, **fields)


def make_column(title=None, slug=None, **fields):
    """A column (live, in no series unless one is given)."""
    title, slug = _title_and_slug(title, slug, "Column")
    return Column.objects.create(title=title, slug=slug, **fields)


def make_author(name=None, slug=None, **fields):
    name, slug = _title_and_slug(name, slug, "Author")
    return Author.objects.create(name=name, slug=slug, **fields)


def make_post(column, headline="An update", body="<p>Text.</p>", authors=(), cards=(), **fields):
    """A post, published now unless told otherwise, with its bylines in order and a card per URL."""
    fields.setdefault("status", Post.Status.PUBLISHED)
    fields.setdefault("published_at", timezone.now())
    # One transaction, like the admin saving a post with its inlines: readers get one event.
    with transaction.atomic():
        post = Post.objects.create(column=column, headline=headline, body=body, **fields)
        for position, author in enumerate(authors):
            Byline.objects.create(post=post, author=author, position=position)
        for url in cards:
            make_card(post, url)
    return post


def make_card(post, url, **fields):
    fields.setdefault("title", f"Card for {url}")
    return LinkCard.objects.create(post=post, url=url, **fields)


def make_editor(username="editor", password=None, superuser=False):
    """A newsroom editor: staff with the Liveblog permissions (or a superuser), able to log in to the admin."""
    users = get_user_model().objects
    if superuser:
        return users.create_superuser(username, f"{username}@example.org", password)
    user = users.create_user(username, f"{username}@example.org", password, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="liveblog"))
    return user
