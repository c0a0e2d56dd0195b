"""examples_check.py - one example app, running, against the contract of README.md "Example
apps", with requests signed by the Python client's signers and, for the cross-language
matrix, by the other languages' (tests/e2e/examples.sh starts the daemon and the app and runs
this).

    examples_check.py --url URL --keys DIR [--signer NAME=CMD]... --log FILE  # hmacd up
    examples_check.py --url URL --keys DIR [--signer NAME=CMD]... --trust-proxy
    examples_check.py --url URL --keys DIR --down                            # hmacd absent

(--trust-proxy: the app started with HMACD_TRUST_PROXY=1.)

URL is the app's (http://127.0.0.1:PORT). DIR holds v1.json (acme/web-01, from `hmacctl key
create --json`) and rfc.json ({"keyid", "secret"} of acme/web-03, imported). FILE is the app's
log: each 401's reason (the verdict's name) must be in it and never in a response.

hmacd up: the contract (healthz, 200, 400s, 413, the log) with the Python signer; then the
matrix: for each signer (python, and each --signer) and each scheme (hmacd-v1, RFC 9421
covering @scheme), a request that passes (200, with and without a query), and the attacks that
must not: the request for one container sent to another, a valid signature made with one
container's key for another's path, the body stripped or changed, the query changed or added,
the nonce replayed, unsigned; and for RFC 9421 a signature over https sent to the plain-HTTP
app with a forged X-Forwarded-Proto: https. --trust-proxy: the app trusts its proxy's
X-Forwarded-Proto, so https + X-Forwarded-Proto: https passes, and https without it, http with
it, and a client's https that the proxy appended its http to do not.

Signer protocol (--signer NAME=CMD: CMD, split as a shell would, is started once and kept):
each request to sign is one line of JSON on its stdin, {"scheme": "hmacd-v1" | "rfc9421",
"key": the key file's object, "method": "POST", "url": the absolute URL (scheme, authority and
target exactly as sent), "container": the container signed for (hmacd-v1), "headers": {name:
value} as sent (Host among them), "body": base64, "components": [...] (rfc9421)}; it answers
with one line, {name: value} of the headers to add, or {"error": message}.

Exit status 0 when every check passed; the first failure is printed and exits 1.
"""

import argparse
import base64
import http.client
import json
import shlex
import subprocess
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

    # the body binds alike everywhere: cmd holds 1 to 64 strings of at most 4096 characters
    # (code points), the first not empty; tty a boolean; nothing else, in UTF-8 JSON
    for good, cmd in ((json.dumps({"cmd": ["a"] * 64}).encode(), ["a"] * 64),
                      (json.dumps({"cmd": ["é" * 4096]}, ensure_ascii=False).encode(),
                       ["é" * 4096]),
                      (b'{"cmd":["ls",""]}', ["ls", ""])):
        target, h = v1(app, v1key, good)
        expect("body %r" % good[:40], app.send("POST", target, good, h), 200,
               dict(LS, cmd=cmd))
    for bad in (b'{"cmd":["ls"],"container":"web-02"}', b'{"cmd":"ls"}', b'{"cmd":[]}',
                b"not json", b'{"cmd":["ls"],"tty":"yes"}', b'{"cmd":["ls"],"CMD":["rm"]}',
                b'{"CMD":["ls"]}', b'{"cmd":["ls"],"cmd":["rm"]}', b'{"cmd":["ls"]} x',
                b'{"cmd":[""]}', b'{"cmd":["ls"],"tty":null}', b'{"cmd":["ls",1]}',
                b"null", b"[]", b"", b'\xef\xbb\xbf{"cmd":["ls"]}', b'{"cmd":["\xff"]}',
                json.dumps({"cmd": ["a"] * 65}).encode(),
                json.dumps({"cmd": ["é" * 4097]}, ensure_ascii=False).encode()):
        target, h = v1(app, v1key, bad)
        expect("body %r" % bad[:40], app.send("POST", target, bad, h), 400, S400)
    big = json.dumps({"cmd": ["x" * MAX_BODY]}).encode()
    target, h = v1(app, v1key, big)
    expect("body over 64 KiB", app.send("POST", target, big, h), 413, S413)

    time.sleep(0.2)  # a log line may follow its response
    text = open(log, encoding="utf-8", errors="replace").read()
    for reason in ("BAD_SIGNATURE", "REPLAY"):
        if reason not in text:
            raise Failed("the app's log does not give the 401's reason %s:\n%s" % (reason, text))
    print("ok: the 401 reasons are in the app's log")


