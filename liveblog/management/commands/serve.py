"""`make serve`: the production stack (docs/settings.md) in one foreground command.

WORKERS uvicorn processes behind one port, plus the scheduler, supervised by
this process (liveblog/serving.py): a child that dies is logged and started
again, and if this process dies, whatever kills it, its children die with it.
Every worker runs its own fan-out hub on the Redis channel layer, so a reader on
any worker gets every event.

With --socket-workers N, N more workers listen on SOCKET_PORT for readers' live
sockets, and the page workers yield the CPU to them (liveblog/serving.py). The
pages then tell live.js where to connect: LIVE_SOCKET_ORIGIN, which this command
sets for its processes to ws://HOST:SOCKET_PORT unless the environment sets it
(empty when a balancer routes /ws/live/ to the socket port on the site's origin).
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
        parser.add_argument(
            "--socket-workers",
            type=int,
            default=int(os.environ.get("SOCKET_WORKERS", "0")),
            help="Workers of their own for readers' live sockets, on --socket-port (0: the page workers serve them).",
        )
        parser.add_argument(
            "--socket-port",
            type=int,
            default=int(os.environ["SOCKET_PORT"]) if os.environ.get("SOCKET_PORT") else None,
            help="Port of the socket workers (default: PORT + 1).",
        )
        parser.add_argument("--backlog", type=int, default=serving.BACKLOG, help="Connections waiting to be accepted.")
        parser.add_argument("--no-setup", action="store_true", help="Skip collectstatic and migrate.")
        parser.add_argument("--no-scheduler", action="store_true", help="Another host runs the scheduler.")
        parser.add_argument("--deflate", action="store_true", help="Turn permessage-deflate on.")

    def handle(self, *args, host, port, workers, socket_workers, socket_port, backlog, no_setup, no_scheduler,
               deflate, **options):  # fmt: skip
        if settings.DEBUG:
            raise CommandError("`serve` is production: run it with DEBUG=0.")
        if not os.environ.get("REDIS_URL") and workers > 1:
            raise CommandError("Several server processes need REDIS_URL: the in-memory layer is per process.")
        if socket_workers:
            socket_port = socket_port or port + 1
            if "LIVE_SOCKET_ORIGIN" not in os.environ:
                # The children read their settings from the environment they inherit. Behind a TLS proxy
                # (pages over HTTPS) only the proxy knows the socket port's public origin: sockets then stay on
                # the site's origin, where the page workers serve them until the proxy routes /ws/live/ here.
                https = settings.SECURE_SSL_REDIRECT
                os.environ["LIVE_SOCKET_ORIGIN"] = "" if https else socket_origin(host, socket_port)
        if not no_setup:
            call_command("collectstatic", interactive=False, verbosity=0)
            call_command("migrate", interactive=False, verbosity=1)
        listening = [bind(host, port, backlog)]
        if socket_workers:
            listening.append(bind(host, socket_port, backlog))
        page_fd = listening[0].fileno()
        page_nice = serving.PAGE_WORKER_NICE if socket_workers else 0
        children = [
            serving.Child(f"worker {n}", serving.worker_command(page_fd, deflate, page_nice), pass_fds=[page_fd])
            for n in range(1, workers + 1)
        ]
        if socket_workers:
            socket_fd = listening[1].fileno()
            command = serving.worker_command(socket_fd, deflate)
            children += [
                serving.Child(f"socket worker {n}", command, pass_fds=[socket_fd]) for n in range(1, socket_workers + 1)
            ]
        if not no_scheduler:
            children.append(serving.Child("scheduler", [sys.executable, "manage.py", "run_scheduler"]))
        supervisor = serving.Supervisor(children, cwd=settings.BASE_DIR)
        self.stdout.write(f"Serving on http://{host}:{port} with {workers} worker(s)")
        if socket_workers:
            self.stdout.write(
                f"Live sockets on {host}:{socket_port} with {socket_workers} worker(s); pages tell readers "
                f"to connect to {os.environ['LIVE_SOCKET_ORIGIN'] or 'the site (route /ws/live/ to this port)'}"
            )
        self.stdout.flush()
        error = supervisor.run()
        for sock in listening:
            sock.close()
        if error:
            raise CommandError(f"{error}; stopped the others.")


def bind(host, port, backlog):
    try:
        return serving.listen(host, port, backlog)
    except OSError as error:
        raise CommandError(f"Cannot listen on {host}:{port}: {error.strerror}.") from None


def socket_origin(host, port):
    """The origin readers' browsers reach the socket port at, when the host says it."""
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104  a check, not a bind
        raise CommandError(
            f"With --socket-workers on {host or 'every address'}, set LIVE_SOCKET_ORIGIN to where readers' browsers "
            f"reach port {port} (as wss://live.example.org), or to nothing when a balancer routes /ws/live/ "
            "to that port on the site's own origin."
        )
    return f"ws://[{host}]:{port}" if ":" in host else f"ws://{host}:{port}"
