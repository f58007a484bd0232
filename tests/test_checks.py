from django.core.checks import run_checks
from django.test import override_settings


def error_ids():
    return {message.id for message in run_checks() if message.is_serious()}


def test_test_settings_pass_the_system_checks():
    assert error_ids() == set()


@override_settings(DEBUG=False)
def test_development_secret_key_is_refused_when_debug_is_off(settings):
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    assert "liveblog.E001" in error_ids()


@override_settings(DEBUG=True)
def test_development_secret_key_is_fine_for_the_demo(settings):
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    assert "liveblog.E001" not in error_ids()


@override_settings(SECURE_SSL_REDIRECT=True, LIVE_SOCKET_ORIGIN="ws://live.example.org")
def test_an_unencrypted_socket_origin_beside_https_pages_is_refused():
    assert "liveblog.E004" in error_ids()


@override_settings(SECURE_SSL_REDIRECT=True, LIVE_SOCKET_ORIGIN="wss://live.example.org")
def test_an_encrypted_socket_origin_beside_https_pages_is_fine():
    assert "liveblog.E004" not in error_ids()
