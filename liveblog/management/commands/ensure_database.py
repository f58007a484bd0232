import psycopg2
from django.core.management.base import BaseCommand
from django.db import connection
from psycopg2 import sql


class Command(BaseCommand):
    help = "Create the PostgreSQL database that DATABASE_URL names when it does not exist yet (tests, benchmarks)."
    requires_system_checks = []

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            return
        params = connection.get_connection_params()
        name = params.pop("dbname", None) or params.pop("database")
        # The server's maintenance database always exists; ours may not yet.
        maintenance = psycopg2.connect(**{**params, "dbname": "postgres"})
        maintenance.autocommit = True
        try:
            with maintenance.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cursor.fetchone() is None:
                    cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    self.stdout.write(f"Created the database {name}")
        finally:
            maintenance.close()
