"""A column with everything a reader can meet: series, photos, pinned post, key events, cards with images."""

from datetime import UTC, datetime, timedelta

from django.core.files.storage import default_storage
from django.db import transaction

from liveblog.models import Byline, Column, LinkCard, Post
from tests.support.factories import make_author, make_column, make_series
from tests.support.images import png


def build_rich_column():
    series = make_series("Syria Crisis", "syria-crisis", description="Our running coverage.")
    make_column(
        title="Aleppo: the day before",
        slug="aleppo-before",
        series=series,
        started_at=datetime(2016, 10, 10, 6, tzinfo=UTC),
        state=Column.State.ENDED,
    )
    column = Column(
        title="Aleppo: live updates",
        slug="aleppo-live",
        series=series,
        started_at=datetime(2016, 10, 11, 6, tzinfo=UTC),
        standfirst="Rescue workers say the strikes continued overnight.",
        header_photo_alt="Smoke over the old city at dawn",
        photo_credit="Photo via Reuters",
    )
    column.header_photo.save("header.png", png((90, 90, 120), (320, 180)), save=False)
    column.press_image.save("press.png", png((10, 120, 60), (1200, 630)), save=False)
    column.save()
    rania = make_author("Rania Haddad", "rania-haddad", bio="Reports from Beirut.")
    rania.photo.save("rania.png", png((150, 120, 100), (120, 120)), save=False)
    rania.photo_alt = "Rania Haddad"
    rania.save()
    tom = make_author("Tom Ellis", "tom-ellis")
    start = datetime(2016, 10, 11, 7, tzinfo=UTC)
    posts = []
    for i in range(6):
        url = f"https://example.org/story-{i}"
        # Post, bylines and card in one transaction, as the admin saves them: the card is there
        # before the commit, so no background fetch starts for its URL.
        with transaction.atomic():
            post = Post.objects.create(
                column=column,
                headline=f"Update number {i}",
                body=(
                    f"<p>First paragraph of update {i} with a <a href='https://example.org/'>link</a>.</p>"
                    f"<p>{url}</p>"
                    "<blockquote><p>A quoted witness.</p></blockquote>"
                    "<ul><li>one</li><li>two</li></ul>"
                ),
                status=Post.Status.PUBLISHED,
                published_at=start + timedelta(minutes=30 * i),
                pinned=(i == 0),
                key_event=(i % 2 == 1),
            )
            Byline.objects.create(post=post, author=rania, position=0)
            if i % 2:
                Byline.objects.create(post=post, author=tom, position=1)
            card = LinkCard(
                post=post,
                url=url,
                title=f"Story {i} elsewhere",
                summary="What the other outlet says.",
                site_name="Example",
            )
            card.image.save(f"card-{i}.png", png((40, 40 * i % 255, 160)), save=False)
            card.image_alt = f"Picture for story {i}"
            # As the fetcher leaves it: local copies in several widths, for srcset.
            card.image_widths = [[64, card.image.name]]
            card.save()
        posts.append(post)
    upload = default_storage.url(default_storage.save("uploads/ground.png", png((20, 20, 20), (200, 120))))
    figure = Post.objects.create(
        column=column,
        headline="A photo from the ground",
        body=(
            f'<figure class="image"><img src="{upload}" alt="Crowd at a checkpoint">'
            "<figcaption>A checkpoint. Photo via AFP</figcaption></figure><p>More soon.</p>"
        ),
        status=Post.Status.PUBLISHED,
        published_at=start + timedelta(hours=4),
    )
    Byline.objects.create(post=figure, author=tom)
    posts.append(figure)
    return column, posts
