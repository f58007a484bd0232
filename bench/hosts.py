"""Several hosts: two `manage.py serve` hosts in network namespaces sharing PostgreSQL and Redis; one is killed.

Needs root (it makes network namespaces and veth pairs) and PostgreSQL on 127.0.0.1:5432. Host N lives in
namespace lbh-<pid>-N with address 10.211.N.2, reached over a veth pair from the root namespace (10.211.N.1).
The hosts reach the machine's PostgreSQL (which listens on loopback only, and stays untouched) through a
small TCP forwarder of ours listening on the root-side veth addresses, and a redis-server of ours bound to
those addresses and loopback. Host 1 runs the scheduler, host 2 does not (`--no-scheduler`).

READERS readers per host (in the root namespace, as browsers behind a load balancer) behave like live.js:
on a close they reconnect, to the next host in the list, with `?after=<last seq>`. Posts are published
every 0.2 s through the ORM. Host 1 is killed (SIGKILL to its `serve`; its workers die with it). Then:
host 2's readers must not have been closed at all, host 1's readers must be back on host 2, and every reader
must hold every event, in order, none twice. Prints the figures; exits non-zero when any check fails.

Environment: DATABASE_URL (PostgreSQL). Options: --readers 200 --posts 40.
"""

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout  # the shared machinery of the fan-out benchmark

ROOT = fanout.ROOT
TAG = f"lbh{os.getpid() % 100000}"
SUBNET = "10.211"


def sh(*command):
    subprocess.run(command, check=True)


