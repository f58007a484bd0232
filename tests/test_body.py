"""Post bodies: cleaned to an editorial allow-list on save; cards stand where the editor put their URL."""

import pytest

from liveblog.body import segments
from liveblog.models import LinkCard, Post

pytestmark = pytest.mark.django_db


def saved_body(column, html):
    return Post.objects.create(column=column, headline="h", body=html).body


def test_editorial_html_survives_cleaning(column):
    html = (
        "<h2>Heading</h2><p><strong>Bold</strong> and <em>italic</em></p>"
        '<blockquote cite="https://example.org"><p>Quote</p></blockquote>'
        '<ul><li>One</li></ul><ol start="3"><li>Three</li></ol>'
        '<figure class="image"><img src="/media/uploads/a.jpg" alt="A pier">'
        "<figcaption>Photo via us</figcaption></figure>"
    )
    assert saved_body(column, html) == html


@pytest.mark.parametrize(
    ("dirty", "must_not_contain"),
    [
        ('<p>Hi<script>alert("x")</script></p>', "<script"),
        ('<p onclick="steal()">Hi</p>', "onclick"),
        ('<a href="javascript:alert(1)">link</a>', "javascript:"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ('<iframe src="https://evil.example"></iframe>', "<iframe"),
        ('<p style="position:fixed">Hi</p>', "style="),
        ("<!-- secret note --><p>Hi</p>", "secret note"),
        ('<svg><a xlink:href="javascript:alert(1)">x</a></svg>', "javascript:"),
    ],
)
def test_dangerous_html_is_removed_on_save(column, dirty, must_not_contain):
    assert must_not_contain not in saved_body(column, dirty)


def test_links_get_a_safe_rel(column):
    assert saved_body(column, '<a href="https://example.org">x</a>') == (
        '<a href="https://example.org" rel="noopener noreferrer nofollow">x</a>'
    )


def test_cards_stand_where_their_url_paragraph_is(column):
    post = Post.objects.create(
        column=column,
        headline="h",
        body='<p>One</p><p><a href="https://b.example/">https://b.example/</a></p><p>Two</p><p>https://a.example/</p>',
    )
    a = LinkCard.objects.create(post=post, url="https://a.example/")
    b = LinkCard.objects.create(post=post, url="https://b.example/")
    orphan = LinkCard.objects.create(post=post, url="https://c.example/")
    parts = segments(post.body, [a, b, orphan])
    assert parts == [
        ("html", "<p>One</p>"),
        ("card", b),
        ("html", "<p>Two</p>"),
        ("card", a),
        ("card", orphan),  # a card with no place in the body still shows, after it
    ]
