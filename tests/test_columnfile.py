"""import_column and export_column (docs/column-file.md): round trips, idempotence, and refusing malformed files."""

import base64
import io
import json
import re
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image

from liveblog import columnfile
from liveblog.columnfile import fields, writing
from liveblog.models import Author, Byline, Column, LinkCard, Post, Series
from tests.support.images import image_bytes, jpeg_with_exif, png_claiming_size

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def column_file():
    return {
        "series": {"title": "Storm Coverage", "slug": "storm-coverage"},
        "column": {
            "title": "Storm Isolde: day two",
            "slug": "storm-isolde-day-two",
            "state": "live",
            "started_at": "2016-10-11T06:00:00Z",
            "standfirst": "The storm moves inland.",
            "header_photo": "images/header.jpg",
            "photo_credit": "Photo via the Harbour Office",
            "press_image": "images/header.jpg",
        },
        "posts": [
            {
                "key": "old-cms-101",
                "headline": "Ferries stay in port",
                "body_html": "<p>No crossings today.</p><p>https://example.org/ferries</p>"
                '<figure><img src="images/map.png" alt="Map"><figcaption>The route</figcaption></figure>',
                "authors": ["Ada Rees", "Tomás Whitfield"],
                "published_at": "2016-10-11T07:15:00Z",
                "status": "published",
                "pinned": True,
                "key_event": False,
                "link_cards": [
                    {
                        "url": "https://example.org/ferries",
                        "title": "Ferry timetable",
                        "summary": "All sailings cancelled.",
                        "site_name": "Example Ferries",
                        "image": "images/story.png",
                        "embedded_at": "2016-10-11T07:15:00Z",
                    }
                ],
            },
            {
                "headline": "Wind gusts reach 120 km/h",
                "body_html": "<p>The strongest gust was measured on the pier.</p><img src=images/map.png alt=Map>"
                '<p><img src="data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="></p>',
                "authors": ["Tomás Whitfield"],
                "published_at": "2016-10-11T08:40:00+02:00",
                "key_event": True,
            },
            {
                "key": "old-cms-103",
                "headline": "Draft: school closures",
                "body_html": "<p>To be confirmed.</p>",
                "authors": ["Ada Rees"],
                "published_at": "2016-10-11T09:00:00Z",
                "status": "draft",
            },
        ],
    }


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "archive" / "images"
    images.mkdir(parents=True)
    (images / "header.jpg").write_bytes(jpeg_with_exif(size=(120, 60)))
    (images / "story.png").write_bytes(image_bytes("PNG", size=(90, 60)))
    (images / "map.png").write_bytes(image_bytes("PNG", size=(40, 40), color=(0, 90, 200)))
    return tmp_path / "archive"


def write(folder, data, name="column.json"):
    path = folder / name
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


def import_column(path):
    out = io.StringIO()
    call_command("import_column", str(path), stdout=out)
    return out.getvalue()


def media_files():
    found = set()
    root = Path(default_storage.location)
    if root.exists():
        found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return found


def snapshot():
    """Everything a reader or editor could tell apart, plus the database rows' identities and times."""
    return {
        "series": list(Series.objects.values_list("pk", "title", "slug")),
        "columns": list(Column.objects.values()),
        "posts": list(Post.objects.order_by("pk").values()),
        "bylines": list(Byline.objects.order_by("pk").values()),
        "cards": list(LinkCard.objects.order_by("pk").values()),
        "authors": list(Author.objects.order_by("pk").values()),
        "media": media_files(),
    }


