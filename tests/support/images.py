"""Image files for tests, made with Pillow on the spot."""

import io
import struct
import zlib

from django.core.files.base import ContentFile
from PIL import Image


def image_bytes(fmt="PNG", size=(64, 48), color=(200, 30, 30), exif=None):
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    # A second colour on the left edge shows which way round a stored copy is.
    image.paste((10, 10, 10), (0, 0, max(1, size[0] // 4), size[1]))
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def jpeg_with_exif(size=(80, 40), orientation=6):
    """A JPEG whose EXIF says 'rotate me' and carries a camera model and GPS position."""
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: 6 = rotate 90° clockwise to display
    exif[0x0110] = "Secret Camera 3000"  # Model
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS
    return image_bytes("JPEG", size=size, exif=exif)


def png_claiming_size(width, height):
    """A tiny PNG whose header claims a huge canvas: a decompression bomb."""
    real = image_bytes("PNG", size=(8, 8))
    ihdr_start = 8 + 4  # signature, then the IHDR chunk's length
    body = b"IHDR" + struct.pack(">II", width, height) + real[ihdr_start + 12 : ihdr_start + 17]
    chunk = body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return real[:ihdr_start] + chunk + real[ihdr_start + len(chunk) :]


def png(color=(200, 40, 40), size=(64, 40)):
    """A plain PNG of one colour, ready to save into an ImageField."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return ContentFile(out.getvalue())
