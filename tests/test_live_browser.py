"""End to end in Chromium against the production stack: an editor works in the admin, a reader watches."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from liveblog.models import Post
from tests.support.admin import fill_body, fill_new_post, logged_in_editor
from tests.support.stack import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def editor_page(chromium, stack):
    with logged_in_editor(chromium, stack) as page:
        yield page


def open_reader(page, stack, column):
    page.goto(f"{stack.url}{column.get_absolute_url()}")
    page.wait_for_selector(".column[data-live-state=open]")
    # Marks this very document: a reload would lose it.
    page.evaluate("window.sameDocument = true")


def post_ids(page, selector="#posts article.post"):
    return page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.dataset.postId)")


def test_reader_sees_admin_publish_edit_and_delete_without_reload(stack, page, editor_page, column, make_post, author):
    make_post("Earlier update", published_at=timezone.now() - timedelta(minutes=5))
    open_reader(page, stack, column)

    editor_page.goto(f"{stack.url}/admin/liveblog/post/add/")
    fill_new_post(
        editor_page, column, "Ceasefire announced", "<p>The ceasefire starts at <strong>noon</strong>.</p>", author.name
    )
    editor_page.click("input[name=_continue]")
    editor_page.wait_for_selector(".messagelist .success")
    post = Post.objects.get(headline="Ceasefire announced")

    article = page.wait_for_selector(f"#posts #post-{post.pk}")
    assert "noon" in article.inner_text()
    assert post_ids(page)[0] == str(post.pk)  # newest first
    assert page.get_attribute(".live-announcer", "aria-live") == "polite"
    assert "Ceasefire announced" in page.inner_text(".live-announcer")

    fill_body(editor_page, "<p>The ceasefire starts at <strong>one o'clock</strong>.</p>")
    editor_page.fill("#id_headline", "Ceasefire delayed")
    editor_page.click("input[name=_continue]")
    editor_page.wait_for_selector(".messagelist .success")
    page.wait_for_function(
        "id => (document.getElementById('post-' + id) || {}).textContent.includes('one o\\'clock')", arg=post.pk
    )
    assert post_ids(page).count(str(post.pk)) == 1
    assert "Ceasefire delayed" in page.inner_text(f"#post-{post.pk}")

    editor_page.goto(f"{stack.url}/admin/liveblog/post/{post.pk}/delete/")
    editor_page.click("input[type=submit]")
    editor_page.wait_for_selector(".messagelist .success")
    page.wait_for_selector(f"#post-{post.pk}", state="detached")
    assert len(post_ids(page)) == 1
    assert page.evaluate("window.sameDocument") is True


def test_a_scrolled_reader_gets_a_button_not_a_jump(stack, page, column, make_post):
    for i in range(12):
        make_post(f"Update {i}", body="<p>" + "Long paragraph. " * 80 + "</p>")
    open_reader(page, stack, column)
    page.mouse.wheel(0, 2500)
    wait_for(lambda: page.evaluate("window.scrollY") > 2000, message="the reader to scroll")
    scrolled = page.evaluate("window.scrollY")

    fresh = make_post("Breaking while you read")
    button = page.wait_for_selector(".new-updates:visible")
    assert button.inner_text() == "1 new update"
    second = make_post("And another one")
    page.wait_for_function("() => document.querySelector('.new-updates').textContent === '2 new updates'")
    assert page.evaluate("window.scrollY") == scrolled
    assert page.query_selector(f"#post-{fresh.pk}") is None

    button.click()
    page.wait_for_selector(f"#posts #post-{second.pk}")
    assert post_ids(page)[:2] == [str(second.pk), str(fresh.pk)]
    assert page.is_hidden(".new-updates")


def test_relative_times_sit_next_to_the_gmt_time(stack, page, column, make_post):
    make_post("Timed")
    open_reader(page, stack, column)
    label = page.inner_text("#posts article.post .post-meta")
    assert "(GMT)" in label and "just now" in label


def test_key_events_list_follows_the_posts(stack, page, column, make_post):
    post = make_post("Talks begin")
    open_reader(page, stack, column)
    assert page.is_hidden(".key-events")

    post.key_event = True
    post.save()
    item = page.wait_for_selector(f'.key-events li[data-post-id="{post.pk}"]')
    assert "Talks begin" in item.inner_text() and item.query_selector(f'a[href="#post-{post.pk}"]')
    page.wait_for_selector(f"#post-{post.pk} .post-flag")
    assert page.is_visible(".key-events")

    post.key_event = False
    post.save()
    page.wait_for_selector(f'.key-events li[data-post-id="{post.pk}"]', state="detached")
    assert page.is_hidden(".key-events")


def test_without_websockets_the_reader_catches_up_over_http(stack, page, column, make_post):
    """WebSockets blocked (a proxy that refuses them): coming back to the tab or online fetches what is new."""
    page.route_web_socket(re.compile(r".*/ws/live/.*"), lambda socket: socket.close())
    page.goto(f"{stack.url}{column.get_absolute_url()}")
    page.wait_for_selector(".column[data-live-state=closed]")
    fresh = make_post("Published while the socket could not open")
    # Within 5 s: sooner than the 10 to 15 s polling fallback, so only the wake-up handlers can do it.
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector(f"#posts #post-{fresh.pk}", timeout=5000)
    later = make_post("And one more")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_selector(f"#posts #post-{later.pk}", timeout=5000)
    assert post_ids(page) == [str(later.pk), str(fresh.pk)]


def hold_catch_up_answers(page):
    """Catch-up answers read from the server when asked, handed to the page only when the test says."""
    held = []

    def hold(route):
        held.append((route, route.fetch().text()))

    page.route(re.compile(r".*/events\?after=.*"), hold)
    return held


def test_a_catch_up_answer_older_than_the_socket_does_not_reload(stack, page, column, make_post):
    """An answer that was in flight while the socket delivered more is still good: no reload."""
    make_post("Before the reader came")
    open_reader(page, stack, column)
    held = hold_catch_up_answers(page)
    page.evaluate("window.dispatchEvent(new Event('online'))")  # a catch-up, as after a wake-up
    while not held:
        page.wait_for_timeout(50)
    delivered = make_post("Delivered by the socket meanwhile")
    page.wait_for_selector(f"#posts #post-{delivered.pk}")

    route, stale = held.pop()
    assert json.loads(stale)["last_seq"] == 1 and json.loads(stale)["events"] == []  # older than the page now
    route.fulfill(status=200, content_type="application/json", body=stale)
    later = make_post("And the next one")
    page.wait_for_selector(f"#posts #post-{later.pk}")
    assert page.evaluate("window.sameDocument") is True
    assert len(post_ids(page)) == 3


def test_a_column_that_really_went_back_reloads(stack, page, column, make_post):
    make_post("One")
    make_post("Two")
    open_reader(page, stack, column)
    restored = json.dumps({"column": column.slug, "last_seq": 1, "events": [], "more": False})
    page.route(
        re.compile(r".*/events\?after=.*"), lambda route: route.fulfill(content_type="application/json", body=restored)
    )
    with page.expect_navigation():
        page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector(".column[data-live]")
    assert page.evaluate("window.sameDocument") is None