class Network:
    """Namespaces and veth pairs of our own; removed at the end whatever happens."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.made = []

    def namespace(self, n):
        return f"{TAG}-{n}"

    def host_address(self, n):
        return f"{SUBNET}.{n}.2"

    def root_address(self, n):
        return f"{SUBNET}.{n}.1"

    def create(self):
        for n in range(1, self.hosts + 1):
            ns, outside, inside = self.namespace(n), f"{TAG}r{n}", f"{TAG}h{n}"
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            sh("ip", "link", "set", inside, "netns", ns)
            sh("ip", "addr", "add", f"{self.root_address(n)}/24", "dev", outside)
            sh("ip", "link", "set", outside, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.host_address(n)}/24", "dev", inside)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", self.root_address(n))

    def remove(self):
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], check=False)  # takes its veth pair with it


def forwarder(addresses, port, target, ready):
    """A TCP forwarder of ours: the hosts reach the loopback-only PostgreSQL through it."""

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    async def main():
        servers = [await asyncio.start_server(handle, address, port) for address in addresses]
        ready.set()
        await asyncio.gather(*(server.serve_forever() for server in servers))

    asyncio.run(main())


def free_port_on(address):
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


class Readers(threading.Thread):
    """Readers that behave like live.js: on a close, reconnect to the next host with ?after=<last>."""

    def __init__(self, hosts, slug, per_host):
        super().__init__(daemon=True)
        self.urls = [f"ws://{host}:8000/ws/live/{slug}/" for host in hosts]
        self.per_host = per_host
        self.seqs = []  # per reader: every seq received, in order
        self.closes = []  # per reader: [(time, host index, close code)]
        self.host_of = []  # per reader: the host it is on now
        self.back_at = []  # per reader: when it reconnected after its last close
        self.ready = threading.Event()
        self.stopping = False

    def run(self):
        asyncio.run(self.main())

    async def main(self):
        import websockets

        async def reader(i, host):
            self.seqs.append([])
            self.closes.append([])
            self.host_of.append(host)
            self.back_at.append(None)
            opened = False
            while not self.stopping:
                last = self.seqs[i][-1] if self.seqs[i] else 0
                try:
                    ws = await websockets.connect(f"{self.urls[host]}?after={last}", origin=fanout.ORIGIN)
                except (OSError, websockets.InvalidHandshake, TimeoutError):
                    host = (host + 1) % len(self.urls)  # the load balancer's health check takes it out
                    await asyncio.sleep(0.1)
                    continue
                self.host_of[i] = host
                if opened:
                    self.back_at[i] = time.time()
                opened = True
                try:
                    async for message in ws:
                        if message.startswith('{"seq":'):
                            seq = int(message[7 : message.index(",", 7)])
                            if not self.seqs[i] or seq > self.seqs[i][-1]:
                                self.seqs[i].append(seq)
                except websockets.ConnectionClosed:
                    pass
                if self.stopping:
                    return
                self.closes[i].append((time.time(), host, ws.close_code))
                host = (host + 1) % len(self.urls)
                await asyncio.sleep(0.1)

        tasks = []
        for host in range(len(self.urls)):
            for _ in range(self.per_host):
                tasks.append(asyncio.ensure_future(reader(len(tasks), host)))
                await asyncio.sleep(0.002)
        while sum(1 for s in self.host_of if s is not None) < len(tasks):
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        self.ready.set()
        while not self.stopping:
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200, help="readers per host")
    parser.add_argument("--posts", type=int, default=40)
    options = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/hosts.py makes network namespaces: run it as root.")
    fanout.raise_fd_limit()
    network = Network(2)
    processes = []
    column = None
    failures = []
    try:
        network.create()
        roots = [network.root_address(n) for n in (1, 2)]
        redis_port = free_port_on("127.0.0.1")
        processes.append(subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", " ".join([*roots, "127.0.0.1"]),
             "--protected-mode", "no", "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
        ))  # fmt: skip
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        pg_port = free_port_on("127.0.0.1")
        ready = threading.Event()
        threading.Thread(target=forwarder, args=(roots, pg_port, ("127.0.0.1", 5432), ready), daemon=True).start()
        ready.wait(10)
        fanout.setup_django()
        from django.conf import settings
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)
        column, author = fanout.make_column()
        database = settings.DATABASES["default"]
        hosts = [network.host_address(n) for n in (1, 2)]
        servers = []
        for n in (1, 2):
            env = dict(
                os.environ,
                DEBUG="0",
                SECRET_KEY="bench-only-secret-key-" + "h" * 40,
                SECURE_SSL_REDIRECT="0",
                LOG_LEVEL="WARNING",
                CHANNEL_PREFIX=fanout.PREFIX,
                ALLOWED_HOSTS=",".join(["localhost", *hosts]),
                REDIS_URL=f"redis://{network.root_address(n)}:{redis_port}/0",
                DATABASE_URL=f"postgres://{database['USER']}@{network.root_address(n)}:{pg_port}/{database['NAME']}",
            )
            command = ["ip", "netns", "exec", network.namespace(n), sys.executable, "manage.py", "serve",
                       "--no-setup", "--host", network.host_address(n), "--port", "8000"]  # fmt: skip
            if n == 2:
                command.append("--no-scheduler")
            server = subprocess.Popen(command, cwd=ROOT, env=env)  # `ip netns exec` execs: this pid is serve's
            processes.append(server)
            servers.append(server)
        deadline = time.time() + 60
        while not all(fanout.answers(f"http://{host}:8000", timeout=2) for host in hosts):
            if time.time() > deadline:
                raise RuntimeError("the hosts did not answer /healthz")
            time.sleep(0.2)
        print(f"2 hosts up ({', '.join(hosts)}), sharing PostgreSQL (through our forwarder) and our redis-server")

        readers = Readers(hosts, column.slug, options.readers)
        readers.start()
        readers.ready.wait(120)
        print(f"{options.readers} readers on each host")
        half = options.posts // 2
        for n in range(half):
            fanout.commit_post(column, author, n)
            time.sleep(0.2)
        killed_at = time.time()
        servers[0].send_signal(signal.SIGKILL)
        print("host 1 killed (SIGKILL to its serve)", flush=True)
        for n in range(half, options.posts):
            fanout.commit_post(column, author, n)
            time.sleep(0.2)
        last = column.events.order_by("-seq").values_list("seq", flat=True)[0]
        deadline = time.time() + 30
        while time.time() < deadline and any(not s or s[-1] < last for s in readers.seqs):
            time.sleep(0.2)
        readers.stopping = True
        time.sleep(0.5)

        expected = list(range(1, last + 1))
        on_1 = range(options.readers)
        on_2 = range(options.readers, 2 * options.readers)
        incomplete = [i for i, s in enumerate(readers.seqs) if s != expected]
        closed_on_2 = [i for i in on_2 if readers.closes[i]]
        moved = [i for i in on_1 if readers.host_of[i] == 1]
        back = [readers.back_at[i] - killed_at for i in on_1 if readers.back_at[i]]
        codes = sorted({code for i in on_1 for _, _, code in readers.closes[i]})
        print(f"events 1..{last}: readers holding every one, in order, once: "
              f"{2 * options.readers - len(incomplete)}/{2 * options.readers}")  # fmt: skip
        print(f"host 2's readers closed: {len(closed_on_2)} (target 0)")
        print(f"host 1's readers now on host 2: {len(moved)}/{options.readers} (close codes seen {codes}); "
              f"back {max(back) if back else float('nan'):.2f} s after the kill at the latest, "
              f"median {sorted(back)[len(back) // 2] if back else float('nan'):.2f} s")  # fmt: skip
        if incomplete:
            failures.append(f"{len(incomplete)} readers lack events or got them out of order")
        if closed_on_2:
            failures.append(f"{len(closed_on_2)} of host 2's readers were closed")
        if len(moved) != options.readers:
            failures.append("not every reader of host 1 moved to host 2")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        if column is not None:
            column.delete()
        network.remove()
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))
    print("OK: nothing lost, nothing out of order, host 2's readers untouched")


if __name__ == "__main__":
    main()
