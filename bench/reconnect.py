"""Reconnect storm: N live readers, the whole server restarted, how fast are they all back and caught up?

The production stack as `make serve` runs it (`manage.py serve`, WORKERS page
workers and SOCKET_WORKERS socket workers, the readers on the socket port) serves N readers in
CLIENT_PROCESSES processes, each reader a small WebSocket client written here
(ReaderSocket: the `websockets` client cost more CPU per connect than the
server did, on the same cores). Each reader behaves like static/liveblog/live.js:
it reconnects with `?after=<last seq it has>` after the backoff live.js uses
(the retry ceilings are read from live.js itself, full jitter), and it is caught
up when it holds the column's last seq. The server is stopped (SIGTERM: its
workers close every socket), posts are published while it is down, and it is
started again on the same port. Time 0 is the moment it answers again (/healthz
or a reader's handshake, whichever first).

Prints: readers back and caught up by time (p50/p90/p99/last, share within 5 s),
WebSocket handshakes per second the server saw after time 0 (mean and the peak
100 ms window, as a rate), close codes, and readers with a gap or out-of-order
seq (must be 0). Also, every PROGRESS_SECONDS from the stop on, the readers'
connect attempts, failures, handshakes and closes and the CPU the server's and
the readers' processes used (from /proc/<pid>/stat), and from these the CPU
each side spent per handshake.

Environment: DATABASE_URL (PostgreSQL). A redis-server of its own on a free port.
Options: --readers 2000 --down 3 --workers 2 --socket-workers 2 --old-backoff (the backoff live.js had
before, to compare).
"""

import argparse
import asyncio
import base64
import collections
import hashlib
import json
import multiprocessing
import os
import random
import re
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout  # the shared machinery of the fan-out benchmark

ROOT = fanout.ROOT
CLIENT_PROCESSES = 4
OPEN_TIMEOUT = 30  # seconds for a connect and its handshake, then it counts as failed
CLOSE_TIMEOUT = 10  # seconds the server has to end the TCP connection after the closing handshake
PROGRESS_SECONDS = 0.5
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def live_js_backoff():
    """live.js's retry ceilings in ms: [first ones...], the short ceiling, how many attempts it lasts, the long one."""
    source = (ROOT / "static" / "liveblog" / "live.js").read_text()

    def number(name):
        return int(re.search(rf"var {name} = (\d+);", source).group(1))

    ceilings = [int(n) for n in re.search(r"var RETRY_CEILINGS = \[([\d, ]+)\];", source).group(1).split(",")]
    return ceilings, number("RETRY_SHORT"), number("RETRY_SHORT_ATTEMPTS"), number("RETRY_LONG")


def retry_delay(attempt, backoff):
    """Seconds before the next attempt, as live.js's reconnectLater() computes it."""
    if backoff is None:  # --old-backoff: live.js before issue 11 (half jitter, 0.5 s doubling to 30 s)
        ceiling = min(30000, 500 * 2**attempt)
        return (ceiling / 2 + random.random() * ceiling / 2) / 1000
    ceilings, short, short_attempts, long = backoff
    if attempt < len(ceilings):
        ceiling = ceilings[attempt]
    elif attempt < short_attempts:
        ceiling = short
    else:
        ceiling = min(long, short * 2 ** (attempt - short_attempts + 1))
    return (100 + random.random() * ceiling) / 1000  # jitter, not cryptography


class HandshakeFailed(Exception):
    pass


def masked(opcode, payload):
    """A client's control frame (payload under 126 bytes), masked as RFC 6455 requires of clients."""
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[n % 4] for n, b in enumerate(payload))


