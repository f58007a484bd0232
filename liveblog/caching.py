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
- a view that loads the column anyway calls `serve(request, changed_at, render)`
  (304, stored page, or `render()` stored and served);
- any other view of one column, found by its `slug` argument, is decorated with
  `@cached_by_column`, which reads `changed_at` with one indexed query.
"""

import hashlib
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone
from django.utils.cache import (
    add_never_cache_headers,
    get_conditional_response,
    patch_cache_control,
    patch_vary_headers,
)
from django.utils.http import http_date, quote_etag

from liveblog.models import Column

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
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated) or settings.SESSION_COOKIE_NAME in request.COOKIES


def etag(changed_at):
    # Weak: the same content may differ byte for byte (for instance once compressed).
    return "W/" + quote_etag(f"{changed_at.timestamp():.6f}")


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


def serve(request, changed_at, render):
    """A reader's 304, or the page stored for this validator, or `render()` (stored for the next readers).
    Editors, and requests other than GET, always get `render()` fresh, never stored."""
    if (unchanged := not_modified(request, changed_at)) is not None:
        return unchanged
    shared = changed_at is not None and request.method == "GET" and not is_personal(request)
    key = page_key(request, changed_at) if shared else None
    response = cache.get(key) if shared else None
    if response is None:
        response = render()
        if shared and response.status_code == 200 and not response.cookies and not response.streaming:
            cache.set(key, response, PAGE_SECONDS)
    return cacheable(request, response, changed_at)


def cached(changed_at_for):
    """Decorate a view with the policy; `changed_at_for(request, *args, **kwargs)` reads the validator."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            changed_at = changed_at_for(request, *args, **kwargs)
            return serve(request, changed_at, lambda: view(request, *args, **kwargs))

        return wrapper

    return decorator


def column_changed_at(request, *args, slug, **kwargs):
    return Column.objects.filter(slug=slug).values_list("changed_at", flat=True).first()


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


# For views of one column found by its `slug`: feeds, the catch-up endpoint.
cached_by_column = cached(column_changed_at)
# For views over all columns: the home page, the site-wide feeds.
cached_by_any_column = cached(any_column_changed_at)
cached_by_series = cached(series_changed_at)
cached_by_author = cached(author_changed_at)
