"""The desk over HTTP (the Django test client against PostgreSQL): saving, versions, autosave, permissions."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from liveblog import editing
from liveblog.models import Author, Autosave, Event, Post
from tests.support.locks import row_held_elsewhere

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def staff(name, *codenames):
    user = User.objects.create_user(name, password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="liveblog", codename__in=codenames))
    return user


ALL = ["view_post", "add_post", "change_post", "delete_post", "change_column"]


@pytest.fixture
def desk_editor(client):
    user = staff("maya", *ALL)
    user.first_name, user.last_name = "Maya", "Okafor"
    user.save()
    client.force_login(user)
    client.defaults["HTTP_ORIGIN"] = "http://testserver"  # as a browser sends with every POST
    return user


def desk_url(column, name="liveblog_column_desk", *args):
    return reverse(f"admin:{name}", args=[column.pk, *args])


def new_post(column, author, action="publish", **fields):
    data = {
        "new-headline": "Water back on in the old town",
        "new-body": "<p>Taps run again.</p>",
        "new-authors": [author.pk],
        "action": action,
    }
    data.update({f"new-{k}": v for k, v in fields.items()})
    return data


def test_the_column_admin_links_to_the_desk(client, desk_editor, column):
    listing = client.get(reverse("admin:liveblog_column_changelist")).content.decode()
    assert desk_url(column) in listing and "Open the desk" in listing
    change = client.get(reverse("admin:liveblog_column_change", args=[column.pk])).content.decode()
    assert desk_url(column) in change


def test_the_desk_shows_every_post_newest_first_drafts_and_scheduled_marked(client, desk_editor, column, make_post):
    make_post("Old one", published_at=timezone.now() - timedelta(hours=1))
    make_post("Drafted", status=Post.Status.DRAFT)
    make_post("Later", status=Post.Status.SCHEDULED, published_at=timezone.now() + timedelta(hours=1))
    page = client.get(desk_url(column)).content.decode()
    assert page.index("Later") < page.index("Drafted") < page.index("Old one")
    assert "desk-flag-draft" in page and "desk-flag-scheduled" in page
    assert page.count('class="post-headline"') == 3  # the one post partial, for every post


def test_bylines_start_with_the_editors_own_author_else_their_last_byline_here(client, desk_editor, column, author):
    other = Author.objects.create(name="Tomás Whitfield", slug="tomas")
    page = client.get(desk_url(column)).content.decode()
    assert f'<option value="{author.pk}" selected' not in page

    client.post(desk_url(column, "liveblog_column_desk_create"), new_post(column, other), **JSON)
    page = client.get(desk_url(column)).content.decode()
    assert f'<option value="{other.pk}" selected' in page  # the last byline this editor used here

    author.user = desk_editor
    author.save()
    page = client.get(desk_url(column)).content.decode()
    assert f'<option value="{author.pk}" selected' in page  # their own, once the login is tied to it


def test_publish_takes_the_moment_of_publishing_and_tells_readers(
    client, desk_editor, column, author, django_capture_on_commit_callbacks
):
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):  # readers are told after commit
        response = client.post(desk_url(column, "liveblog_column_desk_create"), new_post(column, author), **JSON)
    assert response.status_code == 200, response.content
    post = Post.objects.get()
    assert post.status == Post.Status.PUBLISHED and post.published_at >= before
    assert post.created_by == desk_editor
    assert post.ordered_authors() == [author]
    assert "Taps run again" in response.json()["card"]
    event = Event.objects.get(post_id=post.pk)
    assert event.kind == Event.Kind.PUBLISHED and "Water back on" in event.html


def test_a_url_on_a_line_of_its_own_becomes_a_card_in_that_spot(client, desk_editor, column, author):
    body = "<p>Before.</p><p>https://example.org/harbour</p><p>After.</p>"
    answer = client.post(desk_url(column, "liveblog_column_desk_create"), new_post(column, author, body=body), **JSON)
    assert answer.status_code == 200
    card = Post.objects.get().link_cards.get()
    assert card.url == "https://example.org/harbour"  # a placeholder now, filled by the fetcher after commit
    html = answer.json()["card"]
    assert html.index("Before.") < html.index('class="link-card"') < html.index("After.")


def test_a_draft_reaches_no_reader(client, desk_editor, column, author, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(desk_url(column, "liveblog_column_desk_create"), new_post(column, author, "draft"), **JSON)
    post = Post.objects.get()
    assert post.status == Post.Status.DRAFT
    assert not Event.objects.exists()
    for url in [
        column.get_absolute_url(),
        f"{column.get_absolute_url()}feed/atom/",
        f"{column.get_absolute_url()}feed/rss/",
        f"{column.get_absolute_url()}events?after=0",
    ]:
        client.logout()
        assert "Water back on" not in client.get(url).content.decode(), url


def test_schedule_needs_a_future_time(client, desk_editor, column, author):
    url = desk_url(column, "liveblog_column_desk_create")
    answer = client.post(url, new_post(column, author, "schedule"), **JSON)
    assert answer.status_code == 400
    assert answer.json()["errors"]["new-publish_at"] == ["Choose when the post goes live."]
    when = (timezone.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(url, new_post(column, author, "schedule", publish_at=when), **JSON).status_code == 200
    post = Post.objects.get()
    assert post.status == Post.Status.SCHEDULED and post.published_at > timezone.now()


def test_errors_name_their_fields(client, desk_editor, column, author):
    data = new_post(column, author, headline="")
    data.pop("new-authors")
    answer = client.post(desk_url(column, "liveblog_column_desk_create"), data, **JSON)
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert errors["new-headline"] == ["Give the post a headline."]
    assert errors["new-authors"] == ["Give the post at least one byline."]
    assert not Post.objects.exists()


def test_an_edit_on_an_older_version_gets_both_texts_and_merging_saves(client, desk_editor, column, author, make_post):
    post = make_post("Bridge closed", body="<p>Closed.</p>")
    opened = post.version
    post.body = "<p>Closed in both directions.</p>"
    post.save()  # another editor, meanwhile
    url = desk_url(column, "liveblog_column_desk_post", post.pk)
    prefix = f"edit-{post.pk}"
    mine = {
        f"{prefix}-headline": "Bridge shut",
        f"{prefix}-body": "<p>Shut.</p>",
        f"{prefix}-authors": [author.pk],
        f"{prefix}-base_version": opened,
        "action": "save",
    }
    answer = client.post(url, mine, **JSON)
    assert answer.status_code == 409
    assert answer.json()["conflict"]["body"] == "<p>Closed in both directions.</p>"
    assert Post.objects.get(pk=post.pk).headline == "Bridge closed"

    merged = {**mine, f"{prefix}-body": "<p>Shut in both directions.</p>"}
    merged[f"{prefix}-base_version"] = answer.json()["conflict"]["version"]
    assert client.post(url, merged, **JSON).status_code == 200
    saved = Post.objects.get(pk=post.pk)
    assert (saved.headline, saved.body) == ("Bridge shut", "<p>Shut in both directions.</p>")


@pytest.mark.django_db(transaction=True)  # the post must be committed for another connection to hold it
def test_a_post_held_by_a_long_transaction_is_refused_quickly_and_saved_once_free(
    client, desk_editor, column, author, make_post, monkeypatch
):
    monkeypatch.setattr(editing, "SAVE_LOCK_TIMEOUT", "1s")
    post = make_post("Casualty figures", body="<p>Seven people were hurt.</p>")
    prefix = f"edit-{post.pk}"
    edit = desk_url(column, "liveblog_column_desk_post", post.pk)
    correction = {
        f"{prefix}-headline": "Casualty figures, corrected",
        f"{prefix}-body": "<p>Nine people were hurt.</p>",
        f"{prefix}-authors": [author.pk],
        f"{prefix}-base_version": post.version,
        "action": "save",
    }
    pin = desk_url(column, "liveblog_column_desk_action", post.pk, "pin")
    typed = {"post": post.pk, "headline": "Casualty figures, corr", "base_version": post.version}
    keep = desk_url(column, "liveblog_column_desk_autosave")

    def timed(address, data=None):
        started = time.monotonic()
        answer = client.post(address, data or {}, **JSON)
        return answer, time.monotonic() - started

    with row_held_elsewhere(Post, post.pk, release_after=10):  # an import writing this very post, left open
        saved, save_waited = timed(edit, correction)
        pinned, pin_waited = timed(pin)
        kept, keep_waited = timed(keep, typed)
        unchanged = Post.objects.get(pk=post.pk)
    assert (saved.status_code, pinned.status_code, kept.status_code) == (409, 409, 409)
    assert max(save_waited, pin_waited, keep_waited) < 1 + 1.5  # the timeout and a margin, not the holder's 10 s
    assert saved.json() == {"errors": {"__all__": [editing.BUSY]}}
    assert "Everything you typed is still here" in editing.BUSY
    assert pinned.json()["error"].startswith("Not done: another process")
    assert kept.json()["error"].startswith("Not kept on the server")
    assert (unchanged.headline, unchanged.pinned, unchanged.version) == ("Casualty figures", False, post.version)
    assert not Autosave.objects.exists()

    # The holder is gone: the very same requests go through.
    assert client.post(keep, typed).status_code == 200
    assert client.post(edit, correction, **JSON).status_code == 200
    assert client.post(pin, **JSON).status_code == 200
    saved = Post.objects.get(pk=post.pk)
    assert (saved.headline, saved.body, saved.pinned) == (
        "Casualty figures, corrected",
        "<p>Nine people were hurt.</p>",
        True,
    )
    assert not Autosave.objects.exists()  # the copy went with the save


def test_stream_controls_change_what_readers_see(
    client, desk_editor, column, make_post, django_capture_on_commit_callbacks
):
    post = make_post("Talks", status=Post.Status.DRAFT, published_at=timezone.now() - timedelta(minutes=10))

    def act(action):
        with django_capture_on_commit_callbacks(execute=True):  # readers are told after commit
            response = client.post(desk_url(column, "liveblog_column_desk_action", post.pk, action), **JSON)
        assert response.status_code == 200, response.content
        assert f'id="desk-post-{post.pk}"' in response.json()["card"]
        return Post.objects.get(pk=post.pk)

    def reader_page():
        return client.get(column.get_absolute_url()).content.decode().split("<body>", 1)[1]

    published = act("publish-now")
    assert published.status == Post.Status.PUBLISHED and published.published_at > timezone.now() - timedelta(seconds=5)
    assert "Talks" in reader_page()
    assert act("pin").pinned and 'class="pinned-posts"' in reader_page()
    assert not act("unpin").pinned and 'class="pinned-posts"' not in reader_page()
    assert act("key-event-on").key_event and 'class="key-events" aria-labelledby="key-events-title">' in reader_page()
    assert not act("key-event-off").key_event
    assert act("unpublish").status == Post.Status.DRAFT and "Talks" not in reader_page()
    assert Event.objects.filter(post_id=post.pk).exists()  # readers were told, through the same events
    response = client.post(desk_url(column, "liveblog_column_desk_action", post.pk, "delete"), **JSON)
    assert response.status_code == 200 and not Post.objects.filter(pk=post.pk).exists()
    assert client.post(desk_url(column, "liveblog_column_desk_action", post.pk, "pin"), **JSON).status_code == 404


def test_autosave_keeps_the_typing_per_editor_and_column_until_published(client, desk_editor, column, author):
    url = desk_url(column, "liveblog_column_desk_autosave")
    data = {"headline": "Half a head", "body": "<p>half</p><script>x</script>", "authors": [author.pk]}
    assert client.post(url, data).status_code == 200
    client.post(url, {**data, "headline": "Half a headline"})
    saved = Autosave.objects.get()
    assert saved.content["headline"] == "Half a headline" and "<script" not in saved.content["body"]
    # Another device: the desk page hands it back.
    assert "Half a headline" in client.get(desk_url(column)).content.decode()

    client.post(desk_url(column, "liveblog_column_desk_create"), new_post(column, author), **JSON)
    assert not Autosave.objects.exists()


def test_a_staff_user_without_post_rights_cannot_change_anything(client, column, author, make_post):
    post = make_post("Standing")
    client.force_login(staff("viewer", "view_post"))
    assert client.get(desk_url(column)).status_code == 200  # may watch
    refused = [
        client.post(desk_url(column, "liveblog_column_desk_create"), new_post(column, author), **JSON),
        client.post(desk_url(column, "liveblog_column_desk_post", post.pk), {"action": "save"}, **JSON),
        client.get(desk_url(column, "liveblog_column_desk_post", post.pk)),
        client.post(desk_url(column, "liveblog_column_desk_autosave"), {"headline": "x"}),
        *(
            client.post(desk_url(column, "liveblog_column_desk_action", post.pk, action), **JSON)
            for action in ["publish-now", "unpublish", "pin", "key-event-on", "delete"]
        ),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert Post.objects.get(pk=post.pk).headline == "Standing" and Post.objects.count() == 1

    client.force_login(staff("nobody", "change_column"))
    assert client.get(desk_url(column)).status_code == 403
    client.logout()
    assert client.get(desk_url(column)).status_code == 302  # to the login
