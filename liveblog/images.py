"""The one image pipeline: every image we store came in through guard() and went out through encode().

guard() opens the bytes with a format allow-list, refuses oversized files and decompression bombs,
turns the picture upright from its EXIF orientation, converts an embedded colour profile to sRGB and
keeps the pixels only. encode() writes one stored file from those pixels, full size or narrower, in
the source's format, with no metadata at all: no comments (JPEG COM, GIF comment extensions), EXIF,
XMP, IPTC, ICC profiles or PNG text chunks; palette transparency is the only thing carried over,
because rendering needs it. Stored names are the content's hash, never a name the sender chose.

The ways in: the admin's image fields (SafeImageField), CKEditor uploads (liveblog/uploads.py), link
card images in every width (liveblog/linkcards.py) and the column-file importer.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageCms, ImageOps

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
QUALITY = 85  # JPEG and WebP
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class Encoded:
    """One file to store: its bytes, and what a page needs to know about it."""

    data: bytes
    ext: str
    content_type: str
    width: int
    height: int

    def name(self, directory):
        return f"{directory}{hashlib.sha256(self.data).hexdigest()[:32]}.{self.ext}"


class Picture:
    """A guarded image: upright sRGB pixels and the format they came in, nothing else."""

    def __init__(self, image, fmt):
        self.image = image
        self.format = fmt

    @property
    def width(self):
        return self.image.width

    @property
    def height(self):
        return self.image.height

    def encode(self, width=None):
        """The picture at `width` pixels (never wider than it is), in its own format, with no metadata."""
        image = self.image
        width = min(width or image.width, image.width)
        if width != image.width:
            height = max(1, round(image.height * width / image.width))
            # Resample in a true-colour mode: palette images would fall back to nearest-neighbour.
            true_colour = "RGB" if self.format == "JPEG" else "RGBA"
            image = image.convert(true_colour).resize((width, height), Image.Resampling.LANCZOS)
        elif self.format == "JPEG" and image.mode != "RGB":
            image = image.convert("RGB")
        else:
            image = image.copy()
        bare(image)
        out = io.BytesIO()
        if self.format == "JPEG":
            image.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
        elif self.format == "PNG":
            image.save(out, "PNG", optimize=True)
        elif self.format == "GIF":
            image.save(out, "GIF")
        else:
            image.save(out, "WEBP", quality=QUALITY)
        fmt = self.format
        return Encoded(out.getvalue(), ALLOWED_FORMATS[fmt], CONTENT_TYPES[fmt], image.width, image.height)


def bare(image):
    """Forget everything Pillow read besides the pixels: its writers copy comments and profiles from `info`."""
    kept = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    if image.mode in ("RGBA", "LA"):
        kept = {}  # the alpha channel says it already
    image.info = kept


def guard(data):
    """Open untrusted bytes as a Picture, or raise ValidationError with a message for the editor."""
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
    return Picture(in_srgb(image), fmt)


def in_srgb(image):
    """Colours as the embedded profile meant them, in sRGB, so the profile itself need not be kept."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        return ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a damaged or mismatched profile: the pixels as they are, without it


def store(encoded, directory, storage=None):
    """Write an encoded file under its content name; the same picture stored twice is one file."""
    storage = storage or default_storage
    name = encoded.name(directory)
    if not storage.exists(name):
        name = storage.save(name, ContentFile(encoded.data))
    return name


def store_widths(data, directory, widths, storage=None):
    """Guard once, then store one copy per width narrower than the picture, and one at its own width
    (at most the largest asked for): [[width, name], ...] narrowest first."""
    picture = guard(data)
    chosen = {w for w in widths if w < picture.width} | {min(picture.width, max(widths))}
    return [[width, store(picture.encode(width), directory, storage)] for width in sorted(chosen)]


def clean_upload(uploaded):
    """Validate an uploaded file and return a re-encoded replacement for it, named after its content."""
    uploaded.seek(0)
    encoded = guard(uploaded.read(settings.MAX_IMAGE_BYTES + 1)).encode()
    return SimpleUploadedFile(encoded.name(""), encoded.data, content_type=encoded.content_type)


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
