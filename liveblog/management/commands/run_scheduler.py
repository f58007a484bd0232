import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from liveblog import broadcast, linkcards, runtime
from liveblog.scheduler import publish_due

logger = logging.getLogger("liveblog.scheduler")
# Link cards left pending by a process that stopped mid-fetch are taken up again this often.
CARD_SWEEP_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Publish scheduled posts at their time, publish changes whose own process could not, "
        "and retry abandoned link-card fetches "
        "(runs beside the server; `make run` and `make serve` start it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between two looks (default 1).")
        parser.add_argument("--once", action="store_true", help="Publish what is due now, then exit.")

    def handle(self, *args, interval, once, **options):
        with runtime.running():
            self.loop(interval, once)

    def loop(self, interval, once):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if not once:
            self.stdout.write(f"Scheduler: publishing scheduled posts every {interval:g}s")
        next_sweep = 0.0
        while True:
            try:
                for post in publish_due():
                    self.stdout.write(f"Published “{post}” ({post.column})")
                if swept := broadcast.sweep():
                    self.stdout.write(f"Published {len(swept)} event(s) their own process had left")
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + CARD_SWEEP_SECONDS
                    if queued := linkcards.fetch_pending(background=True):
                        self.stdout.write(f"Fetching {queued} abandoned link card(s) again")
            except Exception:  # a database blip must not stop scheduled posts for good
                logger.exception("Publishing scheduled posts failed; retrying")
                close_old_connections()
            if once:
                linkcards.wait_idle()
                return
            if stop.wait(interval):
                return
