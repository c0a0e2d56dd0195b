"""examples_check.py - one example app, running, against the contract of README.md "Example
apps", with requests signed by the Python client's signers (tests/e2e/examples.sh starts the
daemon and the app and runs this).

    examples_check.py --url http://127.0.0.1:PORT --keys DIR --log FILE     # hmacd up
    examples_check.py --url http://127.0.0.1:PORT --keys DIR --down         # hmacd absent

DIR holds v1.json (acme/web-01, from `hmacctl key create --json`) and rfc.json ({"keyid",
"secret"} of acme/web-03, imported). FILE is the app's log: each 401's reason (the verdict's
name) must be in it and never in a response. Exit status 0 when every check passed; the
first failure is printed and exits 1.
"""

import argparse
import http.client
import json
import sys
import time
import urllib.parse

from hmacd import Signer
from hmacd import rfc9421

S400 = {"error": "bad_request"}
S401 = {"error": "unauthorized"}
S413 = {"error": "too_large"}
S503 = {"error": "unavailable"}
MAX_BODY = 64 * 1024
LS = {"tenant": "acme", "container": "web-01", "cmd": ["ls", "-l"], "tty": False}


class Failed(Exception):
    pass


class App:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.authority = "%s:%d" % (self.host, self.port)

    def send(self, method, target, body=b"", headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            conn.close()

    def wait(self, seconds=60):
        """Until GET /healthz answers (the app may still be starting)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                return self.send("GET", "/healthz")
            except OSError:
                if time.monotonic() > deadline:
                    raise Failed("GET /healthz: no answer in %d s" % seconds)
                time.sleep(0.1)


def header(headers, name):
    vals = [v for n, v in headers if n.lower() == name]
    return vals[0] if len(vals) == 1 else None


def expect(what, got, status, body):
    code, headers, raw = got
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = raw
    if code != status or doc != body:
        raise Failed("%s: %d %r, want %d %r" % (what, code, raw, status, body))
    ctype = header(headers, "content-type") or ""
    if not ctype.startswith("application/json"):
        raise Failed("%s: Content-Type %r" % (what, ctype))
    if (status == 401) != (header(headers, "www-authenticate") == "HMACD-V1"):
        raise Failed("%s: %d with WWW-Authenticate %r" % (what, status,
                                                            header(headers,
                                                                   "www-authenticate")))
    print("ok: %s: %d" % (what, status))


def v1(app, key, body, sign_for="web-01", send_to="web-01"):
    """A POST to /containers/<send_to>/exec signed (hmacd-v1) for container sign_for."""
    signer = Signer(key["tenant"], epoch=key["epoch"], secret=key["secret"])
    headers = {"Host": app.authority, "Content-Type": "application/json"}
    headers["Authorization"] = signer.sign_request(
        "POST", "/containers/%s/exec" % sign_for, container=sign_for, headers=headers,
        body=body)
    return "/containers/%s/exec" % send_to, headers


def check_up(app, keys, log):
    v1key = json.load(open(keys + "/v1.json"))
    rk = json.load(open(keys + "/rfc.json"))
    ls = json.dumps({"cmd": ["ls", "-l"]}).encode()

    expect("GET /healthz", app.wait(), 200, {"ok": True})
    target, h = v1(app, v1key, ls)
    expect("hmacd-v1", app.send("POST", target, ls, h), 200, LS)
    tty = json.dumps({"cmd": ["sh"], "tty": True}).encode()
    target, h = v1(app, v1key, tty)
    expect("hmacd-v1, tty", app.send("POST", target, tty, h), 200,
           {"tenant": "acme", "container": "web-01", "cmd": ["sh"], "tty": True})

    # RFC 9421, covering @scheme: the app derives "http" from its plain connection.
    url = "http://%s/containers/web-03/exec" % app.authority
    h = {"Host": app.authority, "Content-Type": "application/json", "X-Tenant": "acme"}
    h.update(rfc9421.sign("POST", url, key=rk["secret"], keyid=rk["keyid"], headers=h,
                          body=ls, components=["@method", "@authority", "@path",
                                               "@scheme", "content-digest"]))
    expect("rfc9421 covering @scheme http", app.send("POST", "/containers/web-03/exec", ls, h),
           200, {"tenant": "acme", "container": "web-03", "cmd": ["ls", "-l"], "tty": False})
    https = "https://%s/containers/web-03/exec" % app.authority
    h = {"Host": app.authority, "Content-Type": "application/json", "X-Tenant": "acme",
         "X-Forwarded-Proto": "https"}
    h.update(rfc9421.sign("POST", https, key=rk["secret"], keyid=rk["keyid"], headers=h,
                          body=ls, components=["@method", "@authority", "@path",
                                               "@scheme", "content-digest"]))
    expect("rfc9421 @scheme https over http, X-Forwarded-Proto forged",
           app.send("POST", "/containers/web-03/exec", ls, h), 401, S401)

    target, h = v1(app, v1key, ls, sign_for="web-01", send_to="web-02")
    expect("signed for web-01, sent to web-02", app.send("POST", target, ls, h), 401, S401)
    target, h = v1(app, v1key, ls)
    expect("body tampered", app.send("POST", target, ls.replace(b"ls", b"rm"), h), 401, S401)
    target, h = v1(app, v1key, ls)
    del h["Authorization"]
    expect("unsigned", app.send("POST", target, ls, h), 401, S401)
    target, h = v1(app, v1key, ls)
    expect("first use", app.send("POST", target, ls, h), 200, LS)
    expect("replayed", app.send("POST", target, ls, h), 401, S401)

    for bad in (b'{"cmd":["ls"],"container":"web-02"}', b'{"cmd":"ls"}', b'{"cmd":[]}',
                b"not json", b'{"cmd":["ls"],"tty":"yes"}'):
        target, h = v1(app, v1key, bad)
        expect("body %s" % bad.decode(), app.send("POST", target, bad, h), 400, S400)
    big = json.dumps({"cmd": ["x" * MAX_BODY]}).encode()
    target, h = v1(app, v1key, big)
    expect("body over 64 KiB", app.send("POST", target, big, h), 413, S413)

    time.sleep(0.2)  # a log line may follow its response
    text = open(log, encoding="utf-8", errors="replace").read()
    for reason in ("BAD_SIGNATURE", "REPLAY"):
        if reason not in text:
            raise Failed("the app's log does not give the 401's reason %s:\n%s" % (reason, text))
    print("ok: the 401 reasons are in the app's log")


def check_down(app, keys):
    v1key = json.load(open(keys + "/v1.json"))
    ls = json.dumps({"cmd": ["ls"]}).encode()
    expect("GET /healthz, hmacd absent", app.wait(), 200, {"ok": True})
    target, h = v1(app, v1key, ls)
    expect("hmacd absent", app.send("POST", target, ls, h), 503, S503)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--keys", required=True)
    p.add_argument("--log")
    p.add_argument("--down", action="store_true")
    a = p.parse_args()
    app = App(a.url)
    try:
        if a.down:
            check_down(app, a.keys)
        else:
            check_up(app, a.keys, a.log)
    except Failed as e:
        print("FAIL:", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
