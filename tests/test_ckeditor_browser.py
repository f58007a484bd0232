"""CKEditor's own upload dialog in Chromium, through the image guard."""

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from PIL import Image

from tests.support.images import jpeg_with_exif

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def logged_in(live_server, page, column):
    User.objects.create_superuser("chief", password="chief-browser-pass")
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "chief")
    page.fill("#id_password", "chief-browser-pass")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/liveblog/post/add/?column={column.pk}")
    page.wait_for_selector(".cke_button__image", timeout=20_000)
    return page


def upload_in_dialog(page, tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    page.click(".cke_button__image")
    page.click(".cke_dialog_tab:has-text('Upload')")
    frame = page.frame_locator(".cke_dialog_ui_input_file iframe")
    frame.locator("input[type=file]").set_input_files(str(path))
    page.click(".cke_dialog_ui_fileButton")


def test_an_image_uploaded_in_ckeditor_is_stored_upright_without_exif(logged_in, tmp_path):
    page = logged_in
    upload_in_dialog(page, tmp_path, "camera.jpg", jpeg_with_exif(size=(80, 40)))
    url_field = page.locator(".cke_dialog_ui_input_text input").first
    page.wait_for_function(
        "el => el.value.startsWith('/media/uploads/')", arg=url_field.element_handle(), timeout=10_000
    )
    name = url_field.input_value().removeprefix("/media/")
    with default_storage.open(name) as f:
        image = Image.open(f)
        assert image.size == (40, 80) and not image.getexif()


def test_ckeditor_says_why_a_file_is_refused(logged_in, tmp_path):
    page = logged_in
    page.on("dialog", lambda dialog: dialog.dismiss())
    with page.expect_event("dialog", timeout=10_000) as alert:
        upload_in_dialog(page, tmp_path, "invoice.jpg", b"%PDF-1.7 not a picture at all")
    assert "Upload a valid image" in alert.value.message
