"""A cap on request bodies, in front of Django, so an oversized upload is refused before it is read.

Django reads (and spools to disk) a whole request body before any view or setting can refuse it. This
ASGI wrapper answers 413 at once when Content-Length says the body is above MAX_REQUEST_BYTES, and
counts the body as it arrives otherwise (chunked uploads, or a Content-Length that lies), stopping at
the cap. The server (uvicorn) stops reading from a client whose body nobody receives, and closes the
connection after our answer, so the rest of the upload is never read.
"""

import html
import json
import secrets
from urllib.parse import parse_qs

from django.conf import settings
from django.template.defaultfilters import filesizeformat


class BodyTooLarge(Exception):
    pass


class RequestBodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.MAX_REQUEST_BYTES
        lengths = [value for name, value in scope["headers"] if name == b"content-length"]
        if any(not value.strip().isdigit() for value in lengths) or len(set(lengths)) > 1:
            return await refuse(scope, send, 400, "The request's Content-Length is not a number.")
        if lengths and int(lengths[0]) > limit:
            return await refuse(scope, send, 413, too_large(limit))

        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await refuse(scope, send, 413, too_large(limit))


def too_large(limit):
    message = (
        f"This upload is too large: the site accepts at most {filesizeformat(limit)} in one request, "
        f"and images of at most {filesizeformat(settings.MAX_IMAGE_BYTES)}. Nothing was saved: go back, "
        "choose a smaller file and send the form again."
    )
    return message.replace("\xa0", " ")  # filesizeformat's non-breaking spaces, in JSON and JavaScript too


async def refuse(scope, send, status, message):
    """The refusal in the form the sender reads: CKEditor's protocols for its uploads, a page otherwise."""
    func_num = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("CKEditorFuncNum", [""])[0]
    # Never framed, no scripts: but the answer to CKEditor's dialog is the one inline script it expects.
    policy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    if scope["path"].startswith("/ckeditor/upload/") and func_num.isdigit():
        nonce = secrets.token_urlsafe(16)
        reply = json.dumps(message).replace("<", "\\u003c")
        call = f'window.parent.CKEDITOR.tools.callFunction({int(func_num)}, "", {reply});'
        body = f'<script nonce="{nonce}">{call}</script>'
        content_type, policy = b"text/html; charset=utf-8", policy + f"; script-src 'nonce-{nonce}'"
    elif scope["path"].startswith("/ckeditor/upload/"):
        body = json.dumps({"uploaded": 0, "error": {"message": message}})
        content_type = b"application/json"
    else:
        title = "Upload too large" if status == 413 else "Bad request"
        body = (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f"<body><h1>{title}</h1><p>{html.escape(message)}</p></body></html>"
        )
        content_type = b"text/html; charset=utf-8"
    data = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(data)).encode()),
                (b"content-security-policy", policy.encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"cache-control", b"no-store"),
                # The rest of the body is never read: the connection cannot carry another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
