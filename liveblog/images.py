"""The image guard: every image we store went through reencode().

Pillow opens the upload with a format allow-list, refuses decompression bombs
and oversized files, applies the EXIF rotation, and we keep a fresh encoding
with no metadata. Anything else is refused with a message for the form.
"""

import io
import warnings
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


def reencode(data, name="image"):
    """Return (bytes, extension, content_type) of a clean copy, or raise ValidationError."""
    if len(data) > settings.MAX_IMAGE_BYTES:
        limit = filesizeformat(settings.MAX_IMAGE_BYTES)
        raise ValidationError(f"This file is larger than the {limit} limit for images.", code="too_large")
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice that; refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
                fmt = image.format
                if image.width * image.height > settings.MAX_IMAGE_PIXELS:
                    raise ValidationError("This image has too many pixels.", code="too_many_pixels")
                image.load()
                image = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError("This image has too many pixels.", code="too_many_pixels") from None
    except ValidationError:
        raise
    except Exception:  # noqa: BLE001
        # Pillow raises many kinds of errors on hostile files; all mean the same to an editor.
        raise ValidationError(
            "Upload a valid image: JPEG, PNG, GIF or WebP. This file is not one, or it is damaged.",
            code="invalid_image",
        ) from None

    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True)
    elif fmt == "GIF":
        image.save(out, "GIF")
    else:
        image.save(out, "WEBP", quality=85)
    return out.getvalue(), ALLOWED_FORMATS[fmt], CONTENT_TYPES[fmt]


def clean_upload(uploaded):
    """Validate an uploaded file and return a re-encoded replacement for it."""
    uploaded.seek(0)
    data = uploaded.read(settings.MAX_IMAGE_BYTES + 1)
    clean, ext, content_type = reencode(data)
    stem = PurePath(uploaded.name or "image").stem[:80] or "image"
    return SimpleUploadedFile(f"{stem}.{ext}", clean, content_type=content_type)


class SafeImageFormField(forms.ImageField):
    def to_python(self, data):
        # Skip ImageField's own Pillow check: ours is stricter and says why.
        uploaded = forms.FileField.to_python(self, data)
        if uploaded is None:
            return None
        return clean_upload(uploaded)


class SafeImageField(models.ImageField):
    """An ImageField whose form accepts only images that went through the guard."""

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": SafeImageFormField, **kwargs})
