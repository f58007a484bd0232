"""The live protocol is defined once (liveblog/protocol.py) and the reader's script takes it from the page.

The Chromium test renames every wire value on the server side (kinds, fields, close codes): the script still
works, so it typed none of them itself; a script that reads a name the server does not hand over breaks it."""

import json
import re
import time

import pytest
from lxml import html

from liveblog import protocol
from liveblog.broadcast import render_post
from liveblog.models import Event, Post
from tests.support.stack import ROOT

LIVE_JS = (ROOT / "static/liveblog/live.js").read_text()
LIVE_JS_CODE = re.sub(r"/\*.*?\*/|(?<!:)//[^\n]*", "", LIVE_JS, flags=re.DOTALL)  # without its comments


def protocol_of(page_html):
    scripts = html.fromstring(page_html).xpath('//script[@id="liveblog-protocol"]')
    return [(s.get("type"), json.loads(s.text)) for s in scripts]


def test_the_column_page_hands_the_protocol_to_the_script_as_inert_json(client, column, make_post):
    page = client.get(column.get_absolute_url()).content.decode()
    assert protocol_of(page) == [("application/json", protocol.for_script())]
    # Nothing executable inline: every script is a file or data.
    for script in html.fromstring(page).xpath("//script[not(@src)]"):
        assert script.get("type") in ("application/json", "application/ld+json")


def test_an_older_page_has_no_live_script_and_no_protocol(client, column, make_post):
    posts = [make_post(f"Update {i}") for i in range(3)]
    page = client.get(f"{column.get_absolute_url()}?before={posts[-1].pk}").content.decode()
    assert protocol_of(page) == []
    assert "live.js" not in page


def test_the_script_names_only_what_the_server_hands_over_and_types_no_wire_value():
    handed = protocol.for_script()
    used = {
        "close": set(re.findall(r"\bprotocol\.close\.([A-Za-z_]+)", LIVE_JS)),
        "kinds": set(re.findall(r"\bprotocol\.kinds\.([A-Za-z_]+)", LIVE_JS)),
        "fields": set(re.findall(r"\bFIELD\.([A-Za-z_]+)", LIVE_JS)),
    }
    assert used == {
        "close": {"SLOW", "BEHIND", "UNKNOWN_COLUMN", "AHEAD"},
        "kinds": {"PUBLISHED", "COLUMN_ENDED", "COLUMN_REOPENED"},
        "fields": set(handed["fields"]),
    }
    for group, names in used.items():
        assert names <= set(handed[group]), group
    for code in protocol.Close:
        assert str(code.value) not in LIVE_JS_CODE
    for value in [*protocol.Kind.values, *protocol.Field, protocol.PING, protocol.PONG]:
        assert f'"{value}"' not in LIVE_JS_CODE and f"'{value}'" not in LIVE_JS_CODE, value
    for field in protocol.Field:
        assert not re.search(rf"\.{field}\b(?!-)", LIVE_JS_CODE), field  # event.post_id and the like


def test_a_frame_has_the_protocols_fields(column, make_post, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the event is written once the change commits
        make_post("One")
    event = Event.objects.filter(column=column).last()
    assert list(event.as_dict()) == list(protocol.Field)
    assert json.loads(json.dumps(event.as_dict()))["post_id"] == event.post_id


REAL = protocol.for_script()


def renamed():
    """The protocol with every wire value changed: what the script does must not change."""
    real = REAL
    return {
        "close": {name: code + 100 for name, code in real["close"].items()},
        "kinds": {name: f"x-{kind}" for name, kind in real["kinds"].items()},
        "showing": [f"x-{kind}" for kind in real["showing"]],
        "fields": {name: f"x_{field}" for name, field in real["fields"].items()},
        "ping": "x-ping",
        "pong": "x-pong",
    }


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_script_takes_close_codes_kinds_and_fields_from_the_page(
    collected_static, live_server, page, column, monkeypatch
):
    monkeypatch.setattr(protocol, "for_script", renamed)
    names = renamed()
    close, kinds, fields = names["close"], names["kinds"], names["fields"]
    sockets = []
    # The WebSocket is played by Playwright (live_server speaks HTTP only); the catch-up is the real endpoint.
    page.route_web_socket(re.compile(r".*/ws/live/.*"), lambda socket: sockets.append(socket))
    page.goto(live_server.url + column.get_absolute_url())
    page.wait_for_selector(".column[data-live-state=open]")
    page.evaluate("window.sameDocument = true")

    def connections_after(count):
        page.wait_for_function("() => document.querySelector('.column').dataset.liveState === 'open'")
        deadline = time.monotonic() + 10
        while len(sockets) <= count and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        return len(sockets)

    # Dropped as too slow (renamed code): catch up over HTTP, then reconnect.
    with page.expect_request(re.compile(r".*/events\?after=\d+")):
        sockets[-1].close(code=close["SLOW"])
    assert connections_after(1) == 2
    # The real "ahead" code means nothing now: an ordinary drop, reconnect, no reload.
    sockets[-1].close(code=protocol.Close.AHEAD)
    assert connections_after(2) == 3
    assert page.evaluate("window.sameDocument") is True
    # The renamed "ahead" code reloads the page.
    with page.expect_navigation():
        sockets[-1].close(code=close["AHEAD"])
    page.wait_for_selector(".column[data-live-state=open]")
    assert page.evaluate("window.sameDocument") is None
    # The renamed "unknown column" code: the script stops trying.
    connected = len(sockets)
    sockets[-1].close(code=close["UNKNOWN_COLUMN"])
    page.wait_for_selector(".column[data-live-state=closed]")
    page.wait_for_timeout(2500)  # the first reconnect would come within 0.6 s
    assert len(sockets) == connected

    # Events in the renamed fields and kinds are applied as ever.
    seq = int(page.get_attribute(".column", "data-last-seq"))
    post = Post.objects.create(column=column, headline="Renamed, still shown", status=Post.Status.PUBLISHED)

    def receive(kind, **values):
        nonlocal seq
        seq += 1
        frame = {fields["SEQ"]: seq, fields["KIND"]: kinds[kind], fields["POST_ID"]: post.pk}
        frame.update({fields[name]: value for name, value in values.items()})
        page.evaluate("event => window.liveblogLive.receive(event)", frame)

    html_of_post = render_post(Post.objects.for_display().get(pk=post.pk))
    receive("PUBLISHED", HTML=html_of_post, KEY_HTML="")
    page.wait_for_selector(f"#posts #post-{post.pk}")
    assert "Renamed, still shown" in page.inner_text(".live-announcer")
    receive("DELETED", HTML="", KEY_HTML="")
    page.wait_for_selector(f"#post-{post.pk}", state="detached")

    # The badge comes from the server's partial, for either state.
    receive("COLUMN_ENDED")
    page.wait_for_selector(".column-state.badge-ended")
    assert page.inner_text(".column-state").strip().lower() == "ended"
    receive("COLUMN_REOPENED")
    page.wait_for_selector(".column-state.badge-live")
    assert page.inner_text(".column-state").strip().lower() == "live"
    assert page.get_attribute(".column", "data-last-seq") == str(seq)
