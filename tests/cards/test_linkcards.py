"""Cards fill themselves from the page, keep what the editor typed, and stay usable when the fetch fails."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from PIL import Image

from liveblog import linkcards
from liveblog.models import LinkCard, Post

pytestmark = pytest.mark.django_db


def paste(make_post, url, **fields):
    """An editor's post with the URL on a line of its own between two paragraphs."""
    return make_post(body=f"<p>Before the card.</p><p>{url}</p><p>After the card.</p>", **fields)


def fetched_card(make_post, url):
    post = paste(make_post, url)
    card = post.link_cards.get()
    assert card.fetch_state == LinkCard.FetchState.PENDING
    assert linkcards.fetch_card(card.pk)
    card.refresh_from_db()
    return card


def reader_page(client, column):
    # The page body only: the head repeats post text in its structured data.
    return client.get(column.get_absolute_url()).content.decode().split("<body>", 1)[1]


def test_full_open_graph(web, make_post, client, column, settings):
    url = web.url("/og")
    card = fetched_card(make_post, url)
    assert card.fetch_state == LinkCard.FetchState.OK
    assert card.title == "Ceasefire talks resume in Geneva"
    assert card.summary == "Delegations from both sides met for three hours."
    assert card.site_name == "The Daily Monitor"
    assert card.image_alt == "Delegates around a table"
    assert card.canonical_url == web.url("/og-canonical")
    assert card.url == url

    # The image: a local copy in three widths, re-encoded, with no EXIF.
    assert [w for w, _ in card.image_widths] == [320, 640, 960]
    assert card.image.name == card.image_widths[-1][1]
    for width, name in card.image_widths:
        with card.image.storage.open(name) as stored, Image.open(stored) as image:
            assert image.format == "JPEG"
            assert image.width == width
            assert image.height == round(800 * width / 1200)
            assert not image.getexif()
            assert b"Secret Photographer" not in stored.read()

    html = reader_page(client, column)
    assert html.index("Before the card.") < html.index("Ceasefire talks resume") < html.index("After the card.")
    assert f'src="{settings.MEDIA_URL}cards/' in html
    srcset = re.search(r'srcset="([^"]+)"', html).group(1)
    assert [part.split()[1] for part in srcset.split(", ")] == ["320w", "640w", "960w"]
    assert all(part.startswith(settings.MEDIA_URL) for part in srcset.split(", "))
    assert f"127.0.0.1:{web.port}/img" not in html  # readers never load the other site's image
    assert "View full page →" in html
    assert "The Daily Monitor" in html


def test_twitter_tags_only(web, make_post):
    card = fetched_card(make_post, web.url("/twitter"))
    assert card.title == "Aid convoy reaches the east"
    assert card.summary == "Forty trucks crossed at dawn."
    assert card.image_alt == "Trucks on a road"
    assert card.image_widths == [[200, card.image.name]]  # narrower than 320: one copy, its own width
    assert card.image.name.endswith(".png")


def test_nothing_but_a_title(web, make_post):
    card = fetched_card(make_post, web.url("/title-only"))
    assert card.fetch_state == LinkCard.FetchState.OK
    assert card.title == "Statement from the ministry"
    assert card.summary == ""
    assert card.site_name == "127.0.0.1"
    assert not card.image
    assert "The page offers no image." in card.fetch_note


def test_relative_urls_are_resolved(web, make_post):
    card = fetched_card(make_post, web.url("/stories/deep/relative"))
    assert card.canonical_url == web.url("/stories/relative")
    assert card.image
    assert ("/stories/img/photo.jpg", f"127.0.0.1:{web.port}") in web.hits


def test_an_undescribed_image_never_blocks_the_editors_next_save(web, make_post):
    card = fetched_card(make_post, web.url("/stories/deep/relative"))
    assert card.image
    assert card.image_alt == card.title != ""
    assert "the title stands in" in card.fetch_note
    card.full_clean()  # what the admin's post form runs on its card inline


def test_declared_charset_in_meta(web, make_post):
    card = fetched_card(make_post, web.url("/cp1251"))
    assert card.title == "Новости: перемирие в Алеппо"
    assert card.summary == "Стороны договорились о прекращении огня."


def test_declared_charset_in_http_header(web, make_post):
    assert fetched_card(make_post, web.url("/sjis")).title == "東京で記者会見"


def test_oembed_discovery(web, make_post, client, column):
    card = fetched_card(make_post, web.url("/oembed-page"))
    assert card.title == "Press conference, full video"
    assert card.site_name == "VideoHost"
    assert card.image
    assert ("/oembed.json", f"127.0.0.1:{web.port}") in web.hits
    assert "iframe" not in reader_page(client, column)  # the provider's HTML is never embedded


