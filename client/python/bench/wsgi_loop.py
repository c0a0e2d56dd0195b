"""wsgi_loop.py - the WSGI middleware's path for one request, in a loop, against a real hmacd
and in-process (issue 16: what the Python client costs a Flask app per request).

    HMACD=.../hmacd HMACCTL=.../hmacctl PYTHONPATH=client/python \
        python3 client/python/bench/wsgi_loop.py [--n 20000] [--reps 3]

Starts hmacd on a temporary directory with one key, signs one hmacd-v1 request as
bench/http/sign.py does (host and content-type signed, no nonce), and calls
HmacdWSGIMiddleware around an app that only answers 200, with a fresh environ each time:
through hmacd (hmacd.Client) and with bench/http/inproc.py's InprocVerifier (the same
canonical string and HMAC in the process), alternately, --reps times. Prints per request the
process's CPU time (user and system, getrusage) and context switches, and the wall time;
then the parts: wire.pack_item, wire.verify_frame, wire.decode_response, Client.verify alone.
The hmacd package is whichever PYTHONPATH gives, so two checkouts can be compared.
"""

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import hmacd
from hmacd import wire
from hmacd.signer import Signer
from hmacd.wsgi import HmacdWSGIMiddleware

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                             "bench", "http"))
from inproc import InprocVerifier  # noqa: E402  (bench/http, after the hmacd under test)


def usage():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="wsgiloop-")
    sock, db = os.path.join(tmp, "s"), os.path.join(tmp, "db")
    d = subprocess.Popen([os.environ["HMACD"], "--socket", sock, "--db", db, "--log-level",
                          "warn"], stdin=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        key = json.loads(subprocess.check_output(
            [os.environ["HMACCTL"], "--db", db, "key", "create", "--tenant", "bench",
             "--container", "c0", "--json"]))
        keys = os.path.join(tmp, "keys")
        fd = os.open(keys, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(key) + "\n")
        body = b'{"cmd":["echo","x"],"tty":false}'
        target = "/containers/c0/exec"
        auth = Signer("bench", key["epoch"], key["secret"]).sign_request(
            "POST", target, container="c0",
            headers={"host": "127.0.0.1:8080", "content-type": "application/json"},
            body=body, nonce="")
        base = {"REQUEST_METHOD": "POST", "RAW_URI": target, "PATH_INFO": target,
                "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080",
                "HTTP_HOST": "127.0.0.1:8080", "CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(body)), "HTTP_AUTHORIZATION": auth,
                "wsgi.url_scheme": "http"}

        def inner(environ, start_response):
            start_response("200 OK", [])
            return [b"ok"]

        def start_response(status, headers):
            if not status.startswith("200"):
                raise SystemExit("refused: %s" % status)

        client = hmacd.Client(sock)
        verifiers = {"hmacd": client, "inproc": InprocVerifier(keys)}
        mws = {m: HmacdWSGIMiddleware(inner, v, container_pattern=r"/containers/(?P<id>[^/]+)/exec")
               for m, v in verifiers.items()}

        def run(mode, n):
            mw = mws[mode]
            u0, s0, c0 = usage()
            t0 = time.perf_counter()
            for _ in range(n):
                e = dict(base)
                e["wsgi.input"] = io.BytesIO(body)
                mw(e, start_response)
            t1 = time.perf_counter()
            u1, s1, c1 = usage()
            return (u1 - u0) * 1e6 / n, (s1 - s0) * 1e6 / n, (c1 - c0) / n, (t1 - t0) * 1e6 / n

        for m in mws:
            run(m, 1000)
        print("# hmacd package: %s" % os.path.dirname(hmacd.__file__))
        for _ in range(a.reps):
            for m in mws:
                u, s, cs, wall = run(m, a.n)
                print("%-6s middleware per request: CPU %.1f us (user %.1f, sys %.1f), "
                      "%.2f context switches, wall %.1f us" % (m, u + s, u, s, cs, wall))

        def per(f):
            t0 = time.perf_counter()
            for _ in range(a.n):
                f()
            return (time.perf_counter() - t0) * 1e6 / a.n
        it = hmacd.Item(tenant="bench", container="c0", epoch=key["epoch"], method="POST",
                        path=target, ts=int(time.time()),
                        headers=[("host", "127.0.0.1:8080"), ("content-type",
                                                              "application/json")],
                        body=body, sig=b"")
        it.sig = hmacd.sign_item(key["secret"], it)
        packed = [wire.pack_item(it)]
        answer = b"\x82\xa2id\x07\xa7results\x91\x00"
        print("pack_item %.2f us, verify_frame %.2f us, decode_response %.2f us" % (
            per(lambda: wire.pack_item(it)), per(lambda: wire.verify_frame(7, packed)),
            per(lambda: wire.decode_response(answer))))
        u0, s0, c0 = usage()
        wall = per(lambda: client.verify(it))
        u1, s1, c1 = usage()
        print("Client.verify alone: CPU %.1f us (user %.1f, sys %.1f), wall %.1f us" % (
            (u1 - u0 + s1 - s0) * 1e6 / a.n, (u1 - u0) * 1e6 / a.n, (s1 - s0) * 1e6 / a.n, wall))
        client.close()
    finally:
        d.kill()
        d.wait()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
