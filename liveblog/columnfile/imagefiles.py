"""The images of a column file: where they come from (a path beside the file or a data URL), how they are
checked and stored (the image pipeline, names from their content), and how an import that fails removes them.

Stored images are named after their content, and an exported image is written under `media/<its stored
name>`: importing either again finds the same file.
"""

import base64
import binascii
import mimetypes
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from liveblog import images
from liveblog.columnfile.lines import ColumnFileError

DATA_URL = re.compile(r"data:(image/[a-z0-9.+-]+);base64,(.*)", re.IGNORECASE | re.DOTALL)
EXPORTED_MEDIA = "media/"
BODY_IMAGE_DIR = "uploads/imported/"


class RefusedImage(Exception):
    """Why an image reference cannot be used; the reader adds where it stands in the file."""


@dataclass
class StoredImage:
    """An image as it will be stored: its name in media, and the bytes to write if new."""

    name: str
    source: bytes
    data: bytes | None = None


def clean_copy(source, directory):
    """The image pipeline: a checked, re-encoded copy and its stored name (ValidationError if refused)."""
    encoded = images.guard(source).encode()
    return encoded.data, encoded.name(directory)


def load(ref, base_dir, directory):
    """The image `ref` names (relative to base_dir, or a data URL), checked and named for storage."""
    source = read_source(ref, base_dir)
    existing = exported_copy(ref, source)
    if existing:
        return StoredImage(existing, source)
    try:
        clean, name = clean_copy(source, directory)
    except ValidationError as error:
        raise RefusedImage(f"{ref[:60]!r}: {error.messages[0]}") from None
    return StoredImage(name, source, clean)


def read_source(ref, base_dir):
    match = DATA_URL.fullmatch(ref.strip())
    if match:
        try:
            return base64.b64decode(match.group(2), validate=False)
        except (binascii.Error, ValueError):
            raise RefusedImage("this data URL's base64 is damaged") from None
    if ref.startswith(("data:", "/", "\\")) or re.match(r"^[a-z][a-z0-9+.-]*:", ref, re.IGNORECASE):
        raise RefusedImage(f"{ref[:60]!r}: give a path relative to the file, or a data:image/...;base64 URL")
    target = (base_dir / ref).resolve()
    if not target.is_relative_to(base_dir):
        raise RefusedImage(f"{ref!r} points outside the file's folder")
    if not target.is_file():
        raise RefusedImage(f"{ref!r}: no such file next to the import file")
    with target.open("rb") as f:
        return f.read(settings.MAX_IMAGE_BYTES + 1)


def exported_copy(ref, source):
    """An image we exported (media/<name>) that is still stored with the same bytes keeps its name."""
    if not ref.startswith(EXPORTED_MEDIA):
        return None
    name = ref.removeprefix(EXPORTED_MEDIA)
    if ".." in name.split("/") or not default_storage.exists(name):
        return None
    with default_storage.open(name) as f:
        return name if f.read() == source else None


class Files:
    """Writes the images an import needs, and remembers them in case it rolls back."""

    def __init__(self):
        self.written = []

    def store(self, image):
        if image.data is not None and not default_storage.exists(image.name):
            if default_storage.save(image.name, ContentFile(image.data)) != image.name:
                raise ColumnFileError(f"could not store the image {image.name}")
            self.written.append(image.name)
        return image.name

    def remove(self):
        for name in self.written:
            default_storage.delete(name)

    @staticmethod
    def holds(name, image):
        """Whether the stored file `name` has this image's bytes, as given or as cleaned."""
        if not name or not default_storage.exists(name):
            return False
        with default_storage.open(name) as f:
            return f.read() in (image.source, image.data)


def set_image(field_file, image, files):
    """Point an image field at an image; a stored file with the same bytes stays as it is. True if it changed."""
    if image is None:
        changed = bool(field_file.name)
        field_file.name = ""
        return changed
    if field_file.name == image.name or Files.holds(field_file.name, image):
        return False
    field_file.name = files.store(image)
    return True


def export(name, base_dir):
    """A stored image as the file gives it: written beside the file (media/<name>), or a data URL without one."""
    if not name or not default_storage.exists(name):
        return None
    with default_storage.open(name) as f:
        data = f.read()
    if base_dir is None:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return f"data:{content_type};base64,{base64.b64encode(data).decode()}"
    target = base_dir / EXPORTED_MEDIA / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return f"{EXPORTED_MEDIA}{name}"