def test_hostile_values_are_tamed(web, make_post, client, column):
    card = fetched_card(make_post, web.url("/hostile"))
    assert card.title == "Breaking news"
    assert card.site_name == "Site"
    assert len(card.summary) <= LinkCard._meta.get_field("summary").max_length == 1000
    assert card.summary.endswith("…")
    assert not card.image  # javascript: and data: image URLs are dropped
    assert card.canonical_url == ""
    html = reader_page(client, column)
    assert "alert(" not in html
    assert "onerror" not in html


def test_image_pointing_at_a_metadata_endpoint(web, make_post):
    card = fetched_card(make_post, web.url("/private-image"))
    assert card.fetch_state == LinkCard.FetchState.OK
    assert card.title == "Image points inward"
    assert not card.image
    assert "No image: The URL points at 169.254.169.254, a cloud metadata endpoint." in card.fetch_note


def test_image_pointing_at_this_machine(web, make_post, settings, canary, connects):
    settings.LINKCARD_FETCH_ALLOW_LOOPBACK = {web.port}
    settings.LINKCARD_FETCH_ALLOWED_PORTS = [web.port, canary.port]
    image = f"http://127.0.0.1:{canary.port}/latest/meta-data/"
    card = fetched_card(make_post, web.url(f"/private-image?image={image}"))
    assert not card.image
    assert "a loopback address" in card.fetch_note
    assert canary.connections() == 0
    assert set(connects) == {("127.0.0.1", web.port)}


def test_image_that_is_not_an_image(web, make_post):
    card = fetched_card(make_post, web.url("/bad-image"))
    assert card.title == "Bad image"
    assert not card.image
    assert "refused by the image guard" in card.fetch_note


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing", "answered 404"),
        ("/error", "answered 500"),
        ("/slow", "took too long"),
        ("/text", "not a web page"),
        ("/huge", "larger than 2 MB"),
        ("/bomb", "larger than 2 MB"),
        ("/loop/a", "redirected more than 3 times"),
    ],
)
def test_a_failed_fetch_leaves_a_usable_card(web, make_post, client, column, settings, path, reason):
    settings.LINKCARD_FETCH_DEADLINE = 1
    url = web.url(path)
    card = fetched_card(make_post, url)
    assert card.fetch_state == LinkCard.FetchState.FAILED
    assert reason in card.fetch_note
    assert "type a title, summary and image yourself" in card.fetch_note
    html = reader_page(client, column)
    card_html = html[html.index('class="link-card"') :]
    assert f'<a href="{url}" rel="noopener noreferrer nofollow">127.0.0.1</a>' in card_html  # the host as title
    assert "View full page →" in card_html


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/intranet", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata endpoint"),
        ("http://unreachable.example/story", "could not be found"),
        ("http://127.0.0.1:1/", "Port 1 is not one the fetcher may use"),
    ],
)
def test_refused_or_unreachable_targets_leave_a_card_and_a_note(web, make_post, url, reason):
    card = fetched_card(make_post, url)
    assert card.fetch_state == LinkCard.FetchState.FAILED
    assert reason in card.fetch_note
    assert card.display_title == LinkCard(url=url).host


def test_fields_the_editor_typed_survive_a_fresh_fetch(web, make_post):
    web.mutable_title = "First headline"
    card = fetched_card(make_post, web.url("/mutable"))
    assert card.title == "First headline"

    card.title = "Our own headline"
    card.save()
    web.mutable_title = "Second headline"
    linkcards.fetch_again(card)
    assert linkcards.fetch_card(card.pk)
    card.refresh_from_db()
    assert card.title == "Our own headline"
    assert card.summary == "A summary from the page."
    assert "Kept what you typed: title." in card.fetch_note

    # Emptying a field hands it back to the page.
    card.title = ""
    card.save()
    linkcards.fetch_again(card)
    assert linkcards.fetch_card(card.pk)
    card.refresh_from_db()
    assert card.title == "Second headline"


def test_a_fresh_fetch_keeps_an_image_the_editor_chose(web, make_post):
    card = fetched_card(make_post, web.url("/og"))
    card.image.name = "cards/editors-choice.jpg"
    card.save()
    linkcards.fetch_again(card)
    linkcards.fetch_card(card.pk)
    card.refresh_from_db()
    assert card.image.name == "cards/editors-choice.jpg"
    assert card.srcset == ""  # the fetched widths no longer belong to the image shown
    assert "Kept what you typed: image." in card.fetch_note


