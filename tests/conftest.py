import pytest
from django.utils import timezone

from liveblog.models import Author, Byline, Column, LinkCard, Post, Series


@pytest.fixture
def series(db):
    return Series.objects.create(title="Syria Crisis", slug="syria-crisis")


@pytest.fixture
def column(db, series):
    return Column.objects.create(title="Aleppo: live updates", slug="aleppo-live", series=series)


@pytest.fixture
def author(db):
    return Author.objects.create(name="Rania Haddad", slug="rania-haddad")


@pytest.fixture
def make_post(column, author):
    def make(headline="An update", body="<p>Text.</p>", column=column, authors=(author,), cards=(), **fields):
        fields.setdefault("status", Post.Status.PUBLISHED)
        fields.setdefault("published_at", timezone.now())
        post = Post.objects.create(column=column, headline=headline, body=body, **fields)
        for position, each in enumerate(authors):
            Byline.objects.create(post=post, author=each, position=position)
        for url in cards:
            LinkCard.objects.create(post=post, url=url, title=f"Card for {url}")
        return post

    return make
