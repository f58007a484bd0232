"""Editors see the card's fetch state in the admin and can ask for a fresh fetch; the test-only switch
cannot reach production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.checks import Error

from liveblog import checks, linkcards
from liveblog.models import LinkCard

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_change_form_shows_the_fetch_state_and_note(web, make_post, editor_client):
    post = make_post(body=f"<p>{web.url('/missing')}</p>")
    card = post.link_cards.get()
    page = editor_client.get(f"/admin/liveblog/post/{post.pk}/change/").content.decode()
    assert "Fetching the page…" in page

    linkcards.fetch_card(card.pk)
    page = editor_client.get(f"/admin/liveblog/post/{post.pk}/change/").content.decode()
    assert "Could not fetch the page" in page
    assert "The page answered 404" in page
    assert "Fetch again" in page


def test_admin_action_fetches_again(web, make_post, editor_client, django_capture_on_commit_callbacks):
    post = make_post(body=f"<p>{web.url('/og')}</p>")
    card = post.link_cards.get()
    linkcards.fetch_card(card.pk)
    LinkCard.objects.filter(pk=card.pk).update(summary="")
    with django_capture_on_commit_callbacks() as callbacks:
        response = editor_client.post(
            "/admin/liveblog/post/", {"action": "fetch_link_cards_again", "_selected_action": [post.pk]}, follow=True
        )
    assert "Fetching 1 link card(s) again" in response.content.decode()
    fetches = [c.args for c in callbacks if getattr(c, "func", None) is linkcards.fetch_in_background]
    assert fetches == [([card.pk],)]
    card.refresh_from_db()
    assert card.fetch_state == LinkCard.FetchState.PENDING
    linkcards.fetch_card(card.pk)
    card.refresh_from_db()
    assert card.summary == "Delegations from both sides met for three hours."


def test_loopback_switch_is_refused_outside_the_test_settings(settings):
    settings.DEBUG = False
    settings.LINKCARD_FETCH_ALLOW_LOOPBACK = True
    assert checks.check_fetch_loopback(None) == []  # this is tests.settings
    settings.SETTINGS_MODULE = "liveblog.settings"
    errors = checks.check_fetch_loopback(None)
    assert [e.id for e in errors] == ["liveblog.E002"]
    assert isinstance(errors[0], Error)
    settings.DEBUG = True
    assert checks.check_fetch_loopback(None) == []
    settings.DEBUG = False
    settings.LINKCARD_FETCH_ALLOW_LOOPBACK = False
    settings.LINKCARD_FETCH_STATIC_HOSTS = None
    assert checks.check_fetch_loopback(None) == []


def test_production_settings_do_not_have_the_switch():
    import liveblog.settings as production

    assert not hasattr(production, "LINKCARD_FETCH_ALLOW_LOOPBACK")
    assert not hasattr(production, "LINKCARD_FETCH_STATIC_HOSTS")
    assert django_settings.LINKCARD_FETCH_MAX_BYTES == 2 * 1024 * 1024


def test_manage_py_check_fails_when_another_settings_module_copies_the_switch(tmp_path):
    (tmp_path / "leaky_settings.py").write_text("from tests.settings import *  # noqa\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "leaky_settings",
        "DEBUG": "0",
        "SECRET_KEY": "a-long-random-production-key-for-this-test-only-0123456789",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "liveblog.E002" in result.stderr


def form_data(html):
    """What the browser would send back for the admin's change form, as it stands."""
    from bs4 import BeautifulSoup

    form = BeautifulSoup(html, "lxml").find("form", id="post_form")
    data = {}
    for field in form.find_all(["input", "textarea", "select"]):
        name = field.get("name")
        if not name or field.get("type") in ("submit", "file"):
            continue
        if field.name == "textarea":
            data[name] = field.text
        elif field.name == "select":
            chosen = field.find("option", selected=True)
            data[name] = chosen["value"] if chosen else ""
        elif field.get("type") == "checkbox":
            if field.has_attr("checked"):
                data[name] = field.get("value", "on")
        else:
            data[name] = field.get("value", "")
    return data


def test_editor_corrects_a_card_and_asks_for_a_fresh_fetch(
    web, make_post, editor_client, django_capture_on_commit_callbacks
):
    post = make_post(body=f"<p>{web.url('/mutable')}</p>")
    card = post.link_cards.get()
    web.mutable_title = "First headline"
    linkcards.fetch_card(card.pk)
    change = f"/admin/liveblog/post/{post.pk}/change/"

    data = form_data(editor_client.get(change).content.decode())
    assert data["link_cards-0-title"] == "First headline"
    data["link_cards-0-title"] = "Our corrected headline"
    data["link_cards-0-summary"] = ""
    data["link_cards-0-fetch_again"] = "on"
    web.mutable_title = "Second headline"
    with django_capture_on_commit_callbacks() as callbacks:
        response = editor_client.post(change, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert callbacks  # the fetch is queued for after the commit, not done during the save
    card.refresh_from_db()
    assert card.fetch_state == LinkCard.FetchState.PENDING

    linkcards.fetch_card(card.pk)
    card.refresh_from_db()
    assert card.title == "Our corrected headline"  # typed: kept
    assert card.summary == "A summary from the page."  # emptied: the page's value again
    assert "Kept what you typed: title." in editor_client.get(change).content.decode()