def test_one_card_per_url_and_no_card_for_cards_already_there(web, make_post):
    url = web.url("/og")
    post = make_post(body=f"<p>{url}</p><p>Middle.</p><p>{url}</p>", cards=())
    assert post.link_cards.count() == 1
    post.save()
    assert post.link_cards.count() == 1


@pytest.mark.parametrize("fetched_first", [False, True])
def test_a_card_saved_for_the_url_takes_over_the_placeholder(web, make_post, fetched_first):
    """Importers and the admin save the post first, then its cards: the automatic card must give way."""
    url = web.url("/og")
    post = paste(make_post, url)
    placeholder = post.link_cards.get()
    if fetched_first:
        linkcards.fetch_card(placeholder.pk)
    card = LinkCard.objects.create(post=post, url=url, title="From the archive", summary="As it was.")
    assert card.pk == placeholder.pk
    assert post.link_cards.count() == 1
    assert not linkcards.fetch_card(card.pk)  # used as it is
    card.refresh_from_db()
    assert (card.title, card.summary) == ("From the archive", "As it was.")
    assert card.fetch_state == LinkCard.FetchState.MANUAL


def test_pending_cards_of_a_crashed_process_are_fetched(web, make_post):
    post = paste(make_post, web.url("/og"))
    abandoned = post.link_cards.get()
    LinkCard.objects.filter(pk=abandoned.pk).update(fetch_started_at=timezone.now() - timedelta(minutes=10))
    busy = LinkCard.objects.create(
        post=post, url=web.url("/twitter"), fetch_state=LinkCard.FetchState.PENDING, fetch_started_at=timezone.now()
    )
    out = io.StringIO()
    call_command("fetch_link_cards", stdout=out)
    assert "Fetched 1 pending link card." in out.getvalue()
    abandoned.refresh_from_db()
    busy.refresh_from_db()
    assert abandoned.fetch_state == LinkCard.FetchState.OK
    assert busy.fetch_state == LinkCard.FetchState.PENDING  # someone is working on it


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_takes_up_abandoned_cards(web, make_post):
    post = paste(make_post, web.url("/og"))
    linkcards.wait_idle()  # the fetch the save started; now play a process that died during it
    abandoned = post.link_cards.get()
    LinkCard.objects.filter(pk=abandoned.pk).update(
        fetch_state=LinkCard.FetchState.PENDING,
        title="",
        fetched={},
        fetch_started_at=timezone.now() - timedelta(minutes=10),
    )
    out = io.StringIO()
    call_command("run_scheduler", "--once", stdout=out)
    assert "Fetching 1 abandoned link card(s) again" in out.getvalue()
    abandoned.refresh_from_db()
    assert abandoned.fetch_state == LinkCard.FetchState.OK
    assert abandoned.title == "Ceasefire talks resume in Geneva"


@pytest.mark.django_db(transaction=True)
def test_save_returns_at_once_and_cards_fill_in_after_commit(web, column, settings):
    settings.LINKCARD_FETCH_DEADLINE = 2
    fast, slow = web.url("/og"), web.url("/slow")
    with transaction.atomic():
        post = Post.objects.create(
            column=column,
            headline="Two links",
            status=Post.Status.PUBLISHED,
            body=f"<p>{fast}</p><p>Between.</p><p>{slow}</p>",
        )
        cards = {card.url: card for card in post.link_cards.all()}
        # The placeholders exist in the same transaction as the post, before any fetch.
        assert {c.fetch_state for c in cards.values()} == {LinkCard.FetchState.PENDING}
        assert cards[slow].display_title == "127.0.0.1"
    touched_before = Post.objects.get(pk=post.pk).updated_at
    # The slow page takes the whole deadline, yet the save has returned: the fetch runs in the background.
    assert LinkCard.objects.get(pk=cards[slow].pk).fetch_state == LinkCard.FetchState.PENDING

    linkcards.wait_idle(timeout=30)
    fast_card = LinkCard.objects.get(pk=cards[fast].pk)
    slow_card = LinkCard.objects.get(pk=cards[slow].pk)
    assert fast_card.fetch_state == LinkCard.FetchState.OK
    assert fast_card.title == "Ceasefire talks resume in Geneva"
    assert fast_card.image
    assert slow_card.fetch_state == LinkCard.FetchState.FAILED
    assert "took too long" in slow_card.fetch_note
    assert Post.objects.get(pk=post.pk).updated_at > touched_before  # readers are told through the post
