"""Fan-out benchmark: one column, 1,000 and 3,000 readers, commit to socket (`make bench`).

For each reader count it measures, from the editor's commit (an ORM save in a
transaction, timed by the first on_commit callback) to each reader's socket:
first / median / p99 / last, delivered / expected, and the server's memory per
connection (RSS growth / connections). The same reader processes hold as many
sockets on a minimal `websockets` broadcast server started here, which gets the
same frame; events alternate between the two servers (0.5 s apart), so whatever
else the machine does weighs on both alike, and the script prints the ratios.

Readers live in CLIENT_PROCESSES processes other than the servers'. Loopback only.
Our server is the production stack, `manage.py serve` (liveblog/serving.py)
as `make serve` runs it: WORKERS page workers (--workers, default 2) and SOCKET_WORKERS socket workers
(--socket-workers, default 2), the readers on the socket port; --socket-workers 0 puts them on the page
workers, --workers 1 --socket-workers 0 is one process against one. permessage-deflate is measured on and
off. --busy N keeps N processes spinning on the cores for the whole run: other work, loading both servers.

Environment: DATABASE_URL (PostgreSQL). The script starts a redis-server of its own on a free port,
so other users of the machine's Redis neither disturb nor are disturbed by the figures.
Options: --readers 1000,3000 --events 5 --profile --skip-deflate --workers 2 --socket-workers 2 --busy 0.
"""

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENT_PROCESSES = 4
ORIGIN = "http://localhost"
PREFIX = f"liveblog-bench-{os.getpid()}"


def raise_fd_limit():
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_ports(socket_workers):
    """A free port for `serve`, and the port its readers connect to: one of its own with socket workers."""
    port = free_port()
    socket_port = port
    while socket_workers and socket_port == port:
        socket_port = free_port()
    return port, socket_port


def spin():
    while True:
        pass


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- Readers: client processes holding many sockets ----------------------------------


def client_process(conn, urls, count, deflate):
    """Holds `count` readers on each URL; records when each frame (by seq) reached each socket."""
    import uvloop
    import websockets

    raise_fd_limit()

    async def main():
        semaphore = asyncio.Semaphore(100)

        async def open_one(url):
            async with semaphore:
                for attempt in range(5):
                    try:
                        return await websockets.connect(
                            url, origin=ORIGIN, open_timeout=60, compression="deflate" if deflate else None
                        )
                    except (OSError, websockets.InvalidHandshake, TimeoutError):
                        await asyncio.sleep(0.2 * (attempt + 1))
                return None

        sockets = []  # (server index, socket)
        for index, url in enumerate(urls):
            opened = await asyncio.gather(*(open_one(url) for _ in range(count)))
            sockets += [(index, ws) for ws in opened if ws is not None]
        received = [[] for _ in sockets]
        closed = [None] * len(sockets)  # how the server closed each reader's socket, if it did

        async def listen(position, ws):
            record = received[position].append
            try:
                async for message in ws:
                    now = time.time()
                    if message.startswith('{"seq":'):
                        record((now, int(message[7 : message.index(",", 7)])))
            except websockets.ConnectionClosed:
                pass
            closed[position] = f"{ws.close_code} {ws.close_reason or ''}".strip()

        tasks = [asyncio.ensure_future(listen(i, ws)) for i, (_, ws) in enumerate(sockets)]
        loop = asyncio.get_running_loop()
        counts = [sum(1 for index, _ in sockets if index == n) for n in range(len(urls))]
        await loop.run_in_executor(None, conn.send, counts)
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "report":
                report = [
                    (index, {seq: t for t, seq in r}, closed[position])
                    for position, ((index, _), r) in enumerate(zip(sockets, received, strict=True))
                ]
                await loop.run_in_executor(None, conn.send, report)
                for r in received:
                    r.clear()
            elif command == "close":
                await asyncio.gather(*(ws.close() for _, ws in sockets), return_exceptions=True)
                for task in tasks:
                    task.cancel()
                conn.send("closed")
                return

    uvloop.run(main())


