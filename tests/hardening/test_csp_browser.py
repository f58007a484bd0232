"""The Content-Security-Policy is enforced and every page works under it, in Chromium, on the production stack.

Readers' pages get the strict policy; the admin too, except the pages that load CKEditor (the named
exception of liveblog/csp.py). A violation anywhere (any frame) fails the test, and CKEditor is used
as an editor uses it: typing, source mode, the image upload dialog, saving.
"""

import contextlib
import re
import urllib.request

import pytest
from django.contrib.auth.models import User

from liveblog.models import Post
from tests.support.admin import logged_in_editor
from tests.support.images import image_bytes
from tests.support.richpages import build_rich_column

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.django_db(transaction=True)]

# Records every CSP violation in every frame (CKEditor's editing area and dialogs are iframes).
WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => {
  (window.top.__cspViolations || window.__cspViolations).push(
    e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


def directives(header):
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def headers_of(url, cookie=None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers


class Watched:
    """A Chromium page whose CSP violations, console complaints and script errors are collected."""

    def __init__(self, page):
        self.page = page
        self.problems = []
        page.add_init_script(WATCH)
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))

    def console(self, message):
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.problems.append(f"console: {message.text}")

    def visit(self, url):
        response = self.page.goto(url)
        assert response.status == 200, f"{url} answered {response.status}"
        self.page.wait_for_load_state("load")
        self.check(url)
        return response

    def check(self, where):
        found = self.problems + self.page.evaluate("window.__cspViolations || []")
        assert not found, f"{where}: {found}"


@pytest.fixture
def editor_page(chromium, stack):
    with logged_in_editor(chromium, stack) as signed_in:
        yield signed_in


def test_reader_pages_get_the_strict_policy_and_work_under_it(stack, page):
    column, posts = build_rich_column()
    watched = Watched(page)
    paths = ["/", column.get_absolute_url(), posts[3].get_absolute_url(), posts[-1].get_absolute_url(),
             column.series.get_absolute_url(), "/authors/rania-haddad/"]  # fmt: skip
    for path in paths:
        response = watched.visit(stack.url + path)
        policy = directives(response.headers["content-security-policy"])
        assert policy["script-src"] == ["'self'"], path  # no inline, no eval, no nonce
        assert policy["style-src"] == ["'self'"] and policy["img-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert "server" not in response.headers  # uvicorn's Server header is off
    # The page's own script runs under it: the live connection opens and the images load.
    page.goto(stack.url + column.get_absolute_url())
    page.wait_for_selector(".column[data-live-state=open]")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # lazy images start loading
    page.wait_for_function("() => [...document.images].every(img => img.complete && img.naturalWidth > 0)")
    watched.check("the live column")
    for path in ["/feed/atom/", f"{column.get_absolute_url()}feed/rss/", "/sitemap.xml", "/healthz"]:
        assert "default-src 'self'" in headers_of(stack.url + path)["content-security-policy"]


def test_an_injected_inline_script_would_be_blocked(stack, page):
    # The policy is enforced, not reported: an inline script slipped into a reader page does not run.
    column, _ = build_rich_column()
    page.goto(stack.url + column.get_absolute_url())
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.append(s); }"
    )
    assert page.evaluate("window.__ran") is None


def admin_pages(column, post):
    author = post.bylines.first().author
    strict = [
        "/admin/",
        "/admin/liveblog/column/",
        "/admin/liveblog/column/add/",
        f"/admin/liveblog/column/{column.pk}/change/",
        "/admin/liveblog/post/",
        f"/admin/liveblog/post/?column__id__exact={column.pk}",
        f"/admin/liveblog/post/{post.pk}/delete/",
        f"/admin/liveblog/post/{post.pk}/history/",
        "/admin/liveblog/author/",
        "/admin/liveblog/author/add/",
        f"/admin/liveblog/author/{author.pk}/change/",
        "/admin/liveblog/series/",
        "/admin/liveblog/series/add/",
        f"/admin/liveblog/series/{column.series.pk}/change/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        "/admin/auth/group/add/",
        "/admin/password_change/",
        column.get_absolute_url(),  # the column as an editor sees it, with the press-image buttons
    ]
    editor = ["/admin/liveblog/post/add/", f"/admin/liveblog/post/{post.pk}/change/", "/ckeditor/browse/"]
    return strict, editor


