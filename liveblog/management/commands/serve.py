"""`make serve`: the production stack (SPEC §5) in one foreground command.

WORKERS uvicorn processes behind one port, plus the scheduler. Every worker
runs its own fan-out hub on the Redis channel layer, so a reader on any worker
gets every event.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# A reader only ever sends "ping": a few KiB is plenty, and bigger frames close the socket (1009).
WS_MAX_SIZE = 4096


def uvicorn_command(host, port, workers, deflate=False):
    return [
        sys.executable, "-m", "uvicorn", "liveblog.asgi:application",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio",
        "--ws-max-size", str(WS_MAX_SIZE),
        # Every live message is compressed once per reader with permessage-deflate, and each
        # connection keeps a compressor: measured in bench/fanout.py, off is faster and leaner.
        "--ws-per-message-deflate", "true" if deflate else "false",
        "--lifespan", "on", "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Production stack: collectstatic, migrate, WORKERS uvicorn processes on PORT, and the scheduler."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
        parser.add_argument("--no-setup", action="store_true", help="Skip collectstatic and migrate.")
        parser.add_argument("--no-scheduler", action="store_true", help="Another host runs the scheduler.")
        parser.add_argument("--deflate", action="store_true", help="Turn permessage-deflate on.")

    def handle(self, *args, host, port, workers, no_setup, no_scheduler, deflate, **options):
        if settings.DEBUG:
            raise CommandError("`serve` is production: run it with DEBUG=0.")
        if not os.environ.get("REDIS_URL") and workers > 1:
            raise CommandError("Several server processes need REDIS_URL: the in-memory layer is per process.")
        if not no_setup:
            call_command("collectstatic", interactive=False, verbosity=0)
            call_command("migrate", interactive=False, verbosity=1)
        children = []
        if not no_scheduler:
            children.append(subprocess.Popen([sys.executable, "manage.py", "run_scheduler"], cwd=settings.BASE_DIR))
        command = uvicorn_command(host, port, workers, deflate)  # our own argv, no outside input
        children.append(subprocess.Popen(command, cwd=settings.BASE_DIR))  # noqa: S603
        self.stdout.write(f"Serving on http://{host}:{port} with {workers} worker(s)")

        stopping = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, frame: stopping.append(signum))
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.2)
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [child.returncode for child in children if child.returncode not in (0, -signal.SIGTERM)]
        if failed and not stopping:
            raise CommandError(f"A server process exited ({failed}); stopped the others.")
