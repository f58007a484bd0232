"""The admin as an editor uses it: form data as the browser would post it, and Chromium helpers."""

import contextlib
from datetime import timedelta

from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.utils import timezone

from tests.support.factories import make_editor

PASSWORD = "correct horse battery staple"


def post_form(column, authors, cards=(), **fields):
    when = fields.pop("published_at", timezone.now() - timedelta(minutes=5))
    data = {
        "column": column.pk,
        "headline": "Ferry services suspended",
        "body": "<p>All crossings are cancelled.</p>",
        "status": "published",
        "published_at_0": when.strftime("%Y-%m-%d"),
        "published_at_1": when.strftime("%H:%M:%S"),
        "bylines-TOTAL_FORMS": str(len(authors)),
        "bylines-INITIAL_FORMS": "0",
        "bylines-MIN_NUM_FORMS": "1",
        "bylines-MAX_NUM_FORMS": "1000",
        "link_cards-TOTAL_FORMS": str(len(cards)),
        "link_cards-INITIAL_FORMS": "0",
        "link_cards-MIN_NUM_FORMS": "0",
        "link_cards-MAX_NUM_FORMS": "1000",
    }
    for i, (author, position) in enumerate(authors):
        data[f"bylines-{i}-author"] = author.pk
        data[f"bylines-{i}-position"] = position
    for i, card in enumerate(cards):
        for key, value in card.items():
            data[f"link_cards-{i}-{key}"] = value
    data.update(fields)
    return data


@contextlib.contextmanager
def logged_in_editor(chromium, server):
    """A Chromium page logged in to the stack's admin as a superuser; its browser context closes on exit."""
    user = make_editor(superuser=True)
    # The server runs the production settings, whose hashers do not include the tests' fast one.
    user.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    user.save()
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        yield page
    finally:
        context.close()


def fill_new_post(page, column, headline, body_html, author_name):
    """The admin's add form, as an editor fills it: column, headline, a byline picked with the autocomplete,
    the body in CKEditor, published."""
    page.select_option("#id_column", str(column.pk))
    page.fill("#id_headline", headline)
    page.click("#bylines-0 .select2-selection")
    page.fill(".select2-search__field", author_name.split()[0])
    page.click(f".select2-results__option:has-text('{author_name}')")
    fill_body(page, body_html)
    page.select_option("#id_status", "published")


def fill_body(page, html):
    # A function, not an expression: Playwright evaluates expressions with eval, which the CSP refuses.
    ready = "() => window.CKEDITOR && CKEDITOR.instances.id_body && CKEDITOR.instances.id_body.status === 'ready'"
    page.wait_for_function(ready)
    page.evaluate("html => CKEDITOR.instances.id_body.setData(html)", html)
