"""Images uploaded through CKEditor: stored after the image guard, answered in CKEditor's protocols."""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.http import is_same_domain

from liveblog import images

# CKEditor's file browser shows these next to each upload.
THUMBNAIL_SIZE = (75, 75)


def may_upload(user):
    """CKEditor's upload and browse serve the post form: staff who may change posts, nobody else."""
    return user.is_active and user.is_staff and user.has_perm("liveblog.change_post")


def from_our_site(request):
    """Whether the request's Origin (or, without one, its Referer) is this site, as Django's CSRF check reads
    them: the request's own scheme and host, or one of CSRF_TRUSTED_ORIGINS (with its `*.` subdomains).
    A request naming neither is refused: every browser sends Origin with a POST."""
    origin = request.headers.get("Origin")
    if origin is None:
        referer = urlsplit(request.headers.get("Referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else ""
    if not origin or origin == "null":
        return False
    try:
        if origin == f"{request.scheme}://{request.get_host()}":
            return True
    except DisallowedHost:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    scheme, netloc = urlsplit(origin)[:2]
    return any(
        is_same_domain(netloc, trusted.split("://", 1)[1][1:])
        for trusted in settings.CSRF_TRUSTED_ORIGINS
        if trusted.startswith(f"{scheme}://*.")
    )


def store_ckeditor_image(upload):
    """Guard, re-encode and store an upload and its thumbnail; returns (url, file name). Raises ValidationError."""
    upload.seek(0)
    picture = images.guard(upload.read(settings.MAX_IMAGE_BYTES + 1))
    name = images.store(picture.encode(), f"{settings.CKEDITOR_UPLOAD_PATH}{timezone.now():%Y/%m/%d}/")
    # CKEditor's browser finds the thumbnail by name: "<name>_thumb.<ext>", fitting in THUMBNAIL_SIZE.
    box_width, box_height = THUMBNAIL_SIZE
    thumbnail = picture.encode(max(1, min(box_width, picture.width * box_height // picture.height)))
    stem, _, ext = name.rpartition(".")
    if not default_storage.exists(f"{stem}_thumb.{ext}"):  # the same picture uploaded again
        default_storage.save(f"{stem}_thumb.{ext}", ContentFile(thumbnail.data))
    return default_storage.url(name), name.rsplit("/", 1)[-1]


def ckeditor_reply(request, func_num, url="", file_name="", error="", status=200):
    """CKEditor's two upload protocols: a script for its dialog, JSON for pasted and dropped images."""
    if func_num.isdigit():
        # json.dumps quotes for JavaScript; escaping "<" keeps the string inside the <script>.
        args = ", ".join(json.dumps(value).replace("<", "\\u003c") for value in (url, error))
        # The reply is a document of its own under the CSP: its one inline script carries this response's nonce.
        call = f"window.parent.CKEDITOR.tools.callFunction({int(func_num)}, {args});"
        script = f'<script nonce="{request.csp_nonce}">{call}</script>'
        return HttpResponse(script, status=status)
    if error:
        return JsonResponse({"uploaded": 0, "error": {"message": error}}, status=status)
    return JsonResponse({"uploaded": 1, "fileName": file_name, "url": url}, status=status)
