"""The test database as the production stack needs it.

A transactional test ends with a flush: every table is emptied and the content types are created again by
Django's post_migrate receivers, by default with new ids. The production stack (`stack`) is one process for
the whole session and remembers content type ids; every admin save writes one into its log entry. So the
content types are created again with the ids they had: this receiver, connected in tests/settings.py before
the apps connect theirs, restarts their id sequence whenever the table is empty.
"""

from django.db import DEFAULT_DB_ALIAS, connections


def content_types_keep_their_ids(using=DEFAULT_DB_ALIAS, **kwargs):
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM django_content_type)")
        if not cursor.fetchone()[0]:
            cursor.execute("SELECT setval(pg_get_serial_sequence('django_content_type', 'id'), 1, false)")
