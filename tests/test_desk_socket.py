"""The desk's WebSocket against the production stack: editors only, origin checked, nothing to change over it."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.contrib.auth.models import Permission
from websockets.exceptions import ConnectionClosed, InvalidStatus

from liveblog.models import Post
from tests.support import factories
from tests.support.admin import PASSWORD

pytestmark = [pytest.mark.server, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ORIGIN = "http://localhost"


def run(coroutine):
    # In a thread of its own: once Playwright's session has started, this thread has an event loop running.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, asyncio.wait_for(coroutine, 60)).result()


def staff_user(username, *codenames):
    user = factories.make_editor(username)
    user.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="liveblog", codename__in=codenames))
    return user


@pytest.fixture
def session_of(chromium, stack):
    """The session cookie of a user logged in to the stack's admin through its login form."""
    contexts = []

    def log_in(user):
        context = chromium.new_context()
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{stack.url}/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        cookie = next(c for c in context.cookies() if c["name"] == "sessionid")
        return f"sessionid={cookie['value']}"

    yield log_in
    for context in contexts:
        context.close()


def desk_socket(stack, column, cookie=None, origin=ORIGIN):
    headers = {"Cookie": cookie} if cookie else None
    return websockets.connect(f"{stack.ws_url}/ws/desk/{column.pk}/", origin=origin, additional_headers=headers)


async def refused(stack, column, **kwargs):
    with pytest.raises(InvalidStatus) as refusal:
        async with desk_socket(stack, column, **kwargs):
            pass
    return refusal.value.response.status_code


async def frames_until_closed(socket, timeout=10):
    seen = []
    with pytest.raises(ConnectionClosed):
        while True:
            seen.append(json.loads(await asyncio.wait_for(socket.recv(), timeout)))
    return socket.close_code, seen


def test_anonymous_non_staff_and_foreign_origins_are_refused(stack, column, session_of):
    editor = staff_user("desk-editor", "view_post", "change_post")
    no_rights = staff_user("no-rights")
    leaver = staff_user("leaver", "view_post", "change_post")
    cookies = {user.username: session_of(user) for user in (editor, no_rights, leaver)}
    leaver.is_staff = False  # no longer staff: the session stays, the desk must not
    leaver.save()

    assert run(refused(stack, column)) == 403
    assert run(refused(stack, column, cookie="sessionid=forged")) == 403
    assert run(refused(stack, column, cookie=cookies["leaver"])) == 403
    assert run(refused(stack, column, cookie=cookies["no-rights"])) == 403
    assert run(refused(stack, column, cookie=cookies["desk-editor"], origin="https://evil.example")) == 403

    async def editor_connects():
        async with desk_socket(stack, column, cookie=cookies["desk-editor"]) as socket:
            await socket.send(json.dumps({"editing": None}))
            presence = json.loads(await asyncio.wait_for(socket.recv(), 10))
            return presence

    presence = run(editor_connects())
    assert presence["desk"] == "presence" and presence["state"] == "here"


def test_a_staff_user_without_the_right_to_change_posts_can_only_watch(stack, column, session_of, make_post):
    post = make_post("Standing")
    watcher = session_of(staff_user("watcher", "view_post"))

    async def try_to(message):
        async with desk_socket(stack, column, cookie=watcher) as socket:
            await socket.send(json.dumps(message))
            return await frames_until_closed(socket)

    for message in [
        {"editing": post.pk},  # claiming to edit needs the right to change posts
        {"action": "publish", "headline": "Sneaked in"},
        {"action": "delete", "post": post.pk},
        {"editing": None, "headline": "Sneaked in"},
    ]:
        code, _ = run(try_to(message))
        assert code == 1008, message
    assert list(Post.objects.values_list("headline", flat=True)) == ["Standing"]
