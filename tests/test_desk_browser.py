"""The desk in Chromium against the production stack: two editors on one desk and a reader on the column."""

import time

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.utils import timezone

from liveblog.models import Author, Post
from tests.support import factories
from tests.support.admin import PASSWORD
from tests.support.locks import row_held_elsewhere
from tests.support.stack import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.django_db(transaction=True)]


def desk_user(username, first, last, author=None):
    """A newsroom editor with a name, able to log in to the stack (whose hashers lack the tests' fast one)."""
    user = factories.make_editor(username)
    user.first_name, user.last_name = first, last
    user.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    user.save()
    if author is not None:
        author.user = user
        author.save()
    return user


def console_error(page, message):
    # Chromium logs every 4xx answer; a refused save (409, 400) is an answer the desk shows, not an error.
    expected = "favicon" in message.location.get("url", "") or "status of 409" in message.text
    if message.type == "error" and not expected:
        page.errors.append(message.text)


@pytest.fixture
def open_desk(chromium, stack):
    """Opens the desk of a column in a browser of its own, logged in; closes them all after the test (a desk
    left open would keep the server's live feed of the column, which the next test's column reuses)."""
    contexts = []

    def open_desk(column, username, viewport=None):
        context = chromium.new_context(viewport=viewport or {"width": 1280, "height": 900})
        contexts.append(context)
        return desk_page(context, stack, column, username)

    yield open_desk
    for context in contexts:
        context.close()


