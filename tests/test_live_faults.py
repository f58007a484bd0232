"""Faults: server processes and Redis restart under open readers while posts keep coming.

Every reader must end showing exactly the published posts of the database, none
missing, none twice. The stack here has a redis-server of its own (never the
machine's shared one) and a slow database reconciliation (60 s), so what the
readers get comes from the live path and its recovery, not from that safety net.
"""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from liveblog.models import Post
from tests.support.admin import fill_new_post, logged_in_editor
from tests.support.stack import RedisServer, Stack, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def private_redis():
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def fault_stack(django_db_setup, collected_static, private_redis):
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{**settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0], "address": private_redis.url}],
                "prefix": prefix,
            },
        }
    }
    # This test process publishes through the same private Redis as the stack.
    with override_settings(CHANNEL_LAYERS=layers):
        server = Stack(private_redis.url, env={"LIVE_RECONCILE_SECONDS": "60"}).start()
        yield server
        server.stop()


@pytest.fixture
def readers(chromium, fault_stack, column):
    contexts = [chromium.new_context() for _ in range(3)]
    pages = []
    for context in contexts:
        page = context.new_page()
        page.goto(f"{fault_stack.url}{column.get_absolute_url()}")
        page.wait_for_selector(".column[data-live-state=open]")
        pages.append(page)
    yield pages
    for context in contexts:
        context.close()


class Newsroom(threading.Thread):
    """Publishes, edits and deletes posts until told to stop, as editors would."""

    def __init__(self, make_post):
        super().__init__(daemon=True)
        self.make_post = make_post
        self.stopping = threading.Event()
        self.error = None
        self.made = 0

    def run(self):
        try:
            posts = []
            i = 0
            while not self.stopping.is_set():
                posts.append(self.make_post(f"Update {i}"))
                self.made = i + 1
                if i % 4 == 3:
                    posts[-2].headline += " (corrected)"
                    posts[-2].save()
                if i % 5 == 4:
                    posts.pop(0).delete()
                i += 1
                time.sleep(0.15)
        except Exception as exc:  # noqa: BLE001  surfaced by stop()
            self.error = exc
        finally:
            connection.close()

    def stop(self, at_least=12):
        # A busy machine makes fewer posts in the same seconds: the faults must still land amid enough of them.
        wait_for(lambda: self.made >= at_least or self.error or not self.is_alive(), timeout=30, message="posts")
        self.stopping.set()
        self.join(timeout=30)
        assert self.error is None, self.error


def shown(page):
    return page.eval_on_selector_all("article.post", "nodes => nodes.map(n => Number(n.dataset.postId))")


def assert_readers_show_the_database(readers, column):
    expected = sorted(Post.objects.published().filter(column=column).values_list("pk", flat=True))
    assert len(expected) >= 10

    def all_agree():
        return all(sorted(shown(page)) == expected for page in readers)

    wait_for(all_agree, timeout=60, interval=0.5, message="every reader to show the database's posts")
    for page in readers:
        ids = shown(page)
        assert len(ids) == len(set(ids)), "a post shown twice"
    # Edits arrived too: what readers show is what the database says.
    corrected = set(Post.objects.published().filter(column=column, headline__endswith="(corrected)").values_list("pk"))
    for page in readers:
        texts = page.eval_on_selector_all(
            "article.post", "nodes => nodes.map(n => [Number(n.dataset.postId), n.textContent])"
        )
        assert {(pk,) for pk, text in texts if "(corrected)" in text} == corrected


def test_server_restart_while_posts_keep_coming(fault_stack, readers, column, make_post):
    newsroom = Newsroom(make_post)
    newsroom.start()
    time.sleep(1.5)
    fault_stack.restart()
    time.sleep(1.5)
    newsroom.stop()
    assert_readers_show_the_database(readers, column)


def test_redis_restart_and_an_admin_save_while_redis_is_down(
    chromium, fault_stack, private_redis, readers, column, make_post, author
):
    with logged_in_editor(chromium, fault_stack) as editor:
        newsroom = Newsroom(make_post)
        newsroom.start()
        time.sleep(1.5)
        private_redis.stop()
        time.sleep(1)
        newsroom.stop()  # the last posts and the admin save below are written while Redis is down

        editor.goto(f"{fault_stack.url}/admin/liveblog/post/add/")
        fill_new_post(editor, column, "Saved while Redis was down", "<p>Nothing is lost.</p>", author.name)
        editor.click("input[name=_save]")
        editor.wait_for_selector(".messagelist .success")
        saved = Post.objects.get(headline="Saved while Redis was down")

        private_redis.start()
        for page in readers:
            page.wait_for_selector(f"#post-{saved.pk}", timeout=30000)
        assert_readers_show_the_database(readers, column)


def test_the_browser_fills_a_gap_and_ignores_duplicates(fault_stack, readers, column, make_post):
    """Events whose messages were lost: the page, handed a later one, fetches the gap from catch-up."""
    page = readers[0]
    first = make_post("First")
    page.wait_for_selector(f"#post-{first.pk}")
    drafts = [make_post(f"Lost {i}", status=Post.Status.DRAFT) for i in range(2)]
    events = [publish_without_sending(column, post, seq) for seq, post in enumerate(drafts, start=2)]

    page.evaluate("event => window.liveblogLive.receive(event)", events[1].as_dict())  # seq 3 before 2: a gap
    page.wait_for_selector(f"#post-{drafts[0].pk}")
    # Mark the node: a duplicate that were applied again would replace it with a fresh, unmarked one.
    page.evaluate("id => { document.getElementById('post-' + id).dataset.seen = 'yes' }", drafts[1].pk)
    page.evaluate("event => window.liveblogLive.receive(event)", events[1].as_dict())  # a duplicate
    assert page.get_attribute(f"#post-{drafts[1].pk}", "data-seen") == "yes"
    ids = shown(page)
    assert ids == [drafts[1].pk, drafts[0].pk, first.pk]
    assert page.get_attribute(".column", "data-last-seq") == "3"


def publish_without_sending(column, post, seq):
    """Make a post visible and record its event, as if the channel layer had lost the message."""
    from django.db import transaction

    from liveblog.broadcast import render_post
    from liveblog.models import Event

    # One transaction: the stack's scheduler, which announces visible posts that have no
    # event, must never see this post visible without one.
    with transaction.atomic():
        Post.objects.filter(pk=post.pk).update(status=Post.Status.PUBLISHED)
        post = Post.objects.for_display().get(pk=post.pk)
        html = render_post(post)
        event = Event.objects.create(column=column, seq=seq, kind=Event.Kind.PUBLISHED, post_id=post.pk, html=html)
    return event
