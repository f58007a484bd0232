"""The column file's fields, in one table: for each object (series, column, post, link card), its fields in
file order, how each is read and checked, and which model field it fills.

Lengths and choices come from the models, so the file accepts exactly what an editor may save. Reading,
writing and exporting all walk this table (liveblog/columnfile/reading.py, writing.py, exporting.py).
"""

import json
from datetime import UTC

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_slug
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from liveblog.columnfile import bodies, imagefiles
from liveblog.models import Author, Column, LinkCard, Post, Series

OMIT = object()  # an exported value that is left out of the file


def shown(value):
    return json.dumps(value)[:40]


def iso(value):
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


class Field:
    """One field of an object in the file. `plain` fields are assigned to the model field as they are read.

    `longest` and `default` are given only where the model has none to offer (or the file's differs)."""

    plain = False

    def __init__(self, name, *, required=False, model_field=None, longest=None, default=None):
        self.name = name
        self.required = required
        self.model_field = model_field or name
        self._longest = longest
        self._default = default
        self.model = None

    def bind(self, model):
        self.model = model
        return self

    @property
    def model_field_object(self):
        return self.model._meta.get_field(self.model_field)

    def read(self, reader, obj, path, context):
        raise NotImplementedError

    def export(self, instance, out):
        return getattr(instance, self.model_field)


