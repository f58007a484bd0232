"""load_demo: the demo newsroom `make run` shows, loaded as often as `make run` is typed."""

import io

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from liveblog import demo
from liveblog.models import Author, Column, LinkCard, Post

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_settings(settings, tmp_path):
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings


def load_demo():
    out = io.StringIO()
    call_command("load_demo", "--site", "http://127.0.0.1:8123", stdout=out)
    return out.getvalue()


def test_the_demo_has_two_columns_of_a_series_with_drawn_pictures(demo_settings, client):
    output = load_demo()
    assert "http://127.0.0.1:8123/admin/" in output and "“editor”" in output and "“liveblog-demo”" in output

    live = Column.objects.get(slug=demo.LIVE_SLUG)
    ended = Column.objects.get(slug=demo.ENDED_SLUG)
    assert live.is_live and not ended.is_live
    assert live.previous_in_series() == ended
    assert live.header_photo and live.press_image and ended.header_photo

    posts = Post.objects.published()
    assert posts.count() >= 8
    assert Author.objects.filter(bylines__post__in=posts).distinct().count() == 2
    assert posts.filter(pinned=True).exists() and posts.filter(key_event=True).count() >= 3
    cards = LinkCard.objects.exclude(image="")
    assert cards.count() >= 4
    with cards.first().image.open() as f:
        assert Image.open(f).format == "JPEG"

    page = client.get(live.get_absolute_url()).content.decode()
    assert "the previous column in our <em>Storm Isolde</em> series" in page
    assert f'href="{ended.get_absolute_url()}"' in page
    assert "Key events" in page and "View full page →" in page and "(GMT)" in page
    assert "Load older posts" not in page  # fewer than a page of posts

    assert client.login(username="editor", password="liveblog-demo")
    assert client.get("/admin/liveblog/post/").status_code == 200


def test_loading_the_demo_again_changes_nothing(demo_settings):
    load_demo()
    before = list(Post.objects.order_by("pk").values("pk", "headline", "updated_at"))
    output = load_demo()
    assert "already loaded" in output
    assert list(Post.objects.order_by("pk").values("pk", "headline", "updated_at")) == before


def test_the_demo_refuses_to_run_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("load_demo")
    assert not Column.objects.exists()
