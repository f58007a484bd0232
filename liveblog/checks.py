"""System checks that refuse dangerous configuration."""

import os

from django.conf import ENVIRONMENT_VARIABLE, settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def check_secret_key(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the development key while DEBUG is off.",
                hint="Set the SECRET_KEY environment variable to a long random value.",
                id="liveblog.E001",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def check_fetch_loopback(app_configs, **kwargs):
    # The test suite runs with DEBUG off too, so only the test settings module itself may carry the switch.
    # (Under override_settings, SETTINGS_MODULE reads None: the environment still names the module.)
    module = getattr(settings, "SETTINGS_MODULE", None) or os.environ.get(ENVIRONMENT_VARIABLE)
    allowed_here = settings.DEBUG or module == "tests.settings"
    switches = ("LINKCARD_FETCH_ALLOW_LOOPBACK", "LINKCARD_FETCH_STATIC_HOSTS")
    if any(getattr(settings, name, None) not in (None, False) for name in switches) and not allowed_here:
        return [
            Error(
                "A test-only switch of the link-card fetcher is on while DEBUG is off: cards could fetch this machine.",
                hint="Remove LINKCARD_FETCH_ALLOW_LOOPBACK and LINKCARD_FETCH_STATIC_HOSTS (tests/settings.py only).",
                id="liveblog.E002",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def check_request_cap(app_configs, **kwargs):
    if settings.MAX_REQUEST_BYTES < settings.MAX_IMAGE_BYTES + 64 * 1024:
        return [
            Error(
                "MAX_REQUEST_BYTES is below the image size limit: editors' images would be cut off before the "
                "image guard could tell them why.",
                hint="Set MAX_REQUEST_BYTES to at least MAX_IMAGE_BYTES plus 64 KiB for the rest of the form.",
                id="liveblog.E003",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def check_socket_origin_scheme(app_configs, **kwargs):
    if settings.SECURE_SSL_REDIRECT and settings.LIVE_SOCKET_ORIGIN.startswith("ws://"):
        return [
            Error(
                "LIVE_SOCKET_ORIGIN is an unencrypted ws:// origin while pages are served over HTTPS: browsers "
                "refuse such a socket, and readers would only get updates by polling.",
                hint="Set LIVE_SOCKET_ORIGIN to the wss:// origin of the socket port, or leave it empty when the "
                "load balancer routes /ws/live/ on the site's own origin to it.",
                id="liveblog.E004",
            )
        ]
    return []
