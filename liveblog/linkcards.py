"""Link cards that build themselves from a pasted URL.

Saving a post whose body holds a URL on a line of its own creates a placeholder card for it (the URL, its host
as title) in the same transaction; after commit a small background pool fetches the page once through the
guard (liveblog.safefetch), reads Open Graph, Twitter card tags, oEmbed, <title> and the meta description,
copies the image into our media in a few widths, and saves the card and touches the post, which is what tells
readers. Anything the page says is hostile: text is stripped of markup and trimmed, URLs keep only http(s).

A field the editor typed is never overwritten: `LinkCard.fetched` remembers what the page gave, and a field
whose value differs from it belongs to the editor. Cards left pending by a crashed process are picked up by
`fetch_pending()` (`manage.py fetch_link_cards`).
"""

import html
import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from urllib.parse import urljoin, urlsplit

import nh3
from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from liveblog import body, images, safefetch
from liveblog.models import LinkCard, Post

log = logging.getLogger(__name__)

# A pending card whose fetch started this long ago belongs to a process that died.
STALE_AFTER = timedelta(minutes=2)
PENDING_NOTE = "Fetching the page… Readers see the link for now; reload this form in a few seconds."
TEXT_FIELDS = ("title", "summary", "site_name", "image_alt", "canonical_url")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# The HTML standard reads these labels as windows-1252, and a page cannot really be UTF-16 once we hold bytes.
CHARSET_ALIASES = {"iso-8859-1": "windows-1252", "latin1": "windows-1252", "us-ascii": "windows-1252",
                   "ascii": "windows-1252", "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8"}  # fmt: skip


# ---------------------------------------------------------------- placing cards


def ensure_cards(post):
    """Create a pending card for each lone URL of the post that has none; returns their ids, for
    `fetch_in_background` once the transaction commits (liveblog/changes.py)."""
    urls = [url for url in dict.fromkeys(body.lone_urls(post.body)) if len(url) <= 2000]
    if not urls:
        return []
    have = set(LinkCard.objects.filter(post=post, url__in=urls).values_list("url", flat=True))
    created = []
    for url in urls:
        if url in have:
            continue
        try:
            with transaction.atomic():
                card = LinkCard.objects.create(
                    post=post, url=url, fetch_state=LinkCard.FetchState.PENDING, fetch_note=PENDING_NOTE
                )
        except IntegrityError:
            continue  # another save of the same post made it first
        created.append(card.pk)
    return created


def fetch_again(card):
    """The editor asked for a fresh fetch: fields they typed stay, the rest take the page's new values."""
    card.fetch_state = card.FetchState.PENDING
    card.fetch_note = PENDING_NOTE
    card.fetch_started_at = None
    card.save(update_fields=["fetch_state", "fetch_note", "fetch_started_at"])
    transaction.on_commit(partial(fetch_in_background, [card.pk]))


# ---------------------------------------------------------------- the background pool

# Started and stopped by liveblog/runtime.py with the rest of the process's background machinery.
_pool = None
_pool_lock = threading.Lock()
_futures = set()


def start_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.LINKCARD_FETCH_WORKERS, thread_name_prefix="linkcards")


def stop_pool(timeout=30):
    """Let the fetches under way finish (for at most `timeout` seconds); those still queued stay pending."""
    global _pool
    wait_idle(timeout)
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def fetch_in_background(card_ids):
    with _pool_lock:
        pool = _pool
    if pool is None:
        if card_ids:  # a process without the machinery (a shell): the scheduler's sweep fetches them
            log.info("Link cards %s wait for the scheduler's fetch_pending (no fetch pool here)", card_ids)
        return
    for card_id in card_ids:
        future = pool.submit(background_job, card_id)
        with _pool_lock:
            _futures.add(future)
        future.add_done_callback(_forget)


def _forget(future):
    with _pool_lock:
        _futures.discard(future)


def background_job(card_id):
    close_old_connections()
    try:
        fetch_card(card_id)
    except Exception:
        # The card stays pending; fetch_pending() takes it up again later.
        log.exception("Link card %s: the background fetch crashed", card_id)
    finally:
        connection.close()


def wait_idle(timeout=30):
    """Wait until the background fetches submitted so far are done (tests and shutdown)."""
    with _pool_lock:
        running = list(_futures)
    wait(running, timeout=timeout)