class Readers:
    """CLIENT_PROCESSES processes, together holding `total` readers on each of the URLs."""

    def __init__(self, urls, total, deflate):
        self.pipes, self.processes = [], []
        base, extra = divmod(total, CLIENT_PROCESSES)
        context = multiprocessing.get_context("spawn")
        for i in range(CLIENT_PROCESSES):
            parent, child = context.Pipe()
            count = base + (1 if i < extra else 0)
            process = context.Process(target=client_process, args=(child, urls, count, deflate), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        counts = [pipe.recv() for pipe in self.pipes]
        self.connected = [sum(c[n] for c in counts) for n in range(len(urls))]

    def report(self):
        for pipe in self.pipes:
            pipe.send("report")
        rows = [row for pipe in self.pipes for row in pipe.recv()]
        # Readers the server closed, by close code and reason: a browser would catch up over HTTP.
        self.closed = [
            dict(collections.Counter(how for i, _, how in rows if i == n and how)) for n in range(len(self.connected))
        ]
        self.how_closed = [[how for i, _, how in rows if i == n] for n in range(len(self.connected))]
        return [[times for i, times, _ in rows if i == n] for n in range(len(self.connected))]

    def close(self):
        for pipe in self.pipes:
            pipe.send("close")
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            pipe.recv()
            process.join(timeout=10)


def warm_up(url):
    """A few readers come and go first (reaching every worker), so one-time imports, the hub and its Redis
    connections are not counted per reader."""
    import websockets.sync.client

    sockets = [websockets.sync.client.connect(url, origin=ORIGIN) for _ in range(8)]
    for ws in sockets:
        ws.send("ping")
    time.sleep(0.5)
    for ws in sockets:
        ws.close()
    time.sleep(0.3)


# ---- The two servers --------------------------------------------------------------


def plain_server(port, deflate, ready):
    """The yardstick: a minimal websockets broadcast server (one process)."""
    import uvloop
    from websockets.asyncio.server import broadcast, serve

    raise_fd_limit()
    readers = set()

    async def handler(ws):
        if ws.request.path.startswith("/publish"):
            async for frame in ws:
                broadcast(readers, frame)
            return
        readers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            readers.discard(ws)

    async def main():
        compression = "deflate" if deflate else None
        async with serve(handler, "127.0.0.1", port, compression=compression, max_size=4096, backlog=4096):
            ready.set()
            await asyncio.Future()

    uvloop.run(main())


def answers(base_url, timeout=1):
    """Whether a Liveblog server at base_url answers its health check."""
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def start_liveblog(port, deflate, workers, socket_workers=0, socket_port=None):
    process = spawn_liveblog(port, deflate, workers, socket_workers, socket_port)
    deadline = time.time() + 60
    while time.time() < deadline:
        if answers(f"http://127.0.0.1:{port}"):
            return process
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the Liveblog server did not start")


def tear_down(server, redis, *rows):
    """Stop a bench's server and redis-server, and delete the rows it made (None where it got no further)."""
    if server is not None:
        server.terminate()
        server.wait(timeout=30)
    for row in rows:
        if row is not None:
            row.delete()
    redis.terminate()
    redis.wait(timeout=10)


def spawn_liveblog(port, deflate, workers, socket_workers=0, socket_port=None):
    """`manage.py serve` on `port`; with socket workers, readers' sockets are on `socket_port`."""
    env = dict(os.environ, DEBUG="0", CHANNEL_PREFIX=PREFIX, ALLOWED_HOSTS="localhost,127.0.0.1")
    env.update(LOG_LEVEL="WARNING", SECURE_SSL_REDIRECT="0")
    env.setdefault("SECRET_KEY", "bench-only-secret-key-" + "b" * 40)
    command = [sys.executable, "manage.py", "serve", "--no-setup", "--no-scheduler", "--port", str(port),
               "--workers", str(workers), "--backlog", "4096", *(["--deflate"] if deflate else []),
               "--socket-workers", str(socket_workers)]  # fmt: skip
    if socket_workers:
        command += ["--socket-port", str(socket_port)]
    return subprocess.Popen(command, cwd=ROOT, env=env)


# ---- The editor ----------------------------------------------------------------------


def start_redis():
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    deadline = time.time() + 10
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "b" * 40)
    os.environ["CHANNEL_PREFIX"] = PREFIX
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from liveblog import runtime

    runtime.start()  # the editor's process publishes as a command does: over the publisher's reused connections


