import socket
import sys

import pytest

_connects = []


def _audit(event, args):
    # Every socket.connect in this process, from any library, passes here: proof of "no connection".
    if event == "socket.connect":
        _connects.append(args[1])


sys.addaudithook(_audit)


class Canary:
    """Listening sockets on 127.0.0.1 and ::1 (same port) that must never see a connection."""

    def __init__(self):
        while True:
            self.v4 = socket.create_server(("127.0.0.1", 0), backlog=64)
            self.port = self.v4.getsockname()[1]
            try:
                self.v6 = socket.create_server(("::1", self.port), family=socket.AF_INET6, backlog=64)
                break
            except OSError:
                self.v4.close()
        for sock in (self.v4, self.v6):
            sock.setblocking(False)

    def connections(self):
        """How many connections reached either socket (the kernel queues them even if nobody accepts)."""
        count = 0
        for sock in (self.v4, self.v6):
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
        return count

    def close(self):
        self.v4.close()
        self.v6.close()


@pytest.fixture
def canary():
    bird = Canary()
    yield bird
    bird.close()


@pytest.fixture
def connects():
    """Addresses passed to socket.connect during the test, by any thread of this process."""
    _connects.clear()
    return _connects