class Text(Field):
    plain = True

    @property
    def longest(self):
        # The model's limit; a text field without one gets a limit here.
        return self._longest or self.model_field_object.max_length

    def read(self, reader, obj, path, context):
        value = obj.get(self.name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            reader.fail((*path, self.name), f"expected text, got {shown(value)}")
        value = value.strip()
        if "\x00" in value:
            reader.fail((*path, self.name), "contains a NUL character, which text cannot hold")
        if self.required and not value:
            reader.fail((*path, self.name), "must not be empty")
        if len(value) > self.longest:
            reader.fail((*path, self.name), f"is {len(value)} characters long; the most is {self.longest}")
        return value


class Slug(Text):
    """The object's identity: an existing object with this slug is updated."""

    plain = False

    def __init__(self, name="slug", **kwargs):
        super().__init__(name, required=True, **kwargs)

    def read(self, reader, obj, path, context):
        value = super().read(reader, obj, path, context)
        try:
            validate_slug(value)
        except ValidationError:
            reader.fail((*path, self.name), f"{value!r} is not a slug (letters, digits, hyphens and underscores)")
        return value


class Url(Text):
    """A link card's identity within its post."""

    plain = False

    def read(self, reader, obj, path, context):
        value = super().read(reader, obj, path, context)
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            reader.fail((*path, self.name), f"{value[:60]!r} is not an http(s) URL")
        return value


class Choice(Field):
    plain = True

    @property
    def choices(self):
        return [value for value, _ in self.model_field_object.choices]

    @property
    def default(self):
        return self._default or self.model_field_object.default

    def read(self, reader, obj, path, context):
        value = obj.get(self.name, self.default)
        if value not in self.choices:
            reader.fail((*path, self.name), f"{shown(value)} is not one of: {', '.join(self.choices)}")
        return value


class Flag(Field):
    plain = True

    def read(self, reader, obj, path, context):
        value = obj.get(self.name, False)
        if not isinstance(value, bool):
            reader.fail((*path, self.name), f"expected true or false, got {shown(value)}")
        return value


class When(Field):
    """A moment with its time zone. `default_from` names an earlier field of the same object (its value is
    the default); `only_if_given`: a file without it leaves the stored value alone."""

    plain = True

    def __init__(self, name, *, default_from=None, only_if_given=False, **kwargs):
        super().__init__(name, **kwargs)
        self.default_from = default_from
        self.only_if_given = only_if_given

    def read(self, reader, obj, path, context):
        value = obj.get(self.name)
        if value is None:
            if self.required and self.name in obj:
                reader.fail((*path, self.name), "must be a date and time like 2016-10-11T23:55:00Z")
            return context.get(self.default_from) if self.default_from else None
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            reader.fail((*path, self.name), f"{shown(value)} is not a date and time like 2016-10-11T23:55:00Z")
        if timezone.is_naive(parsed):
            reader.fail((*path, self.name), f"{value!r} has no time zone; end it with Z for GMT, or +02:00")
        return parsed

    def export(self, instance, out):
        return iso(getattr(instance, self.model_field))


class Image(Field):
    """A path relative to the file, or a data URL; stored through the image pipeline under `directory`."""

    def __init__(self, name, *, directory, **kwargs):
        super().__init__(name, **kwargs)
        self.directory = directory

    def read(self, reader, obj, path, context):
        ref = obj.get(self.name)
        if ref is None or ref == "":
            return None
        if not isinstance(ref, str):
            reader.fail((*path, self.name), "expected a path relative to the file, or a data URL")
        return reader.image(ref, (*path, self.name), self.directory)

    def export(self, instance, out):
        return out.image(getattr(instance, self.model_field).name)


class Key(Field):
    """A post's identifier in the system it came from: re-imports match posts by it."""

    def __init__(self):
        super().__init__("key", model_field="import_key")

    def read(self, reader, obj, path, context):
        key = obj.get(self.name)
        if key is None:
            return None
        if not isinstance(key, str | int) or isinstance(key, bool) or not str(key).strip():
            reader.fail((*path, self.name), "expected a non-empty text or number")
        if len(str(key)) > self.model_field_object.max_length:
            reader.fail((*path, self.name), f"is longer than {self.model_field_object.max_length} characters")
        return str(key).strip()

    def export(self, instance, out):
        return instance.import_key or OMIT


class Body(Text):
    """Cleaned HTML; its local images are read too (liveblog/columnfile/bodies.py)."""

    plain = False

    def __init__(self):
        super().__init__("body_html", model_field="body", longest=500_000)

    def read(self, reader, obj, path, context):
        value = super().read(reader, obj, path, context)
        return bodies.with_placeholders(
            value, reader.token, lambda src: reader.image(src, (*path, self.name), imagefiles.BODY_IMAGE_DIR)
        )

    def export(self, instance, out):
        return bodies.exported(instance.body, out.image)


class Authors(Field):
    """Bylines in order, by the author's name; a name seen for the first time becomes a new author."""

    def __init__(self):
        super().__init__("authors")

    @property
    def longest(self):
        return Author._meta.get_field("name").max_length

    def read(self, reader, obj, path, context):
        names = []
        for j, name in enumerate(reader.listing(obj, path, self.name)):
            if not isinstance(name, str) or not name.strip() or len(name) > self.longest:
                reader.fail((*path, self.name, j), "expected an author's name")
            if name.strip() not in names:
                names.append(name.strip())
        return names

    def export(self, instance, out):
        return [author.name for author in instance.ordered_authors()]


class Cards(Field):
    """The post's link cards, each an object of the CARD shape; one card per URL."""

    def __init__(self):
        super().__init__("link_cards")

    def read(self, reader, obj, path, context):
        cards, urls = [], set()
        for j, raw in enumerate(reader.listing(obj, path, self.name)):
            card = reader.object(raw, (*path, self.name, j), CARD, context)
            if card["url"] in urls:
                reader.fail((*path, self.name, j, "url"), "this post already has a card for this URL")
            urls.add(card["url"])
            cards.append(card)
        return cards

    def export(self, instance, out):
        return [CARD.export(card, out) for card in instance.link_cards.all()]


class Shape:
    """One kind of object in the file: a model and its fields, in file order."""

    def __init__(self, model, *fields):
        self.model = model
        self.fields = [field.bind(model) for field in fields]

    @property
    def required(self):
        return {field.name for field in self.fields if field.required}

    @property
    def known(self):
        return {field.name for field in self.fields}

    def plain_values(self, spec):
        """What the file sets on the model as it is: {model field: value}."""
        return {
            field.model_field: spec[field.name]
            for field in self.fields
            if field.plain and not (getattr(field, "only_if_given", False) and spec[field.name] is None)
        }

    @property
    def images(self):
        return [field for field in self.fields if isinstance(field, Image)]

    def export(self, instance, out):
        values = ((field.name, field.export(instance, out)) for field in self.fields)
        return {name: value for name, value in values if value is not OMIT}


SERIES = Shape(
    Series,
    Text("title", required=True),
    Slug(),
    Text("description", longest=5000),
)
COLUMN = Shape(
    Column,
    Text("title", required=True),
    Slug(),
    Choice("state"),
    When("started_at", only_if_given=True),
    When("ended_at"),
    Text("standfirst"),
    Image("header_photo", directory="columns/"),
    Text("header_photo_alt"),
    Text("photo_credit"),
    Image("press_image", directory="press/"),
)
CARD = Shape(
    LinkCard,
    Url("url", required=True),
    Text("title"),
    Text("summary"),
    Text("site_name"),
    Image("image", directory="cards/"),
    Text("image_alt"),
    When("embedded_at", default_from="published_at"),
)
POST = Shape(
    Post,
    Key(),
    Text("headline", required=True),
    Body(),
    Authors(),
    When("published_at", required=True),
    Choice("status", default=Post.Status.PUBLISHED),
    Flag("pinned"),
    Flag("key_event"),
    Cards(),
)
# The file itself: one column, optionally its series, and its posts.
TOP = {"required": {"column"}, "known": {"series", "column", "posts"}}
