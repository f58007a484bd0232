"""HTTP caching of what readers fetch: validators from the column's last change.

Readers' pages, feeds and the catch-up endpoint carry an ETag (and, once the
change has settled, a Last-Modified) derived from `Column.changed_at`, answer
conditional requests with 304 through Django's own precondition logic
(`get_conditional_response`, the machinery behind `@condition`), and let a
browser or CDN keep them for MAX_AGE seconds, no longer: after that a cache
revalidates and a live column costs one small query per revalidation.

Editors see their own affordances (press-image buttons, the admin link), so a
request that carries a login or a session is answered `private, no-store`
with no validators: it is never stored, and never answered with a reader's 304.

Behind the validators, what readers get is also kept in Django's cache (Redis
in production, local memory in the demo), keyed by the request's path and
query AND the validator: a page is rendered once per change of what it shows,
not once per request, and a change makes a new key, so a stored page can never
be older than the validators it is served with. Editors' requests are never
read from or written to it. Inside a page, each post's partial is kept per
version of the post (`{% cache %}`, templates/liveblog/_post_kept.html), so a
new post re-renders one partial, not twenty.

Two ways in:
- a view of one column, found by its `slug` argument, is decorated with
  `@cached_by_column`, which reads `changed_at` with one indexed query (the
  catch-up endpoint with `@cached_by_column_events`, which also reads its newest event);
- views over several columns, `@cached_by_any_column`, `@cached_by_series`, `@cached_by_author`.
"""

import asyncio
import hashlib
from datetime import timedelta
from functools import wraps

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Max, OuterRef, Subquery
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.cache import (
    add_never_cache_headers,
    get_conditional_response,
    patch_cache_control,
    patch_vary_headers,
)
from django.utils.decorators import sync_and_async_middleware
from django.utils.http import http_date, quote_etag

from liveblog.models import Column, Event

# Long enough for a CDN to absorb a burst of readers, short enough that a
# reader who bypasses the live socket is at most this many seconds behind.
MAX_AGE = 5
# HTTP dates count whole seconds, and a change is stamped a moment before its
# transaction commits: a Last-Modified is only given for a change older than this.
SETTLED = timedelta(seconds=2)
# How long a stored version of a page is kept: a change makes a new key anyway; this only bounds memory.
PAGE_SECONDS = 600


def is_personal(request):
    """A logged-in editor's view, or any request carrying a session, is not for shared caches."""
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        return True  # checked first: without a session there is no login, and no database read to find out
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated)


def etag(changed_at):
    # Weak: the same content may differ byte for byte (for instance once compressed). With the release: a
    # deploy changes what an unchanged column's page looks like.
    return "W/" + quote_etag(f"{changed_at.timestamp():.6f}-{settings.RELEASE}")


def last_modified(changed_at):
    return changed_at if timezone.now() - changed_at >= SETTLED else None


def not_modified(request, changed_at):
    """The 304 (or 412) a reader's conditional request earns, or None to go on and render."""
    if changed_at is None or is_personal(request) or request.method not in ("GET", "HEAD"):
        return None
    settled = last_modified(changed_at)
    response = get_conditional_response(
        request, etag=etag(changed_at), last_modified=int(settled.timestamp()) if settled else None
    )
    return cacheable(request, response, changed_at) if response is not None else None


def cacheable(request, response, changed_at):
    """Put the caching policy on a response: public for a few seconds, or private and never stored."""
    patch_vary_headers(response, ["Cookie"])
    if changed_at is None or is_personal(request) or response.cookies:
        add_never_cache_headers(response)
        patch_cache_control(response, private=True)
        return response
    if response.status_code in (200, 304):
        response.headers["ETag"] = etag(changed_at)
        settled = last_modified(changed_at)
        if settled is not None:
            response.headers["Last-Modified"] = http_date(settled.timestamp())
        else:
            # The syndication framework sets its own from the newest entry.
            response.headers.pop("Last-Modified", None)
        patch_cache_control(response, public=True, max_age=MAX_AGE, s_maxage=MAX_AGE)
    return response


def page_key(request, changed_at):
    where = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:32]
    return f"page:{where}:{changed_at.timestamp():.6f}"


def storable(response):
    return response.status_code == 200 and not response.cookies and not response.streaming


def cached(changed_at_for):
    """Decorate a view with the policy; `changed_at_for(request, *args, **kwargs)` reads the validator.
    Readers' requests are answered by `kept_pages` before they reach the view, when it can."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            # kept_pages has read it already for a reader's request that it must render: once is enough.
            changed_at = getattr(request, "kept_changed_at", None) or changed_at_for(request, *args, **kwargs)
            if (unchanged := not_modified(request, changed_at)) is not None:
                return unchanged
            return cacheable(request, view(request, *args, **kwargs), changed_at)

        wrapper.changed_at_for = changed_at_for
        return wrapper

    return decorator


# ---- Kept pages: readers' requests answered from the cache, before the session and auth middleware ----


def reader_view(request):
    """The validator function of the view a reader's GET goes to, or None when the request is not for us."""
    if request.method != "GET" or is_personal(request):
        return None
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    changed_at_for = getattr(match.func, "changed_at_for", None)
    return (lambda: changed_at_for(request, *match.args, **match.kwargs)) if changed_at_for else None