def make_column():
    from liveblog.models import Author, Column

    slug = f"bench-{os.getpid()}"
    column = Column.objects.create(title="Benchmark column", slug=slug)
    author, _ = Author.objects.get_or_create(slug="bench-author", defaults={"name": "Bench Author"})
    return column, author


def commit_post(column, author, n):
    """An editor's save: post + byline in one transaction. Returns the commit time."""
    from django.db import transaction

    from liveblog.models import Byline, Post

    committed = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.time()))  # runs first after COMMIT
        post = Post.objects.create(
            column=column,
            headline=f"Benchmark update {n}",
            body="<p>" + "A paragraph of a typical live update, a few sentences long. " * 12 + "</p>",
            status=Post.Status.PUBLISHED,
        )
        Byline.objects.create(post=post, author=author)
    return committed[0]


# ---- Measuring ----------------------------------------------------------------------------


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summarise(starts, reports, expected_readers):
    """starts: {seq: commit time}; reports: per reader, {seq: receive time}."""
    firsts, medians, p99s, lasts = [], [], [], []
    delivered = 0
    for seq, start in starts.items():
        latencies = [(times[seq] - start) * 1000 for times in reports if seq in times]
        delivered += len(latencies)
        if latencies:
            firsts.append(min(latencies))
            medians.append(statistics.median(latencies))
            p99s.append(percentile(latencies, 0.99))
            lasts.append(max(latencies))
    median = statistics.median
    return {
        "first_ms": median(firsts),
        "median_ms": median(medians),
        "p99_ms": median(p99s),
        "last_ms": median(lasts),
        "worst_last_ms": max(lasts),
        "delivered": delivered,
        "expected": expected_readers * len(starts),
    }


