"""Pages at breaking-news rates: requests/s and p50/p99 of readers' pages against a static file, with wrk.

The production stack (`manage.py serve`, WORKERS page workers and SOCKET_WORKERS
socket workers as `make serve` runs them, its own redis-server) serves a column
of 20 posts with link cards. wrk (DURATION s, 2 threads) fetches, at 50 and 500
connections: a static file of the same server (the yardstick), the column page,
a post page, the catch-up answer and the column page's 304. Then the column page
again while posts are published every second (each one changes the column: the
first request after it renders, the rest are served the kept page), and
meanwhile READERS live readers measure how long each publication takes to reach
them, against the same publications with no storm.

The same publications during the same storm are then measured against the
baseline set-up, `serve` with no socket workers (readers' sockets on the page
workers, every process at the same priority), in the same run.

wrk runs on this machine, at the normal priority: it takes CPU from the server
that readers' browsers on other machines would not.

Environment: DATABASE_URL (PostgreSQL).
Options: --duration 5 --workers 2 --socket-workers 2 --connections 50,500 --no-baseline.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout  # the shared machinery of the fan-out benchmark

ROOT = fanout.ROOT
READERS = 100


def make_rich_column():
    from django.db import transaction

    from liveblog.models import Byline, LinkCard, Post

    column, author = fanout.make_column()
    for n in range(20):
        with transaction.atomic():
            post = Post.objects.create(
                column=column,
                headline=f"Update {n}: what we know so far",
                body="<p>" + "A paragraph of a typical live update, a few sentences long. " * 12 + "</p>"
                f"<p>https://example.org/story/{n}</p><p>" + "More context follows here. " * 10 + "</p>",
                status=Post.Status.PUBLISHED,
            )
            Byline.objects.create(post=post, author=author)
            LinkCard.objects.create(
                post=post,
                url=f"https://example.org/story/{n}",
                title=f"The story behind update {n}",
                summary="A summary of the linked page, as its Open Graph description gives it. " * 3,
                site_name="Example News",
            )
    return column, author


def wrk(url, connections, duration, headers=()):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def latency(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "bad_status": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


class LiveReaders(threading.Thread):
    """READERS WebSocket readers in a thread of their own; records when each seq reached each."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.arrivals = {}  # seq -> [times]
        self.ready = threading.Event()

    def run(self):
        asyncio.run(self.main())

    async def main(self):
        import websockets

        sockets = [await websockets.connect(self.url, origin=fanout.ORIGIN) for _ in range(READERS)]
        self.ready.set()

        async def listen(ws):
            with contextlib.suppress(websockets.ConnectionClosed):  # the server stops at the end
                async for message in ws:
                    if message.startswith('{"seq":'):
                        self.arrivals.setdefault(int(message[7 : message.index(",", 7)]), []).append(time.time())

        await asyncio.gather(*(listen(ws) for ws in sockets))


def publication_latency(column, author, readers, count, first_n):
    """Last reader's delay (ms) for `count` publications, one a second."""
    delays = []
    for n in range(count):
        committed = fanout.commit_post(column, author, first_n + n)
        seq = column.events.order_by("-seq").values_list("seq", flat=True)[0]
        deadline = time.time() + 10
        while len(readers.arrivals.get(seq, ())) < READERS and time.time() < deadline:
            time.sleep(0.01)
        arrivals = readers.arrivals.get(seq, [])
        delays.append((max(arrivals) - committed) * 1000 if len(arrivals) == READERS else float("inf"))
        time.sleep(max(0.0, 1 - (time.time() - committed)))
    return delays


def publishing_storm(url, column, author, readers, connections, duration, first_n):
    """wrk on the column page while a post is published every second; the publications' last-reader delays."""
    during = []
    storm = threading.Thread(
        target=lambda: during.extend(publication_latency(column, author, readers, duration - 1, first_n))
    )
    storm.start()
    row = wrk(url, connections, duration)
    storm.join()
    return row, during


