"""The production server's processes: one listening socket, WORKERS uvicorn workers and the scheduler.

`manage.py serve` binds the port itself and hands the socket to each worker
(what uvicorn's own `--workers` supervisor does), so it can supervise them:
- every child dies with it, whatever kills it (SIGKILL included): the kernel
  sends the child SIGTERM when its parent goes (Linux's PR_SET_PDEATHSIG), so
  no worker is left answering on the port, and a restart right after binds it;
- a child that exits or is killed is logged with its pid and the reason, and
  started again (a worker that cannot even start stops the whole: restarting it
  would fail the same way forever).

With `--socket-workers`, readers' live sockets get processes of their own on a
second port, and the page workers run at a lower CPU priority: under a storm of
page requests the kernel still runs a publication's fan-out first, so it reaches
live readers with its usual latency (bench/pages.py measures both set-ups).

A worker is `python -m liveblog.serving FD [--deflate] [--nice N]`: uvicorn's
Server on the inherited socket.
"""

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time

logger = logging.getLogger(__name__)

# A reader only ever sends "ping": a few KiB is plenty, and bigger frames close the socket (1009).
WS_MAX_SIZE = 4096
BACKLOG = 2048  # a breaking-news burst of connects waits in the kernel, not refused
STARTUP_FAILURE = 3  # uvicorn's exit status when the app or its socket cannot start
BIND_PATIENCE = 10  # seconds: the previous server's workers may still be closing their listening socket
PR_SET_PDEATHSIG = 1
# Page workers' niceness beside socket workers: a nice-10 process gets about a tenth of a core's share
# against a nice-0 one that wants it, and all of it when the socket workers are idle (almost always).
PAGE_WORKER_NICE = 10


def uvicorn_options(deflate=False):
    """How each worker runs uvicorn (uvicorn.Config's arguments)."""
    return {
        "app": "liveblog.asgi:application",
        "loop": "uvloop",
        "http": "httptools",
        "ws": "websockets-sansio",
        "ws_max_size": WS_MAX_SIZE,
        # Every live message is compressed once per reader with permessage-deflate, and each
        # connection keeps a compressor: measured in bench/fanout.py, off is faster and leaner.
        "ws_per_message_deflate": deflate,
        # Start-up and shutdown start and stop the background machinery (liveblog/runtime.py).
        "lifespan": "on",
        "access_log": False,
        "log_level": "warning",
        "timeout_graceful_shutdown": 5,
        # No "Server: uvicorn" header: nothing tells a visitor which server to look up vulnerabilities for.
        "server_header": False,
    }


def listen(host, port, backlog=BACKLOG):
    """The one listening socket every worker accepts on. Retries for a while if the port is still taken
    (a server stopped a moment ago), then fails with the reason."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + BIND_PATIENCE
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        sock.listen(backlog)
        sock.set_inheritable(True)
        return sock


def die_with(parent_pid):
    """A preexec_fn: the child gets SIGTERM when the process that started it dies, however it dies."""

    def preexec():
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before prctl: nobody would tell us
            os._exit(1)

    return preexec


def describe_exit(returncode):
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


class Child:
    """One supervised process: a worker or the scheduler."""

    def __init__(self, name, command, pass_fds=()):
        self.name = name
        self.command = command
        self.pass_fds = pass_fds
        self.process = None
        self.started_at = 0.0
        self.quick_deaths = 0

    def start(self, cwd):
        self.process = subprocess.Popen(  # noqa: S603  our own argv
            self.command, cwd=cwd, pass_fds=self.pass_fds, preexec_fn=die_with(os.getpid())
        )
        self.started_at = time.monotonic()

    @property
    def pid(self):
        return self.process.pid

    def exited(self):
        return self.process is not None and self.process.poll() is not None


class Supervisor:
    def __init__(self, children, cwd):
        self.children = children
        self.cwd = cwd
        self.stopping = []

    def run(self):
        """Start every child, restart those that die, until SIGTERM/SIGINT. Returns an error message or None."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, frame: self.stopping.append(signum))
        for child in self.children:
            child.start(self.cwd)
        try:
            while not self.stopping:
                for child in self.children:
                    if child.exited():
                        error = self.restart(child)
                        if error:
                            return error
                time.sleep(0.2)
        finally:
            self.stop()
        return None

    def restart(self, child):
        reason = describe_exit(child.process.returncode)
        if child.process.returncode == STARTUP_FAILURE:
            logger.error("%s (pid %d) %s: it cannot start; stopping.", child.name, child.pid, reason)
            return f"{child.name} could not start"
        # A child that keeps dying at once waits longer each time, so a crash loop does not spin.
        child.quick_deaths = child.quick_deaths + 1 if time.monotonic() - child.started_at < 10 else 0
        delay = min(0.1 * 2**child.quick_deaths, 10.0) if child.quick_deaths else 0
        logger.error("%s (pid %d) %s; starting another%s.", child.name, child.pid, reason,
                     f" in {delay:.1f}s" if delay else "")  # fmt: skip
        time.sleep(delay)
        old_pid = child.pid
        child.start(self.cwd)
        logger.warning("%s restarted: pid %d replaces %d.", child.name, child.pid, old_pid)
        return None

    def stop(self):
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.terminate()
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def worker_command(fd, deflate, nice=0):
    command = [sys.executable, "-m", "liveblog.serving", str(fd)]
    return command + (["--deflate"] if deflate else []) + (["--nice", str(nice)] if nice else [])


def run_worker(fd, deflate, nice):
    import uvicorn

    if nice:
        os.nice(nice)
    sock = socket.socket(fileno=fd)  # family and type come from the inherited socket
    config = uvicorn.Config(**uvicorn_options(deflate))
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    import argparse

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
    parser = argparse.ArgumentParser(description="One uvicorn worker on an inherited listening socket.")
    parser.add_argument("fd", type=int)
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--nice", type=int, default=0)
    arguments = parser.parse_args()
    run_worker(arguments.fd, arguments.deflate, arguments.nice)
