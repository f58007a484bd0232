"""The image guard on every way an image gets in: header photo, author photo, card image, CKEditor."""

import io
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from liveblog.models import Author, Column, LinkCard
from tests.support.admin import post_form
from tests.support.images import image_bytes, jpeg_with_exif, png_claiming_size

pytestmark = pytest.mark.django_db

NOT_AN_IMAGE = "Upload a valid image: JPEG, PNG, GIF or WebP."
TOO_MANY_PIXELS = "This image has too many pixels."
TOO_LARGE = "limit for images"


def upload(name, data, content_type="image/png"):
    return SimpleUploadedFile(name, data, content_type=content_type)


# Each way in: submit one file, return (error message or None, stored file name or None).


def via_header_photo(client, file):
    response = client.post(
        reverse("admin:liveblog_column_add"),
        {
            "title": "Storm",
            "slug": "storm",
            "state": "live",
            "started_at_0": "2026-11-24",
            "started_at_1": "06:00:00",
            "header_photo": file,
            "header_photo_alt": "Storm clouds over the harbour",
        },
    )
    column = Column.objects.filter(slug="storm").first()
    return field_error(response, "header_photo"), column and column.header_photo.name


def via_author_photo(client, file):
    response = client.post(
        reverse("admin:liveblog_author_add"),
        {"name": "Ada Rees", "slug": "ada-rees", "photo": file, "photo_alt": "Ada Rees smiling"},
    )
    author = Author.objects.filter(slug="ada-rees").first()
    return field_error(response, "photo"), author and author.photo.name


def via_card_image(client, file):
    column = Column.objects.create(title="Storm", slug="storm")
    author = Author.objects.create(name="Ada Rees", slug="ada-rees")
    card = {
        "url": "https://example.org/a",
        "image": file,
        "image_alt": "A flooded street",
        "embedded_at_0": "2026-11-24",
        "embedded_at_1": "06:00:00",
    }
    response = client.post(reverse("admin:liveblog_post_add"), post_form(column, [(author, 0)], cards=[card]))
    card = LinkCard.objects.first()
    return field_error(response, "image"), card and card.image.name


def via_ckeditor(client, file):
    client.cookies["ckCsrfToken"] = "t" * 40
    response = client.post(reverse("ckeditor_upload"), {"upload": file, "ckCsrfToken": "t" * 40})
    assert response.status_code == 200
    reply = response.json()
    if reply["uploaded"]:
        return None, reply["url"].removeprefix("/media/")
    return reply["error"]["message"], None


def field_error(response, field):
    """The error the admin shows in the field's own row, or None when the form was accepted."""
    if response.status_code == 302:
        return None
    assert response.status_code == 200
    html = response.content.decode()
    row = re.search(rf'<div class="form-row errors field-{field}">(.*?)</div>\s*</div>', html, re.S)
    assert row, f"no error next to {field}"
    return re.sub(r"<[^>]+>", " ", row.group(1)).replace("\xa0", " ")


WAYS_IN = [via_header_photo, via_author_photo, via_card_image, via_ckeditor]


def stored_image(name):
    with default_storage.open(name) as f:
        data = f.read()
    return data, Image.open(io.BytesIO(data))


@pytest.mark.parametrize("way_in", WAYS_IN)
@pytest.mark.parametrize(
    ("fmt", "name", "content_type"),
    [
        ("JPEG", "photo.jpg", "image/jpeg"),
        ("PNG", "photo.png", "image/png"),
        ("GIF", "photo.gif", "image/gif"),
        ("WEBP", "photo.webp", "image/webp"),
    ],
)
def test_real_images_are_stored_as_a_reencoded_copy(editor_client, way_in, fmt, name, content_type):
    original = image_bytes(fmt) + b"<script>alert('hidden payload')</script>"
    error, stored = way_in(editor_client, upload(name, original, content_type))
    assert error is None
    data, image = stored_image(stored)
    assert image.format == fmt
    assert image.size == (64, 48)
    assert data != original
    assert b"<script>" not in data


@pytest.mark.parametrize("way_in", WAYS_IN)
def test_exif_rotation_is_applied_then_exif_is_stripped(editor_client, way_in):
    original = jpeg_with_exif(size=(80, 40), orientation=6)
    error, stored = way_in(editor_client, upload("camera.jpg", original, "image/jpeg"))
    assert error is None
    data, image = stored_image(stored)
    # Orientation 6 means "turn me a quarter": the stored copy is upright, with nothing left to say so.
    assert image.size == (40, 80)
    assert not image.getexif()
    assert b"Secret Camera" not in data
    # The dark band that was on the left edge is now on top.
    assert image.convert("RGB").getpixel((20, 2))[0] < 50
    assert image.convert("RGB").getpixel((20, 78))[0] > 150


