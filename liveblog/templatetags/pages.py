"""Tags and filters the reader pages share: one time format, the live protocol and socket origin for live.js."""

from datetime import UTC

from django import template
from django.conf import settings
from django.utils.html import json_script

from liveblog import protocol

register = template.Library()


@register.filter
def iso(value):
    """A moment as machines read it (datetime attributes, meta tags): UTC, whole seconds, 2016-10-11T23:55:00Z.

    The HTML standard allows at most three decimals; whole seconds are what readers are shown anyway."""
    if not value:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@register.simple_tag
def live_protocol():
    """The close codes, event kinds and frame fields live.js reads (liveblog/protocol.py), as inert JSON."""
    return json_script(protocol.for_script(), "liveblog-protocol")


@register.simple_tag
def live_socket_origin():
    """Where live.js opens its socket (LIVE_SOCKET_ORIGIN); empty means the page's own origin."""
    return settings.LIVE_SOCKET_ORIGIN
