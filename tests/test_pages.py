from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from liveblog.models import Post

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
    assert len(queries) <= 10, [q["sql"] for q in queries]
    assert len(queries) == 7
