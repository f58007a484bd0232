"""Post bodies in and out of a column file: the cleaned HTML, with its local images taken along.

Reading, each local `<img src>` becomes a placeholder and its image is loaded; writing, the placeholder
becomes the stored image's URL; exporting, our media URLs become the exported images' references.
"""

import html
import re
from urllib.parse import unquote

import nh3
from django.conf import settings
from django.core.files.storage import default_storage

from liveblog import body
from liveblog.columnfile.imagefiles import Files

IMG_SRC = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
MEDIA_SRC = re.compile(rf'<img\b[^>]*?\bsrc="{re.escape(settings.MEDIA_URL)}([^"]+)"', re.IGNORECASE)


def with_placeholders(value, token, load_image):
    """The cleaned body with `token<n>` where its n-th local image goes, and those images (load_image(src))."""
    found = []

    def placeholder(match):
        src = html.unescape(match.group(3)).strip()
        if re.match(r"^(https?:)?//", src, re.IGNORECASE) or src.startswith(("/", "#")):
            return match.group(0)
        found.append(load_image(src))
        return f"{match.group(1)}{match.group(2)}{token}{len(found) - 1}{match.group(2)}"

    # A first cleaning that still allows data: URLs puts every src in double quotes for IMG_SRC;
    # the second one, after the images are replaced, is the ordinary one.
    normalized = nh3.clean(
        value,
        tags=body.ALLOWED_TAGS,
        attributes=body.ALLOWED_ATTRIBUTES,
        url_schemes=body.URL_SCHEMES | {"data"},
        strip_comments=True,
    )
    return body.clean_html(IMG_SRC.sub(placeholder, normalized)), found


def with_images(post, body_spec, token, files):
    """Put the stored images into the body; an image the post already shows keeps its file."""
    cleaned, found = body_spec
    shown = [unquote(src.removeprefix(settings.MEDIA_URL)) for src in MEDIA_SRC.findall(post.body or "")]
    for n in range(len(found) - 1, -1, -1):  # backwards, so "…-1" never eats "…-10"
        image = found[n]
        name = next((name for name in shown if Files.holds(name, image)), None) or files.store(image)
        cleaned = cleaned.replace(f"{token}{n}", default_storage.url(name))
    return body.clean_html(cleaned)


def exported(cleaned, export_image):
    """The stored body with our images' URLs replaced by what export_image(name) gives (if anything)."""

    def local(match):
        src = html.unescape(match.group(3))
        if not src.startswith(settings.MEDIA_URL):
            return match.group(0)
        reference = export_image(src.removeprefix(settings.MEDIA_URL))
        if reference is None:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{html.escape(reference)}{match.group(2)}"

    return IMG_SRC.sub(local, cleaned)
