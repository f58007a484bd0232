"""The hostile-input suite: every payload of tests/hardening/payloads.py through every way in, then every
page that shows the result opened in Chromium, as a reader and as an editor.

Ways in: the column-file importer (column, series, author, post and card fields, bodies), the admin
forms (series, column, author, post with bylines and cards), CKEditor (typed into the editor in the
admin), link cards fetched from a hostile site (served locally: Open Graph, Twitter tags, <title>,
canonical and og:url), query strings (reader pages, the catch-up URL, admin search, the login's next),
and the live push (posts arriving over the WebSocket into an open reader page).

It fails if any payload runs (its marker or a dialog), if a reader page holds anything that would run
on a click, if any stored HTML keeps a tag, handler or URL scheme outside the allow-list, or if any
feed entry does. Browsers here ignore the CSP (`bypass_csp`): the suite tests the cleaning and the
escaping themselves, not the second wall in front of them (tests/hardening/test_csp_browser.py).
"""

import html
import json
import re
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from liveblog import body, linkcards
from liveblog.models import Author, Byline, Column, LinkCard, Post, Series
from tests.hardening.detect import Detector, feed_hazards, html_hazards
from tests.hardening.payloads import PAYLOADS, URL_PAYLOADS
from tests.support.admin import PASSWORD, post_form

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.django_db(transaction=True)]

GROUP = 14  # payloads per post: six posts carry them all, so every one stands on the first page


def groups():
    return [PAYLOADS[i : i + GROUP] for i in range(0, len(PAYLOADS), GROUP)]


def short(payload, limit):
    return payload[:limit]


def joined(payloads):
    return "".join(f"<p>{p}</p>" for p in payloads)


# ---------------------------------------------------------------------------------------------- ways in


def importable(payload):
    # The importer reads a relative <img src> as a file next to the column file (and refuses a missing one):
    # the payloads' broken images become absolute paths, which it leaves as they are.
    return re.sub(r"(src=\"?)(?=`?x)", r"\1/", payload)


