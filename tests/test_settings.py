"""The settings file reads the environment strictly: a mistyped on/off value stops start-up with a clear message."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from liveblog.settings import env_flag
from tests.support.stack import ROOT


@pytest.mark.parametrize("value", ["1", "true", "True", "YES", "on", " on "])
def test_on_values(monkeypatch, value):
    monkeypatch.setenv("SERVE_MEDIA", value)
    assert env_flag("SERVE_MEDIA", "0") is True


@pytest.mark.parametrize("value", ["0", "false", "False", "no", "OFF", ""])
def test_off_values(monkeypatch, value):
    monkeypatch.setenv("SERVE_MEDIA", value)
    assert env_flag("SERVE_MEDIA", "1") is False


def test_unset_takes_the_default(monkeypatch):
    monkeypatch.delenv("SERVE_MEDIA", raising=False)
    assert env_flag("SERVE_MEDIA", "1") is True
    assert env_flag("SERVE_MEDIA", "0") is False


@pytest.mark.parametrize("value", ["flase", "ture", "2", "enabled", "y es"])
def test_a_mistyped_value_is_refused(monkeypatch, value):
    monkeypatch.setenv("SERVE_MEDIA", value)
    with pytest.raises(ImproperlyConfigured, match=r"SERVE_MEDIA=.* is neither on nor off"):
        env_flag("SERVE_MEDIA", "1")


def test_a_mistyped_debug_stops_start_up_with_a_clear_message():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "liveblog.settings", "DEBUG": "flase"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DEBUG='flase' is neither on nor off: use 1, true, yes, on to turn it on, or 0, false, no, off" in (
        result.stderr
    )


def cache_key_prefix_and_etag(**env):
    program = (
        "import datetime; from django.conf import settings; from liveblog.caching import etag; "
        "print(settings.CACHES['default']['KEY_PREFIX'], etag(datetime.datetime(2026, 12, 4, tzinfo=datetime.UTC)))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", program],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "liveblog.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()[-2:]  # after what `shell` itself prints


def test_pages_kept_for_one_socket_origin_are_never_served_for_another():
    first = cache_key_prefix_and_etag(LIVE_SOCKET_ORIGIN="ws://127.0.0.1:8001")
    again = cache_key_prefix_and_etag(LIVE_SOCKET_ORIGIN="ws://127.0.0.1:8001")  # another process, another host
    moved = cache_key_prefix_and_etag(LIVE_SOCKET_ORIGIN="wss://live.example.org")
    assert first == again
    assert first[0] != moved[0] and first[1] != moved[1]
