"""Stored images carry no metadata, in any width, whichever way they came in.

Each source image carries every metadata kind its format can hold (JPEG: COM, EXIF, XMP, ICC, IPTC;
PNG: tEXt, zTXt, iTXt, XMP, eXIf, iCCP; GIF: comment, XMP and plain-text extensions; WebP: EXIF, XMP,
ICCP), each holding a script. Every file stored from it is read back block by block.
"""

import base64
import json

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from liveblog import linkcards
from liveblog.models import Author, Column, LinkCard, Post
from tests.hardening.metadata import CARRIERS, assert_bare, metadata_blocks

pytestmark = pytest.mark.django_db
FORMATS = sorted(CARRIERS)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def chief(client):
    client.force_login(User.objects.create_superuser("chief", password="chief-test-pass"))
    return client


def stored(name):
    with default_storage.open(name) as f:
        return f.read()


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_sources_do_carry_every_kind(fmt):
    make, _, _ = CARRIERS[fmt]
    assert len(metadata_blocks(make())) >= 3  # the detector sees what it must refuse


@pytest.mark.parametrize("fmt", FORMATS)
def test_admin_image_fields(chief, fmt):
    make, content_type, ext = CARRIERS[fmt]
    response = chief.post(
        reverse("admin:liveblog_author_add"),
        {
            "name": "Ada Rees",
            "slug": "ada-rees",
            "photo": SimpleUploadedFile(f"ada.{ext}", make(), content_type=content_type),
            "photo_alt": "Ada Rees smiling",
        },
    )
    assert response.status_code == 302
    name = Author.objects.get().photo.name
    assert name.endswith(f".{ext}")
    assert_bare(stored(name), f"admin photo ({fmt})")


@pytest.mark.parametrize("fmt", FORMATS)
def test_ckeditor_upload_and_its_thumbnail(chief, fmt):
    make, content_type, ext = CARRIERS[fmt]
    chief.cookies["ckCsrfToken"] = "t" * 40
    response = chief.post(
        reverse("ckeditor_upload"),
        {"upload": SimpleUploadedFile(f"a.{ext}", make(), content_type=content_type), "ckCsrfToken": "t" * 40},
        headers={"origin": "http://testserver"},
    )
    name = response.json()["url"].removeprefix("/media/")
    thumbnail = name.rsplit(".", 1)[0] + f"_thumb.{ext}"
    assert_bare(stored(name), f"CKEditor upload ({fmt})")
    assert_bare(stored(thumbnail), f"CKEditor thumbnail ({fmt})")


@pytest.mark.parametrize("fmt", FORMATS)
def test_link_card_images_in_every_width(web, make_post, fmt):
    make, content_type, ext = CARRIERS[fmt]
    web.served["/story"] = (
        "text/html",
        f'<html><head><meta property="og:title" content="Story"><meta property="og:image" '
        f'content="/picture.{ext}"><meta property="og:image:alt" content="A picture"></head></html>',
    )
    web.served[f"/picture.{ext}"] = (content_type, make())
    post = make_post(body=f"<p>{web.url('/story')}</p>")
    assert linkcards.fetch_card(post.link_cards.get().pk)
    card = LinkCard.objects.get()
    assert [width for width, _ in card.image_widths] == [320, 640, 960]
    for width, name in card.image_widths:
        assert name.endswith(f".{ext}")
        assert_bare(stored(name), f"card image {width}w ({fmt})")


@pytest.mark.parametrize("fmt", FORMATS)
def test_column_file_importer(tmp_path, fmt):
    make, content_type, ext = CARRIERS[fmt]
    folder = tmp_path / "import"
    folder.mkdir()
    (folder / f"header.{ext}").write_bytes(make())
    inline = f"data:{content_type};base64," + base64.b64encode(make(size=(400, 300))).decode()
    data = {
        "column": {"title": "Storm", "slug": "storm", "state": "live", "started_at": "2016-10-11T06:00:00Z",
                   "header_photo": f"header.{ext}", "header_photo_alt": "Clouds"},
        "posts": [{"key": "p1", "headline": "Pier", "body_html": f'<p><img src="{inline}" alt="Pier"></p>',
                   "authors": ["Ada Rees"], "published_at": "2016-10-11T07:15:00Z", "status": "published",
                   "link_cards": [{"url": "https://example.org/", "title": "Card", "image": f"header.{ext}",
                                   "image_alt": "Clouds", "embedded_at": "2016-10-11T07:15:00Z"}]}],
    }  # fmt: skip
    (folder / "column.json").write_text(json.dumps(data))
    call_command("import_column", str(folder / "column.json"), stdout=open("/dev/null", "w"))  # noqa: SIM115
    column = Column.objects.get()
    body_image = Post.objects.get().body.split('src="/media/', 1)[1].split('"', 1)[0]
    for where, name in [
        ("header photo", column.header_photo.name),
        ("card image", LinkCard.objects.get().image.name),
        ("body image (data URL)", body_image),
    ]:
        assert name.endswith(f".{ext}")
        assert_bare(stored(name), f"import {where} ({fmt})")
