"""The outside web, as the link-card tests see it: pages served by a threaded local HTTP server.

Each route is shaped like something the real web does to a link previewer: full Open Graph, Twitter tags
only, a bare title, relative URLs, legacy charsets, huge, slow and endless bodies, a gzip bomb, redirect
loops, images pointing at private addresses, oEmbed, and outright hostile values.
"""

import functools
import gzip
import io
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from PIL import Image

PHOTO_SIZE = (1200, 800)


@functools.cache
def photo_jpeg():
    """A JPEG that carries EXIF a newsroom must not republish (camera owner, GPS)."""
    image = Image.new("RGB", PHOTO_SIZE, (200, 30, 40))
    for x in range(0, PHOTO_SIZE[0], 100):
        image.paste((20, 20, 160), (x, 0, x + 50, PHOTO_SIZE[1]))
    exif = Image.Exif()
    exif[0x013B] = "Secret Photographer"  # Artist
    exif[0x010F] = "SpyCam"  # Make
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


@functools.cache
def small_png():
    out = io.BytesIO()
    Image.new("RGBA", (200, 120), (10, 120, 10, 255)).save(out, "PNG")
    return out.getvalue()


@functools.cache
@functools.cache
def gzip_bomb():
    """About 100 KB on the wire, 100 MB of HTML once inflated (compressing it takes a second or more)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = b"<p>" + b"A" * (1024 * 1024 - 3)
    parts = [compressor.compress(b"<!doctype html><html><head><title>Bomb</title></head><body>")]
    parts += [compressor.compress(chunk) for _ in range(100)]
    parts.append(compressor.flush())
    return b"".join(parts)


def page(head, body="<p>Body text.</p>", charset="utf-8"):
    return f'<!doctype html><html><head><meta charset="{charset}">{head}</head><body>{body}</body></html>'


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the fetcher hangs up on huge and endless bodies: that is the point


class OutsideWeb:
    """A threaded HTTP server on 127.0.0.1 with a free port. `hits` records (path, Host header)."""

    def __init__(self):
        gzip_bomb()  # made now, once, not while a fetch with a one-second deadline waits for it
        self.hits = []
        self.mutable_title = "First headline"
        self.redirect_to = {}
        # Extra pages a test puts up itself: path -> (content type, bytes).
        self.served = {}
        web = self

        class Handler(Routes):
            outside = web

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Routes(BaseHTTPRequestHandler):
    outside: OutsideWeb
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, data, content_type="text/html; charset=utf-8", headers=()):
        if isinstance(data, str):
            data = data.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def stream(self, chunks, content_type="text/html; charset=utf-8", headers=()):
        """A body with no Content-Length, sent until the client hangs up or the generator ends."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:
            pass  # the fetcher hung up, as it should
        self.close_connection = True

    def do_GET(self):
        split = urlsplit(self.path)
        self.outside.hits.append((split.path, self.headers.get("Host")))
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        if split.path in self.outside.served:
            content_type, data = self.outside.served[split.path]
            self.send(200, data, content_type=content_type)
            return
        route = ROUTES.get(split.path)
        if route is None:
            self.send(404, "<h1>Not found</h1>")
            return
        route(self, query)


def base(handler):
    return f"http://{handler.headers.get('Host')}"


def og_page(h, q):
    image = f"{base(h)}/img/photo.jpg"
    h.send(
        200,
        page(
            "<title>Title tag loses</title>"
            '<meta property="og:title" content="Ceasefire talks resume in Geneva">'
            '<meta property="og:description" content="Delegations from both sides met for three hours.">'
            f'<meta property="og:image" content="{image}">'
            '<meta property="og:image:alt" content="Delegates around a table">'
            '<meta property="og:site_name" content="The Daily Monitor">'
            f'<meta property="og:url" content="{base(h)}/og-canonical">'
            '<meta name="twitter:title" content="Twitter title loses">'
            '<meta name="description" content="Meta description loses">'
        ),
    )


def twitter_page(h, q):
    h.send(
        200,
        page(
            '<meta name="twitter:card" content="summary_large_image">'
            '<meta name="twitter:title" content="Aid convoy reaches the east">'
            '<meta name="twitter:description" content="Forty trucks crossed at dawn.">'
            f'<meta name="twitter:image" content="{base(h)}/img/small.png">'
            '<meta name="twitter:image:alt" content="Trucks on a road">'
        ),
    )


def title_only(h, q):
    h.send(200, "<html><head><title>  Statement from the\n ministry  </title></head><body>Text</body></html>")


def relative_page(h, q):
    h.send(
        200,
        page(
            '<meta property="og:title" content="Relative paths">'
            '<meta property="og:image" content="../img/photo.jpg">'
            '<link rel="canonical" href="/stories/relative">'
        ),
    )


def cp1251_page(h, q):
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        "<title>Новости: перемирие в Алеппо</title>"
        '<meta name="description" content="Стороны договорились о прекращении огня.">'
        "</head><body>Текст</body></html>"
    )
    h.send(200, html.encode("windows-1251"), content_type="text/html")