def desk_page(context, stack, column, username):
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: console_error(page, message))
    page.goto(f"{stack.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    page.goto(f"{stack.url}/admin/liveblog/column/{column.pk}/desk/")
    page.wait_for_selector("#desk[data-state=open]")
    page.wait_for_function("() => window.CKEDITOR && CKEDITOR.instances['id_new-body']?.status === 'ready'")
    return page


def type_body(page, form_selector, text):
    page.click(f"{form_selector} .cke_wysiwyg_frame")
    page.keyboard.type(text)


def open_reader(page, stack, column):
    page.goto(f"{stack.url}{column.get_absolute_url()}")
    page.wait_for_selector(".column[data-live-state=open]")


@pytest.fixture
def maya(author):
    return desk_user("maya", "Maya", "Okafor", author)


@pytest.fixture
def tomas(db):
    return desk_user("tomas", "Tomás", "Whitfield", Author.objects.create(name="Tomás Whitfield", slug="tomas"))


def test_two_editors_and_a_reader(open_desk, stack, page, column, maya, tomas):
    a = open_desk(column, "maya")
    b = open_desk(column, "tomas")
    open_reader(page, stack, column)
    # Each desk sees the other.
    a.wait_for_function("() => document.querySelector('.desk-presence-list').textContent.includes('Tomás Whitfield')")
    b.wait_for_function("() => document.querySelector('.desk-presence-list').textContent.includes('Maya Okafor')")

    # A publishes from the keyboard: headline, Tab... the body, Ctrl+Enter.
    assert a.evaluate("() => document.activeElement.id") == "id_new-headline"
    a.keyboard.type("Ceasefire announced")
    type_body(a, ".desk-composer", "The ceasefire starts at noon.")
    a.keyboard.press("Control+Enter")
    pressed = time.monotonic()
    post = wait_for(lambda: Post.objects.filter(headline="Ceasefire announced").first(), message="the post")
    b.wait_for_selector(f"#desk-post-{post.pk}", timeout=1000)
    page.wait_for_selector(f"#posts #post-{post.pk}", timeout=1000)
    assert time.monotonic() - pressed < 1.5
    assert post.ordered_authors()[0].name == "Rania Haddad"  # A's own byline, filled in
    a.wait_for_function("() => document.activeElement.id === 'id_new-headline'")
    assert a.input_value("#id_new-headline") == ""
    assert "noon" in page.inner_text(f"#post-{post.pk}")
    assert a.errors == [] and b.errors == []

    # B opens the post; A sees who is editing it.
    b.click(f"#desk-post-{post.pk} .desk-edit")
    b.wait_for_selector(f"#desk-post-{post.pk} .desk-form")
    label = f"#desk-post-{post.pk} .desk-editing"
    a.wait_for_function(f"() => document.querySelector('{label}').textContent.includes('Tomás Whitfield is editing')")
    # A edits too, and saves first.
    a.click(f"#desk-post-{post.pk} .desk-edit")
    a.wait_for_selector(f"#desk-post-{post.pk} .desk-form")
    form = f"#desk-post-{post.pk} .desk-form"
    a.wait_for_function(f"() => CKEDITOR.instances['id_edit-{post.pk}-body']?.status === 'ready'")
    a.fill(f"{form} .desk-headline", "Ceasefire announced for noon")
    a.click(f"{form} button[name=action][value=save]")
    a.wait_for_selector(f"#desk-post-{post.pk} .desk-form", state="detached")
    page.wait_for_function(f"() => document.getElementById('post-{post.pk}').textContent.includes('for noon')")

    # B saves an edit made on the older version: refused, both texts shown.
    b.wait_for_function(f"() => CKEDITOR.instances['id_edit-{post.pk}-body']?.status === 'ready'")
    type_body(b, form, " Aid convoys wait at the border.")
    b.click(f"{form} button[name=action][value=save]")
    conflict = b.wait_for_selector(f"{form} .desk-conflict:visible")
    assert "Ceasefire announced for noon" in conflict.inner_text()
    assert "Someone else saved this post" in b.inner_text(f"{form} .desk-errors")
    assert "Aid convoys" in b.evaluate(f"() => CKEDITOR.instances['id_edit-{post.pk}-body'].getData()")  # nothing lost
    # B merges (takes A's headline) and saves again.
    b.fill(f"{form} .desk-headline", "Ceasefire announced for noon")
    b.click(f"{form} button[name=action][value=save]")
    b.wait_for_selector(form, state="detached")
    saved = Post.objects.get(pk=post.pk)
    assert saved.headline == "Ceasefire announced for noon" and "Aid convoys" in saved.body
    page.wait_for_function(f"() => document.getElementById('post-{post.pk}').textContent.includes('Aid convoys')")
    a.wait_for_function(f"() => document.getElementById('desk-post-{post.pk}').textContent.includes('Aid convoys')")

    # B's browser goes away without a word (a closed laptop): A sees B go within seconds.
    assert b.errors == []
    b.context.close()
    gone = "() => !document.querySelector('.desk-presence-list').textContent.includes('Tomás')"
    a.wait_for_function(gone, timeout=10_000)
    assert a.errors == []


def test_half_typed_post_survives_a_reload_and_another_device(open_desk, stack, column, maya):
    a = open_desk(column, "maya")
    a.keyboard.type("Roads reopen")
    type_body(a, ".desk-composer", "The coast road is clear")
    a.wait_for_selector(".desk-composer .desk-autosaved:has-text('Kept on the server')", timeout=8000)
    a.reload()
    a.wait_for_selector("#desk[data-state=open]")
    a.wait_for_function("() => CKEDITOR.instances['id_new-body'].getData().includes('coast road')")
    assert a.input_value("#id_new-headline") == "Roads reopen"

    # Another device (a browser of its own, with nothing stored): the server's copy.
    other = open_desk(column, "maya")
    other.wait_for_function("() => CKEDITOR.instances['id_new-body'].getData().includes('coast road')")
    assert other.input_value("#id_new-headline") == "Roads reopen"

    # Published: dropped everywhere.
    other.focus("#id_new-headline")
    other.keyboard.press("Control+Enter")
    other.wait_for_function("() => document.getElementById('id_new-headline').value === ''")
    a.reload()
    a.wait_for_selector("#desk[data-state=open]")
    a.wait_for_function("() => CKEDITOR.instances['id_new-body'].status === 'ready'")
    assert a.input_value("#id_new-headline") == ""
    assert "coast road" not in a.evaluate("() => CKEDITOR.instances['id_new-body'].getData()")


def test_drafts_stay_on_the_desk_and_publishing_takes_the_moment(open_desk, stack, page, column, maya, tomas):
    a = open_desk(column, "maya")
    b = open_desk(column, "tomas")
    open_reader(page, stack, column)
    a.keyboard.type("Embargoed figures")
    type_body(a, ".desk-composer", "Not yet.")
    a.click(".desk-composer button[value=draft]")
    draft = wait_for(lambda: Post.objects.filter(headline="Embargoed figures").first(), message="the draft")
    card = b.wait_for_selector(f"#desk-post-{draft.pk}")
    assert "Draft" in card.inner_text()
    assert draft.status == Post.Status.DRAFT

    # A starts typing; B publishes meanwhile; A publishes later: A's post carries the later time, on top.
    a.keyboard.press("Control+a")  # the composer emptied after the draft; type the next one
    a.fill("#id_new-headline", "Written slowly")
    type_body(a, ".desk-composer", "Long text.")
    b.fill("#id_new-headline", "Quick flash")
    type_body(b, ".desk-composer", "Short.")
    b.keyboard.press("Control+Enter")
    quick = wait_for(lambda: Post.objects.filter(headline="Quick flash").first(), message="B's post")
    time.sleep(1.1)
    before = timezone.now()
    a.keyboard.press("Control+Enter")
    slow = wait_for(lambda: Post.objects.filter(headline="Written slowly").first(), message="A's post")
    assert slow.published_at >= before > quick.published_at
    page.wait_for_selector(f"#posts #post-{slow.pk}")
    ids = page.eval_on_selector_all("#posts article.post", "nodes => nodes.map(n => +n.dataset.postId)")
    assert ids[:2] == [slow.pk, quick.pk]
    assert page.query_selector(f"#post-{draft.pk}") is None


def test_a_reporter_on_a_phone_with_the_keyboard_alone(open_desk, stack, column, maya, make_post):
    make_post("Earlier", cards=["https://example.org/a"])
    make_post("Not yet", status=Post.Status.DRAFT)
    a = open_desk(column, "maya", viewport={"width": 375, "height": 812})
    assert a.evaluate("() => document.documentElement.scrollWidth") <= 375  # nothing wider than the phone

    # Headline (focused on arrival), Tab into the text, Ctrl+Enter: published, back in the headline.
    assert a.evaluate("() => document.activeElement.id") == "id_new-headline"
    a.keyboard.type("Power back in the harbour district")
    a.keyboard.press("Tab")
    assert a.evaluate("() => document.activeElement.classList.contains('cke_wysiwyg_frame')")
    a.keyboard.type("Crews restored the last substation.")
    a.keyboard.press("Control+Enter")
    post = wait_for(lambda: Post.objects.filter(headline__startswith="Power back").first(), message="the post")
    a.wait_for_selector(f"#desk-post-{post.pk}")
    a.wait_for_function("() => document.activeElement.id === 'id_new-headline'")

    # Tab to the post's Edit button, Enter, change the headline, Ctrl+Enter: saved in place.
    for _ in range(80):
        a.keyboard.press("Tab")
        if a.evaluate(f"() => document.activeElement.matches('#desk-post-{post.pk} .desk-edit')"):
            break
    else:
        raise AssertionError("Tab never reached the post's Edit button")
    a.keyboard.press("Enter")
    a.wait_for_function(f"() => document.activeElement.id === 'id_edit-{post.pk}-headline'")
    a.keyboard.press("End")
    a.keyboard.type(" at last")
    a.keyboard.press("Control+Enter")
    a.wait_for_selector(f"#desk-post-{post.pk} .desk-form", state="detached")
    wait_for(lambda: Post.objects.get(pk=post.pk).headline.endswith("at last"), message="the edit")
    assert a.evaluate(f"() => document.activeElement.matches('#desk-post-{post.pk} .desk-edit')")
    assert a.evaluate("() => document.documentElement.scrollWidth") <= 375
    assert a.errors == []


def test_a_save_that_would_wait_for_an_import_keeps_what_the_editor_typed(open_desk, stack, column, maya, make_post):
    """An import's transaction holds the post the editor corrects on the desk: the save and a stream control give
    up after the lock timeout (the stack's own, 5 s) with a clear message, the typing stays in the form and in
    the browser's copy, and saving again from the keyboard once the import is done works."""
    post = make_post("Casualty figures", body="<p>Seven people were hurt.</p>")
    a = open_desk(column, "maya")
    form = f"#desk-post-{post.pk} .desk-form"
    a.click(f"#desk-post-{post.pk} .desk-edit")
    a.wait_for_function(f"() => CKEDITOR.instances['id_edit-{post.pk}-body']?.status === 'ready'")
    body = f"() => CKEDITOR.instances['id_edit-{post.pk}-body'].getData()"
    with row_held_elsewhere(Post, post.pk, release_after=40):
        a.click(f"#desk-post-{post.pk} .desk-controls button:has-text('Pin')")
        banner = a.wait_for_selector(".desk-banner:has-text('Not done: another process')", timeout=20000)

        a.fill(f"{form} .desk-headline", "Casualty figures, corrected")
        type_body(a, form, " Two of them are in hospital.")
        started = time.monotonic()
        a.keyboard.press("Control+Enter")
        error = a.wait_for_selector(f"{form} .desk-form-errors:has-text('Not saved')", timeout=20000)
        waited = time.monotonic() - started
        assert "Everything you typed is still here" in error.inner_text()
        assert a.input_value(f"{form} .desk-headline") == "Casualty figures, corrected"
        assert "Two of them are in hospital." in a.evaluate(body)
        kept = a.evaluate(f"() => localStorage.getItem('liveblog-desk:{maya.pk}:{column.pk}:{post.pk}')")
        assert "Two of them are in hospital." in kept and "corrected" in kept
        held = Post.objects.get(pk=post.pk)
        assert (held.headline, held.pinned) == ("Casualty figures", False)

        a.set_viewport_size({"width": 375, "height": 812})  # on a phone both messages read whole
        for message in (error, banner):
            message.scroll_into_view_if_needed()
            box = message.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert a.evaluate("() => document.documentElement.scrollWidth") <= 375
    assert waited < 15

    a.click(f"{form} .cke_wysiwyg_frame")
    a.keyboard.press("Control+Enter")  # the keyboard's way to save again
    a.wait_for_selector(form, state="detached")
    saved = Post.objects.get(pk=post.pk)
    assert saved.headline == "Casualty figures, corrected" and "Two of them are in hospital." in saved.body
    assert a.evaluate(f"() => localStorage.getItem('liveblog-desk:{maya.pk}:{column.pk}:{post.pk}')") is None
    assert a.errors == []


def test_the_desk_passes_axe(open_desk, stack, chromium, column, maya, make_post):
    from axe_playwright_python.sync_playwright import Axe

    make_post("Earlier", cards=["https://example.org/a"])
    make_post("Not yet", status=Post.Status.DRAFT)
    make_post("Pinned one", pinned=True, key_event=True)
    for width in (1280, 375):
        # axe is injected by the test tool as a script, which the page's CSP would refuse; the page is the same.
        context = chromium.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
        try:
            page = desk_page(context, stack, column, "maya")
            page.wait_for_selector(".desk-readers-count:not(:empty)")
            violations = Axe().run(page).response["violations"]
            serious = [
                f"{v['id']}: {[n['target'] for n in v['nodes']]}"
                for v in violations
                if v["impact"] in ("serious", "critical")
            ]
            assert serious == [], width
        finally:
            context.close()
