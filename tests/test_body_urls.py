"""Every URL the body allow-list keeps passes the scheme allow-list: walked over the allow-list itself."""

import re

import pytest

from liveblog import body

# Attributes whose value the HTML standard (and its obsolete parts) reads as a URL or a list of URLs.
HTML_URL_ATTRIBUTES = {
    "href", "src", "cite", "action", "formaction", "data", "poster", "background", "longdesc", "usemap",
    "ping", "srcset", "imagesrcset", "xlink:href", "codebase", "manifest", "icon", "profile", "classid",
    "archive", "lowsrc", "dynsrc", "itemtype", "itemid",
}  # fmt: skip

HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "  javascript:alert(1)",
    "\x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java&#x09;script:alert(1)",
    "&#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "file:///etc/passwd",
    "blob:https://example.org/uuid",
    "filesystem:https://example.org/temporary/x",
]
GOOD_URLS = [
    "https://example.org/a?b=1",
    "http://example.org/",
    "mailto:desk@example.org",
    "tel:+441234",
    "/media/a.jpg",
]

EVERY_ALLOWED = sorted((tag, attr) for tag, attrs in body.ALLOWED_ATTRIBUTES.items() for attr in attrs)
URL_CARRYING = [(tag, attr) for tag, attr in EVERY_ALLOWED if attr not in body.TEXT_ATTRIBUTES]


def element(tag, attr, value):
    escaped = value.replace('"', "&quot;")
    inner = "" if tag == "img" else "x"
    return f'<{tag} {attr}="{escaped}">{inner}</{tag}>' if tag != "img" else f'<img {attr}="{escaped}">'


def test_text_attributes_are_not_urls_anywhere_in_html():
    # Whoever adds an attribute to the allow-list as "plain text" must not pick one a browser reads as a URL.
    assert not body.TEXT_ATTRIBUTES & HTML_URL_ATTRIBUTES
    assert {"href", "src", "cite"} <= {attr for _, attr in URL_CARRYING}


@pytest.mark.parametrize(("tag", "attr"), URL_CARRYING)
@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_every_url_attribute_refuses_schemes_outside_the_allow_list(tag, attr, url):
    cleaned = body.clean_html(element(tag, attr, url))
    assert f"{attr}=" not in cleaned, cleaned


@pytest.mark.parametrize(("tag", "attr"), URL_CARRYING)
@pytest.mark.parametrize("url", GOOD_URLS)
def test_every_url_attribute_keeps_allowed_schemes_and_relative_urls(tag, attr, url):
    cleaned = body.clean_html(element(tag, attr, url))
    assert re.search(rf'{attr}="{re.escape(url)}"', cleaned), cleaned


def test_a_srcset_like_attribute_checks_each_of_its_urls():
    assert body.keep_attribute("img", "srcset", "/a.jpg 1x, https://x.example/b.jpg 2x")
    assert body.keep_attribute("img", "srcset", "/a.jpg 1x, javascript:alert(1) 2x") is None


def test_an_attribute_added_later_is_checked_as_a_url_unless_declared_text(monkeypatch):
    monkeypatch.setitem(body.ALLOWED_ATTRIBUTES, "a", {*body.ALLOWED_ATTRIBUTES["a"], "ping"})
    assert "ping" not in body.clean_html('<a ping="javascript:alert(1)" href="/x">x</a>')
    assert 'ping="/count"' in body.clean_html('<a ping="/count" href="/x">x</a>')
