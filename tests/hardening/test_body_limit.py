"""Request bodies above MAX_REQUEST_BYTES are refused by the real server before they are read in full."""

import json
import select
import socket
import time

import pytest
from django.conf import settings

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

SIXTY_MB = 60 * 1024 * 1024
CHUNK = 64 * 1024


def send_upload(port, path, size, chunked=False, declared=None):
    """POST `size` bytes of body while watching for an early answer.

    Returns (status line, headers and body text, bytes of body sent when the answer came)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = [f"POST {path} HTTP/1.1", f"Host: localhost:{port}", "Content-Type: multipart/form-data; boundary=x",
            "Origin: http://localhost"]  # fmt: skip
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {declared or size}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    sent, answer, answered_at = 0, b"", None
    piece = b"\0" * CHUNK
    deadline = time.monotonic() + 60
    try:
        while sent < size and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 5)
            if readable:
                answered_at = sent
                break
            if writable:
                data = b"%x\r\n%s\r\n" % (CHUNK, piece) if chunked else piece
                sock.sendall(data)
                sent += CHUNK
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
            answered_at = sent
    except (BrokenPipeError, ConnectionResetError):
        answered_at = sent if answered_at is None else answered_at
    sock.settimeout(10)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
            if b"\r\n\r\n" in answer and len(answer.split(b"\r\n\r\n", 1)[1]) >= content_length(answer):
                break
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        sock.close()
    text = answer.decode("utf-8", "replace")
    return text.split("\r\n", 1)[0], text, answered_at


def content_length(answer):
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


def test_a_60_mb_upload_is_refused_at_once_with_a_clear_message(stack):
    status, text, answered_at = send_upload(stack.port, "/admin/liveblog/column/add/", SIXTY_MB)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert "This upload is too large: the site accepts at most 12.0 MB in one request" in text
    assert "Nothing was saved" in text
    assert "content-security-policy: default-src 'none'" in text.lower()
    # The answer came before the body was sent, let alone read: a few socket buffers at most.
    assert answered_at < 8 * 1024 * 1024, f"answered after {answered_at} bytes"


def test_a_chunked_upload_is_counted_and_cut_off_at_the_cap(stack):
    status, text, answered_at = send_upload(stack.port, "/admin/liveblog/column/add/", SIXTY_MB, chunked=True)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert "This upload is too large" in text
    assert settings.MAX_REQUEST_BYTES <= answered_at < settings.MAX_REQUEST_BYTES + 8 * 1024 * 1024


def test_ckeditor_gets_the_refusal_in_its_own_protocol(stack):
    status, text, _ = send_upload(stack.port, "/ckeditor/upload/", SIXTY_MB)
    assert status.startswith("HTTP/1.1 413")
    assert json.loads(text.split("\r\n\r\n", 1)[1])["error"]["message"].startswith("This upload is too large")
    status, text, _ = send_upload(stack.port, "/ckeditor/upload/?CKEditorFuncNum=7", SIXTY_MB)
    assert "CKEDITOR.tools.callFunction(7, " in text and "This upload is too large" in text
    nonce = text.split('<script nonce="', 1)[1].split('"', 1)[0]
    assert f"script-src 'nonce-{nonce}'" in text


def test_bodies_under_the_cap_reach_django(stack):
    status, text, _ = send_upload(stack.port, "/admin/login/", 2 * 1024 * 1024, chunked=True)
    assert status == "HTTP/1.1 403 Forbidden"  # Django's CSRF check answered: the body went through
    assert "CSRF" in text


@pytest.mark.browser
def test_an_editor_choosing_a_60_mb_file_is_told_why(stack, chromium, tmp_path):
    from tests.support.admin import logged_in_editor

    huge = tmp_path / "raw-scan.jpg"
    with huge.open("wb") as f:
        f.truncate(SIXTY_MB)
    with logged_in_editor(chromium, stack) as signed_in:
        page = signed_in
        page.goto(f"{stack.url}/admin/liveblog/column/add/")
        page.fill("#id_title", "Storm")
        page.set_input_files("#id_header_photo", str(huge))
        page.click("input[name=_save]")
        page.wait_for_selector("h1")
        assert "Upload too large" in page.inner_text("h1")
        assert "at most 12.0 MB in one request" in page.inner_text("body")
        # On a phone the sentence wraps inside the screen.
        page.set_viewport_size({"width": 375, "height": 700})
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
