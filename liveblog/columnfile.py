"""Columns in and out as JSON files (SPEC §8): `import_column` and `export_column`.

Importing reads and checks the whole file first, images included, so that a
file that does not fit is refused with its line and reason before anything is
written. Then one transaction creates or updates the column; the images it needs
are written inside it and removed again if it does not commit. Posts are saved
through the model like an editor's (that is what tells readers), and only when
something changed, so importing the same file twice changes nothing.

Stored images are named after their content, and an exported image is written
under `media/<its stored name>`: importing either again finds the same file.
"""

import base64
import binascii
import bisect
import html
import json
import mimetypes
import re
import uuid
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from urllib.parse import unquote

import nh3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.validators import URLValidator, validate_slug
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify

from liveblog import body, images
from liveblog.models import Author, Byline, Column, LinkCard, Post, Series

SHAPE = {
    (): ({"column"}, {"series", "posts"}),
    ("series",): ({"title", "slug"}, {"description"}),
    ("column",): (
        {"title", "slug"},
        {"state", "started_at", "ended_at", "standfirst", "header_photo", "header_photo_alt", "photo_credit"}
        | {"press_image"},
    ),
    ("posts", "*"): (
        {"headline", "published_at"},
        {"key", "body_html", "authors", "status", "pinned", "key_event", "link_cards"},
    ),
    ("posts", "*", "link_cards", "*"): (
        {"url"},
        {"title", "summary", "site_name", "image", "image_alt", "embedded_at"},
    ),
}
BODY_IMAGE_DIR = "uploads/imported/"
IMG_SRC = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
DATA_URL = re.compile(r"data:(image/[a-z0-9.+-]+);base64,(.*)", re.IGNORECASE | re.DOTALL)
EXPORTED_MEDIA = "media/"
MEDIA_SRC = re.compile(rf'<img\b[^>]*?\bsrc="{re.escape(settings.MEDIA_URL)}([^"]+)"', re.IGNORECASE)


class ColumnFileError(Exception):
    def __init__(self, reason, line=None):
        super().__init__(reason)
        self.reason = reason
        self.line = line

    def __str__(self):
        return f"line {self.line}: {self.reason}" if self.line else self.reason


# Where each value starts ----------------------------------------------------------------

_SPACE = re.compile(r"[ \t\n\r]*")


def value_lines(text):
    """Map the path of every value in a valid JSON text (("posts", 2, "headline")) to its line."""
    decoder = json.JSONDecoder()
    offsets = {}

    def skip(i):
        return _SPACE.match(text, i).end()

    def walk(i, path):
        i = skip(i)
        offsets[path] = i
        opener = text[i]
        if opener not in "{[":
            return decoder.raw_decode(text, i)[1]
        closer = "}" if opener == "{" else "]"
        i = skip(i + 1)
        index = 0
        while text[i] != closer:
            if opener == "{":
                key, i = decoder.raw_decode(text, i)
                i = walk(skip(i) + 1, (*path, key))  # + 1 steps over the colon
            else:
                i = walk(i, (*path, index))
                index += 1
            i = skip(i)
            if text[i] == ",":
                i = skip(i + 1)
        return i + 1

    walk(0, ())
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    return {path: bisect.bisect_right(line_starts, offset) for path, offset in offsets.items()}


def readable(path):
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else part
    return out or "the file"


# Reading and checking ---------------------------------------------------------------------


@dataclass
class StoredImage:
    """An image as it will be stored: its name in media, and the bytes to write if new."""

    name: str
    source: bytes
    data: bytes | None = None


@dataclass
class Plan:
    series: dict | None
    column: dict
    posts: list
    token: str