def test_import_creates_the_column_the_file_describes(folder, client):
    output = import_column(write(folder, column_file()))
    assert "3 posts added" in output

    column = Column.objects.get(slug="storm-isolde-day-two")
    assert column.series.title == "Storm Coverage"
    assert column.photo_credit == "Photo via the Harbour Office"
    # The header photo went through the image guard: rotated upright, no EXIF, a fresh copy.
    with default_storage.open(column.header_photo.name) as f:
        header = Image.open(io.BytesIO(f.read()))
    assert header.size == (60, 120) and not header.getexif()
    assert column.press_image.name.startswith("press/")

    ferries = column.posts.get(import_key="old-cms-101")
    assert ferries.pinned and ferries.ordered_authors()[0].name == "Ada Rees"
    assert [a.name for a in ferries.ordered_authors()] == ["Ada Rees", "Tomás Whitfield"]
    card = ferries.link_cards.get()
    assert card.title == "Ferry timetable" and card.image.name.startswith("cards/")
    assert card.fetch_state == LinkCard.FetchState.MANUAL  # used as it is: the fetcher leaves it alone
    assert 'src="/media/uploads/imported/' in ferries.body
    map_name = ferries.body.split('src="/media/')[1].split('"')[0]
    assert default_storage.exists(map_name)

    gusts = column.posts.get(headline="Wind gusts reach 120 km/h")
    # The same picture, unquoted this time, is the same stored file; a data URL image is stored too.
    assert f'src="/media/{map_name}"' in gusts.body
    assert 'src="/media/uploads/imported/' in gusts.body.split(map_name)[1]
    assert "data:" not in gusts.body
    assert gusts.import_key is None and gusts.key_event
    assert gusts.published_at.isoformat() == "2016-10-11T06:40:00+00:00"

    # The body: the head repeats post text in its structured data.
    page = client.get(column.get_absolute_url()).content.decode().split("<body>", 1)[1]
    assert page.index("No crossings today.") < page.index("Ferry timetable") < page.index("The route")
    assert "Draft: school closures" not in page


def test_importing_the_same_file_twice_changes_nothing(folder):
    path = write(folder, column_file())
    import_column(path)
    before = snapshot()
    output = import_column(path)
    assert "0 posts added, 0 updated, 3 unchanged; 0 new images" in output
    assert snapshot() == before


def test_a_changed_file_updates_matched_posts_and_adds_new_ones(folder):
    data = column_file()
    import_column(write(folder, data))
    first_pk = Post.objects.get(import_key="old-cms-101").pk
    data["posts"][0]["headline"] = "Ferries stay in port until Friday"
    data["posts"][0]["link_cards"][0]["title"] = "Updated ferry timetable"
    data["posts"].append(
        {"headline": "Power back in the old town", "published_at": "2016-10-11T10:00:00Z", "authors": ["Ada Rees"]}
    )
    output = import_column(write(folder, data))
    assert "1 posts added, 1 updated, 2 unchanged" in output
    post = Post.objects.get(import_key="old-cms-101")
    assert post.pk == first_pk and post.headline == "Ferries stay in port until Friday"
    assert post.link_cards.get().title == "Updated ferry timetable"
    assert Post.objects.count() == 4
    assert Author.objects.count() == 2


def test_a_url_with_no_card_in_the_file_is_fetched(folder):
    data = column_file()
    data["posts"][1]["body_html"] += "<p>https://rivers.example/levels</p>"
    import_column(write(folder, data))
    placeholder = LinkCard.objects.get(url="https://rivers.example/levels")
    assert placeholder.fetch_state == LinkCard.FetchState.PENDING  # fetched once the import commits
    assert LinkCard.objects.get(url="https://example.org/ferries").fetch_state == LinkCard.FetchState.MANUAL


def admin_made_column(column, make_post, author):
    """A column whose images were uploaded by hand, with names that say nothing about their content."""
    header = default_storage.save("columns/harbour.png", ContentFile(image_bytes("PNG", size=(30, 20))))
    column.header_photo.name = header
    column.save()
    picture = default_storage.save("uploads/2026/11/24/pier.png", ContentFile(image_bytes("PNG", size=(20, 30))))
    post = make_post(
        "Pier closed",
        body=f'<p>Police closed the pier.</p><p><img src="/media/{picture}" alt="The pier"></p>'
        "<p>https://example.org/pier</p>",
        cards=["https://example.org/pier"],
    )
    card = post.link_cards.get()
    card.image.name = default_storage.save("cards/pier.png", ContentFile(image_bytes("PNG", size=(50, 30))))
    card.save()
    make_post("Second update", key_event=True)
    return column


