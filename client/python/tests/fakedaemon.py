"""fakedaemon.py - a scripted fake hmacd on a Unix socket, for what the real daemon never does on
cue: answers lost, late or wrong (test_resend.py), a verdict it only gives in fleet mode
(test_middleware.py: 9 UNAVAILABLE). The `fake` fixture of conftest.py makes them.

It speaks the real protocol (4-byte big-endian length, one msgpack map per frame; PROTOCOL.md
sections 2 to 5) and records every request it reads. Each connection follows script(i), a
function(i, conn, server) for connection number i (0-based). The socket lives in a fresh
directory of ours under /tmp, so the clients' default peer check (the directory's owner) lets it
answer.
"""

import os
import shutil
import socket
import struct
import tempfile
import threading

import msgpack


class FakeDaemon:
    """script(i) -> a function(conn, server) serving connection number i (0-based). verdict:
    what answer() gives every verify item unless told otherwise."""

    def __init__(self, script, verdict=0):
        self.dir = tempfile.mkdtemp(prefix="hmacd-fake-", dir="/tmp")
        self.path = os.path.join(self.dir, "s")
        self.script = script
        self.verdict = verdict
        self.requests = []          # (connection number, decoded request)
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.closed = threading.Event()   # set when the server has closed a connection
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.path)
        self.lsock.listen(16)
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        i = 0
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(i, c), daemon=True).start()
            i += 1

    def _serve(self, i, c):
        try:
            self.script(i)(i, c, self)
        except OSError:
            pass
        finally:
            c.close()
            self.closed.set()

    def read_request(self, i, c):
        """Reads one request frame; None at EOF. Records it."""
        head = self._exact(c, 4)
        if head is None:
            return None
        req = msgpack.unpackb(self._exact(c, struct.unpack(">I", head)[0]), raw=False)
        with self.lock:
            self.requests.append((i, req))
        return req

    @staticmethod
    def _exact(c, n):
        buf = b""
        while len(buf) < n:
            chunk = c.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    @staticmethod
    def send(c, obj):
        payload = msgpack.packb(obj, use_bin_type=True)
        c.sendall(struct.pack(">I", len(payload)) + payload)

    def answer(self, c, req, **override):
        if req["op"] == "verify":
            resp = {"id": req["id"], "results": [self.verdict] * len(req["items"])}
        elif req["op"] == "ping":
            resp = {"id": req["id"], "pong": True}
        else:
            resp = {"id": req["id"], "stats": {"requests": 1}}
        resp.update(override)
        self.send(c, resp)

    def close(self):
        self.release.set()
        self.lsock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def serve_forever(i, c, srv):
    """Answers every request of the connection (answer()) until the client closes it."""
    while True:
        req = srv.read_request(i, c)
        if req is None:
            return
        srv.answer(c, req)
