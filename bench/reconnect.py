"""Reconnect storm: N live readers, the whole server restarted, how fast are they all back and caught up?

The production stack (`manage.py serve`, WORKERS workers) serves N readers in
CLIENT_PROCESSES processes. Each reader behaves like static/liveblog/live.js:
it reconnects with `?after=<last seq it has>` after the backoff live.js uses
(the retry ceilings are read from live.js itself, full jitter), and it is caught
up when it holds the column's last seq. The server is stopped (SIGTERM: its
workers close every socket), posts are published while it is down, and it is
started again on the same port. Time 0 is the moment it answers /healthz again.

Prints: readers back and caught up by time (p50/p90/p99/last, share within 5 s),
WebSocket handshakes per second the server saw after time 0 (mean and the peak
100 ms window, as a rate), close codes, and readers with a gap or out-of-order
seq (must be 0).

Environment: DATABASE_URL (PostgreSQL). A redis-server of its own on a free port.
Options: --readers 2000 --down 3 --workers 2 --old-backoff (the backoff live.js had before, to compare).
"""

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout  # the shared machinery of the fan-out benchmark

ROOT = fanout.ROOT
CLIENT_PROCESSES = 4


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


def client_process(conn, url, count, backoff):
    import uvloop
    import websockets

    fanout.raise_fd_limit()

    async def main():
        state = {"target": None}
        last = [0] * count
        caught_up_at = [None] * count
        handshakes = []  # times a handshake was answered by the server
        codes = collections.Counter()
        disorder = [0]
        connected = [0]
        ready = asyncio.Event()

        async def reader(i):
            attempt = 0
            first = True
            while True:
                try:
                    ws = await websockets.connect(f"{url}?after={last[i]}", origin=fanout.ORIGIN, open_timeout=30)
                except (OSError, websockets.InvalidHandshake, TimeoutError):
                    await asyncio.sleep(retry_delay(attempt, backoff))
                    attempt += 1
                    continue
                handshakes.append(time.time())
                attempt = 0
                if first:
                    first = False
                    connected[0] += 1
                    if connected[0] == count:
                        ready.set()
                try:
                    async for message in ws:
                        if not message.startswith('{"seq":'):
                            continue
                        seq = int(message[7 : message.index(",", 7)])
                        if seq <= last[i]:
                            continue  # a duplicate: live.js drops it
                        if seq != last[i] + 1:
                            disorder[0] += 1
                        last[i] = seq
                        if state["target"] is not None and seq >= state["target"] and caught_up_at[i] is None:
                            caught_up_at[i] = time.time()
                except websockets.ConnectionClosed:
                    pass
                codes[ws.close_code] += 1
                await asyncio.sleep(retry_delay(attempt, backoff))
                attempt += 1

        tasks = []
        for i in range(count):
            tasks.append(asyncio.ensure_future(reader(i)))
            if i % 200 == 199:
                await asyncio.sleep(0.2)
        await asyncio.wait_for(ready.wait(), 120)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.send, "connected")
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command[0] == "target":
                state["target"] = command[1]
                handshakes.clear()
                for i in range(count):
                    if last[i] >= state["target"]:
                        caught_up_at[i] = time.time()
                await loop.run_in_executor(None, conn.send, "ok")
            elif command[0] == "count":
                await loop.run_in_executor(None, conn.send, sum(1 for t in caught_up_at if t is not None))
            elif command[0] == "report":
                report = {"caught_up_at": caught_up_at, "handshakes": handshakes, "codes": dict(codes),
                          "disorder": disorder[0], "last": last}  # fmt: skip
                await loop.run_in_executor(None, conn.send, report)
                for task in tasks:
                    task.cancel()
                return

    uvloop.run(main())


def percentile(values, fraction):
    return fanout.percentile(values, fraction)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--down", type=float, default=3.0, help="seconds the server stays down")
    parser.add_argument("--workers", type=int, default=2)
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
        port = fanout.free_port()
        server = fanout.start_liveblog(port, False, options.workers)
        url = f"ws://localhost:{port}/ws/live/{column.slug}/"
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
        time.sleep(max(0.0, options.down - (time.time() - stopped_at)))
        server = fanout.spawn_liveblog(port, False, options.workers)
        while not fanout.answers(f"http://127.0.0.1:{port}"):
            time.sleep(0.02)
        healthz_at = time.time()
        deadline = healthz_at + 60
        while time.time() < deadline:
            time.sleep(1)
            for pipe in pipes:
                pipe.send(("count",))
            if sum(pipe.recv() for pipe in pipes) == options.readers:
                break
        time.sleep(1)  # the handshakes that were still on their way
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
    }
    print(
        f"back and caught up: {len(times)}/{options.readers} (missing {missing}); after the server answered: "
        f"p50 {result['p50_s']:.2f} s  p90 {result['p90_s']:.2f} s  p99 {result['p99_s']:.2f} s  "
        f"last {result['last_s']:.2f} s; within 5 s: {100 * result['within_5s']:.1f} % (target 99 %)\n"
        f"handshakes the server answered: mean {result['handshakes_per_s_mean']:.0f}/s, peak "
        f"{result['handshakes_per_s_peak_100ms']:.0f}/s (100 ms window); close codes {result['close_codes']}; "
        f"gaps or disorder {disorder} (target 0)"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"reconnect-{options.readers}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