def noisy_png():
    image = Image.frombytes("RGB", (120, 120), bytes(range(256)) * 168 + bytes(192))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


BAD_FILES = [
    ("text named .jpg", "notes.jpg", b"Minutes of the council meeting, not a picture.", NOT_AN_IMAGE),
    ("HTML disguised as PNG", "photo.png", b"<html><script>alert(document.cookie)</script></html>", NOT_AN_IMAGE),
    (
        "SVG",
        "logo.png",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>',
        NOT_AN_IMAGE,
    ),
    ("BMP, a real image but not allowed", "scan.png", image_bytes("BMP"), NOT_AN_IMAGE),
    ("TIFF, a real image but not allowed", "scan.jpg", image_bytes("TIFF"), NOT_AN_IMAGE),
    ("truncated PNG", "cut.png", image_bytes("PNG", size=(300, 300))[:200], NOT_AN_IMAGE),
    ("bomb beyond Pillow's own limit", "bomb.png", png_claiming_size(50_000, 50_000), TOO_MANY_PIXELS),
    ("bomb beyond our limit", "bomb.png", png_claiming_size(8_000, 8_000), TOO_MANY_PIXELS),
]


@pytest.mark.parametrize("way_in", WAYS_IN)
@pytest.mark.parametrize(("case", "name", "data", "message"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_anything_else_is_refused_with_a_clear_message(editor_client, way_in, case, name, data, message):
    error, stored = way_in(editor_client, upload(name, data))
    assert stored is None
    assert message in error


@pytest.mark.parametrize("way_in", WAYS_IN)
def test_files_over_the_size_limit_are_refused(editor_client, settings, way_in):
    data = noisy_png()
    settings.MAX_IMAGE_BYTES = len(data) - 1
    error, stored = way_in(editor_client, upload("big.png", data))
    assert stored is None
    assert TOO_LARGE in error


def test_a_bad_file_loses_nothing_already_saved(editor_client):
    via_header_photo(editor_client, upload("good.png", image_bytes("PNG")))
    column = Column.objects.get(slug="storm")
    saved = column.header_photo.name
    response = editor_client.post(
        reverse("admin:liveblog_column_change", args=[column.pk]),
        {
            "title": "Storm, renamed",
            "slug": "storm",
            "state": "live",
            "started_at_0": "2026-11-24",
            "started_at_1": "06:00:00",
            "header_photo": upload("bad.png", b"not a picture"),
            "header_photo_alt": "Storm clouds over the harbour",
        },
    )
    assert NOT_AN_IMAGE in field_error(response, "header_photo")
    column.refresh_from_db()
    assert column.title == "Storm" and column.header_photo.name == saved
    assert default_storage.exists(saved)


def test_ckeditor_dialog_upload_gets_its_script_reply(editor_client):
    editor_client.cookies["ckCsrfToken"] = "k" * 40
    url = reverse("ckeditor_upload") + "?CKEditorFuncNum=3"
    good = editor_client.post(url, {"upload": upload("a.png", image_bytes("PNG")), "ckCsrfToken": "k" * 40})
    assert 'callFunction(3, "/media/uploads/' in good.content.decode()
    bad = editor_client.post(url, {"upload": upload("a.png", b"<script>x</script>"), "ckCsrfToken": "k" * 40})
    text = bad.content.decode()
    assert 'callFunction(3, "", "Upload a valid image' in text
    assert "<script>x" not in text


def test_ckeditor_upload_needs_an_editor_and_its_token(client, editor_client):
    anonymous = type(client)()
    response = anonymous.post(reverse("ckeditor_upload"), {"upload": upload("a.png", image_bytes("PNG"))})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

    # A cross-site form cannot read our cookie, so it cannot echo the token.
    editor_client.cookies["ckCsrfToken"] = "a" * 40
    response = editor_client.post(
        reverse("ckeditor_upload"), {"upload": upload("a.png", image_bytes("PNG")), "ckCsrfToken": "b" * 40}
    )
    assert response.status_code == 403
    assert response.json()["uploaded"] == 0


def test_ckeditor_browser_lists_guarded_uploads_to_editors_only(client, editor_client):
    error, stored = via_ckeditor(editor_client, upload("harbour.png", image_bytes("PNG")))
    assert error is None
    listing = editor_client.get(reverse("ckeditor_browse")).content.decode()
    assert f"/media/{stored}" in listing
    thumbnail = stored.rsplit(".", 1)[0] + "_thumb.png"
    assert f"/media/{thumbnail}" in listing and default_storage.exists(thumbnail)
    assert type(client)().get(reverse("ckeditor_browse")).status_code == 302
