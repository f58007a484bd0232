"""Take the README's screenshot of the live desk from a running demo (`make run`) with the machine's Chromium.

python docs/desk_screenshot.py http://127.0.0.1:8000 docs/desk.png

Logs in as the demo's editor, opens the desk of the live column, has a colleague open it too (so the
desk shows who is there) and starts typing a post, as an editor would.
"""

import re
import shutil
import sys

from playwright.sync_api import sync_playwright

USER, PASSWORD = "editor", "liveblog-demo"  # printed by `make run` (liveblog/demo.py)


def log_in(browser, base, viewport):
    page = browser.new_context(viewport=viewport, device_scale_factor=1).new_page()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    return page


def main(base, out, width=1280, height=1500):
    viewport = {"width": int(width), "height": int(height)}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = log_in(browser, base, viewport)
        page.goto(f"{base}/admin/liveblog/column/")
        page.get_by_role("link", name=re.compile(r"Open the desk of .*clean-up", re.I)).click()
        page.wait_for_selector("#desk[data-state=open]")
        colleague = log_in(browser, base, viewport)
        colleague.goto(page.url)
        colleague.wait_for_selector("#desk[data-state=open]")
        colleague.click(".desk-post .desk-edit")
        page.wait_for_selector(".desk-editing:not(:empty)")
        page.wait_for_function("() => window.CKEDITOR && CKEDITOR.instances['id_new-body']?.status === 'ready'")
        page.fill("#id_new-headline", "Harbour road reopens to traffic")
        page.click(".desk-composer .cke_wysiwyg_frame")
        page.keyboard.type("Council crews cleared the last of the debris this morning.")
        page.wait_for_selector(".desk-readers-count:not(:has-text('…'))")
        page.screenshot(path=out)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
