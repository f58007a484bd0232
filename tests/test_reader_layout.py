"""The reader pages in a real Chromium: a news-site layout that holds from desktop down to a 360px phone."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from liveblog import images
from liveblog.models import Column
from tests.support.images import image_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def guarded(name, size):
    return images.clean_upload(SimpleUploadedFile(name, image_bytes("JPEG", size=size)))


@pytest.fixture
def storm(column, make_post):
    column.header_photo.save("header.jpg", guarded("header.jpg", (1600, 700)))
    column.photo_credit = "Photo via the Harbour Office"
    column.save()
    make_post("Where things stand", pinned=True)
    post = make_post(
        "River expected to peak at noon",
        body="<p>The river is rising.</p><p>https://rivers.example/kerrow</p><p>Move valuables upstairs.</p>",
        cards=["https://rivers.example/kerrow"],
        key_event=True,
    )
    card = post.link_cards.get()
    card.image.save("river.jpg", guarded("river.jpg", (800, 500)))
    card.summary = "Readings every fifteen minutes from the gauge under Mill Bridge, " * 3
    card.save()
    Column.objects.create(title="Yesterday", slug="yesterday", state=Column.State.ENDED)
    return column


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_desktop_card_has_its_image_on_the_side(live_server, page, storm):
    page.goto(live_server.url + storm.get_absolute_url())
    image, text = box(page, ".link-card-image"), box(page, ".link-card-text")
    assert image["x"] + image["width"] <= text["x"]
    assert abs(image["y"] - text["y"]) < 20
    badge = page.locator(".column-state").evaluate("el => getComputedStyle(el).backgroundColor")
    assert badge == "rgb(200, 16, 46)"  # LIVE in red
    page.goto(live_server.url + "/")
    ended = page.locator(".badge-ended").evaluate("el => getComputedStyle(el).backgroundColor")
    assert ended == "rgb(95, 99, 104)"  # ENDED in grey


@pytest.mark.parametrize("width", [360, 414, 768])
def test_phone_widths_have_no_sideways_scrolling_and_cards_stack(live_server, chromium, storm, width):
    context = chromium.new_context(viewport={"width": width, "height": 800}, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + storm.get_absolute_url())
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.locator(".post-headline").first.is_visible()
    if width <= 414:
        image, text = box(page, ".link-card-image"), box(page, ".link-card-text")
        assert image["y"] + image["height"] <= text["y"]  # stacked: picture above the words
        assert image["width"] > width * 0.6
    context.close()


def test_keyboard_focus_is_visible(live_server, page, storm):
    page.goto(live_server.url + storm.get_absolute_url())
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible() and box(page, ".skip-link")["y"] >= 0
    for _ in range(3):
        page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
