"""From the editor's Ctrl+Enter on the desk to the post on a reader's screen, in Chromium: median and worst of 20.

The production stack (`manage.py serve`, 2 workers, its own redis-server) serves a column. One Chromium
holds two pages: an editor logged in to the desk, and a reader on the column page. For each publication
the editor's page notes the moment Ctrl+Enter goes down (a capturing keydown listener) and the reader's
page the moment the post's <article> is added to its DOM (a MutationObserver); both read the same clock
(performance.timeOrigin + performance.now() of one browser on one machine). What lies between is all of
it: the desk's request, the save and its event in one transaction, the commit, Redis, the server process
of the reader, its WebSocket, live.js placing the post. Target on this machine: median under 300 ms.

Environment: DATABASE_URL (PostgreSQL). Options: --count 20 --workers 2.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout  # the shared machinery of the benchmarks: redis-server, Django set-up, the server

ROOT = fanout.ROOT
PASSWORD = "bench desk password, long enough"

PRESSED = """() => {
  window.pressedAt = [];
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      window.pressedAt.push(performance.timeOrigin + performance.now());
    }
  }, true);
}"""

ARRIVED = """() => {
  window.arrivedAt = {};
  new MutationObserver((changes) => {
    const now = performance.timeOrigin + performance.now();
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node.nodeType === 1 && node.matches("article.post")) {
          window.arrivedAt[node.querySelector(".post-headline").textContent.trim()] = now;
        }
      }
    }
  }).observe(document.getElementById("posts"), {childList: true});
}"""


def make_editor():
    from django.contrib.auth.models import Permission, User

    username = f"bench-desk-{os.getpid()}"
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, first_name="Bench")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="liveblog"))
    return user


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    redis = fanout.start_redis()
    column = server = user = None
    try:
        fanout.setup_django()
        from django.core.management import call_command
        from playwright.sync_api import sync_playwright

        call_command("collectstatic", interactive=False, verbosity=0)
        column, author = fanout.make_column()
        user = make_editor()
        author.user = user
        author.save()
        port = fanout.free_port()
        server = fanout.start_liveblog(port, False, options.workers)
        base = f"http://localhost:{port}"
        delays = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            reader = browser.new_context().new_page()
            reader.goto(base + column.get_absolute_url())
            reader.wait_for_selector(".column[data-live-state=open]")
            reader.evaluate(ARRIVED)

            editor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            editor.goto(f"{base}/admin/login/")
            editor.fill("#id_username", user.username)
            editor.fill("#id_password", PASSWORD)
            editor.click("input[type=submit]")
            editor.wait_for_selector("#user-tools")
            editor.goto(f"{base}/admin/liveblog/column/{column.pk}/desk/")
            editor.wait_for_selector("#desk[data-state=open]")
            editor.wait_for_function("() => window.CKEDITOR && CKEDITOR.instances['id_new-body']?.status === 'ready'")
            editor.evaluate(PRESSED)

            for n in range(options.count):
                headline = f"Benchmark update {n}"
                editor.fill("#id_new-headline", headline)
                editor.evaluate(
                    "text => CKEDITOR.instances['id_new-body'].setData(text)",
                    f"<p>Update number {n}, with a paragraph of text as a reporter would send it.</p>",
                )
                editor.focus("#id_new-headline")
                editor.keyboard.press("Control+Enter")
                reader.wait_for_function("h => h in window.arrivedAt", arg=headline, timeout=10_000)
                pressed = editor.evaluate("() => window.pressedAt[window.pressedAt.length - 1]")
                arrived = reader.evaluate("h => window.arrivedAt[h]", headline)
                delays.append(arrived - pressed)
                editor.wait_for_function("() => document.getElementById('id_new-headline').value === ''")
                time.sleep(0.5)  # an editor's pace, not a flood
            browser.close()

        median, worst = statistics.median(delays), max(delays)
        print(f"{os.cpu_count()} cores shared with other work; serve with {options.workers} workers")
        print(f"Ctrl+Enter on the desk to the post on a reader's screen, {len(delays)} publications:")
        print(f"  median {median:.0f} ms, worst {worst:.0f} ms (target: median under 300 ms)")
        print("  each: " + ", ".join(f"{d:.0f}" for d in delays))
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        (out / "desk.json").write_text(json.dumps({"median_ms": median, "worst_ms": worst, "each_ms": delays}))
    finally:
        fanout.tear_down(server, redis, column, user)


if __name__ == "__main__":
    main()
