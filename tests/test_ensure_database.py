import uuid

import psycopg2
from django.core.management import call_command
from django.db import connection


def database_exists(name):
    params = {**connection.get_connection_params(), "dbname": "postgres"}
    with psycopg2.connect(**params) as maintenance, maintenance.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def test_ensure_database_creates_a_missing_database_once(settings, monkeypatch):
    name = f"liveblog_ensure_{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(connection.settings_dict, "NAME", name)
    try:
        call_command("ensure_database")
        assert database_exists(name)
        call_command("ensure_database")  # a second run finds it and changes nothing
        assert database_exists(name)
    finally:
        params = {**connection.get_connection_params(), "dbname": "postgres"}
        maintenance = psycopg2.connect(**params)
        maintenance.autocommit = True
        with maintenance.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        maintenance.close()
