#!/usr/bin/python3
"""paced.py - the daemon's CPU per request at a fixed, low rate of unbatched requests.

hmacd-bench is closed loop (each connection sends its next frame when the last is answered),
which measures a busy daemon. Issue 16 also asks what one request costs when requests are
few: this sends --rate one-item verify frames per second on an absolute schedule (open loop),
over --connections connections in turn, each sender waiting for its answer, for --duration
seconds after 200 warm-up requests. It starts its own daemon on a fresh key store in /dev/shm
(the item names a key that does not exist: hmacd judges an unknown key with the same lookup,
MAC and compare as a known one) and reads the daemon's CPU time from the scheduler's own
account of each of its threads (/proc/PID/task/*/schedstat), not from clock ticks.

    /usr/bin/python3 bench/paced.py --hmacd _build/daemon/hmacd [--rate 2000] [--duration 4]
        [--connections 4] [--poll]

--hmacd takes any program that accepts hmacd's --socket PATH --db DIR and answers each frame,
such as bench/echo.c (the floor: an epoll loop that answers without looking). --poll waits for
each answer in poll() as an event loop would, instead of in a blocking recv(). Prints one line:
the rate reached, daemon CPU per request (us), and the round trip's p50 and p99 (us).
Needs python3-msgpack and client/python (found next to this file).
"""
import argparse
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "client", "python"))
from hmacd import wire  # noqa: E402


def daemon_cpu_s(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total / 1e9


def recv_frame(s):
    hdr = b""
    while len(hdr) < 4:
        hdr += s.recv(4 - len(hdr))
    n = struct.unpack(">I", hdr)[0]
    got = 0
    while got < n:
        chunk = s.recv(n - got)
        if not chunk:
            raise ConnectionError("daemon closed the connection")
        got += len(chunk)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hmacd", required=True)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--duration", type=float, default=4)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--poll", action="store_true")
    o = ap.parse_args()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    tmp = tempfile.mkdtemp(prefix="hmacd-paced-", dir=shm)
    sock = os.path.join(tmp, "s")
    d = subprocess.Popen([o.hmacd, "--socket", sock, "--db", os.path.join(tmp, "db"),
                          "--log-level", "warn"])
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        item = wire.pack_item(wire.Item(tenant="t", container="c", epoch=1, method="POST",
                                        path="/x", ts=int(time.time()), sig=b"\0" * 32,
                                        body=b"b" * 256))
        frame = wire.verify_frame(1, [item])
        socks, polls = [], []
        for _ in range(o.connections):
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            p = select.poll()
            p.register(s, select.POLLIN)
            socks.append(s)
            polls.append(p)
        lat = []

        def one(k):
            s = socks[k % len(socks)]
            t = time.perf_counter()
            s.sendall(frame)
            if o.poll:
                polls[k % len(socks)].poll()
            recv_frame(s)
            lat.append(time.perf_counter() - t)

        for k in range(200):
            one(k)
        lat.clear()
        c0, t0, k = daemon_cpu_s(d.pid), time.perf_counter(), 0
        while True:
            due = t0 + k / o.rate
            if due - t0 >= o.duration:
                break
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            one(k)
            k += 1
        elapsed, c1 = time.perf_counter() - t0, daemon_cpu_s(d.pid)
        lat.sort()
        print("rate %.0f/s  daemon CPU per request %.2f us  p50 %.1f us  p99 %.1f us  (%d requests)"
              % (k / elapsed, (c1 - c0) / k * 1e6, lat[len(lat) // 2] * 1e6,
                 lat[int(len(lat) * 0.99)] * 1e6, k))
    finally:
        d.terminate()
        d.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
