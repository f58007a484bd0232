from django.core.management.base import BaseCommand

from liveblog import linkcards, runtime


class Command(BaseCommand):
    help = (
        "Fetch link cards left pending by a process that stopped before it could fetch them. "
        "Safe to run often, from several machines: each card is claimed before it is fetched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100, help="At most this many cards per run.")

    def handle(self, *args, limit, **options):
        with runtime.running():  # filled cards are published to readers
            done = linkcards.fetch_pending(limit=limit)
        self.stdout.write(f"Fetched {done} pending link card{'s' if done != 1 else ''}.")