class ReaderSocket(asyncio.Protocol):
    """One reader's WebSocket, only what a reader needs: the upgrade, then the server's frames.

    The `websockets` client cost more CPU per connect than the server's handshake, so with 10,000 readers in
    CLIENT_PROCESSES processes on the same two cores the bench measured itself. Here: no extensions
    (the server runs without permessage-deflate), frames parsed straight from the stream."""

    def __init__(self, request, key, on_text):
        self.request = request
        self.accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        self.on_text = on_text
        loop = asyncio.get_running_loop()
        self.opened = loop.create_future()
        self.closed = loop.create_future()  # its result: the close code, as a browser's onclose sees it
        self.code = 1006  # no close frame: the connection was lost
        self.buffer = bytearray()
        self.fragments = None
        self.transport = None
        self.closing = False

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        if not self.opened.done():
            self.opened.set_exception(ConnectionResetError("closed before the handshake"))
        if not self.closed.done():
            self.closed.set_result(self.code)

    def fail(self, reason):
        if not self.opened.done():
            self.opened.set_exception(HandshakeFailed(reason))
        self.transport.abort()

    def data_received(self, data):
        if self.closing:
            return
        buffer = self.buffer
        buffer += data
        if not self.opened.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > 16384:
                    self.fail("answer too long")
                return
            status, *headers = bytes(buffer[:end]).split(b"\r\n")
            del buffer[: end + 4]
            if not status.startswith(b"HTTP/1.1 101 "):
                return self.fail(status.decode("latin-1"))
            accept = [
                v.strip() for n, _, v in (h.partition(b":") for h in headers) if n.lower() == b"sec-websocket-accept"
            ]
            if accept != [self.accept]:
                return self.fail("wrong Sec-WebSocket-Accept")
            self.opened.set_result(None)
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            if second & 0x80:
                return self.fail("a masked frame from the server")
            length, start = second & 0x7F, 2
            if length >= 126:
                start = 4 if length == 126 else 10
                if len(buffer) < start:
                    return
                length = int.from_bytes(buffer[2:start], "big")
            if len(buffer) < start + length:
                return
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            opcode = first & 0x0F
            if opcode == 0x8:
                self.code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.closing = True
                # Answer the close and let the server end the TCP connection, as a browser does.
                self.transport.write(masked(0x8, payload[:2]))
                asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.transport.abort)
                return
            if opcode == 0x9:
                self.transport.write(masked(0xA, payload))  # uvicorn pings every 20 s and drops the silent
            elif opcode in (0x0, 0x1, 0x2):
                if opcode and first & 0x80:
                    self.on_text(payload)
                elif opcode:
                    self.fragments = [payload]
                elif self.fragments is not None:
                    self.fragments.append(payload)
                    if first & 0x80:
                        self.on_text(b"".join(self.fragments))
                        self.fragments = None


def client_process(conn, url, count, backoff):
    import uvloop

    fanout.raise_fd_limit()
    parts = urllib.parse.urlsplit(url)
    address = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname  # `serve` listens on IPv4

    async def main():
        loop = asyncio.get_running_loop()
        state = {"target": None}
        last = [0] * count
        caught_up_at = [None] * count
        handshakes = []  # times a handshake was answered by the server
        codes = collections.Counter()
        # For the report every PROGRESS_SECONDS: attempts, failed attempts, handshakes, closes, caught up.
        counts = collections.Counter()
        disorder = [0]
        connected = [0]
        ready = asyncio.Event()

        def catch(i):
            def on_text(payload):
                if not payload.startswith(b'{"seq":'):
                    return
                seq = int(payload[7 : payload.index(b",", 7)])
                if seq <= last[i]:
                    return  # a duplicate: live.js drops it
                if seq != last[i] + 1:
                    disorder[0] += 1
                last[i] = seq
                if state["target"] is not None and seq >= state["target"] and caught_up_at[i] is None:
                    caught_up_at[i] = time.time()
                    counts["caught_up"] += 1

            return on_text

        async def reader(i):
            on_text = catch(i)
            attempt = 0
            first = True
            while True:
                counts["attempts"] += 1
                key = base64.b64encode(os.urandom(16))
                request = (
                    f"GET {parts.path}?after={last[i]} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
                    f"Origin: {fanout.ORIGIN}\r\n\r\n"
                ).encode()
                ws = None
                try:
                    async with asyncio.timeout(OPEN_TIMEOUT):
                        _, ws = await loop.create_connection(
                            lambda: ReaderSocket(request, key, on_text),  # noqa: B023  called at once
                            address,
                            parts.port,
                        )
                        await ws.opened
                except (OSError, HandshakeFailed, TimeoutError):
                    if ws is not None:
                        ws.transport.abort()
                    counts["failed"] += 1
                    await asyncio.sleep(retry_delay(attempt, backoff))
                    attempt += 1
                    continue
                handshakes.append(time.time())
                counts["handshakes"] += 1
                attempt = 0
                if first:
                    first = False
                    connected[0] += 1
                    if connected[0] == count:
                        ready.set()
                codes[await ws.closed] += 1
                counts["closed"] += 1
                await asyncio.sleep(retry_delay(attempt, backoff))
                attempt += 1

        tasks = []
        for i in range(count):
            tasks.append(asyncio.ensure_future(reader(i)))
            if i % 200 == 199:
                await asyncio.sleep(0.2)
        await asyncio.wait_for(ready.wait(), 120)
        await loop.run_in_executor(None, conn.send, "connected")
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command[0] == "target":
                state["target"] = command[1]
                handshakes.clear()
                for i in range(count):
                    if last[i] >= state["target"]:
                        caught_up_at[i] = time.time()
                        counts["caught_up"] += 1
                await loop.run_in_executor(None, conn.send, "ok")
            elif command[0] == "progress":
                await loop.run_in_executor(None, conn.send, dict(counts))
            elif command[0] == "report":
                report = {"caught_up_at": caught_up_at, "handshakes": handshakes, "codes": dict(codes),
                          "disorder": disorder[0], "last": last}  # fmt: skip
                await loop.run_in_executor(None, conn.send, report)
                for task in tasks:
                    task.cancel()
                return

    uvloop.run(main())


