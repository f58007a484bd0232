"""The Content-Security-Policy (django-csp), enforced on every response, and its one named exception.

The policy itself is CONTENT_SECURITY_POLICY in liveblog/settings.py: scripts, styles, images, fonts,
connections and frames from our own origin only, no inline script, no eval, no plugins, no <base>
elsewhere, never framed. A view opts out of nothing by itself: the exception below is applied per
view, by name, and README.md ("Content-Security-Policy") says why each one exists.
"""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update

# CKEditor 4 builds its toolbar, dialogs and menus as HTML with inline event handlers
# (onclick="CKEDITOR.tools.callFunction(12, this)") and inline styles, and django-ckeditor's widget
# and file browser carry inline styles and scripts too. None of it can take a nonce or a hash (the
# handlers are numbered per page), so the pages that load the editor, and only those, allow inline
# script and style. Scripts still come from our origin only (no other host, no eval), and what an
# editor types is cleaned on save whatever the editor sends (liveblog/body.py). Its image widget also
# draws its drag handle and placeholders with a one-pixel data: GIF.
EDITOR_PAGE_EXCEPTION = {"script-src": [UNSAFE_INLINE], "style-src": [UNSAFE_INLINE], "img-src": ["data:"]}

# Decorate a view (function or ModelAdmin method) that renders CKEditor: the post form, CKEditor's
# file browser, the live desk.
editor_page = csp_update(EDITOR_PAGE_EXCEPTION)
