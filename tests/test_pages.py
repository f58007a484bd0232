from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from liveblog.models import LinkCard, Post

pytestmark = pytest.mark.django_db


def test_drafts_and_future_posts_never_reach_readers(client, column, make_post):
    make_post("Published headline")
    make_post("Draft headline", status=Post.Status.DRAFT)
    make_post("Scheduled headline", status=Post.Status.SCHEDULED, published_at=timezone.now() + timedelta(hours=1))
    page = client.get(column.get_absolute_url()).content.decode()
    assert "Published headline" in page
    assert "Draft headline" not in page
    assert "Scheduled headline" not in page


@pytest.mark.parametrize("count", [5, 200])
def test_column_page_runs_a_fixed_number_of_queries(client, column, make_post, count):
    for i in range(count):
        make_post(f"Update {i}", cards=[f"https://example.org/{i}"], pinned=(i == 0), key_event=(i % 3 == 0))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(column.get_absolute_url())
    assert response.status_code == 200
    # The column's validator first (all a kept page costs, see test_page_cache.py), then the page's own 7.
    assert len(queries) == 8, [q["sql"] for q in queries]


@pytest.mark.parametrize("viewer", ["reader", "editor"])
def test_column_page_queries_do_not_grow_with_posts_for_readers_or_editors(client, column, make_post, viewer):
    if viewer == "editor":
        from django.contrib.auth.models import User

        client.force_login(User.objects.create_user("desk", is_staff=True))
    counts = []
    for total in (5, 200):
        while Post.objects.count() < total:
            i = Post.objects.count()
            make_post(f"Update {i}", cards=[f"https://example.org/{i}"], pinned=(i == 0), key_event=(i % 3 == 0))
        # Cards with images show editors the press-image button.
        LinkCard.objects.update(image="cards/picture.jpg")
        with CaptureQueriesContext(connection) as queries:
            response = client.get(column.get_absolute_url())
        assert response.status_code == 200
        assert ("Set as default press image" in response.content.decode()) == (viewer == "editor")
        counts.append(len(queries))
    print(f"column page queries for a {viewer}: {counts}")
    assert counts[0] == counts[1] <= 10, counts
