"""The admin change form refuses to overwrite a newer version, and publishing takes the time of publishing."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from liveblog.models import Post
from tests.support.admin import post_form

pytestmark = pytest.mark.django_db


def change_form(post, **fields):
    byline = post.bylines.get()
    data = post_form(post.column, [], published_at=post.published_at, **fields)
    data.update(
        {
            "bylines-TOTAL_FORMS": "1",
            "bylines-INITIAL_FORMS": "1",
            "bylines-0-id": byline.pk,
            "bylines-0-post": post.pk,
            "bylines-0-author": byline.author_id,
            "bylines-0-position": "0",
        }
    )
    return data


def test_an_edit_made_on_an_older_version_is_refused_with_both_texts(editor_client, make_post):
    post = make_post("Bridge closed", body="<p>The bridge is closed.</p>")
    url = reverse("admin:liveblog_post_change", args=[post.pk])
    opened = post.version
    # Another editor saves first.
    post.body = "<p>The bridge is closed in both directions.</p>"
    post.save()

    response = editor_client.post(url, change_form(post, headline="Bridge shut", base_version=opened))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Someone else saved this post" in page
    assert "in both directions" in page  # theirs, to merge
    assert 'value="Bridge shut"' in page  # ours, kept in the form
    assert Post.objects.get(pk=post.pk).headline == "Bridge closed"

    # The form now carries the newer version: saving the merged text goes through.
    newer = Post.objects.get(pk=post.pk).version
    assert f'name="base_version" value="{newer}"' in page
    merged = change_form(post, headline="Bridge shut", base_version=newer, body="<p>Shut in both directions.</p>")
    assert editor_client.post(url, merged).status_code == 302
    saved = Post.objects.get(pk=post.pk)
    assert (saved.headline, saved.body) == ("Bridge shut", "<p>Shut in both directions.</p>")
    assert saved.version == newer + 1


def test_the_current_version_saves(editor_client, make_post):
    post = make_post("Bridge closed")
    url = reverse("admin:liveblog_post_change", args=[post.pk])
    response = editor_client.post(url, change_form(post, headline="Bridge open", base_version=post.version))
    assert response.status_code == 302
    assert Post.objects.get(pk=post.pk).headline == "Bridge open"


def test_publishing_with_the_untouched_time_takes_the_time_of_the_save(editor_client, column, author):
    opened_at = timezone.now() - timedelta(minutes=5)  # the editor typed for five minutes
    form = editor_client.get(reverse("admin:liveblog_post_add")).content.decode()
    assert 'name="initial-published_at_0"' in form
    data = post_form(column, [(author, 0)], published_at=opened_at)
    # The form sends the time it showed back as its hidden initial value: untouched.
    data["initial-published_at_0"] = data["published_at_0"]
    data["initial-published_at_1"] = data["published_at_1"]
    before = timezone.now()
    assert editor_client.post(reverse("admin:liveblog_post_add"), data).status_code == 302
    assert Post.objects.get().published_at >= before - timedelta(seconds=1)


def test_a_typed_publish_time_is_kept(editor_client, column, author):
    typed = (timezone.now() - timedelta(hours=2)).replace(microsecond=0)
    data = post_form(column, [(author, 0)], published_at=typed)
    data["initial-published_at_0"] = data["published_at_0"]
    data["initial-published_at_1"] = (typed + timedelta(hours=1)).strftime("%H:%M:%S")
    assert editor_client.post(reverse("admin:liveblog_post_add"), data).status_code == 302
    assert Post.objects.get().published_at == typed


def test_a_draft_published_later_takes_the_time_of_publishing(editor_client, make_post):
    post = make_post("Drafted", status=Post.Status.DRAFT, published_at=timezone.now() - timedelta(minutes=30))
    data = change_form(post, status="published", base_version=post.version)
    data["initial-published_at_0"] = data["published_at_0"]
    data["initial-published_at_1"] = data["published_at_1"]
    before = timezone.now()
    url = reverse("admin:liveblog_post_change", args=[post.pk])
    assert editor_client.post(url, data).status_code == 302
    assert Post.objects.get(pk=post.pk).published_at >= before - timedelta(seconds=1)
