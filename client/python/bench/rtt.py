"""rtt.py - the Python clients' round trip against a real hmacd (issue 16 item 2).

    HMACD=.../hmacd HMACCTL=.../hmacctl PYTHONPATH=client/python \
        python3 client/python/bench/rtt.py [--rate 2000] [--n 10000] [--c 1,16,64] [--cn 20000]
        [--pool 2]

Starts hmacd (--threads 2) on a temporary directory, creates a key with hmacctl and signs every
item beforehand (each with its own nonce). Then, for the thread-safe Client:

  paced: one thread calls verify() at --rate per second, --n calls; latency counts from the
         time the call was scheduled to start. p50/p99/p99.9, and the process's CPU time and
         context switches (getrusage, all threads) per call.
  cN:    N threads share --cn calls: calls/s, CPU and context switches per call, and the
         items per frame the daemon saw (its stats: items / requests).

and the same cN runs for AsyncClient, with N tasks on one event loop.
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import hmacd


def usage():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw


def make_items(secret, epoch, n, tag):
    out = []
    ts = int(time.time())
    for i in range(n):
        it = hmacd.Item(tenant="acme", container="web-01", epoch=epoch, method="POST",
                        path="/containers/web-01/exec", ts=ts, nonce="%s-%d" % (tag, i),
                        headers=[("content-type", "application/json")],
                        body=b'{"cmd":["ls"]}', sig=b"")
        it.sig = hmacd.sign_item(secret, it)
        out.append(it)
    return out


def paced(client, items, rate):
    client.ping()
    lat = []
    gap = 1.0 / rate
    cpu0, csw0 = usage()
    start = time.perf_counter()
    for i, it in enumerate(items):
        at = start + i * gap
        d = at - time.perf_counter()
        if d > 0:
            time.sleep(d)
        v = client.verify(it)
        if v != hmacd.Verdict.OK:
            raise SystemExit("paced call %d: verdict %d" % (i, v))
        lat.append(time.perf_counter() - at)
    cpu1, csw1 = usage()
    lat.sort()
    q = lambda p: lat[int(p * (len(lat) - 1))] * 1e6
    print("sync paced %d/s x %d: p50 %.0f us, p99 %.0f us, p99.9 %.0f us; per call: "
          "CPU %.1f us, %.2f context switches" % (rate, len(items), q(0.5), q(0.99), q(0.999),
                                                  (cpu1 - cpu0) * 1e6 / len(items),
                                                  (csw1 - csw0) / len(items)))


def report(kind, k, n, el, cpu, csw, s0, s1):
    req = s1["requests"] - s0["requests"] - 1
    print("%s c%d x %d: %.0f calls/s; per call: CPU %.1f us, %.2f context switches; "
          "%.2f items per frame" % (kind, k, n, n / el, cpu * 1e6 / n, csw / n,
                                    (s1["items"] - s0["items"]) / req))


def threaded(client, items, k):
    s0 = client.stats()
    lock = threading.Lock()
    it_iter = iter(items)
    bad = []

    def worker():
        while True:
            with lock:
                it = next(it_iter, None)
            if it is None:
                return
            if client.verify(it) != hmacd.Verdict.OK:
                bad.append(it)

    ts = [threading.Thread(target=worker) for _ in range(k)]
    cpu0, csw0 = usage()
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.perf_counter() - t0
    cpu1, csw1 = usage()
    if bad:
        raise SystemExit("%d wrong verdicts" % len(bad))
    report("sync", k, len(items), el, cpu1 - cpu0, csw1 - csw0, s0, client.stats())


async def tasks(sock, items, k):
    client = hmacd.AsyncClient(sock)
    s0 = await client.stats()
    it_iter = iter(items)
    bad = []

    async def worker():
        for it in it_iter:
            if await client.verify(it) != hmacd.Verdict.OK:
                bad.append(it)

    cpu0, csw0 = usage()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(k)))
    el = time.perf_counter() - t0
    cpu1, csw1 = usage()
    if bad:
        raise SystemExit("%d wrong verdicts" % len(bad))
    report("async", k, len(items), el, cpu1 - cpu0, csw1 - csw0, s0, await client.stats())
    await client.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--c", default="1,16,64")
    ap.add_argument("--cn", type=int, default=20000)
    ap.add_argument("--pool", type=int, default=2, help="Client(pool_size=)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rttbench-")
    sock, db = os.path.join(tmp, "s"), os.path.join(tmp, "db")
    d = subprocess.Popen([os.environ["HMACD"], "--socket", sock, "--db", db, "--threads", "2",
                          "--log-level", "warn"], stdin=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock)
                s.close()
                break
            except OSError:
                time.sleep(0.01)
        key = json.loads(subprocess.check_output(
            [os.environ["HMACCTL"], "--db", db, "key", "create", "--tenant", "acme",
             "--container", "web-01", "--json"]))
        client = hmacd.Client(sock, pool_size=a.pool)
        paced(client, make_items(key["secret"], key["epoch"], a.n, "p"), a.rate)
        for k in (int(x) for x in a.c.split(",")):
            threaded(client, make_items(key["secret"], key["epoch"], a.cn, "t%d" % k), k)
        client.close()
        for k in (int(x) for x in a.c.split(",")):
            asyncio.run(tasks(sock, make_items(key["secret"], key["epoch"], a.cn, "a%d" % k), k))
    finally:
        d.kill()
        d.wait()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