RFC_COMPONENTS = ["@method", "@authority", "@path", "@scheme", "content-digest"]


class PythonSigner:
    name = "python"

    def sign(self, req):
        body = base64.b64decode(req["body"])
        if req["scheme"] == "hmacd-v1":
            key = req["key"]
            signer = Signer(key["tenant"], epoch=key["epoch"], secret=key["secret"])
            target = urllib.parse.urlsplit(req["url"])
            target = target.path + ("?" + target.query if target.query else "")
            return {"Authorization": signer.sign_request(
                req["method"], target, container=req["container"], headers=req["headers"],
                body=body)}
        return rfc9421.sign(req["method"], req["url"], key=req["key"]["secret"],
                            keyid=req["key"]["keyid"], headers=req["headers"], body=body,
                            components=req["components"])


class ProcessSigner:
    """Another language's signer, a filter speaking the signer protocol."""

    def __init__(self, name, cmd):
        self.name = name
        self.proc = subprocess.Popen(shlex.split(cmd), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def sign(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise Failed("signer %s: no answer (exited %s)" % (self.name, self.proc.poll()))
        out = json.loads(line)
        if "error" in out:
            raise Failed("signer %s: %s" % (self.name, out["error"]))
        return out

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


class Matrix:
    """Requests signed by one signer, hmacd-v1 with v1.json's key (acme/web-01) or RFC 9421
    with rfc.json's (acme/web-03)."""

    def __init__(self, app, signer, keys):
        self.app, self.signer = app, signer
        self.v1key = json.load(open(keys + "/v1.json"))
        self.rkey = json.load(open(keys + "/rfc.json"))

    def signed(self, scheme, target, body, *, container=None, url_scheme="http", extra=None):
        """Headers for a POST to target (path and query) signed with scheme; container: the
        one signed for (hmacd-v1; default the key's own)."""
        headers = {"Host": self.app.authority, "Content-Type": "application/json"}
        if scheme == "rfc9421":
            headers["X-Tenant"] = "acme"
        headers.update(extra or {})
        req = {"scheme": scheme, "method": "POST",
               "url": "%s://%s%s" % (url_scheme, self.app.authority, target),
               "headers": headers, "body": base64.b64encode(body).decode()}
        if scheme == "hmacd-v1":
            req.update(key=self.v1key, container=container or self.v1key["container"])
        else:
            components = list(RFC_COMPONENTS)
            if "?" in target:
                components.insert(3, "@query")
            req.update(key=self.rkey, components=components)
        headers.update(self.signer.sign(req))
        return headers

    def run(self, what, target, body, headers, status, answer):
        expect("%s: %s" % (self.signer.name, what), self.app.send("POST", target, body, headers),
               status, answer)

    def check(self):
        ls = json.dumps({"cmd": ["ls", "-l"]}).encode()
        for scheme, own, other in (("hmacd-v1", "web-01", "web-02"),
                                   ("rfc9421", "web-03", "web-02")):
            path = "/containers/%s/exec" % own
            ok = {"tenant": "acme", "container": own, "cmd": ["ls", "-l"], "tty": False}
            h = self.signed(scheme, path, ls)
            self.run("%s: passes" % scheme, path, ls, h, 200, ok)
            self.run("%s: replayed" % scheme, path, ls, h, 401, S401)
            h = self.signed(scheme, path + "?dry=1", ls)
            self.run("%s: with a query" % scheme, path + "?dry=1", ls, h, 200, ok)
            h = self.signed(scheme, path + "?dry=1", ls)
            self.run("%s: query changed" % scheme, path + "?dry=0", ls, h, 401, S401)
            h = self.signed(scheme, path, ls)
            self.run("%s: query added" % scheme, path + "?dry=1", ls, h, 401, S401)
            h = self.signed(scheme, path, ls)
            self.run("%s: signed for %s, sent to %s" % (scheme, own, other),
                     "/containers/%s/exec" % other, ls, h, 401, S401)
            # a valid signature over the other container's path, with this container's key
            h = self.signed(scheme, "/containers/%s/exec" % other, ls, container=other)
            self.run("%s: %s's key on %s's path" % (scheme, own, other),
                     "/containers/%s/exec" % other, ls, h, 401, S401)
            h = self.signed(scheme, path, ls)
            self.run("%s: body stripped" % scheme, path, b"", h, 401, S401)
            h = self.signed(scheme, path, ls)
            self.run("%s: body changed" % scheme, path, ls.replace(b"ls", b"rm"), h, 401, S401)
        h = self.signed("rfc9421", "/containers/web-03/exec", ls, url_scheme="https",
                        extra={"X-Forwarded-Proto": "https"})
        self.run("rfc9421: @scheme https over plain http, X-Forwarded-Proto forged",
                 "/containers/web-03/exec", ls, h, 401, S401)

    def check_trust_proxy(self):
        """The app started with HMACD_TRUST_PROXY=1: X-Forwarded-Proto is its proxy's."""
        ls = json.dumps({"cmd": ["ls", "-l"]}).encode()
        path = "/containers/web-03/exec"
        ok = {"tenant": "acme", "container": "web-03", "cmd": ["ls", "-l"], "tty": False}
        h = self.signed("rfc9421", path, ls, url_scheme="https",
                        extra={"X-Forwarded-Proto": "https"})
        self.run("trusted proxy: @scheme https, X-Forwarded-Proto: https", path, ls, h, 200, ok)
        h = self.signed("rfc9421", path, ls, url_scheme="https")
        self.run("trusted proxy: @scheme https, no X-Forwarded-Proto", path, ls, h, 401, S401)
        h = self.signed("rfc9421", path, ls, url_scheme="http",
                        extra={"X-Forwarded-Proto": "https"})
        self.run("trusted proxy: @scheme http, X-Forwarded-Proto: https", path, ls, h, 401,
                 S401)
        # the client sent https, the proxy appended what it saw: the last value counts
        h = self.signed("rfc9421", path, ls, url_scheme="https",
                        extra={"X-Forwarded-Proto": "https, http"})
        self.run("trusted proxy: @scheme https, X-Forwarded-Proto: https, http (client's "
                 "https)", path, ls, h, 401, S401)
        h = self.signed("hmacd-v1", "/containers/web-01/exec", ls)
        self.run("trusted proxy: hmacd-v1 passes", "/containers/web-01/exec", ls, h, 200, LS)


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
    p.add_argument("--trust-proxy", action="store_true")
    p.add_argument("--signer", action="append", default=[], metavar="NAME=CMD")
    a = p.parse_args()
    app = App(a.url)
    signers = [PythonSigner()]
    try:
        for spec in a.signer:
            name, _, cmd = spec.partition("=")
            signers.append(ProcessSigner(name, cmd))
        if a.down:
            check_down(app, a.keys)
        elif a.trust_proxy:
            expect("GET /healthz", app.wait(), 200, {"ok": True})
            for signer in signers:
                Matrix(app, signer, a.keys).check_trust_proxy()
        else:
            check_up(app, a.keys, a.log)
            for signer in signers:
                Matrix(app, signer, a.keys).check()
    except Failed as e:
        print("FAIL:", e)
        return 1
    finally:
        for signer in signers[1:]:
            signer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