def fetch_pending(limit=100, background=False):
    """Fetch cards that are pending with nobody working on them: for the scheduler and `fetch_link_cards`.

    In the background (the scheduler's way) a slow site never delays the next scheduled post; each card is
    still claimed once, so a card queued twice is fetched once. Returns how many were fetched or queued.
    """
    cutoff = timezone.now() - STALE_AFTER
    ids = list(
        LinkCard.objects.filter(fetch_state=LinkCard.FetchState.PENDING)
        .filter(Q(fetch_started_at__lt=cutoff) | Q(fetch_started_at__isnull=True, embedded_at__lt=cutoff))
        .order_by("embedded_at")
        .values_list("pk", flat=True)[:limit]
    )
    if background:
        fetch_in_background(ids)
        return len(ids)
    return sum(1 for card_id in ids if fetch_card(card_id))


# ---------------------------------------------------------------- fetching one card


def fetch_card(card_id):
    """Claim a pending card, fetch its page and fill it. Returns False when someone else had it."""
    claimed_at = timezone.now()
    claimed = (
        LinkCard.objects.filter(pk=card_id, fetch_state=LinkCard.FetchState.PENDING)
        .filter(Q(fetch_started_at__isnull=True) | Q(fetch_started_at__lt=claimed_at - STALE_AFTER))
        .update(fetch_started_at=claimed_at)
    )
    if not claimed:
        return False
    url = LinkCard.objects.values_list("url", flat=True).get(pk=card_id)
    try:
        found = unfurl(url)
    except safefetch.FetchError as exc:
        found = None
        problem = str(exc)
    picture = fetch_image(found) if found and found.image_url else None

    with transaction.atomic():
        # Lock the post before its card, in the admin's order (post, then inlines), so that an editor
        # saving the same post meanwhile waits for us instead of deadlocking with us.
        post_ids = LinkCard.objects.filter(pk=card_id).values("post_id")
        list(Post.objects.select_for_update().filter(pk__in=post_ids).values_list("pk", flat=True))
        card = LinkCard.objects.select_for_update().select_related("post").filter(pk=card_id).first()
        if card is None or card.fetch_state != LinkCard.FetchState.PENDING or card.fetch_started_at != claimed_at:
            return False  # deleted, or the editor asked again meanwhile: that newer fetch decides
        if found is None:
            card.fetch_state = LinkCard.FetchState.FAILED
            card.fetch_note = (
                f"Could not fetch the page: {problem} The card shows the link with its host as title; "
                "type a title, summary and image yourself, or tick “Fetch again”."
            )
        else:
            fill(card, found, picture)
        # Saving the card is what tells readers (liveblog.broadcast hooks card saves); the post's
        # update time moves without a second save, which would only render the same event again.
        card.save()
        Post.objects.filter(pk=card.post_id).update(updated_at=timezone.now())
    return True


def fill(card, found, picture):
    kept = []
    for name in TEXT_FIELDS:
        new = getattr(found, name)
        current = getattr(card, name)
        if current in ("", card.fetched.get(name, "")):
            setattr(card, name, new)
        elif current != new:
            kept.append(card._meta.get_field(name).verbose_name)
        card.fetched[name] = new
    notes = [f"Filled from the page on {timezone.now():%b %-d, %Y %H:%M} (GMT)."]
    if isinstance(picture, tuple):
        name, widths = picture
        current = card.image.name or ""
        if current in ("", card.fetched.get("image", "")):
            card.image.name = name
            card.image_widths = widths
            notes.extend(found.notes)
        else:
            kept.append("image")
        card.fetched["image"] = name
    elif picture:
        notes.append(f"No image: {picture}")
    elif not found.image_url:
        notes.append("The page offers no image.")
    if kept:
        notes.append("Kept what you typed: " + ", ".join(kept) + ".")
    card.fetch_state = card.FetchState.OK
    card.fetch_note = " ".join(notes)


# ---------------------------------------------------------------- reading the page


@dataclass
class Unfurled:
    url: str
    title: str = ""
    summary: str = ""
    site_name: str = ""
    canonical_url: str = ""
    image_url: str = ""
    image_alt: str = ""
    notes: list = field(default_factory=list)


