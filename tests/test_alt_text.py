import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from liveblog.models import Author, Column, LinkCard
from tests.support.images import png

pytestmark = pytest.mark.django_db

ASKED = "Describe the"


def upload(name="photo.png"):
    return SimpleUploadedFile(name, png().read(), content_type="image/png")


def test_admin_asks_for_the_author_photo_description(admin_client):
    response = admin_client.post(
        "/admin/liveblog/author/add/", {"name": "New Writer", "slug": "new-writer", "bio": "", "photo": upload()}
    )
    assert response.status_code == 200  # the form again, nothing saved
    form = response.context["adminform"].form
    assert form.errors["photo_alt"][0].startswith("Describe the photo for readers who cannot see it")
    assert not Author.objects.filter(slug="new-writer").exists()

    response = admin_client.post(
        "/admin/liveblog/author/add/",
        {"name": "New Writer", "slug": "new-writer", "photo": upload(), "photo_alt": "New Writer smiling"},
    )
    assert response.status_code == 302
    assert Author.objects.get(slug="new-writer").photo_alt == "New Writer smiling"


def test_admin_asks_for_the_header_photo_description(admin_client):
    data = {
        "title": "A column",
        "slug": "a-column",
        "started_at_0": "2016-10-11",
        "started_at_1": "06:00:00",
        "state": "live",
        "header_photo": upload(),
        "header_photo_alt": "   ",
    }
    response = admin_client.post("/admin/liveblog/column/add/", data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["header_photo_alt"][0].startswith("Describe the header photo")
    assert not Column.objects.filter(slug="a-column").exists()
    # The message stands next to the field on the page the editor sees.
    assert "Describe the header photo for readers who cannot see it" in response.content.decode()


def test_a_card_image_needs_a_description(column, make_post):
    post = make_post("With card")
    card = LinkCard(post=post, url="https://example.org/x", title="X")
    card.image.save("x.png", png(), save=False)
    with pytest.raises(ValidationError) as raised:
        card.full_clean()
    assert "image_alt" in raised.value.message_dict
    card.image_alt = "A chart of the figures"
    card.full_clean()


def test_no_image_needs_no_description(column, make_post):
    Author(name="Plain", slug="plain").full_clean()
    LinkCard(post=make_post("Plain card"), url="https://example.org/y").full_clean()
