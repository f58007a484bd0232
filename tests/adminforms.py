"""Admin form data as the browser would post it."""

from datetime import timedelta

from django.utils import timezone


def post_form(column, authors, cards=(), **fields):
    when = fields.pop("published_at", timezone.now() - timedelta(minutes=5))
    data = {
        "column": column.pk,
        "headline": "Ferry services suspended",
        "body": "<p>All crossings are cancelled.</p>",
        "status": "published",
        "published_at_0": when.strftime("%Y-%m-%d"),
        "published_at_1": when.strftime("%H:%M:%S"),
        "bylines-TOTAL_FORMS": str(len(authors)),
        "bylines-INITIAL_FORMS": "0",
        "bylines-MIN_NUM_FORMS": "1",
        "bylines-MAX_NUM_FORMS": "1000",
        "link_cards-TOTAL_FORMS": str(len(cards)),
        "link_cards-INITIAL_FORMS": "0",
        "link_cards-MIN_NUM_FORMS": "0",
        "link_cards-MAX_NUM_FORMS": "1000",
    }
    for i, (author, position) in enumerate(authors):
        data[f"bylines-{i}-author"] = author.pk
        data[f"bylines-{i}-position"] = position
    for i, card in enumerate(cards):
        for key, value in card.items():
            data[f"link_cards-{i}-{key}"] = value
    data.update(fields)
    return data