@pytest.mark.parametrize("inline", [False, True], ids=["images as files", "images as data URLs"])
def test_reimporting_an_export_changes_nothing(tmp_path, column, make_post, author, inline):
    admin_made_column(column, make_post, author)
    out = tmp_path / "backup" / "column.json"
    call_command("export_column", column.slug, "--output", str(out), *(["--data-urls"] if inline else []))
    exported = json.loads(out.read_text())
    assert exported["column"]["slug"] == column.slug
    assert len(exported["posts"]) == 2
    if inline:
        assert exported["column"]["header_photo"].startswith("data:image/png;base64,")
    else:
        assert exported["column"]["header_photo"] == "media/columns/harbour.png"
        assert (out.parent / "media/columns/harbour.png").exists()
        assert 'src="media/uploads/2026/11/24/pier.png"' in exported["posts"][0]["body_html"]

    before = snapshot()
    output = import_column(out)
    assert "0 posts added, 0 updated, 2 unchanged; 0 new images" in output
    assert snapshot() == before


def test_an_export_brings_a_deleted_column_back(tmp_path, column, make_post, author, client):
    admin_made_column(column, make_post, author)
    stdout = io.StringIO()
    call_command("export_column", column.slug, stdout=stdout)
    exported = json.loads(stdout.getvalue())
    page_before = client.get(column.get_absolute_url()).content.decode()

    Column.objects.all().delete()
    path = tmp_path / "restore.json"
    path.write_text(json.dumps(exported))
    import_column(path)

    restored = Column.objects.get(slug=column.slug)
    # The same column, the same words, the same pictures (re-encoded, so compared pixel by pixel).
    assert pictures_decoded(columnfile.export_column(restored)) == pictures_decoded(exported)
    page_after = client.get(restored.get_absolute_url()).content.decode()
    assert "Police closed the pier." in page_after
    # What readers read; the head's structured data also gives the restored column's modification times.
    assert without_names(page_after.split("<body>", 1)[1]) == without_names(page_before.split("<body>", 1)[1])


def without_names(page):
    """A page with its database ids and stored file names blanked out: what a reader reads."""
    return re.sub(r"/media/[^\"]+|post-\d+|posts/\d+|card-id=\"\d+\"|data-post-id=\"\d+\"", "#", page)


def pictures_decoded(value):
    if isinstance(value, dict):
        return {k: pictures_decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pictures_decoded(v) for v in value]
    if isinstance(value, str) and "data:image/" in value:
        return re.sub(r"data:image/[a-z]+;base64,([A-Za-z0-9+/=]+)", lambda m: pixels(m.group(1)), value)
    return value


def pixels(b64):
    image = Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB")
    return f"{image.size}:{hash(image.tobytes())}"


# Malformed files ---------------------------------------------------------------------------


def line_of(text, needle):
    """The line of the needle's last occurrence: a duplicate is reported where it repeats."""
    return text[: text.rindex(needle)].count("\n") + 1


def mutate(path, value):
    """Set the value at a path ("posts", 1, "headline") in the column file."""

    def apply(data):
        target = data
        for part in path[:-1]:
            target = target[part]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return data

    return apply


DELETE = object()
BAD = "MARKER-VALUE"


def data_url(data, kind="image/png"):
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