def test_every_admin_page_works_under_its_policy(stack, chromium):
    column, posts = build_rich_column()
    login = Watched(chromium.new_page())
    login.visit(stack.url + "/admin/login/")
    login.page.context.close()
    strict, editor = admin_pages(column, posts[1])
    with logged_in_editor(chromium, stack) as signed_in:
        watched = Watched(signed_in)
        for path in strict:
            policy = directives(watched.visit(stack.url + path).headers["content-security-policy"])
            assert "'unsafe-inline'" not in policy["script-src"] + policy["style-src"], path
            assert policy["frame-ancestors"] == ["'none'"]
        for path in editor:
            policy = directives(watched.visit(stack.url + path).headers["content-security-policy"])
            assert "'unsafe-inline'" in policy["script-src"] and "'unsafe-inline'" in policy["style-src"], path
            assert "'unsafe-eval'" not in policy["script-src"] and policy["object-src"] == ["'none'"]
            if "/post/" in path:
                watched.page.wait_for_function("() => window.CKEDITOR && CKEDITOR.instances.id_body.status === 'ready'")
                watched.check(path)


@contextlib.contextmanager
def logged_in_here(chromium, live_server):
    """An editor on the in-process live server (the tests' own password hasher)."""
    User.objects.create_superuser("csp-editor", password="csp-editor-pass")
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "csp-editor")
        page.fill("#id_password", "csp-editor-pass")
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        yield page
    finally:
        context.close()


def test_ckeditor_typing_source_mode_and_image_upload_under_the_policy(live_server, chromium, tmp_path):
    # On the in-process live server (same middleware, same policy): it saves through the admin, and a
    # long-lived server process keeps content-type ids from before an earlier test flushed the tables.
    _, posts = build_rich_column()
    post = posts[1]
    with logged_in_here(chromium, live_server) as signed_in:
        watched = Watched(signed_in)
        page = watched.page
        watched.visit(f"{live_server.url}/admin/liveblog/post/{post.pk}/change/")
        page.wait_for_function("() => window.CKEDITOR && CKEDITOR.instances.id_body.status === 'ready'")

        # Typing, with the keyboard, into the editing area (an iframe).
        body = page.frame_locator("iframe.cke_wysiwyg_frame").locator("body")
        body.click()
        page.keyboard.press("Control+End")
        page.keyboard.press("Enter")
        page.keyboard.type("Typed under the policy.")
        page.keyboard.press("Control+b")
        page.keyboard.type(" Bold too.")
        assert "Typed under the policy." in body.inner_text()

        # Source mode and back.
        page.click(".cke_button__source")
        source = page.locator("textarea.cke_source")
        source.wait_for()
        assert "<strong> Bold too.</strong>" in source.input_value().replace("&nbsp;", " ")
        page.click(".cke_button__source")
        page.frame_locator("iframe.cke_wysiwyg_frame").locator("body").wait_for()

        # The image dialog: upload a file, then OK inserts it.
        picture = tmp_path / "harbour.png"
        picture.write_bytes(image_bytes("PNG", size=(120, 80)))
        page.click(".cke_button__image")
        page.click(".cke_dialog_tab:has-text('Upload')")
        page.frame_locator(".cke_dialog_ui_input_file iframe").locator("input[type=file]").set_input_files(str(picture))
        page.click(".cke_dialog_ui_fileButton")
        url_field = page.locator(".cke_dialog_ui_input_text input").first
        page.wait_for_function(
            "el => el.value.startsWith('/media/uploads/')", arg=url_field.element_handle(), timeout=15_000
        )
        page.locator(".cke_dialog_ui_input_text input").nth(1).fill("The harbour")  # the image's description
        page.click(".cke_dialog_ui_button_ok")
        page.frame_locator("iframe.cke_wysiwyg_frame").locator("img[src^='/media/uploads/']").wait_for()
        watched.check("CKEditor")

        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
        watched.check("after saving")
        saved = Post.objects.get(pk=post.pk).body
        assert "Typed under the policy." in saved and re.search(r'<img [^>]*src="/media/uploads/', saved)

        # The reader sees the uploaded image, loaded under the reader's strict policy.
        reader = Watched(chromium.new_page())
        reader.visit(live_server.url + post.get_absolute_url())
        reader.page.wait_for_function(
            "() => [...document.images].some(i => i.src.includes('/media/uploads/') && i.naturalWidth > 0)"
        )
        reader.page.context.close()
