"""An editor pastes a URL in CKEditor and the card appears on the reader page, in place, with our copy of
its image."""

import pytest
from django.contrib.auth import get_user_model

from liveblog import linkcards
from liveblog.models import LinkCard, Post

PASSWORD = "correct-horse-battery-staple"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pasted_url_becomes_a_card_in_place(collected_static, live_server, page, web, column, author, settings):
    get_user_model().objects.create_superuser("editor", "editor@example.org", PASSWORD)
    requests = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{live_server.url}/admin/login/?next=/admin/liveblog/post/add/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/liveblog/post/add/")

    page.select_option("#id_column", str(column.pk))
    page.fill("#id_headline", "Geneva talks resume")
    page.select_option("#id_status", "published")
    # A post needs its byline: the author is picked with the admin's autocomplete.
    page.click("#bylines-0 .select2-selection")
    page.fill(".select2-search__field", "Rania")
    page.click(".select2-results__option:has-text('Rania Haddad')")
    page.wait_for_function("() => window.CKEDITOR && CKEDITOR.instances.id_body?.status == 'ready'")
    url = web.url("/og", host="news.test")
    editor = page.frame_locator("iframe.cke_wysiwyg_frame").locator("body")
    editor.click()
    page.keyboard.type("Talks resumed this morning.")
    page.keyboard.press("Enter")
    page.keyboard.type(url)  # the URL on a line of its own, as an editor pastes it
    page.keyboard.press("Enter")
    page.keyboard.type("More to follow.")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/liveblog/post/")

    post = Post.objects.get(headline="Geneva talks resume")
    assert post.link_cards.get().url == url
    linkcards.wait_idle(timeout=30)  # the fetch runs after commit, in the server's background pool
    card = post.link_cards.get()
    assert card.fetch_state == LinkCard.FetchState.OK

    page.goto(f"{live_server.url}/admin/liveblog/post/{post.pk}/change/")
    assert page.locator("#link_cards-0 .field-fetch_state .readonly").inner_text() == "Filled from the page"

    page.goto(f"{live_server.url}{column.get_absolute_url()}")
    body = page.locator(f"#post-{post.pk} .post-body")
    blocks = body.locator(":scope > *").evaluate_all(
        "nodes => nodes.map(n => n.classList.contains('link-card') ? 'CARD' : n.textContent.trim())"
    )
    assert blocks == ["Talks resumed this morning.", "CARD", "More to follow."]
    card_element = body.locator(".link-card")
    assert card_element.locator(".link-card-title").inner_text() == "Ceasefire talks resume in Geneva"
    assert card_element.locator(".link-card-site").inner_text() == "The Daily Monitor"
    assert card_element.locator(".link-card-more").get_attribute("href") == url

    image = card_element.locator("img.link-card-image")
    assert image.get_attribute("src").startswith(settings.MEDIA_URL + "cards/")
    assert "960w" in image.get_attribute("srcset")
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => new URL(img.currentSrc).origin") == live_server.url
    # Readers' browsers never load anything from the linked site.
    assert not [r for r in requests if f":{web.port}" in r]
