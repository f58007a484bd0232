"""CKEditor's upload and browse: only staff who may change posts, and uploads only from our own pages."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.support.images import image_bytes

pytestmark = pytest.mark.django_db
TOKEN = "t" * 40


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def staff(client, name, *permissions):
    user = User.objects.create_user(name, password="x-test-pass-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    client.force_login(user)
    client.cookies["ckCsrfToken"] = TOKEN
    return client


def uploaded_files():
    if not default_storage.exists("uploads/"):
        return []
    found, folders = [], ["uploads"]
    while folders:
        folder = folders.pop()
        dirs, files = default_storage.listdir(folder)
        folders += [f"{folder}/{d}" for d in dirs]
        found += files
    return found


def upload(client, func_num="", **headers):
    url = reverse("ckeditor_upload") + (f"?CKEditorFuncNum={func_num}" if func_num else "")
    data = {"upload": SimpleUploadedFile("a.png", image_bytes("PNG"), content_type="image/png"), "ckCsrfToken": TOKEN}
    return client.post(url, data, headers=headers)


def test_anonymous_is_sent_to_the_login(client):
    response = upload(client, origin="http://testserver")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    response = client.get(reverse("ckeditor_browse"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert uploaded_files() == []


def test_staff_without_the_permission_to_change_posts_is_refused(client):
    staff(client, "reader-staff", "view_post", "add_author", "change_column")
    response = upload(client, origin="http://testserver")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Your account may not change posts, so it may not upload images."
    dialog = upload(client, func_num="2", origin="http://testserver")
    assert dialog.status_code == 403 and "may not change posts" in dialog.content.decode()
    assert uploaded_files() == []
    assert client.get(reverse("ckeditor_browse")).status_code == 403


def test_staff_who_may_change_posts_upload_and_browse(client):
    staff(client, "desk", "change_post")
    response = upload(client, origin="http://testserver")
    assert response.status_code == 200 and response.json()["uploaded"] == 1
    assert len(uploaded_files()) == 2  # the image and its thumbnail
    assert response.json()["url"] in client.get(reverse("ckeditor_browse")).content.decode()


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "https://testserver"},  # another scheme is another origin
        {"origin": "null"},  # sandboxed frames, data: documents
        {"referer": "https://evil.example/page"},  # no Origin: the Referer must be ours
        {},  # neither
    ],
    ids=["foreign", "lookalike", "scheme", "null", "foreign-referer", "none"],
)
def test_uploads_from_other_sites_are_refused(client, headers):
    staff(client, "desk", "change_post")
    response = upload(client, **headers)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "The upload was refused: reload the page and try again."
    assert uploaded_files() == []


def test_our_referer_or_a_trusted_origin_is_accepted(client, settings):
    staff(client, "desk", "change_post")
    assert upload(client, referer="http://testserver/admin/liveblog/post/add/").json()["uploaded"] == 1
    settings.CSRF_TRUSTED_ORIGINS = ["https://admin.example.org", "https://*.newsroom.example"]
    assert upload(client, origin="https://admin.example.org").json()["uploaded"] == 1
    assert upload(client, origin="https://desk.newsroom.example").json()["uploaded"] == 1
    assert upload(client, origin="https://newsroom.example.evil").status_code == 403


def test_a_wrong_token_is_refused_even_from_our_origin(client):
    staff(client, "desk", "change_post")
    client.cookies["ckCsrfToken"] = "x" * 40
    assert upload(client, origin="http://testserver").status_code == 403
    assert uploaded_files() == []
