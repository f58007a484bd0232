"""Middleware of our own: small guards in front of everything else."""

import re

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpResponseNotFound
from django.utils.decorators import sync_and_async_middleware


@sync_and_async_middleware
def hide_vendor_demos(get_response):
    """CKEditor ships demo and test pages among its static files: they are not part of our site.

    collectstatic skips them (apps.StaticFilesConfig); this also stops the static
    server from finding them in the apps' folders when DEBUG is on.
    """
    hidden = re.compile(rf"^{re.escape(settings.STATIC_URL)}ckeditor/ckeditor/(samples|plugins/[^/]+/tests)(/|$)")

    # Async-capable: one sync-only middleware would put every request, static files included, through a thread.
    if iscoroutinefunction(get_response):

        async def middleware(request):
            if hidden.match(request.path):
                return HttpResponseNotFound("Not found", content_type="text/plain")
            return await get_response(request)

    else:

        def middleware(request):
            if hidden.match(request.path):
                return HttpResponseNotFound("Not found", content_type="text/plain")
            return get_response(request)

    return middleware