def sjis_page(h, q):
    html = "<html><head><title>東京で記者会見</title></head><body>本文</body></html>"
    h.send(200, html.encode("shift_jis"), content_type="text/html; charset=Shift_JIS")


def huge_page(h, q):
    h.send(200, page("<title>Huge</title>", "<p>" + "x" * (3 * 1024 * 1024) + "</p>"))


def endless_page(h, q):
    def chunks():
        yield b"<!doctype html><html><head><title>Endless</title></head><body>"
        for _ in range(50_000):  # bounded: about 400 MB if nobody hung up
            yield b"<p>" + b"y" * 8192 + b"</p>"

    h.stream(chunks())


def slow_page(h, q):
    def chunks():
        yield b"<!doctype html><html><head><title>Slow</title>"
        for _ in range(600):  # bounded: a minute at most
            time.sleep(0.1)
            yield b" "

    h.stream(chunks())


def bomb_page(h, q):
    h.send(200, gzip_bomb(), headers=[("Content-Encoding", "gzip")])


def gzip_page(h, q):
    h.send(
        200, gzip.compress(page("<title>Compressed and fine</title>").encode()), headers=[("Content-Encoding", "gzip")]
    )


def loop_a(h, q):
    h.send(302, "", headers=[("Location", "/loop/b")])


def loop_b(h, q):
    h.send(302, "", headers=[("Location", "/loop/a")])


def chain(h, q):
    left = int(q.get("n", "0"))
    if left <= 0:
        h.send(200, page("<title>End of the chain</title>"))
    else:
        h.send(302, "", headers=[("Location", f"/chain?n={left - 1}")])


def redirect(h, q):
    h.send(302, "", headers=[("Location", q["to"])])


def private_image(h, q):
    target = q.get("image", "http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    h.send(
        200,
        page(f'<meta property="og:title" content="Image points inward"><meta property="og:image" content="{target}">'),
    )


def oembed_page(h, q):
    h.send(
        200,
        page(
            "<title>Video page</title>"
            f'<link rel="alternate" type="application/json+oembed" href="/oembed.json?url={base(h)}/oembed-page">'
        ),
    )


def oembed_json(h, q):
    data = {
        "version": "1.0",
        "type": "video",
        "title": "Press conference, full video",
        "provider_name": "VideoHost",
        "thumbnail_url": f"{base(h)}/img/photo.jpg",
        "html": '<iframe src="https://evil.invalid/player"></iframe>',
    }
    h.send(200, json.dumps(data), content_type="application/json+oembed")


def hostile_page(h, q):
    h.send(
        200,
        page(
            "<title>Ignored</title>"
            '<meta property="og:title" '
            'content="&lt;script&gt;alert(1)&lt;/script&gt;Breaking &lt;b&gt;news&lt;/b&gt;\x07">'
            f'<meta property="og:description" content="{"Long words " * 600}">'
            '<meta property="og:image" content="javascript:alert(document.cookie)">'
            '<meta name="twitter:image" content="data:image/png;base64,iVBORw0KGgo=">'
            '<meta property="og:site_name" content="&lt;img src=x onerror=alert(1)&gt;Site">'
            '<link rel="canonical" href="javascript:alert(2)">'
        ),
    )


def mutable_page(h, q):
    h.send(
        200,
        page(
            f'<meta property="og:title" content="{h.outside.mutable_title}">'
            '<meta property="og:description" content="A summary from the page.">'
        ),
    )


def host_echo(h, q):
    h.send(200, page(f"<title>Host was {h.headers.get('Host')}</title>"))


def plain_text(h, q):
    h.send(200, "just text", content_type="text/plain")


def server_error(h, q):
    h.send(500, "<h1>Oops</h1>")


def photo(h, q):
    h.send(200, photo_jpeg(), content_type="image/jpeg")


def small(h, q):
    h.send(200, small_png(), content_type="image/png")


def fake_image(h, q):
    h.send(200, page("<title>not an image</title>"), content_type="image/png")


def bad_image_page(h, q):
    h.send(
        200,
        page(
            f'<meta property="og:title" content="Bad image"><meta property="og:image" content="{base(h)}/img/fake.png">'
        ),
    )


ROUTES = {
    "/og": og_page,
    "/twitter": twitter_page,
    "/title-only": title_only,
    "/stories/deep/relative": relative_page,
    "/cp1251": cp1251_page,
    "/sjis": sjis_page,
    "/huge": huge_page,
    "/endless": endless_page,
    "/slow": slow_page,
    "/bomb": bomb_page,
    "/gzip": gzip_page,
    "/loop/a": loop_a,
    "/loop/b": loop_b,
    "/chain": chain,
    "/redirect": redirect,
    "/private-image": private_image,
    "/oembed-page": oembed_page,
    "/oembed.json": oembed_json,
    "/hostile": hostile_page,
    "/mutable": mutable_page,
    "/host-echo": host_echo,
    "/text": plain_text,
    "/error": server_error,
    "/img/photo.jpg": photo,
    "/stories/img/photo.jpg": photo,
    "/img/small.png": small,
    "/img/fake.png": fake_image,
    "/bad-image": bad_image_page,
}
