"""Images carrying every kind of metadata, and readers of the stored files' structure that list what is left.

The payload in every metadata block is MARK plus a script, so a leak is visible both as bytes and as structure.
"""

import io
import struct

from PIL import Image, ImageCms, PngImagePlugin

MARK = b"LEAKED-METADATA"
PAYLOAD = MARK + b"<html><script>window.__leak=1</script></html>"
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>' + PAYLOAD + b"</rdf:Description></x:xmpmeta>"


def exif_with_payload():
    exif = Image.Exif()
    exif[0x010E] = PAYLOAD.decode()  # ImageDescription
    exif[0x0110] = "Secret Camera 3000"  # Model
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS
    return exif.tobytes()


def picture(size, mode="RGB"):
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 255))
    image.paste((10, 10, 10) if mode == "RGB" else (10, 10, 10, 255), (0, 0, size[0] // 4, size[1]))
    return image


def jpeg_segment(marker, body):
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body


def jpeg(size=(1000, 600)):
    """COM, EXIF (APP1), XMP (APP1), ICC (APP2) and IPTC (APP13) in one JPEG."""
    out = io.BytesIO()
    picture(size).save(out, "JPEG", comment=PAYLOAD, exif=exif_with_payload(), xmp=XMP, icc_profile=ICC)
    data = out.getvalue()
    iptc = jpeg_segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00" + struct.pack(">I", len(PAYLOAD)) + PAYLOAD)
    return data[:2] + iptc + data[2:]


def png(size=(1000, 600)):
    """tEXt, zTXt, iTXt (and XMP in iTXt), eXIf and iCCP chunks."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", PAYLOAD.decode())
    info.add_text("Description", PAYLOAD.decode(), zip=True)
    info.add_itxt("Author", PAYLOAD.decode(), lang="en")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    picture(size).save(out, "PNG", pnginfo=info, exif=exif_with_payload(), icc_profile=ICC)
    return out.getvalue()


def gif(size=(1000, 600)):
    """A comment extension, an XMP application extension and a plain-text extension."""
    out = io.BytesIO()
    picture(size).convert("P", palette=Image.Palette.ADAPTIVE).save(out, "GIF", comment=PAYLOAD)
    data = out.getvalue()
    xmp = b"\x21\xff\x0bXMP DataXMP" + sub_blocks(XMP) + b"\x00"
    text = b"\x21\x01\x0c" + bytes(12) + sub_blocks(PAYLOAD) + b"\x00"
    end = data.rindex(b"\x3b")
    return data[:end] + xmp + text + data[end:]


def sub_blocks(data):
    return b"".join(bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255))


def webp(size=(1000, 600)):
    out = io.BytesIO()
    picture(size).save(out, "WEBP", exif=exif_with_payload(), xmp=XMP, icc_profile=ICC)
    return out.getvalue()


CARRIERS = {"JPEG": (jpeg, "image/jpeg", "jpg"), "PNG": (png, "image/png", "png"), "GIF": (gif, "image/gif", "gif"),
            "WEBP": (webp, "image/webp", "webp")}  # fmt: skip


def metadata_blocks(data):
    """The names of the metadata blocks in a stored file (empty when there are none)."""
    if data[:2] == b"\xff\xd8":
        return jpeg_metadata(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return png_metadata(data)
    if data[:3] == b"GIF":
        return gif_metadata(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return webp_metadata(data)
    raise AssertionError(f"not an image we store: {data[:12]!r}")


def jpeg_metadata(data):
    found, i = [], 2
    while i < len(data):
        assert data[i] == 0xFF, f"JPEG structure lost at {i}"
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: the entropy-coded data follows, no more headers
            break
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        body = data[i + 4 : i + 2 + length]
        if marker == 0xFE:
            found.append("COM")
        elif 0xE0 <= marker <= 0xEF and not (marker == 0xE0 and body.startswith(b"JFIF\x00")):
            found.append(f"APP{marker - 0xE0}:{body[:12]!r}")
        i += 2 + length
    return found


def png_metadata(data):
    found, i = [], 8
    rendering = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    while i < len(data):
        length, kind = struct.unpack(">I4s", data[i : i + 8])
        if kind not in rendering:
            found.append(kind.decode("latin-1"))
        i += 12 + length
    return found


def gif_metadata(data):
    found = []
    flags = data[10]
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while i < len(data):
        block = data[i]
        if block == 0x3B:
            break
        if block == 0x21:
            label = data[i + 1]
            i += 2
            first = data[i + 1 : i + 1 + data[i]]
            if label == 0xFE:
                found.append("comment")
            elif label == 0x01:
                found.append("plain text")
            elif label == 0xFF and not first.startswith(b"NETSCAPE2.0"):
                found.append(f"application {first!r}")
            while data[i]:
                i += data[i] + 1
            i += 1
        elif block == 0x2C:
            local = data[i + 9]
            i += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0) + 1  # descriptor, palette, LZW size
            while data[i]:
                i += data[i] + 1
            i += 1
        else:
            raise AssertionError(f"GIF structure lost at {i}")
    return found


def webp_metadata(data):
    found, i = [], 12
    while i < len(data):
        kind, length = struct.unpack("<4sI", data[i : i + 8])
        if kind not in (b"VP8 ", b"VP8L", b"VP8X", b"ALPH"):
            found.append(kind.decode("latin-1"))
        if kind == b"VP8X" and data[i + 8] & 0b00101100:  # the ICC, EXIF and XMP flags
            found.append("VP8X metadata flags")
        i += 8 + length + (length & 1)
    return found


def assert_bare(data, where):
    blocks = metadata_blocks(data)
    assert not blocks, f"{where} keeps metadata: {blocks}"
    assert MARK not in data, f"{where} keeps the metadata's text"
    assert b"Secret Camera" not in data, f"{where} keeps the EXIF"
    # The pixels are still the picture (colours converted from the sRGB profile stay put).
    with Image.open(io.BytesIO(data)) as image:
        red = image.convert("RGB").getpixel((image.width - 2, image.height // 2))
        assert abs(red[0] - 200) < 24 and red[1] < 60, f"{where}: colour changed to {red}"
