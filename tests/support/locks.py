"""Rows held by another connection's open transaction, as an import or a shell left open holds them."""

import threading
from contextlib import contextmanager

import psycopg2
from django.db import connection


@contextmanager
def row_held_elsewhere(model, pk, release_after):
    """Another connection locks the row (SELECT ... FOR UPDATE) and keeps its transaction open until the block
    ends, or `release_after` seconds have passed: code that waits for the row without bound then comes back
    (and fails its test) instead of hanging the run."""
    holder = psycopg2.connect(**connection.get_connection_params())
    with holder.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {model._meta.db_table} WHERE id = %s FOR UPDATE", [pk])
        assert cursor.fetchone(), f"no {model.__name__} {pk} to hold"
    release = threading.Timer(release_after, holder.rollback)
    release.start()
    try:
        yield
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