class Reader:
    def __init__(self, text, base_dir):
        self.base_dir = Path(base_dir).resolve()
        try:
            self.data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ColumnFileError(f"this is not valid JSON: {error.msg} (column {error.colno})", error.lineno) from None
        try:
            self.lines = value_lines(text)
        except RecursionError:
            raise ColumnFileError("the file is nested too deeply to be a column file", 1) from None
        # Stands in for a body image's URL until the import knows which stored file it is.
        self.token = f"import-image-{uuid.uuid4().hex}-"

    def fail(self, path, reason):
        line = None
        for end in range(len(path), -1, -1):  # a missing value: point at its object
            line = self.lines.get(tuple(path[:end]))
            if line:
                break
        where = readable(path)
        raise ColumnFileError(f"{where}: {reason}" if path else reason, line)

    def obj(self, value, path):
        shape = SHAPE[tuple("*" if isinstance(p, int) else p for p in path)]
        required, optional = shape
        if not isinstance(value, dict):
            self.fail(path, "expected an object {...}" if path else "the file must hold one JSON object {...}")
        for key in value:
            if key not in required | optional:
                known = ", ".join(sorted(required | optional))
                self.fail((*path, key), f"unknown field {key!r} (known fields: {known})")
        for key in sorted(required):
            if key not in value:
                self.fail(path, f"{key!r} is missing")
        return value

    def text(self, obj, path, key, max_length, required=False):
        value = obj.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail((*path, key), f"expected text, got {json.dumps(value)[:40]}")
        value = value.strip()
        if "\x00" in value:
            self.fail((*path, key), "contains a NUL character, which text cannot hold")
        if required and not value:
            self.fail((*path, key), "must not be empty")
        if len(value) > max_length:
            self.fail((*path, key), f"is {len(value)} characters long; the most is {max_length}")
        return value

    def slug(self, obj, path, key):
        value = self.text(obj, path, key, 200, required=True)
        try:
            validate_slug(value)
        except ValidationError:
            self.fail((*path, key), f"{value!r} is not a slug (letters, digits, hyphens and underscores)")
        return value

    def choice(self, obj, path, key, choices, default):
        value = obj.get(key, default)
        if value not in choices:
            self.fail((*path, key), f"{json.dumps(value)[:40]} is not one of: {', '.join(choices)}")
        return value

    def flag(self, obj, path, key):
        value = obj.get(key, False)
        if not isinstance(value, bool):
            self.fail((*path, key), f"expected true or false, got {json.dumps(value)[:40]}")
        return value

    def when(self, obj, path, key, default=None):
        value = obj.get(key)
        if value is None:
            return default
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail((*path, key), f"{json.dumps(value)[:40]} is not a date and time like 2016-10-11T23:55:00Z")
        if timezone.is_naive(parsed):
            self.fail((*path, key), f"{value!r} has no time zone; end it with Z for GMT, or +02:00")
        return parsed

    def listing(self, obj, path, key):
        value = obj.get(key, [])
        if not isinstance(value, list):
            self.fail((*path, key), "expected a list [...]")
        return value

    def image(self, obj, path, key, directory):
        ref = obj.get(key)
        if ref is None or ref == "":
            return None
        if not isinstance(ref, str):
            self.fail((*path, key), "expected a path relative to the file, or a data URL")
        return self.load_image(ref, (*path, key), directory)

    def load_image(self, ref, path, directory):
        source = self.image_source(ref, path)
        existing = self.exported_copy(ref, source)
        if existing:
            return StoredImage(existing, source)
        try:
            encoded = images.guard(source).encode()
        except ValidationError as error:
            self.fail(path, f"{ref[:60]!r}: {error.messages[0]}")
        return StoredImage(encoded.name(directory), source, encoded.data)

    def image_source(self, ref, path):
        match = DATA_URL.fullmatch(ref.strip())
        if match:
            try:
                return base64.b64decode(match.group(2), validate=False)
            except (binascii.Error, ValueError):
                self.fail(path, "this data URL's base64 is damaged")
        if ref.startswith(("data:", "/", "\\")) or re.match(r"^[a-z][a-z0-9+.-]*:", ref, re.IGNORECASE):
            self.fail(path, f"{ref[:60]!r}: give a path relative to the file, or a data:image/...;base64 URL")
        target = (self.base_dir / ref).resolve()
        if not target.is_relative_to(self.base_dir):
            self.fail(path, f"{ref!r} points outside the file's folder")
        if not target.is_file():
            self.fail(path, f"{ref!r}: no such file next to the import file")
        with target.open("rb") as f:
            return f.read(settings.MAX_IMAGE_BYTES + 1)

    def exported_copy(self, ref, source):
        """An image we exported (media/<name>) that is still stored with the same bytes keeps its name."""
        if not ref.startswith(EXPORTED_MEDIA):
            return None
        name = ref.removeprefix(EXPORTED_MEDIA)
        if ".." in name.split("/") or not default_storage.exists(name):
            return None
        with default_storage.open(name) as f:
            return name if f.read() == source else None

    def body_html(self, obj, path):
        """The cleaned body with a placeholder where each of its local images goes, and those images."""
        value = self.text(obj, path, "body_html", 500_000)
        found = []

        def placeholder(match):
            src = html.unescape(match.group(3)).strip()
            if re.match(r"^(https?:)?//", src, re.IGNORECASE) or src.startswith(("/", "#")):
                return match.group(0)
            found.append(self.load_image(src, (*path, "body_html"), BODY_IMAGE_DIR))
            return f"{match.group(1)}{match.group(2)}{self.token}{len(found) - 1}{match.group(2)}"

        # A first cleaning that still allows data: URLs puts every src in double quotes for IMG_SRC;
        # the second one, after the images are replaced, is the ordinary one.
        normalized = nh3.clean(
            value,
            tags=body.ALLOWED_TAGS,
            attributes=body.ALLOWED_ATTRIBUTES,
            url_schemes=body.URL_SCHEMES | {"data"},
            strip_comments=True,
        )
        return body.clean_html(IMG_SRC.sub(placeholder, normalized)), found

    def read(self):
        top = self.obj(self.data, ())
        series = None
        if top.get("series") is not None:
            s = self.obj(top["series"], ("series",))
            p = ("series",)
            series = {
                "slug": self.slug(s, p, "slug"),
                "title": self.text(s, p, "title", 200, required=True),
                "description": self.text(s, p, "description", 5000),
            }
        c = self.obj(top["column"], ("column",))
        p = ("column",)
        column = {
            "slug": self.slug(c, p, "slug"),
            "title": self.text(c, p, "title", 200, required=True),
            "state": self.choice(c, p, "state", Column.State.values, Column.State.LIVE),
            "started_at": self.when(c, p, "started_at"),
            "ended_at": self.when(c, p, "ended_at"),
            "standfirst": self.text(c, p, "standfirst", 1000),
            "header_photo": self.image(c, p, "header_photo", "columns/"),
            "header_photo_alt": self.text(c, p, "header_photo_alt", 300),
            "photo_credit": self.text(c, p, "photo_credit", 200),
            "press_image": self.image(c, p, "press_image", "press/"),
        }
        posts, seen = [], {}
        for i, raw in enumerate(self.listing(top, (), "posts")):
            post = self.post(raw, ("posts", i))
            identity = ("key", post["key"]) if post["key"] else ("headline", post["headline"], post["published_at"])
            if identity in seen:
                what = "key" if post["key"] else "headline and publish time"
                self.fail(
                    ("posts", i, "key" if post["key"] else "headline"), f"posts[{seen[identity]}] has the same {what}"
                )
            seen[identity] = i
            posts.append(post)
        return Plan(series, column, posts, self.token)

    def post(self, raw, p):
        raw = self.obj(raw, p)
        key = raw.get("key")
        if key is not None and (not isinstance(key, str | int) or isinstance(key, bool) or not str(key).strip()):
            self.fail((*p, "key"), "expected a non-empty text or number")
        if key is not None and len(str(key)) > 200:
            self.fail((*p, "key"), "is longer than 200 characters")
        published_at = self.when(raw, p, "published_at")
        authors = []
        for j, name in enumerate(self.listing(raw, p, "authors")):
            if not isinstance(name, str) or not name.strip() or len(name) > 200:
                self.fail((*p, "authors", j), "expected an author's name")
            if name.strip() not in authors:
                authors.append(name.strip())
        cards, urls = [], set()
        for j, card in enumerate(self.listing(raw, p, "link_cards")):
            cp = (*p, "link_cards", j)
            card = self.obj(card, cp)
            url = self.text(card, cp, "url", 2000, required=True)
            try:
                URLValidator(schemes=["http", "https"])(url)
            except ValidationError:
                self.fail((*cp, "url"), f"{url[:60]!r} is not an http(s) URL")
            if url in urls:
                self.fail((*cp, "url"), "this post already has a card for this URL")
            urls.add(url)
            cards.append(
                {
                    "url": url,
                    "title": self.text(card, cp, "title", 300),
                    "summary": self.text(card, cp, "summary", 1000),
                    "site_name": self.text(card, cp, "site_name", 200),
                    "image": self.image(card, cp, "image", "cards/"),
                    "image_alt": self.text(card, cp, "image_alt", 300),
                    "embedded_at": self.when(card, cp, "embedded_at", default=published_at),
                }
            )
        return {
            "key": str(key).strip() if key is not None else None,
            "headline": self.text(raw, p, "headline", 300, required=True),
            "body": self.body_html(raw, p),  # (cleaned HTML with placeholders, [StoredImage])
            "authors": authors,
            "published_at": published_at,
            "status": self.choice(raw, p, "status", Post.Status.values, Post.Status.PUBLISHED),
            "pinned": self.flag(raw, p, "pinned"),
            "key_event": self.flag(raw, p, "key_event"),
            "cards": cards,
        }


