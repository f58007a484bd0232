"""`make serve`: the production stack (docs/settings.md) in one foreground command.

WORKERS uvicorn processes behind one port, plus the scheduler, supervised by
this process (liveblog/serving.py): a child that dies is logged and started
again, and if this process dies, whatever kills it, its children die with it.
Every worker runs its own fan-out hub on the Redis channel layer, so a reader on
any worker gets every event.
"""

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from liveblog import serving


class Command(BaseCommand):
    help = "Production stack: collectstatic, migrate, WORKERS uvicorn processes on PORT, and the scheduler."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
        parser.add_argument("--backlog", type=int, default=serving.BACKLOG, help="Connections waiting to be accepted.")
        parser.add_argument("--no-setup", action="store_true", help="Skip collectstatic and migrate.")
        parser.add_argument("--no-scheduler", action="store_true", help="Another host runs the scheduler.")
        parser.add_argument("--deflate", action="store_true", help="Turn permessage-deflate on.")

    def handle(self, *args, host, port, workers, backlog, no_setup, no_scheduler, deflate, **options):
        if settings.DEBUG:
            raise CommandError("`serve` is production: run it with DEBUG=0.")
        if not os.environ.get("REDIS_URL") and workers > 1:
            raise CommandError("Several server processes need REDIS_URL: the in-memory layer is per process.")
        if not no_setup:
            call_command("collectstatic", interactive=False, verbosity=0)
            call_command("migrate", interactive=False, verbosity=1)
        try:
            sock = serving.listen(host, port, backlog)
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error.strerror}.") from None
        children = [
            serving.Child(f"worker {n}", serving.worker_command(sock.fileno(), deflate), pass_fds=[sock.fileno()])
            for n in range(1, workers + 1)
        ]
        if not no_scheduler:
            children.append(serving.Child("scheduler", [sys.executable, "manage.py", "run_scheduler"]))
        supervisor = serving.Supervisor(children, cwd=settings.BASE_DIR)
        self.stdout.write(f"Serving on http://{host}:{port} with {workers} worker(s)")
        self.stdout.flush()
        error = supervisor.run()
        sock.close()
        if error:
            raise CommandError(f"{error}; stopped the others.")
