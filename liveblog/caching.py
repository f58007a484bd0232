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

Two ways in:
- a view that loads the column anyway calls `not_modified()` before its heavy
  queries and `cacheable()` on its response (the column page keeps its fixed
  query budget);
- any other view of one column, found by its `slug` argument, is decorated with
  `@cached_by_column`, which reads `changed_at` with one indexed query.
"""

from datetime import timedelta
from functools import wraps

from django.conf import settings
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


def cached(changed_at_for):
    """Decorate a view with the policy; `changed_at_for(request, *args, **kwargs)` reads the validator."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            changed_at = changed_at_for(request, *args, **kwargs)
            response = not_modified(request, changed_at)
            if response is None:
                response = cacheable(request, view(request, *args, **kwargs), changed_at)
            return response

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
