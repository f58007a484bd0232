import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from ckeditor_uploader import views as ckeditor_views
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import OuterRef, Subquery, prefetch_related_objects
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from liveblog import caching, uploads
from liveblog.csp import editor_page
from liveblog.models import Author, Column, Event, LinkCard, Post, Series, display_prefetches

PAGE_SIZE = 20
EVENTS_PAGE = 200


def with_last_seq(columns):
    """Annotate `last_seq`, the newest event of the column. Read before the posts, so a page never
    claims an event whose post it does not show (events after it are re-applied harmlessly)."""
    newest = Event.objects.filter(column=OuterRef("pk")).order_by("-seq").values("seq")[:1]
    return columns.annotate(last_seq=Subquery(newest))


def is_editor(request):
    return request.user.is_authenticated and request.user.is_staff


@caching.cached_by_any_column
def home(request):
    columns = Column.objects.live_first().select_related("series")[:30]
    return render(request, "liveblog/home.html", {"columns": columns})


@caching.cached_by_column
def column(request, slug):
    column = get_object_or_404(with_last_seq(Column.objects.select_related("series")), slug=slug)
    # Through the related manager, each post knows its column without a query.
    published = column.posts.published()

    before = request.GET.get("before")
    stream = published.filter(pinned=False)
    if before:
        try:
            anchor = published.get(pk=int(before))
        except (ValueError, Post.DoesNotExist):
            raise Http404("No such post in this column.") from None
        stream = stream.filter(published_at__lte=anchor.published_at).exclude(
            published_at=anchor.published_at, pk__gte=anchor.pk
        )
    posts = list(stream[: PAGE_SIZE + 1])
    has_older = len(posts) > PAGE_SIZE
    posts = posts[:PAGE_SIZE]

    # Pinned posts and key events head the first page only.
    pinned = [] if before else list(published.filter(pinned=True))
    key_events = [] if before else list(published.filter(key_event=True))
    prefetch_related_objects(pinned + posts, *display_prefetches())

    return render(
        request,
        "liveblog/column.html",
        {
            "column": column,
            "previous_column": column.previous_in_series(),
            "pinned": pinned,
            "key_events": key_events,
            "posts": posts,
            "older_url": f"?before={posts[-1].pk}" if has_older else None,
            "paged": bool(before),
            "editor": is_editor(request),
        },
    )


@caching.cached_by_column_events
def column_events(request, slug):
    """Catch-up (docs/live.md): the events after `after`, oldest first, each with the post's HTML."""
    column = get_object_or_404(with_last_seq(Column.objects.only("pk", "slug")), slug=slug)
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        return JsonResponse({"error": "`after` must be a whole number (a seq)."}, status=400)
    last_seq = column.last_seq or 0
    events = list(column.events.filter(seq__gt=max(after, 0)).order_by("seq")[: EVENTS_PAGE + 1])
    more = len(events) > EVENTS_PAGE
    response = JsonResponse(
        {
            "column": column.slug,
            "last_seq": last_seq,
            "events": [event.as_dict() for event in events[:EVENTS_PAGE]],
            "more": more,
        }
    )
    # Shared caches may answer a burst of readers catching up: the decorator gives the column's
    # validator (every event comes with a change of the column) and a few seconds of public caching.
    return response


@caching.cached_by_column
def post(request, slug, post_id):
    # Publishing, editing or removing a post changes its column: the column's validator covers the page.
    post = get_object_or_404(Post.objects.published().for_display(), column__slug=slug, pk=post_id)
    return render(request, "liveblog/post.html", {"column": post.column, "post": post, "editor": is_editor(request)})


@caching.cached_by_series
def series(request, slug):
    series = get_object_or_404(Series, slug=slug)
    columns = series.columns.order_by("-started_at")
    return render(request, "liveblog/series.html", {"series": series, "columns": columns})


@caching.cached_by_author
def author(request, slug):
    author = get_object_or_404(Author, slug=slug)
    posts = author.posts.published().select_related("column").order_by("-published_at")[:50]
    return render(request, "liveblog/author.html", {"author": author, "posts": posts})


def database_answers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def healthz(request):
    """200 when the database and the channel layer answer (docs/urls.md)."""
    try:
        await sync_to_async(database_answers)()
        layer = get_channel_layer()
        if hasattr(layer, "connection"):  # channels-redis: ask Redis itself
            await asyncio.wait_for(layer.connection(0).ping(), timeout=2)
    except Exception as exc:  # noqa: BLE001  any failure means unhealthy
        return JsonResponse({"status": "unavailable", "reason": type(exc).__name__}, status=503)
    return HttpResponse("ok", content_type="text/plain")


@require_POST
@staff_member_required
def set_press_image(request, card_id):
    if not request.user.has_perm("liveblog.change_column"):
        raise PermissionDenied("Changing a column's press image needs permission to change columns.")
    card = get_object_or_404(LinkCard.objects.select_related("post__column"), pk=card_id)
    if not card.image:
        messages.error(request, "This link card has no image to use as the press image.")
    else:
        card.post.column.use_as_press_image(card.image)
        messages.success(request, f"“{card.display_title}” is now the press image of {card.post.column}.")
    return redirect(safe_next(request, card.post.get_anchor_url()))


def safe_next(request, fallback):
    target = request.POST.get("next") or request.META.get("HTTP_REFERER", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


# CKEditor cannot send Django's CSRF token; it sends its own double-submit token
# (a cookie and a form field with the same random value), checked below with the Origin.
@csrf_exempt
@require_POST
@staff_member_required
def ckeditor_upload(request):
    """CKEditor's image upload, through the same image pipeline as every other image."""
    func_num = request.GET.get("CKEditorFuncNum", "")
    if not uploads.may_upload(request.user):
        return uploads.ckeditor_reply(
            request, func_num, error="Your account may not change posts, so it may not upload images.", status=403
        )
    token = request.POST.get("ckCsrfToken", "")
    if (
        not uploads.from_our_site(request)
        or not token
        or not constant_time_compare(token, request.COOKIES.get("ckCsrfToken", ""))
    ):
        return uploads.ckeditor_reply(
            request, func_num, error="The upload was refused: reload the page and try again.", status=403
        )
    upload = request.FILES.get("upload")
    if upload is None:
        return uploads.ckeditor_reply(request, func_num, error="Choose an image to upload.")
    try:
        url, file_name = uploads.store_ckeditor_image(upload)
    except ValidationError as error:
        return uploads.ckeditor_reply(request, func_num, error=error.messages[0])
    return uploads.ckeditor_reply(request, func_num, url=url, file_name=file_name)


@never_cache
@staff_member_required
@editor_page
def ckeditor_browse(request):
    """CKEditor's file browser, as it comes, for those who may upload."""
    if not uploads.may_upload(request.user):
        raise PermissionDenied("Your account may not change posts, so it may not browse the uploaded images.")
    return ckeditor_views.browse(request)


def robots_txt(request):
    sitemap = request.build_absolute_uri(reverse("sitemap"))
    lines = ["User-agent: *", "Disallow: /admin/", "Disallow: /ckeditor/", "Disallow: /cards/", f"Sitemap: {sitemap}"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