def unfurl(url):
    """Fetch the page once and read what it says about itself. Raises safefetch.FetchError."""
    page = safefetch.fetch(url, accept=safefetch.PAGE_TYPES)
    doc = BeautifulSoup(decode(page.body, page.charset), "lxml")
    base = page.url
    base_tag = doc.find("base", href=True)
    if base_tag and safe_url(base_tag["href"], base):
        base = safe_url(base_tag["href"], base)

    meta = {}
    for tag in doc.find_all("meta", content=True):
        key = tag.get("property") or tag.get("name") or tag.get("itemprop")
        if isinstance(key, str) and key.strip():
            meta.setdefault(key.strip().lower(), tag["content"])
    oembed = read_oembed(doc, base)

    title_tag = doc.find("title")
    host = (urlsplit(page.url).hostname or "").removeprefix("www.")
    found = Unfurled(url=page.url)
    found.title = first_text(
        "title", meta.get("og:title"), meta.get("twitter:title"), oembed.get("title"), title_tag and title_tag.text
    )
    found.summary = first_text(
        "summary", meta.get("og:description"), meta.get("twitter:description"), meta.get("description")
    )
    found.site_name = first_text(
        "site_name", meta.get("og:site_name"), oembed.get("provider_name"), meta.get("application-name"), host
    )
    found.image_url = first_url(
        base,
        meta.get("og:image:secure_url"),
        meta.get("og:image"),
        meta.get("og:image:url"),
        meta.get("twitter:image"),
        meta.get("twitter:image:src"),
        oembed.get("thumbnail_url"),
    )
    found.image_alt = first_text("image_alt", meta.get("og:image:alt"), meta.get("twitter:image:alt"))
    if found.image_url and not found.image_alt:
        # Most pages describe no image. The title stands in, so that a fetched card never blocks the
        # editor's next save of the post in the middle of a story; the note asks for a better one.
        found.image_alt = found.title
        found.notes.append("The page does not describe its image; the title stands in for it.")
    canonical = doc.find("link", rel="canonical", href=True)
    found.canonical_url = first_url(base, canonical and canonical["href"], meta.get("og:url"))
    return found


def read_oembed(doc, base):
    """The page's oEmbed JSON, fetched through the same guard. Its HTML is never used."""
    link = doc.find("link", rel="alternate", type=re.compile(r"^application/json\+oembed$", re.I), href=True)
    endpoint = safe_url(link["href"], base) if link else ""
    if not endpoint:
        return {}
    try:
        data = json.loads(safefetch.fetch(endpoint, accept=safefetch.JSON_TYPES).body)
    except (safefetch.FetchError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def decode(data, header_charset):
    """The page's text, in the charset it declares: BOM, then the HTTP header, then <meta>, then UTF-8."""
    for bom, name in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom) :].decode(name, errors="replace")
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    for candidate in (header_charset, declared):
        name = known_codec(candidate)
        if name:
            return data.decode(name, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("windows-1252", errors="replace")


def known_codec(label):
    import codecs

    if not label:
        return None
    label = label.strip().lower()
    label = CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def limit(field_name):
    """The longest text a page may fill a card's field with: the model's own limit."""
    return LinkCard._meta.get_field(field_name).max_length


def first_text(kind, *candidates):
    for value in candidates:
        text = clean_text(value, limit(kind))
        if text:
            return text
    return ""


def clean_text(value, limit):
    """Plain text from a hostile value: no markup, no control characters, one line, at most `limit` chars."""
    if not isinstance(value, str):
        return ""
    text = html.unescape(nh3.clean(value, tags=set()))
    text = re.sub(r"\s+", " ", CONTROL.sub("", text)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-") + "…"
    return text


def first_url(base, *candidates):
    for value in candidates:
        url = safe_url(value, base)
        if url:
            return url
    return ""


def safe_url(value, base):
    """An absolute http(s) URL made from a page's value, or "" (javascript:, data: and the rest are dropped)."""
    if not isinstance(value, str):
        return ""
    value = CONTROL.sub("", value).strip()
    if not value or len(value) > 2000:
        return ""
    try:
        absolute = urljoin(base, value)
        parts = urlsplit(absolute)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return ""
    if re.search(r"[\s<>\"\\]", absolute) or len(absolute) > 2000:
        return ""
    return absolute


# ---------------------------------------------------------------- the image


def fetch_image(found):
    """((stored name of the widest copy, [[width, name], ...]) or a sentence saying why there is no image."""
    try:
        data = safefetch.fetch(found.image_url, accept=safefetch.IMAGE_TYPES).body
        return store_widths(data)
    except safefetch.FetchError as exc:
        return str(exc)
    except ValidationError as exc:
        return "the page's image was refused by the image guard (" + " ".join(exc.messages) + ")"


def store_widths(data):
    """Through the image pipeline (guard, no metadata, content names), in the card widths."""
    storage = LinkCard._meta.get_field("image").storage
    stored = images.store_widths(data, "cards/", settings.LINKCARD_IMAGE_WIDTHS, storage)
    return stored[-1][1], stored