def server_pids(pid):
    """The worker processes of `manage.py serve`."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [int(child) for child in children] or [pid]


def run_pair(count, events, deflate, column, author, workers, socket_workers, profile=False):
    """Our server and the plain one side by side, the same readers on both, events alternating between them,
    so whatever else the machine is doing weighs on both alike."""
    import websockets.sync.client

    (ours_port, socket_port), plain_port = serve_ports(socket_workers), free_port()
    ours = start_liveblog(ours_port, deflate, workers, socket_workers, socket_port)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    plain = context.Process(target=plain_server, args=(plain_port, deflate, ready), daemon=True)
    plain.start()
    ready.wait(30)
    pids = [server_pids(ours.pid), [plain.pid]]
    try:
        urls = [f"ws://localhost:{socket_port}/ws/live/{column.slug}/", f"ws://127.0.0.1:{plain_port}/live"]
        for url in urls:
            warm_up(url)
        before = [sum(map(rss_kib, group)) for group in pids]
        readers = Readers(urls, count, deflate)
        with websockets.sync.client.connect(f"ws://127.0.0.1:{plain_port}/publish", compression=None) as editor:
            time.sleep(1)
            commit_post(column, author, 0)  # warm-up
            frame = column.events.order_by("-seq").first().as_dict()  # the plain server sends the same frame
            editor.send(json.dumps({**frame, "seq": 0}, separators=(",", ":")))
            time.sleep(1)
            readers.report()
            after = [sum(map(rss_kib, group)) for group in pids]
            spy = None
            if profile:
                spy = subprocess.Popen(
                    [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(ours.pid), "-o",
                     str(ROOT / "bench" / "profile.txt"), "-f", "raw", "-r", "200", "--nonblocking", "--subprocesses"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(1)
            starts = [{}, {}]
            for n in range(1, events + 1):
                committed_at = commit_post(column, author, n)
                starts[0][column.events.order_by("-seq").values_list("seq", flat=True)[0]] = committed_at
                time.sleep(0.5)
                text = json.dumps({**frame, "seq": n}, separators=(",", ":"))
                starts[1][n] = time.time()
                editor.send(text)
                time.sleep(0.5)
            if spy:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=30)
        reports = readers.report()
        readers.close()
        results = []
        for n in range(2):
            result = summarise(starts[n], reports[n], count)
            connected = max(1, readers.connected[n])
            result.update(connected=readers.connected[n], kib_per_connection=(after[n] - before[n]) / connected)
            result["closed"] = readers.closed[n]
            # Frames missing on sockets the server never closed: lost without anyone knowing (must be 0).
            result["missing_while_open"] = sum(
                1
                for times, how in zip(reports[n], readers.how_closed[n], strict=True)
                if how is None
                for seq in starts[n]
                if seq not in times
            )
            results.append(result)
        return results
    finally:
        ours.terminate()
        ours.wait(timeout=20)
        plain.terminate()
        plain.join(timeout=10)


def line(name, r):
    return (
        f"  {name:<28} first {r['first_ms']:7.1f}  median {r['median_ms']:7.1f}  p99 {r['p99_ms']:7.1f}  "
        f"last {r['last_ms']:7.1f} ms (worst {r['worst_last_ms']:.1f})  delivered {r['delivered']}/{r['expected']}  "
        f"{r['kib_per_connection']:.1f} KiB/conn ({r['connected']} connected)"
        + (f"; closed by the server: {r['closed']}" if r["closed"] else "")
        + f"; missing on open sockets {r['missing_while_open']}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", default="1000,3000")
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="py-spy the server during the last run")
    parser.add_argument("--skip-deflate", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="page workers, as `make serve` (default 2)")
    parser.add_argument("--socket-workers", type=int, default=2, help="socket workers (default 2)")
    parser.add_argument("--busy", type=int, default=0, help="processes spinning on the cores during the run")
    options = parser.parse_args()
    print(
        f"fd limit {raise_fd_limit()}; {os.cpu_count()} cores; {CLIENT_PROCESSES} reader processes; "
        f"liveblog: `serve` with {options.workers} page and {options.socket_workers} socket worker(s); "
        f"plain: one websockets process; other work: {options.busy} process(es) spinning"
    )
    redis = start_redis()
    column = None
    results = {}
    busy = [multiprocessing.get_context("spawn").Process(target=spin, daemon=True) for _ in range(options.busy)]
    for process in busy:
        process.start()
    try:
        # Inside the try: a database that cannot be reached must not leave our redis-server behind.
        setup_django()
        column, author = make_column()
        for count in [int(c) for c in options.readers.split(",")]:
            print(f"\n{count} readers on each server, {options.events} events each", flush=True)
            row = {}
            for deflate in [False] if options.skip_deflate else [False, True]:
                state = "on" if deflate else "off"
                profile = options.profile and not deflate
                ours, plain = run_pair(
                    count, options.events, deflate, column, author, options.workers, options.socket_workers, profile
                )
                print(line(f"liveblog (deflate {state})", ours), flush=True)
                print(line(f"plain websockets ({state})", plain), flush=True)
                row[f"liveblog_deflate_{state}"], row[f"plain_deflate_{state}"] = ours, plain
                print(
                    f"  ratios (deflate {state}): last reader {ours['last_ms'] / plain['last_ms']:.2f}x plain "
                    f"(target <= 1.5), memory/conn {ours['kib_per_connection'] / plain['kib_per_connection']:.2f}x "
                    f"plain (target <= 2), lost {ours['expected'] - ours['delivered']} (target 0)",
                    flush=True,
                )
            results[count] = row
    finally:
        for process in busy:
            process.terminate()
        if column is not None:
            column.delete()
        redis.terminate()
        redis.wait(timeout=10)
    out = ROOT / "bench" / f"fanout-results-{options.workers}w.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nraw figures: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