# (id, change, the text to find on the reported line, reason)
MALFORMED = [
    ("published_at not a time", mutate(("posts", 1, "published_at"), BAD), BAD, "is not a date and time"),
    (
        "time without zone",
        mutate(("posts", 1, "published_at"), "2016-10-11T08:00:00"),
        "2016-10-11T08:00:00",
        "no time zone",
    ),
    (
        "published_at null",
        mutate(("posts", 1, "published_at"), None),
        '"published_at": null',
        "must be a date and time",
    ),
    ("impossible date", mutate(("posts", 0, "published_at"), "2016-02-30T08:00:00Z"), "2016-02-30", "is not a date"),
    ("empty headline", mutate(("posts", 2, "headline"), ""), '"headline": ""', "must not be empty"),
    ("headline a number", mutate(("posts", 1, "headline"), 4242), "4242", "expected text"),
    ("unknown post field", mutate(("posts", 1, "pinnned"), True), "pinnned", "unknown field 'pinnned'"),
    ("post status", mutate(("posts", 0, "status"), "live"), '"status": "live"', "is not one of"),
    ("pinned as text", mutate(("posts", 2, "pinned"), "yes"), '"pinned": "yes"', "true or false"),
    ("authors not a list", mutate(("posts", 0, "authors"), "Ada Rees"), '"authors": "Ada Rees"', "expected a list"),
    ("an author not a name", mutate(("posts", 1, "authors"), ["Ada", 7070707]), "7070707", "expected an author's name"),
    ("card URL scheme", mutate(("posts", 0, "link_cards", 0, "url"), "javascript:alert(1)"), "javascript:", "http(s)"),
    (
        "card image missing",
        mutate(("posts", 0, "link_cards", 0, "image"), "images/nope.png"),
        "nope.png",
        "no such file",
    ),
    ("image outside folder", mutate(("column", "header_photo"), "../secret.png"), "secret.png", "outside"),
    ("image absolute path", mutate(("column", "header_photo"), "/etc/passwd"), "/etc/passwd", "relative to the file"),
    (
        "image from the web",
        mutate(("column", "press_image"), "https://example.org/x.jpg"),
        "example.org/x.jpg",
        "relative",
    ),
    ("image not an image", mutate(("column", "header_photo"), "notes.jpg"), "notes.jpg", "Upload a valid image"),
    (
        "data URL not an image",
        mutate(("column", "press_image"), data_url(b"<b>hi</b>", "text/html")),
        "text/html",
        "data:image",
    ),
    (
        "data URL bomb",
        mutate(("column", "press_image"), data_url(png_claiming_size(9000, 9000))),
        "base64,iVBOR",
        "too many pixels",
    ),
    (
        "data URL of text",
        mutate(("column", "press_image"), data_url(b"plain words")),
        "cGxhaW4gd29yZHM",
        "Upload a valid image",
    ),
    (
        "body image missing",
        mutate(("posts", 1, "body_html"), '<p><img src="images/gone.png"></p>'),
        "gone.png",
        "no such file",
    ),
    ("column slug", mutate(("column", "slug"), "not a slug!"), "not a slug!", "is not a slug"),
    ("column state", mutate(("column", "state"), "paused"), "paused", "is not one of: live, ended"),
    ("series not an object", mutate(("series",), "Storm"), '"series": "Storm"', "expected an object"),
    ("posts not a list", mutate(("posts",), {}), '"posts": {}', "expected a list"),
    ("post not an object", mutate(("posts", 1), "an update"), '"an update"', "expected an object"),
    ("duplicate key", mutate(("posts", 2, "key"), "old-cms-101"), '"key": "old-cms-101"', "posts[0] has the same key"),
    ("NUL in text", mutate(("posts", 1, "headline"), "Gusts\u0000"), "Gusts", "NUL"),
]


