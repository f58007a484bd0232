"""The hostile-input suite's detectors: in Chromium (did anything run?) and in stored HTML and feeds.

In the browser every frame gets __xss(), which records the payload's number in the top window; alert,
confirm and prompt are caught by Playwright's dialog handler. After a page loads, every element of
every frame gets the events a reader or editor would cause (hover, focus, click with the navigation
held back, key presses), and reader pages are scanned for what would run on a later click: event
handler attributes and URL attributes with a scheme outside the allow-list.
"""

import warnings
import xml.etree.ElementTree as ET

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from liveblog import body

MARKER = """
window.__xss = n => { const top = window.top; (top.__fired = top.__fired || []).push(String(n)); };
"""

# Fire what a reader or editor would: hover, focus, click (default actions held back, so a link does not
# take the page away; handlers still run), keys. Returns nothing: effects land in __fired and dialogs.
EXERCISE = """
() => {
  const hold = e => { if (e.type === 'click' || e.type === 'submit') e.preventDefault(); };
  window.addEventListener('click', hold, true);
  window.addEventListener('submit', hold, true);
  // In CKEditor's editing area, clicks open the editor's own dialogs and menus: hover and focus only there.
  const types = document.body && document.body.isContentEditable
    ? ['mouseover', 'mouseenter', 'mousemove', 'pointerover', 'focus', 'focusin', 'blur']
    : ['mouseover', 'mouseenter', 'mousemove', 'pointerover', 'mousedown', 'mouseup', 'click',
       'dblclick', 'focus', 'focusin', 'blur', 'keydown', 'keyup', 'input', 'change', 'toggle'];
  // In the admin, the content area is where stored text shows; its chrome and CKEditor's own UI are ours.
  const root = document.querySelector('#content-main') || document.body;
  for (const el of root.querySelectorAll('*')) {
    if (el.closest('.cke, .cke_dialog, script, select, .select2-container, #changelist-filter')) continue;
    for (const type of types) {
      try { el.dispatchEvent(new Event(type, {bubbles: true, cancelable: true})); } catch (e) {}
    }
    if (typeof el.focus === 'function') { try { el.focus(); } catch (e) {} }
  }
  window.removeEventListener('click', hold, true);
  window.removeEventListener('submit', hold, true);
}
"""

URL_ATTRIBUTES = ["href", "src", "cite", "action", "formaction", "data", "poster", "background", "srcset",
                  "xlink:href", "longdesc", "usemap", "ping", "codebase", "manifest"]  # fmt: skip

# What a reader page must not hold, anywhere: handlers, scripts not ours, dangerous URLs.
SCAN = """
(urlAttributes) => {
  const found = [];
  const allowed = /^(https?|mailto|tel):/i;
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) found.push(`${el.tagName} ${name}`);
      if (urlAttributes.includes(name)) {
        const value = attr.value.replace(/[\\t\\n\\r]/g, '').replace(/^[\\x00-\\x20]+/, '');
        if (/^[a-z][a-z0-9+.-]*:/i.test(value) && !allowed.test(value)) found.push(`${el.tagName} ${name}=${value}`);
      }
    }
    const tag = el.tagName.toLowerCase();
    if (tag === 'script' && !(el.src && new URL(el.src).origin === location.origin)
        && !['application/ld+json', 'application/json'].includes(el.type)) found.push('inline script');
    if (['iframe', 'object', 'embed', 'base', 'frame', 'frameset', 'applet'].includes(tag)) found.push(tag);
    if (tag === 'meta' && el.httpEquiv) found.push('meta http-equiv');
  }
  return found;
}
"""


class Detector:
    """Watches one Chromium context: payload calls, dialogs, page errors; and counts the pages opened."""

    def __init__(self, context):
        self.context = context
        self.dialogs = []
        self.pages_opened = []
        context.add_init_script(MARKER)
        self.page = context.new_page()
        self.page.on("dialog", self.dialog)

    def dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}({dialog.message})")
        dialog.dismiss()

    def open(self, url, scan=True, settle_ms=150):
        """Open a page, exercise it, and return what ran or would run there."""
        response = self.page.goto(url)
        assert response.status in (200, 404), f"{url} answered {response.status}"
        self.pages_opened.append(url)
        return self.inspect(url, scan=scan, settle_ms=settle_ms)

    def inspect(self, where, scan=True, settle_ms=150, exercise=True):
        """What ran (and, with scan, what would run) on the open page; exercise=False leaves a form as it is."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(settle_ms)  # broken images report their errors, autofocus happens
        hazards = []
        for frame in self.page.frames:
            try:
                if exercise:
                    frame.evaluate(EXERCISE)
                if scan and frame == self.page.main_frame:
                    hazards += frame.evaluate(SCAN, URL_ATTRIBUTES)
            except Exception as error:
                if "detached" not in str(error) and "destroyed" not in str(error):
                    raise
        self.page.wait_for_timeout(50)
        fired = self.page.evaluate("window.__fired || []")
        return (
            [f"{where}: ran {n}" for n in fired]
            + [f"{where}: dialog {d}" for d in self.dialogs]
            + [f"{where}: would run: {h}" for h in hazards]
        )

    def reset(self):
        self.dialogs.clear()


def html_hazards(html, where):
    """Tags outside the allow-list, handlers, styles and URLs outside the scheme allow-list, in stored HTML."""
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)  # a body that is only a URL is fine
        soup = BeautifulSoup(html or "", "html.parser")
    for element in soup.find_all(True):
        if element.name not in body.ALLOWED_TAGS:
            found.append(f"{where}: <{element.name}>")
        for name, value in element.attrs.items():
            value = " ".join(value) if isinstance(value, list) else value
            if name.startswith("on") or name == "style":
                found.append(f"{where}: {element.name} {name}")
            elif name in URL_ATTRIBUTES and not body.url_allowed(value):
                found.append(f"{where}: {element.name} {name}={value[:60]}")
    return found


def feed_hazards(xml, where):
    """Every entry's HTML in an Atom or RSS feed, checked like stored HTML."""
    root = ET.fromstring(xml)
    found, entries = [], 0
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("content", "description", "summary") and element.text:
            entries += 1
            found += html_hazards(element.text, f"{where} {tag}")
        if tag == "link" and element.get("href") and not body.url_allowed(element.get("href")):
            found.append(f"{where}: link {element.get('href')}")
    return found, entries
