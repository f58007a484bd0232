"""The editors' admin, driven through the Django test client against PostgreSQL."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from liveblog import images
from liveblog.models import Author, Column, LinkCard, Post
from tests.support.admin import post_form
from tests.support.images import image_bytes

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:liveblog_post_add")


@pytest.fixture
def second_author(db):
    return Author.objects.create(name="Tomás Whitfield", slug="tomas-whitfield")


def test_editor_adds_a_post_with_ordered_bylines_and_a_placed_card(editor_client, column, author, second_author):
    card = {
        "url": "https://example.org/harbour",
        "title": "Harbour wall repairs",
        "summary": "Engineers inspect the damage.",
        "site_name": "Example News",
        "image": SimpleUploadedFile("harbour.png", image_bytes("PNG"), content_type="image/png"),
        "image_alt": "A cracked harbour wall",
        "embedded_at_0": "2026-11-24",
        "embedded_at_1": "08:00:00",
    }
    body = '<p>Before.</p><p>https://example.org/harbour</p><p>After.</p><script>alert("x")</script>'
    response = editor_client.post(
        ADD_URL,
        post_form(column, [(author, 1), (second_author, 0)], cards=[card], body=body),
    )
    assert response.status_code == 302, response.content.decode()[:3000]

    post = Post.objects.get(headline="Ferry services suspended")
    assert "<script" not in post.body
    # The editor asked for the second author first; readers see that order.
    assert post.ordered_authors() == [second_author, author]
    stored = post.link_cards.get()
    assert stored.image.name.startswith("cards/") and stored.image.name.endswith(".png")

    # The body: the head repeats post text in its structured data.
    page = editor_client.get(column.get_absolute_url()).content.decode().split("<body>", 1)[1]
    before, after = page.index("Before."), page.index("After.")
    assert before < page.index("Harbour wall repairs") < after
    assert page.index("Tomás Whitfield") < page.index("Rania Haddad")


def test_editor_edits_a_post(editor_client, make_post, author):
    post = make_post("Old headline")
    byline = post.bylines.get()
    data = post_form(post.column, [], headline="New headline")
    data.update(
        {
            "bylines-TOTAL_FORMS": "1",
            "bylines-INITIAL_FORMS": "1",
            "bylines-0-id": byline.pk,
            "bylines-0-post": post.pk,
            "bylines-0-author": author.pk,
            "bylines-0-position": "0",
        }
    )
    response = editor_client.post(reverse("admin:liveblog_post_change", args=[post.pk]), data)
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.headline == "New headline"


def test_a_post_needs_a_byline(editor_client, column):
    response = editor_client.post(ADD_URL, post_form(column, []))
    assert response.status_code == 200
    assert "Give the post at least one byline." in response.content.decode()
    assert not Post.objects.exists()


def test_published_post_in_the_future_gets_a_clear_error_suggesting_scheduled(editor_client, column, author):
    later = timezone.now() + timedelta(hours=2)
    response = editor_client.post(ADD_URL, post_form(column, [(author, 0)], published_at=later))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "Scheduled" in form.errors["published_at"][0]
    assert "This publish time is in the future" in response.content.decode()
    assert not Post.objects.exists()

    response = editor_client.post(ADD_URL, post_form(column, [(author, 0)], published_at=later, status="scheduled"))
    assert response.status_code == 302
    assert Post.objects.get().status == Post.Status.SCHEDULED


def test_save_and_add_another_keeps_the_column(editor_client, series, author):
    other = Column.objects.create(title="Election night", slug="election-night", series=series)
    response = editor_client.post(ADD_URL, {**post_form(other, [(author, 0)]), "_addanother": "Save and add another"})
    assert response.status_code == 302
    assert f"column={other.pk}" in response["Location"]

    next_form = editor_client.get(response["Location"])
    assert next_form.context["adminform"].form.initial["column"] == str(other.pk)
    assert f'<option value="{other.pk}" selected>' in next_form.content.decode()


def test_a_column_links_to_add_a_post_here(editor_client, column):
    add_here = f"{ADD_URL}?column={column.pk}"
    changelist = editor_client.get(reverse("admin:liveblog_column_changelist")).content.decode()
    assert f'href="{add_here}"' in changelist.replace("&amp;", "&")
    change_form = editor_client.get(reverse("admin:liveblog_column_change", args=[column.pk])).content.decode()
    assert f'href="{add_here}"' in change_form
    assert "Add a post here" in change_form

    form = editor_client.get(add_here).content.decode()
    assert f'<option value="{column.pk}" selected>' in form


def test_post_list_filters_search_and_newest_first(editor_client, column, series, author, second_author, make_post):
    other = Column.objects.create(title="Election night", slug="election-night", series=series)
    now = timezone.now()
    make_post("Oldest from Aleppo", published_at=now - timedelta(hours=3))
    make_post("Newest from Aleppo", published_at=now - timedelta(minutes=1))
    make_post("Draft about turnout", column=other, status=Post.Status.DRAFT, authors=[second_author])
    changelist = reverse("admin:liveblog_post_changelist")

    def headlines(**query):
        response = editor_client.get(changelist, query)
        assert response.status_code == 200
        return [post.headline for post in response.context["cl"].result_list]

    assert headlines() == ["Draft about turnout", "Newest from Aleppo", "Oldest from Aleppo"]
    assert headlines(column__id__exact=other.pk) == ["Draft about turnout"]
    assert headlines(status__exact="draft") == ["Draft about turnout"]
    assert set(headlines(authors__id__exact=author.pk)) == {"Oldest from Aleppo", "Newest from Aleppo"}
    assert headlines(q="turnout") == ["Draft about turnout"]
    assert headlines(column__id__exact=column.pk) == ["Newest from Aleppo", "Oldest from Aleppo"]


def test_author_autocomplete_on_bylines(editor_client, author, second_author):
    response = editor_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "liveblog", "model_name": "byline", "field_name": "author", "term": "whit"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Tomás Whitfield"]


@pytest.fixture
def card_with_image(make_post):
    post = make_post("Storm damage pictures", cards=["https://example.org/photos"])
    card = post.link_cards.get()
    clean = images.clean_upload(SimpleUploadedFile("photo.png", image_bytes("PNG")))
    card.image.save(clean.name, clean)
    return card


def test_set_as_default_press_image_from_the_admin(editor_client, card_with_image, make_post):
    bare = make_post("No picture here", cards=["https://example.org/text-only"]).link_cards.get()
    change_url = reverse("admin:liveblog_post_change", args=[card_with_image.post_id])
    page = editor_client.get(change_url).content.decode()
    action = reverse("set_press_image", args=[card_with_image.pk])
    assert f'formaction="{action}"' in page
    assert "Set as default press image" in page
    bare_page = editor_client.get(reverse("admin:liveblog_post_change", args=[bare.post_id])).content.decode()
    assert "Set as default press image" not in bare_page

    # The button posts the whole admin form, CSRF token included, to the press-image view.
    editor_client.handler.enforce_csrf_checks = True
    form_page = editor_client.get(change_url)
    token = form_page.context["csrf_token"]
    response = editor_client.post(action, {"csrfmiddlewaretoken": str(token), "next": change_url, "headline": "x"})
    assert response.status_code == 302
    assert response["Location"] == change_url
    column = Column.objects.get(pk=card_with_image.post.column_id)
    assert column.press_image.name == card_with_image.image.name
    assert "is now the press image" in editor_client.get(change_url).content.decode()


def test_readers_never_see_the_press_image_button(client, newsroom_editor, card_with_image):
    column = card_with_image.post.column
    assert "Set as default press image" not in client.get(column.get_absolute_url()).content.decode()
    assert "Set as default press image" not in client.get(card_with_image.post.get_absolute_url()).content.decode()

    reader = User.objects.create_user("reader", password="reader-test-pass")
    client.force_login(reader)
    assert "Set as default press image" not in client.get(column.get_absolute_url()).content.decode()
    response = client.post(reverse("set_press_image", args=[card_with_image.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    column.refresh_from_db()
    assert not column.press_image

    # Staff who may not change columns cannot change the press image either.
    client.force_login(User.objects.create_user("intern", is_staff=True))
    assert client.post(reverse("set_press_image", args=[card_with_image.pk])).status_code == 403

    client.force_login(newsroom_editor)
    page = client.get(column.get_absolute_url()).content.decode()
    assert "Set as default press image" in page
    client.post(reverse("set_press_image", args=[card_with_image.pk]), {"next": column.get_absolute_url()})
    column.refresh_from_db()
    assert column.press_image.name == card_with_image.image.name


def test_card_without_image_cannot_become_the_press_image(editor_client, make_post):
    card = make_post("Text only", cards=["https://example.org/words"]).link_cards.get()
    editor_client.post(reverse("set_press_image", args=[card.pk]))
    assert not Column.objects.get(pk=card.post.column_id).press_image
    assert LinkCard.objects.filter(pk=card.pk).exists()