def via_importer(tmp_path):
    posts = []
    for g, group in enumerate(groups()):
        group = [importable(p) for p in group]
        posts.append(
            {
                "key": f"hostile-{g}",
                "headline": group[0],
                "body_html": joined(group) + "<p>https://example.org/imported</p>",
                "authors": [group[1][:200], group[2][:200]],
                "published_at": f"2016-10-11T0{g}:15:00Z",
                "status": "published",
                "key_event": True,
                "pinned": g == 0,
                "link_cards": [
                    {"url": "https://example.org/imported", "title": group[3], "summary": " ".join(group),
                     "site_name": group[4][:200], "image_alt": group[5]}
                ],
            }
        )  # fmt: skip
    data = {
        "series": {"title": PAYLOADS[0][:200], "slug": "hostile-series", "description": " ".join(PAYLOADS)},
        "column": {"title": PAYLOADS[1][:200], "slug": "imported", "state": "live",
                   "started_at": "2016-10-11T00:00:00Z", "standfirst": " ".join(PAYLOADS[2:12])[:1000],
                   "photo_credit": PAYLOADS[12][:200]},
        "posts": posts,
    }  # fmt: skip
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data))
    call_command("import_column", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    # URLs with other schemes are refused, with the whole file.
    for url in URL_PAYLOADS:
        data["posts"][0]["link_cards"][0]["url"] = url
        path.write_text(json.dumps(data))
        with pytest.raises(CommandError, match="is not an http"):
            call_command("import_column", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Column.objects.get(slug="imported")


def via_admin_forms(client):
    """The admin's add forms, posted as the browser posts them (every field a payload where it is text)."""
    now = timezone.now()
    client.post("/admin/liveblog/series/add/", {"title": PAYLOADS[13], "slug": "admin-series",
                                                "description": " ".join(PAYLOADS)})  # fmt: skip
    series = Series.objects.get(slug="admin-series")
    response = client.post(
        "/admin/liveblog/column/add/",
        {"title": PAYLOADS[14], "slug": "admin-column", "series": series.pk, "state": "live",
         "started_at_0": now.strftime("%Y-%m-%d"), "started_at_1": "00:00:00",
         "standfirst": " ".join(PAYLOADS[15:25])[:1000], "photo_credit": PAYLOADS[25]},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    column = Column.objects.get(slug="admin-column")
    authors = []
    for n, payload in enumerate(PAYLOADS[26:29]):
        client.post("/admin/liveblog/author/add/", {"name": payload, "slug": f"admin-author-{n}",
                                                    "bio": " ".join(PAYLOADS[:20])[:1000]})  # fmt: skip
        authors.append(Author.objects.get(slug=f"admin-author-{n}"))
    for g, group in enumerate(groups()):
        card = {
            "url": f"https://example.org/admin-{g}",
            "title": group[0],
            "summary": " ".join(group)[:1000],
            "site_name": group[1][:200],
            "embedded_at_0": now.strftime("%Y-%m-%d"),
            "embedded_at_1": "00:00:00",
        }
        data = post_form(column, [(authors[g % 3], 0)], cards=[card], headline=group[2],
                         body=joined(group) + f"<p>https://example.org/admin-{g}</p>", key_event="on",
                         published_at=now - timedelta(minutes=60 - g))  # fmt: skip
        response = client.post("/admin/liveblog/post/add/", data)
        assert response.status_code == 302, response.content[:3000]
    # A card URL outside http(s) is refused by the form with a message, and nothing is saved.
    for url in URL_PAYLOADS:
        card = {"url": url, "title": "t", "embedded_at_0": now.strftime("%Y-%m-%d"), "embedded_at_1": "00:00:00"}
        response = client.post("/admin/liveblog/post/add/", post_form(column, [(authors[0], 0)], cards=[card]))
        assert response.status_code == 200 and b"Enter a valid URL." in response.content
    return column


def via_fetched_cards(site, column, author):
    """Link cards filled from a hostile site: every field a page can give carries payloads."""
    for g, group in enumerate(groups()):
        e = [html.escape(p, quote=True) for p in group]
        bad_url = html.escape(URL_PAYLOADS[g % len(URL_PAYLOADS)], quote=True)
        site.served[f"/hostile-{g}"] = (
            "text/html; charset=utf-8",
            f"<html><head><title>{e[0]}</title>"
            f'<meta property="og:title" content="{e[1]}"><meta property="og:description" content="{" ".join(e)}">'
            f'<meta property="og:site_name" content="{e[2]}"><meta property="og:image:alt" content="{e[3]}">'
            f'<meta name="twitter:title" content="{e[4]}"><meta property="og:url" content="{bad_url}">'
            f'<link rel="canonical" href="{bad_url}"><meta property="og:image" content="{bad_url}">'
            f"</head><body>{group[5]}</body></html>",
        )
        with transaction.atomic():
            post = Post.objects.create(column=column, headline=f"Card {g}", status=Post.Status.PUBLISHED,
                                       published_at=timezone.now() - timedelta(minutes=30 - g),
                                       body=f"<p>{site.url(f'/hostile-{g}')}</p>")  # fmt: skip
            Byline.objects.create(post=post, author=author)
    linkcards.wait_idle(timeout=30)  # the saves started the fetches after commit, as in production


# --------------------------------------------------------------------------------------------- checks


def stored_hazards():
    found = []
    for post in Post.objects.all():
        found += html_hazards(post.body, f"post {post.pk} body")
    for card in LinkCard.objects.all():
        for field in ("url", "canonical_url"):
            value = getattr(card, field)
            if value and urllib.parse.urlsplit(value).scheme not in ("http", "https"):
                found.append(f"card {card.pk} {field}={value[:60]}")
    return found


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def feeds_checked(stack, columns):
    found, entries = [], 0
    urls = [f"{stack.url}/feed/atom/", f"{stack.url}/feed/rss/"]
    for column in columns:
        urls += [
            f"{stack.url}{column.get_absolute_url()}feed/atom/",
            f"{stack.url}{column.get_absolute_url()}feed/rss/",
        ]
    for url in urls:
        hazards, count = feed_hazards(fetch(url), url)
        found += hazards
        entries += count
    return found, entries


def reader_urls(stack, columns):
    urls = [f"{stack.url}/"]
    for column in columns:
        urls.append(stack.url + column.get_absolute_url())
        urls += [stack.url + post.get_absolute_url() for post in column.posts.all()]
        if column.series:
            urls.append(stack.url + column.series.get_absolute_url())
    # Bylines show every author's name on the column and post pages; a few author pages stand for the rest.
    urls += [f"{stack.url}/authors/{author.slug}/" for author in Author.objects.order_by("pk")[:4]]
    return urls


def editor_urls(stack, columns):
    urls = [f"{stack.url}/admin/liveblog/{model}/" for model in ("post", "column", "author", "series")]
    for column in columns:
        urls.append(f"{stack.url}/admin/liveblog/column/{column.pk}/change/")
        urls.append(stack.url + column.get_absolute_url())  # the column as an editor sees it
        # One post form per way in (with its bylines and card inline): the form renders every post alike,
        # and test_payloads_typed_into_ckeditor_never_run puts the whole corpus into CKEditor at once.
        urls.append(f"{stack.url}/admin/liveblog/post/{column.posts.first().pk}/change/")
    urls += [f"{stack.url}/admin/liveblog/author/{author.pk}/change/" for author in Author.objects.all()[:3]]
    return urls


@pytest.fixture
def reader(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    yield Detector(context)
    context.close()


def logged_in(chromium, base_url, username, production=True):
    """A Chromium context logged in to the admin at base_url as a new superuser, watched by a Detector."""
    user = User.objects.create_superuser(username, f"{username}@example.org")
    # The production stack's hashers do not include the tests' fast one.
    user.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher()) if production else make_password(PASSWORD)
    user.save()
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    detector = Detector(context)
    detector.page.goto(f"{base_url}/admin/login/")
    detector.page.fill("#id_username", username)
    detector.page.fill("#id_password", PASSWORD)
    detector.page.click("input[type=submit]")
    detector.page.wait_for_selector("#user-tools")
    return detector


@pytest.fixture
def editor(chromium, stack):
    detector = logged_in(chromium, stack.url, "hostile-editor")
    yield detector
    detector.context.close()


@pytest.fixture
def writing_editor(chromium, live_server):
    """An editor who saves through the admin: on the in-process live server, whose content types always match
    the database (a long-lived server process keeps the ids it read before a test flushed the tables)."""
    detector = logged_in(chromium, live_server.url, "writing-editor", production=False)
    yield detector
    detector.context.close()


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(User.objects.create_superuser("form-poster", "forms@example.org"))
    return client


def test_payloads_through_importer_admin_forms_and_fetched_cards_never_run(
    stack, reader, editor, admin_client, web, tmp_path
):
    assert len(PAYLOADS) + len(URL_PAYLOADS) >= 60
    imported = via_importer(tmp_path)
    # Off Playwright's thread: its event loop would stop the save's async_to_sync.
    with ThreadPoolExecutor(1) as worker:
        admin_column = worker.submit(via_admin_forms, admin_client).result()
    cards_column = Column.objects.create(title="Cards from a hostile site", slug="fetched", series=None)
    via_fetched_cards(web, cards_column, Author.objects.first())
    columns = [imported, admin_column, cards_column]
    assert Post.objects.filter(column=imported).count() == len(groups())
    assert LinkCard.objects.filter(post__column=cards_column, fetch_state=LinkCard.FetchState.OK).count() == len(
        groups()
    )

    found = stored_hazards()
    feed_found, entries = feeds_checked(stack, columns)
    found += feed_found
    assert entries >= 3 * len(groups())
    for url in reader_urls(stack, columns):
        found += reader.open(url)
    for url in editor_urls(stack, columns):
        # The admin's own pages carry its scripts and CKEditor's handlers: here what counts is what runs.
        found += editor.open(url, scan=False)
    print(f"hostile input: {len(reader.pages_opened)} reader and {len(editor.pages_opened)} editor pages opened")
    assert not found, "\n".join(found[:40])


def test_payloads_typed_into_ckeditor_never_run(live_server, reader, writing_editor, column, author):
    editor = writing_editor
    page = editor.page
    page.goto(f"{live_server.url}/admin/liveblog/post/add/?column={column.pk}")
    page.fill("#id_headline", "Typed in CKEditor")
    page.click("#bylines-0 .select2-selection")
    page.fill(".select2-search__field", author.name.split()[0])
    page.click(f".select2-results__option:has-text('{author.name}')")
    page.wait_for_function("() => window.CKEDITOR && CKEDITOR.instances.id_body.status === 'ready'")
    # Source mode, as an editor pasting HTML would: the whole corpus at once.
    page.click(".cke_button__source")
    page.locator("textarea.cke_source").fill(joined(PAYLOADS))
    page.click(".cke_button__source")
    page.frame_locator("iframe.cke_wysiwyg_frame").locator("body").wait_for()
    # Only watched here: exercising the form would also press its buttons (a byline's remove cross).
    found = editor.inspect("the post form with the payloads in CKEditor", scan=False, settle_ms=400, exercise=False)
    page.select_option("#id_status", "published")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success, .errornote")
    assert page.locator(".messagelist .success").count(), page.inner_text("#content")[:2000]
    found += editor.inspect("the post form after saving", scan=False, settle_ms=400)
    post = Post.objects.get(headline="Typed in CKEditor")
    found += html_hazards(post.body, "the saved body")
    found += reader.open(live_server.url + post.get_absolute_url())
    found += reader.open(live_server.url + column.get_absolute_url())
    assert not found, "\n".join(found[:40])


def test_payloads_in_query_strings_never_run(stack, reader, editor, column, make_post):
    post = make_post("A post")
    found = []
    # Each place that may reflect a query string, with the whole corpus in one value (about 10 KB of URL).
    for group in [PAYLOADS]:
        value = urllib.parse.quote("".join(group), safe="")
        for path in (f"{column.get_absolute_url()}?before={value}", f"{post.get_absolute_url()}?utm_source={value}",
                     f"/?q={value}", f"/admin/login/?next={value}"):  # fmt: skip
            found += reader.open(stack.url + path)
        found += editor.open(f"{stack.url}/admin/liveblog/post/?q={value}", scan=False)
    # And each payload alone, over HTTP: never reflected as it came.
    for payload in PAYLOADS:
        value = urllib.parse.quote(payload, safe="")
        for path in (f"{column.get_absolute_url()}events?after={value}", f"/admin/login/?next=/{value}",
                     f"{column.get_absolute_url()}?before={value}"):  # fmt: skip
            if payload in fetch_text(stack.url + path):
                found.append(f"{path}: the payload comes back unescaped")
    assert not found, "\n".join(found[:40])


def fetch_text(url):
    try:
        return fetch(url).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.read().decode("utf-8", "replace")


def test_payloads_pushed_live_into_an_open_page_never_run(stack, reader, column, author):
    reader.page.goto(stack.url + column.get_absolute_url())
    reader.page.wait_for_selector(".column[data-live-state=open]")
    for g, group in enumerate(groups()):
        with transaction.atomic():
            post = Post.objects.create(column=column, headline=group[0], body=joined(group), key_event=True,
                                       status=Post.Status.PUBLISHED, published_at=timezone.now())  # fmt: skip
            Byline.objects.create(post=post, author=author)
            LinkCard.objects.create(post=post, url=f"https://example.org/live-{g}", title=group[1],
                                    summary=" ".join(group)[:1000], site_name=group[2][:200])  # fmt: skip
    # An edit goes out as its own event.
    post.headline = PAYLOADS[-1]
    post.save()
    reader.page.wait_for_function(
        "n => document.querySelectorAll('#posts article.post').length >= n", arg=len(groups()), timeout=20_000
    )
    found = reader.inspect("the live column after the pushes")
    assert not found, "\n".join(found[:40])


def test_the_detectors_trip_when_the_cleaning_is_off(stack, reader, column, author, monkeypatch):
    # Proof the suite can fail: with the body cleaner turned into the identity, stored HTML keeps the
    # payloads, and the same detectors that pass above find them in the database and in Chromium.
    monkeypatch.setattr(body, "clean_html", lambda value, base_url=None: value or "")
    with transaction.atomic():
        post = Post.objects.create(column=column, headline="Unclean", body=joined(PAYLOADS[:GROUP]),
                                   status=Post.Status.PUBLISHED, published_at=timezone.now())  # fmt: skip
        Byline.objects.create(post=post, author=author)
    assert stored_hazards(), "the stored-HTML detector missed an uncleaned body"
    found = reader.open(stack.url + post.get_absolute_url())
    assert any(": ran " in f for f in found), found
    assert any(": dialog " in f for f in found), found
    assert any(": would run: " in f for f in found), found
    hazards, _ = feed_hazards(
        f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="html">{html.escape(post.body)}'
        "</content></entry></feed>",
        "an uncleaned entry",
    )
    assert hazards, "the feed detector missed an uncleaned entry"