def read_file(path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ColumnFileError(f"the file is not UTF-8 text ({error.reason} at byte {error.start})") from None
    return Reader(text, path.parent).read()


# Writing -----------------------------------------------------------------------------------


@dataclass
class Summary:
    column: Column
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    images_written: int = 0


def import_file(path):
    """Create or update the column described by the file; raise ColumnFileError if it does not fit."""
    plan = read_file(path)
    files = Files()
    try:
        with transaction.atomic():
            summary = apply(plan, files)
    except BaseException:
        # Nothing is half-imported: the images this import wrote go with its transaction.
        files.remove()
        raise
    summary.images_written = len(files.written)
    return summary


class Files:
    """Writes the images an import needs, and remembers them in case it rolls back."""

    def __init__(self):
        self.written = []

    def store(self, image):
        if image.data is not None and not default_storage.exists(image.name):
            if default_storage.save(image.name, ContentFile(image.data)) != image.name:
                raise ColumnFileError(f"could not store the image {image.name}")
            self.written.append(image.name)
        return image.name

    def remove(self):
        for name in self.written:
            default_storage.delete(name)

    @staticmethod
    def holds(name, image):
        """Whether the stored file `name` has this image's bytes, as given or as cleaned."""
        if not name or not default_storage.exists(name):
            return False
        with default_storage.open(name) as f:
            return f.read() in (image.source, image.data)


def set_fields(instance, **values):
    changed = False
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def set_image(field_file, image, files):
    """Point an image field at an image; a stored file with the same bytes stays as it is."""
    if image is None:
        changed = bool(field_file.name)
        field_file.name = ""
        return changed
    if field_file.name == image.name or Files.holds(field_file.name, image):
        return False
    field_file.name = files.store(image)
    return True


def body_with_images(post, body_spec, token, files):
    """Put the stored images into the body; an image the post already shows keeps its file."""
    cleaned, found = body_spec
    shown = [unquote(src.removeprefix(settings.MEDIA_URL)) for src in MEDIA_SRC.findall(post.body or "")]
    for n in range(len(found) - 1, -1, -1):  # backwards, so "…-1" never eats "…-10"
        image = found[n]
        name = next((name for name in shown if Files.holds(name, image)), None) or files.store(image)
        cleaned = cleaned.replace(f"{token}{n}", default_storage.url(name))
    return body.clean_html(cleaned)


def apply(plan, files):
    series = None
    if plan.series:
        series = Series.objects.filter(slug=plan.series["slug"]).first() or Series(slug=plan.series["slug"])
        if set_fields(series, title=plan.series["title"], description=plan.series["description"]) or not series.pk:
            series.save()

    spec = plan.column
    column = Column.objects.filter(slug=spec["slug"]).first() or Column(slug=spec["slug"])
    changed = set_fields(
        column,
        series=series,
        title=spec["title"],
        state=spec["state"],
        ended_at=spec["ended_at"],
        standfirst=spec["standfirst"],
        header_photo_alt=spec["header_photo_alt"],
        photo_credit=spec["photo_credit"],
    )
    if spec["started_at"]:
        changed |= set_fields(column, started_at=spec["started_at"])
    changed |= set_image(column.header_photo, spec["header_photo"], files)
    changed |= set_image(column.press_image, spec["press_image"], files)
    if changed or not column.pk:
        column.save()

    summary = Summary(column)
    authors = {}
    for spec in plan.posts:
        outcome = apply_post(column, spec, authors, plan.token, files)
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


def apply_post(column, spec, authors, token, files):
    if spec["key"]:
        post = column.posts.filter(import_key=spec["key"]).first()
    else:
        post = column.posts.filter(headline=spec["headline"], published_at=spec["published_at"]).first()
    new = post is None
    if new:
        post = Post(column=column, import_key=spec["key"])
    changed = set_fields(
        post,
        headline=spec["headline"],
        body=body_with_images(post, spec["body"], token, files),
        published_at=spec["published_at"],
        status=spec["status"],
        pinned=spec["pinned"],
        key_event=spec["key_event"],
    )
    if new:
        post.save()

    wanted = [author_named(name, authors) for name in spec["authors"]]
    if new or [b.author_id for b in post.bylines.all()] != [a.pk for a in wanted]:
        post.bylines.all().delete()
        for position, author in enumerate(wanted):
            Byline.objects.create(post=post, author=author, position=position)
        changed = True

    existing = {card.url: card for card in post.link_cards.all()}
    for card_spec in spec["cards"]:
        card = existing.get(card_spec["url"]) or LinkCard(post=post, url=card_spec["url"])
        card_changed = set_fields(
            card,
            title=card_spec["title"],
            summary=card_spec["summary"],
            site_name=card_spec["site_name"],
            image_alt=card_spec["image_alt"],
            embedded_at=card_spec["embedded_at"],
        )
        card_changed |= set_image(card.image, card_spec["image"], files)
        if not card.pk or card.fetch_state == LinkCard.FetchState.PENDING:
            # A card from the file is used as it is: it replaces the placeholder saving the post made for
            # its URL, and the fetcher leaves it alone. A card fetched earlier keeps its state.
            card_changed |= set_fields(card, fetch_state=LinkCard.FetchState.MANUAL, fetch_note="")
        if card_changed or not card.pk:
            card.save()
            changed = True

    if new:
        return "added"
    if changed:
        # Saved last, with its bylines and cards in place: saving the post is what tells readers.
        post.save()
        return "updated"
    return "unchanged"


def author_named(name, cache):
    if name not in cache:
        author = Author.objects.filter(name=name).order_by("pk").first()
        if author is None:
            base = slugify(name)[:180] or "author"
            slug, n = base, 1
            while Author.objects.filter(slug=slug).exists():
                n += 1
                slug = f"{base}-{n}"
            author = Author.objects.create(name=name, slug=slug)
        cache[name] = author
    return cache[name]


# Exporting ---------------------------------------------------------------------------------


def iso(value):
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


class Exporter:
    """Writes stored images next to the export file (media/<name>), or inline as data URLs."""

    def __init__(self, base_dir=None):
        self.base_dir = Path(base_dir) if base_dir else None

    def image(self, name):
        if not name or not default_storage.exists(name):
            return None
        with default_storage.open(name) as f:
            data = f.read()
        if self.base_dir is None:
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return f"data:{content_type};base64,{base64.b64encode(data).decode()}"
        target = self.base_dir / EXPORTED_MEDIA / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return f"{EXPORTED_MEDIA}{name}"

    def body(self, cleaned):
        def local(match):
            src = html.unescape(match.group(3))
            if not src.startswith(settings.MEDIA_URL):
                return match.group(0)
            exported = self.image(src.removeprefix(settings.MEDIA_URL))
            if exported is None:
                return match.group(0)
            return f"{match.group(1)}{match.group(2)}{html.escape(exported)}{match.group(2)}"

        return IMG_SRC.sub(local, cleaned)


def export_column(column, base_dir=None):
    """The column as a dict in the import shape; images go to base_dir/media/, or inline without one."""
    out = Exporter(base_dir)
    data = {}
    if column.series:
        data["series"] = {
            "title": column.series.title,
            "slug": column.series.slug,
            "description": column.series.description,
        }
    data["column"] = {
        "title": column.title,
        "slug": column.slug,
        "state": column.state,
        "started_at": iso(column.started_at),
        "ended_at": iso(column.ended_at),
        "standfirst": column.standfirst,
        "header_photo": out.image(column.header_photo.name),
        "header_photo_alt": column.header_photo_alt,
        "photo_credit": column.photo_credit,
        "press_image": out.image(column.press_image.name),
    }
    posts = column.posts.order_by("published_at", "id").prefetch_related("bylines__author", "link_cards")
    data["posts"] = []
    for post in posts:
        item = {"key": post.import_key} if post.import_key else {}
        item.update(
            {
                "headline": post.headline,
                "body_html": out.body(post.body),
                "authors": [author.name for author in post.ordered_authors()],
                "published_at": iso(post.published_at),
                "status": post.status,
                "pinned": post.pinned,
                "key_event": post.key_event,
                "link_cards": [
                    {
                        "url": card.url,
                        "title": card.title,
                        "summary": card.summary,
                        "site_name": card.site_name,
                        "image": out.image(card.image.name),
                        "image_alt": card.image_alt,
                        "embedded_at": iso(card.embedded_at),
                    }
                    for card in post.link_cards.all()
                ],
            }
        )
        data["posts"].append(item)
    return data
