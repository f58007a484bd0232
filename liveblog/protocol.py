"""The live protocol between the server and the reader's script, defined once (docs/live.md describes it).

The server speaks it in liveblog/fanout.py, liveblog/consumers.py and `Event.as_dict`; the column page hands
`for_script()` to static/liveblog/live.js as JSON (`{% live_protocol %}`, a json_script element, no code), and
the script takes every close code, event kind and frame field from there. A name changed here changes on both
sides; tests/test_protocol.py fails when the script stops reading one.
"""

import enum

from django.db import models


class Close(enum.IntEnum):
    """The codes the server closes a reader's WebSocket with, and what the reader's script does."""

    POLICY = 1008  # the reader sent something other than PING
    TOO_BIG = 1009  # the reader sent more than a PING's worth of bytes
    SLOW = 4008  # too slow to keep up: fetch the catch-up, then reconnect
    BEHIND = 4013  # too far behind to replay over the socket: fetch the catch-up, then reconnect
    UNKNOWN_COLUMN = 4404  # no such column: stop
    AHEAD = 4409  # `after` is beyond anything the column has issued: reload the page


class Kind(models.TextChoices):
    """What happened; stored as `Event.kind`."""

    PUBLISHED = "published", "Published"
    EDITED = "edited", "Edited"
    PINNED = "pinned", "Pinned"
    UNPINNED = "unpinned", "Unpinned"
    KEY_EVENT = "key_event", "Key event toggled"
    UNPUBLISHED = "unpublished", "Unpublished"
    DELETED = "deleted", "Deleted"
    COLUMN_ENDED = "column_ended", "Column ended"
    COLUMN_REOPENED = "column_reopened", "Column reopened"


# Kinds after which readers show the post; the others remove it (or concern the column).
SHOWING = (Kind.PUBLISHED, Kind.EDITED, Kind.PINNED, Kind.UNPINNED, Kind.KEY_EVENT)


class Field(enum.StrEnum):
    """The fields of one event's frame (JSON), over the socket and in the catch-up's `events`."""

    SEQ = "seq"
    KIND = "kind"
    POST_ID = "post_id"
    HTML = "html"
    KEY_HTML = "key_html"


# The only message a reader sends, and the server's answer.
PING = "ping"
PONG = "pong"


def for_script():
    """The protocol as live.js reads it: names on the left are the script's, values the wire's."""
    return {
        "close": {code.name: code.value for code in Close},
        "kinds": {kind.name: kind.value for kind in Kind},
        "showing": [kind.value for kind in SHOWING],
        "fields": {field.name: field.value for field in Field},
        "ping": PING,
        "pong": PONG,
    }