def look_up(request, read_changed_at):
    """(validator, the answer from memory or None). One trip to the database, one to the cache."""
    try:
        changed_at = read_changed_at()
    except (OperationalError, InterfaceError):
        connection.close()  # a connection the database dropped (a restart): once more on a new one
        changed_at = read_changed_at()
    if changed_at is None:
        return None, None
    if (unchanged := not_modified(request, changed_at)) is not None:
        return changed_at, unchanged
    return changed_at, read_kept(request, changed_at)


def read_kept(request, changed_at):
    kept = KeptPages.get().get(page_key(request, changed_at))
    return cacheable(request, kept, changed_at) if kept is not None else None


def keep(request, changed_at, response):
    if changed_at is not None and storable(response):
        KeptPages.get().set(page_key(request, changed_at), response, PAGE_SECONDS)


class KeptPages:
    """The cache the kept pages live in: one backend for the whole process. Django's `cache` is one per
    request context, which for Redis means a new connection pool, and connection, per request."""

    backend = None

    @classmethod
    def get(cls):
        if cls.backend is None:
            cls.backend = caches.create_connection("default")
        return cls.backend


rendering = {}  # page key -> Future: this process renders each version of a page once, however many wait


@sync_and_async_middleware
def kept_pages(get_response):
    """Answer readers' GETs of cached views from the cache, keyed by the view's validator; render the first
    request after a change through the whole stack and keep its answer.

    It stands before the session, CSRF, auth and messages middleware, which under ASGI each cost two thread
    hops per request. Its reads run on the process's shared thread pool: Django would otherwise give each
    request a thread of its own with a database connection of its own (500 readers, 500 connections)."""

    if not iscoroutinefunction(get_response):

        def middleware(request):
            read_changed_at = reader_view(request)
            if read_changed_at is None:
                return get_response(request)
            changed_at, answer = look_up(request, read_changed_at)
            if answer is None:
                request.kept_changed_at = changed_at
                answer = get_response(request)
                keep(request, changed_at, answer)
            return answer

        return middleware

    shared = not settings.READ_PAGES_IN_SHARED_POOL
    pooled_look_up = sync_to_async(look_up, thread_sensitive=shared)
    pooled_keep = sync_to_async(keep, thread_sensitive=shared)
    pooled_read_kept = sync_to_async(read_kept, thread_sensitive=shared)

    async def middleware(request):
        read_changed_at = reader_view(request)
        if read_changed_at is None:
            return await get_response(request)
        changed_at, answer = await pooled_look_up(request, read_changed_at)
        if answer is not None or changed_at is None:
            return answer or await get_response(request)
        key = page_key(request, changed_at)
        while key in rendering:
            # Another request renders this version right now: wait for it and serve the same version (a
            # newer one may exist by then, and chasing it under a stream of changes would never end).
            await asyncio.shield(rendering[key])
            if (answer := await pooled_read_kept(request, changed_at)) is not None:
                return answer
        done = rendering[key] = asyncio.get_running_loop().create_future()
        request.kept_changed_at = changed_at
        try:
            answer = await get_response(request)
            await pooled_keep(request, changed_at, answer)
        finally:
            del rendering[key]
            done.set_result(None)
        return answer

    return middleware


def column_changed_at(request, *args, slug, **kwargs):
    return Column.objects.filter(slug=slug).values_list("changed_at", flat=True).first()


def column_events_changed_at(request, *args, slug, **kwargs):
    """The catch-up's validator: the column's change or its newest event, whichever is later. A change
    commits first and its event is written just after (liveblog/changes.py): a catch-up answered in between
    must not stand for the column's state once the event exists (kept, or confirmed by a 304)."""
    newest = Event.objects.filter(column=OuterRef("pk")).order_by("-seq").values("created_at")[:1]
    row = Column.objects.filter(slug=slug).values_list("changed_at", Subquery(newest)).first()
    if row is None:
        return None
    changed_at, newest_event = row
    return max(changed_at, newest_event) if newest_event else changed_at


def any_column_changed_at(request, *args, **kwargs):
    # Every column, not only live ones: a column that ends leaves the live set, and
    # the validator must still move forward.
    return Column.objects.aggregate(last=Max("changed_at"))["last"]


def series_changed_at(request, *args, slug, **kwargs):
    # Renaming the series touches its columns too.
    return Column.objects.filter(series__slug=slug).aggregate(last=Max("changed_at"))["last"]


def author_changed_at(request, *args, slug, **kwargs):
    # Editing the author touches every column they write in.
    return Column.objects.filter(posts__bylines__author__slug=slug).aggregate(last=Max("changed_at"))["last"]


# For views of one column found by its `slug`: the column page, post pages, feeds.
cached_by_column = cached(column_changed_at)
cached_by_column_events = cached(column_events_changed_at)
# For views over all columns: the home page, the site-wide feeds.
cached_by_any_column = cached(any_column_changed_at)
cached_by_series = cached(series_changed_at)
cached_by_author = cached(author_changed_at)