def cpu_seconds(pids, seen):
    """CPU time (user + system) of these processes, added to `seen` ({pid: seconds}, which keeps what
    processes that have ended used); returns the total of `seen`."""
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended since
        seen[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return sum(seen.values())


class Progress(threading.Thread):
    """Every PROGRESS_SECONDS during the storm: the readers' attempts, failures, handshakes and closes, how
    many are caught up, and the CPU the server's processes and the readers' processes used, so the report
    shows where the time goes."""

    def __init__(self, pipes, clients, server, readers):
        super().__init__(daemon=True)
        self.pipes, self.clients, self.server, self.readers = pipes, clients, server, readers
        self.rows = []
        self.all_back = threading.Event()
        self.stopping = threading.Event()
        self.server_seen, self.clients_seen = {}, {}

    def run(self):
        due = time.time()
        while not self.stopping.is_set():
            due += PROGRESS_SECONDS
            if self.stopping.wait(max(0.0, due - time.time())):
                break
            for pipe in self.pipes:
                pipe.send(("progress",))
            counts = collections.Counter()
            for pipe in self.pipes:
                counts.update(pipe.recv())
            server = self.server()  # replaced when the server starts again
            pids = [server.pid, *fanout.server_pids(server.pid)]
            row = dict(counts, at=time.time(), server_cpu=cpu_seconds(pids, self.server_seen))
            row["clients_cpu"] = cpu_seconds([p.pid for p in self.clients], self.clients_seen)
            self.rows.append(row)
            if counts["caught_up"] == self.readers:
                self.all_back.set()

    def stop(self):
        self.stopping.set()
        self.join(timeout=10)


def print_progress(rows, zero, spawned):
    """The progress rows as a table: per PROGRESS_SECONDS, times from time 0, CPU in % of one core."""
    print(f"every {PROGRESS_SECONDS:g} s (t from time 0; the new server was started at t = {spawned:.2f} s):")
    print("     t s  attempts  failed  handshakes  closed  caught up  server CPU  readers' CPU")
    previous = None
    for row in rows:
        if previous is not None:
            seconds = row["at"] - previous["at"]

            def delta(name, row=row, previous=previous):
                return row.get(name, 0) - previous.get(name, 0)

            print(
                f"  {row['at'] - zero:6.2f}  {delta('attempts'):8}  {delta('failed'):6}  {delta('handshakes'):10}  "
                f"{delta('closed'):6}  {row.get('caught_up', 0):9}  {100 * delta('server_cpu') / seconds:8.0f} %  "
                f"{100 * delta('clients_cpu') / seconds:10.0f} %"
            )
        previous = row


def percentile(values, fraction):
    return fanout.percentile(values, fraction)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--down", type=float, default=3.0, help="seconds the server stays down")
    parser.add_argument("--workers", type=int, default=2, help="page workers, as `make serve`")
    parser.add_argument("--socket-workers", type=int, default=2, help="socket workers, as `make serve` (0: none)")
    parser.add_argument("--old-backoff", action="store_true", help="the backoff live.js had before, to compare")
    parser.add_argument("--posts", type=int, default=3, help="posts published while the server is down")
    options = parser.parse_args()
    backoff = None if options.old_backoff else live_js_backoff()
    print(f"fd limit {fanout.raise_fd_limit()}; {os.cpu_count()} cores; {options.readers} readers in "
          f"{CLIENT_PROCESSES} processes; live.js retry ceilings {backoff}")  # fmt: skip
    redis = fanout.start_redis()
    column = server = None
    pipes, processes = [], []
    try:
        fanout.setup_django()
        column, author = fanout.make_column()
        fanout.commit_post(column, author, 0)
        port, socket_port = fanout.serve_ports(options.socket_workers)
        server = fanout.start_liveblog(port, False, options.workers, options.socket_workers, socket_port)
        url = f"ws://localhost:{socket_port}/ws/live/{column.slug}/"
        context = multiprocessing.get_context("spawn")
        base, extra = divmod(options.readers, CLIENT_PROCESSES)
        for n in range(CLIENT_PROCESSES):
            parent, child = context.Pipe()
            count = base + (1 if n < extra else 0)
            process = context.Process(target=client_process, args=(child, url, count, backoff), daemon=True)
            process.start()
            pipes.append(parent)
            processes.append(process)
        for pipe in pipes:
            pipe.recv()
        print(f"{options.readers} readers connected; restarting the server ({options.down:g} s down, "
              f"{options.posts} posts published meanwhile)", flush=True)  # fmt: skip

        stopped_at = time.time()
        server.terminate()
        server.wait(timeout=30)
        for n in range(options.posts):
            fanout.commit_post(column, author, n + 1)
        target = column.events.order_by("-seq").values_list("seq", flat=True)[0]
        for pipe in pipes:
            pipe.send(("target", target))
            pipe.recv()
        progress = Progress(pipes, processes, lambda: server, options.readers)
        progress.start()
        time.sleep(max(0.0, options.down - (time.time() - stopped_at)))
        server = fanout.spawn_liveblog(port, False, options.workers, options.socket_workers, socket_port)
        spawned_at = time.time()
        while not fanout.answers(f"http://127.0.0.1:{port}"):
            time.sleep(0.02)
        healthz_at = time.time()
        progress.all_back.wait(60)
        time.sleep(1)  # the handshakes that were still on their way
        progress.stop()
        reports = []
        for pipe in pipes:
            pipe.send(("report",))
            reports.append(pipe.recv())
    finally:
        for process in processes:
            process.kill()
        fanout.tear_down(server, redis, column)

    # Time 0: the server answers again, to /healthz or to a reader's handshake waiting in the listen queue
    # (`serve` binds the port before its workers start), whichever came first.
    answering_at = min([healthz_at] + [t for r in reports for t in r["handshakes"]])
    print(f"server stopped, then answering again {answering_at - stopped_at:.1f} s later", flush=True)
    times = [t - answering_at for r in reports for t in r["caught_up_at"] if t is not None]
    missing = sum(1 for r in reports for t in r["caught_up_at"] if t is None)
    handshakes = sorted(t - answering_at for r in reports for t in r["handshakes"])
    bins = collections.Counter(int(t * 10) for t in handshakes if t >= 0)
    codes = collections.Counter()
    for r in reports:
        codes.update(r["codes"])
    disorder = sum(r["disorder"] for r in reports)
    within = sum(1 for t in times if t <= 5.0)
    print_progress(progress.rows, answering_at, spawned_at - answering_at)
    # The server's CPU from time 0 until the last reader was back, per handshake in that time (an upper
    # bound: it includes the end of a worker's start-up and the catching up).
    rows = progress.rows
    before = ([r for r in rows if r["at"] <= answering_at] or rows[:1])[-1]
    after = ([r for r in rows if r["at"] >= answering_at + max(times)] or rows[-1:])[0]
    handshaken = after.get("handshakes", 0) - before.get("handshakes", 0)
    server_ms = 1000 * (after["server_cpu"] - before["server_cpu"]) / max(1, handshaken)
    clients_ms = 1000 * (after["clients_cpu"] - before["clients_cpu"]) / max(1, handshaken)
    result = {
        "readers": options.readers,
        "caught_up": len(times),
        "not_caught_up": missing,
        "p50_s": percentile(times, 0.5),
        "p90_s": percentile(times, 0.9),
        "p99_s": percentile(times, 0.99),
        "last_s": max(times),
        "within_5s": within / options.readers,
        "handshakes_after_answering": len([t for t in handshakes if t >= 0]),
        "handshakes_per_s_mean": len([t for t in handshakes if 0 <= t <= max(times)]) / max(times),
        "handshakes_per_s_peak_100ms": 10 * max(bins.values()) if bins else 0,
        "close_codes": {str(k): v for k, v in codes.items()},
        "gaps_or_disorder": disorder,
        "server_cpu_ms_per_handshake": server_ms,
        "readers_cpu_ms_per_handshake": clients_ms,
        "progress": [dict(r, at=r["at"] - answering_at) for r in rows],
    }
    print(
        f"back and caught up: {len(times)}/{options.readers} (missing {missing}); after the server answered: "
        f"p50 {result['p50_s']:.2f} s  p90 {result['p90_s']:.2f} s  p99 {result['p99_s']:.2f} s  "
        f"last {result['last_s']:.2f} s; within 5 s: {100 * result['within_5s']:.1f} % (target 99 %)\n"
        f"handshakes the server answered: mean {result['handshakes_per_s_mean']:.0f}/s, peak "
        f"{result['handshakes_per_s_peak_100ms']:.0f}/s (100 ms window); close codes {result['close_codes']}; "
        f"gaps or disorder {disorder} (target 0)\n"
        f"CPU per handshake from time 0 to the last reader back: server {server_ms:.2f} ms, "
        f"readers (this bench) {clients_ms:.2f} ms"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"reconnect-{options.readers}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
