import logging
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from liveblog.scheduler import publish_due

logger = logging.getLogger("liveblog.scheduler")


class Command(BaseCommand):
    help = "Publish scheduled posts at their time (runs beside the server; `make run` and `make serve` start it)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between two looks (default 1).")
        parser.add_argument("--once", action="store_true", help="Publish what is due now, then exit.")

    def handle(self, *args, interval, once, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if not once:
            self.stdout.write(f"Scheduler: publishing scheduled posts every {interval:g}s")
        while True:
            try:
                for post in publish_due():
                    self.stdout.write(f"Published “{post}” ({post.column})")
            except Exception:  # a database blip must not stop scheduled posts for good
                logger.exception("Publishing scheduled posts failed; retrying")
                close_old_connections()
            if once or stop.wait(interval):
                return