@pytest.mark.parametrize(("change", "needle", "reason"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_file_is_refused_with_line_and_reason_and_nothing_is_imported(folder, change, needle, reason):
    (folder / "notes.jpg").write_text("not a photo")
    path = write(folder, change(column_file()))
    text = path.read_text()
    before = media_files()
    with pytest.raises(CommandError) as refused:
        import_column(path)
    message = str(refused.value)
    assert f"line {line_of(text, needle)}:" in message, message
    assert reason in message, message
    assert "Nothing was imported" in message
    assert not Column.objects.exists() and not Post.objects.exists() and not Author.objects.exists()
    assert media_files() == before


MISSING = [
    ("column missing", ("column",), "line 1:", "'column' is missing"),
    ("headline missing", ("posts", 1, "headline"), "posts[1]", "'headline' is missing"),
    ("card URL missing", ("posts", 0, "link_cards", 0, "url"), "link_cards[0]", "'url' is missing"),
]


@pytest.mark.parametrize(("path", "where", "reason"), [m[1:] for m in MISSING], ids=[m[0] for m in MISSING])
def test_a_missing_field_points_at_its_object(folder, path, where, reason):
    data = column_file()
    path_to_object = path[:-1]
    parent = data
    for part in path_to_object:
        parent = parent[part]
    mutate(path, DELETE)(data)
    first_key = next(iter(parent)) if path_to_object else None
    written = write(folder, data)
    text = written.read_text()
    with pytest.raises(CommandError) as refused:
        import_column(written)
    message = str(refused.value)
    assert reason in message and where in message, message
    if first_key:
        # The object's opening brace is on the line before its first field.
        first_field = json.dumps(first_key) + ": " + json.dumps(next(iter(parent.values())), ensure_ascii=False)
        assert f"line {line_of(text, first_field[:40]) - 1}:" in message, message
    assert not Column.objects.exists()


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('{\n  "column": {\n    "title": "A",\n    "slug": "a",\n  }\n}\n', 5, "not valid JSON"),
        ('{\n  "column": {"title": "A" "slug": "a"}\n}\n', 2, "not valid JSON"),
        ("[1, 2, 3]\n", 1, "must hold one JSON object"),
        ("", 1, "not valid JSON"),
    ],
)
def test_a_file_that_is_not_json_gets_the_line_of_the_syntax_error(tmp_path, text, line, reason):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(CommandError) as refused:
        import_column(path)
    assert f"line {line}:" in str(refused.value) and reason in str(refused.value)
    assert not Column.objects.exists()


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"column": {"title": "Café", "slug": "cafe"}}'.encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        import_column(path)


def test_a_failure_while_writing_rolls_back_posts_and_images(folder, monkeypatch):
    real = writing.apply_post
    calls = []

    def failing(column, spec, *args):
        calls.append(spec["headline"])
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real(column, spec, *args)

    monkeypatch.setattr(writing, "apply_post", failing)
    before = media_files()
    with pytest.raises(RuntimeError):
        import_column(write(folder, column_file()))
    assert len(calls) == 3  # two posts were written before the failure...
    assert not Post.objects.exists() and not Column.objects.exists()  # ...and rolled back
    assert media_files() == before


def test_a_deeply_nested_file_is_refused_not_crashed_on(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"column": ' + "[" * 950 + "]" * 950 + "}")
    with pytest.raises(CommandError, match="line 1:"):
        import_column(path)


def test_lengths_and_choices_are_the_models(folder):
    """One field table; its limits are what an editor may save, e.g. a card's summary up to 1,000 characters."""
    for shape in (fields.SERIES, fields.COLUMN, fields.POST, fields.CARD):
        for field in shape.fields:
            if isinstance(field, fields.Text) and field.model_field_object.max_length:
                assert field.longest == field.model_field_object.max_length, field.name
            if isinstance(field, fields.Choice):
                assert field.choices == [value for value, _ in field.model_field_object.choices], field.name

    data = column_file()
    data["posts"][0]["link_cards"][0]["summary"] = "s" * 1000
    import_column(write(folder, data))
    assert LinkCard.objects.get().summary == "s" * 1000

    data["posts"][0]["link_cards"][0]["summary"] = "s" * 1001
    with pytest.raises(CommandError, match=r"link_cards\[0\]\.summary: is 1001 characters long; the most is 1000"):
        import_column(write(folder, data))
