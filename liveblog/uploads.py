"""Images uploaded through CKEditor: stored after the image guard, answered in CKEditor's protocols."""

import io
import json

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from PIL import Image

from liveblog import images

# CKEditor's file browser shows these next to each upload.
THUMBNAIL_SIZE = (75, 75)


def store_ckeditor_image(upload):
    """Guard, re-encode and store an upload; returns (url, file name). Raises ValidationError."""
    clean = images.clean_upload(upload)
    name = default_storage.save(f"{settings.CKEDITOR_UPLOAD_PATH}{timezone.now():%Y/%m/%d}/{clean.name}", clean)
    save_thumbnail(name, clean)
    return default_storage.url(name), name.rsplit("/", 1)[-1]


def save_thumbnail(name, clean):
    clean.seek(0)
    with Image.open(clean) as image:
        fmt = image.format
        image.thumbnail(THUMBNAIL_SIZE)
        out = io.BytesIO()
        image.save(out, fmt)
    stem, _, ext = name.rpartition(".")
    default_storage.save(f"{stem}_thumb.{ext}", ContentFile(out.getvalue()))


def ckeditor_reply(func_num, url="", file_name="", error="", status=200):
    """CKEditor's two upload protocols: a script for its dialog, JSON for pasted and dropped images."""
    if func_num.isdigit():
        # json.dumps quotes for JavaScript; escaping "<" keeps the string inside the <script>.
        args = ", ".join(json.dumps(value).replace("<", "\\u003c") for value in (url, error))
        script = f"<script>window.parent.CKEDITOR.tools.callFunction({int(func_num)}, {args});</script>"
        return HttpResponse(script, status=status)
    if error:
        return JsonResponse({"uploaded": 0, "error": {"message": error}}, status=status)
    return JsonResponse({"uploaded": 1, "fileName": file_name, "url": url}, status=status)
