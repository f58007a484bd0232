"""Take the README's screenshot of a running demo with the machine's Chromium.

python docs/screenshot.py http://127.0.0.1:8000/live/storm-isolde-clean-up/ docs/screenshot.png [WIDTH HEIGHT]
"""

import shutil
import sys

from playwright.sync_api import sync_playwright


def main(url, out, width=1280, height=2300):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": int(width), "height": int(height)}, device_scale_factor=1)
        page.goto(url, wait_until="networkidle")
        # Card images load lazily: scroll them into view once, then come back to the top.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=out)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