def start_readers(port, column):
    readers = LiveReaders(f"ws://localhost:{port}/ws/live/{column.slug}/")
    readers.start()
    if not readers.ready.wait(60):
        raise RuntimeError("the live readers could not connect")
    return readers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--socket-workers", type=int, default=2)
    parser.add_argument("--connections", default="50,500")
    parser.add_argument("--no-baseline", action="store_true", help="Skip the set-up without socket workers.")
    options = parser.parse_args()
    connection_counts = [int(c) for c in options.connections.split(",")]
    fanout.raise_fd_limit()
    redis = fanout.start_redis()
    column = server = None
    results = {}
    try:
        fanout.setup_django()
        from django.conf import settings
        from django.contrib.staticfiles.storage import staticfiles_storage
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)
        column, author = make_rich_column()
        port, socket_port = fanout.serve_ports(options.socket_workers)
        server = fanout.start_liveblog(port, False, options.workers, options.socket_workers, socket_port)
        base = f"http://127.0.0.1:{port}"
        last = column.events.order_by("-seq").values_list("seq", flat=True)[0]
        post = column.posts.order_by("-published_at").first()
        urls = {
            "static file": base + staticfiles_storage.url("liveblog/live.js"),
            "column page": base + column.get_absolute_url(),
            "post page": base + post.get_absolute_url(),
            "catch-up": f"{base}/live/{column.slug}/events?after={last - 5}",
        }
        sizes = {}
        for name, url in urls.items():
            with urllib.request.urlopen(url) as response:  # warms the cache
                sizes[name] = len(response.read())
                etag = response.headers.get("ETag")
                if name == "column page":
                    column_etag = etag
        print(
            f"{os.cpu_count()} cores shared with other work; serve with {options.workers} page workers and "
            f"{options.socket_workers} socket worker(s); wrk {options.duration} s per row; "
            "sizes: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sizes.items()),
            flush=True,
        )
        readers = start_readers(socket_port, column)
        quiet = publication_latency(column, author, readers, 5, 100)
        print(f"publication to {READERS} live readers, no storm: last reader median {statistics.median(quiet):.1f} ms")
        for key, value in settings.CACHES["default"].items():
            if key == "BACKEND":
                print(f"cache: {value}")
        for connections in connection_counts:
            print(f"\n{connections} connections", flush=True)
            rows = {}
            for name, url in urls.items():
                rows[name] = wrk(url, connections, options.duration)
            rows["column page 304"] = wrk(
                urls["column page"], connections, options.duration, headers=[f"If-None-Match: {column_etag}"]
            )
            # Right after publications: one a second during the run, each changing the column.
            rows["column page, publishing"], during = publishing_storm(
                urls["column page"], column, author, readers, connections, options.duration, 200 + connections
            )
            static = rows["static file"]["rps"]
            for name, row in rows.items():
                print(
                    f"  {name:<26} {row['rps']:8.0f} req/s  ({row['rps'] / static:4.2f}x static)  "
                    f"p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms"
                    + (f"  non-2xx/3xx {row['bad_status']}" if row["bad_status"] else "")
                    + (f"  socket errors: {row['socket_errors']}" if row["socket_errors"] else ""),
                    flush=True,
                )
            print(
                f"  publication to {READERS} live readers during the storm: last reader median "
                f"{statistics.median(during):.1f} ms (max {max(during):.1f}; {statistics.median(quiet):.1f} ms "
                f"without the storm); column page {rows['column page']['rps'] / static:.2f}x the static file "
                "(target >= 0.5)",
                flush=True,
            )
            rows["publication_ms_during"] = during
            rows["publication_ms_quiet"] = quiet
            results[connections] = rows
        server.terminate()
        server.wait(timeout=30)
        server = None

        if not options.no_baseline:
            # The baseline: readers' sockets on the page workers, all at one priority.
            print("\nbaseline: serve with no socket workers (sockets on the page workers), same storm", flush=True)
            port = fanout.free_port()
            server = fanout.start_liveblog(port, False, options.workers, 0)
            url = f"http://127.0.0.1:{port}{column.get_absolute_url()}"
            urllib.request.urlopen(url).read()
            readers = start_readers(port, column)
            quiet = publication_latency(column, author, readers, 5, 1000)
            print(f"  no storm: last reader median {statistics.median(quiet):.1f} ms", flush=True)
            for connections in connection_counts:
                row, during = publishing_storm(
                    url, column, author, readers, connections, options.duration, 1100 + connections
                )
                ours = results[connections]["publication_ms_during"]
                print(
                    f"  {connections} connections: column page {row['rps']:.0f} req/s while publishing; publication "
                    f"last reader median {statistics.median(during):.1f} ms (max {max(during):.1f}) against "
                    f"{statistics.median(ours):.1f} ms (max {max(ours):.1f}) with socket workers",
                    flush=True,
                )
                results[connections]["baseline"] = {"row": row, "publication_ms_during": during, "quiet": quiet}
    finally:
        fanout.tear_down(server, redis, column)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "pages.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
