"""explain_check.py - hmacctl explain against the real daemon (run by tests/e2e/explain.sh).

For a correctly signed request and each tamper, writes the capture file a middleware would,
runs `hmacctl explain` on it, sends the same verify item to a real hmacd on the same store,
and checks that both name the same verdict, and that no line of explain's output (text or
--json) holds the MAC the key would produce (computed here with the known secret).
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time

import hmacd
from hmacd import rfc9421

HMACD = os.environ["HMACD"]
HMACCTL = os.environ["HMACCTL"]
failures = []


def ctl(db, *args, stdin=None):
    r = subprocess.run([HMACCTL, "--db", db, *args], input=stdin, capture_output=True,
                       timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def key_create(db, tenant, container, keyid):
    rc, out, err = ctl(db, "key", "create", "--tenant", tenant, "--container", container,
                       "--keyid", keyid, "--json")
    assert rc == 0, err
    return base64.b64decode(json.loads(out)["secret"])


def b64(b):
    return base64.b64encode(b).decode()


def capture(scheme, container, method, authority, path, headers, body, tenant=None,
            label=None, now=None):
    c = {"hmacd_capture": 1, "captured_at": now or int(time.time()), "scheme": scheme,
         "container": container, "method": method, "uri_scheme": "http",
         "authority": authority, "path": path, "headers": headers,
         "body_length": len(body), "body_sha256": b64(hashlib.sha256(body).digest()),
         "body_sha512": b64(hashlib.sha512(body).digest())}
    if tenant is not None:
        c["tenant"] = tenant
    if label is not None:
        c["label"] = label
    return c


def explain(db, cap):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cap, f)
        name = f.name
    try:
        rc, text, err = ctl(db, "explain", "--request", name)
        rcj, js, errj = ctl(db, "explain", "--request", name, "--json")
    finally:
        os.unlink(name)
    assert rc in (0, 1) and rcj == rc, (rc, rcj, err, errj)
    doc = json.loads(js)
    return rc, text, js, doc


def check(name, db, client, cap, item, macs, want, hint=None):
    rc, text, js, doc = explain(db, cap)
    got_daemon = hmacd.verdict_name(client.verify(item)) if item is not None else None
    got = doc["verdict"]
    ok = got == want and (item is None or got_daemon == want) and rc == (0 if want == "OK"
                                                                         else 1)
    for mac in macs:
        for form in (mac.hex(), b64(mac), base64.urlsafe_b64encode(mac).decode().rstrip("=")):
            for out in (text, js):
                if form in out:
                    ok = False
                    print("%s: the expected MAC (%s) is in the output" % (name, form))
    if hint is not None and (hint not in text or hint not in doc["hint"]):
        ok = False
        print("%s: the hint does not say %r" % (name, hint))
    print("%-28s explain %-22s daemon %-22s %s" % (name, got, got_daemon,
                                                     "ok" if ok else "FAIL"))
    if not ok:
        print(text)
        failures.append(name)


def v1_case(secret, tenant, container, epoch, method, path, headers, body, ts, nonce,
            signed=("host", "content-type")):
    """The request a signer sends, its item as the middleware builds it, and the right MAC."""
    hv = [(n, v) for n, v in headers if n in signed]
    it = hmacd.Item(tenant=tenant, container=container, epoch=epoch, method=method, path=path,
                    ts=ts, sig=b"\0" * 32, headers=tuple(hv), body=body, nonce=nonce)
    sig = hmacd.sign_item(secret, it)
    authz = hmacd.format_authorization(tenant, epoch, ts, sig, nonce, [n for n, _ in hv])
    return it, sig, headers + [("authorization", authz)]


def main():
    tmp = tempfile.mkdtemp(prefix="hmacd-explain-")
    db = os.path.join(tmp, "db")
    sock = os.path.join(tmp, "sock")
    assert ctl(db, "init")[0] == 0
    s1 = key_create(db, "acme", "web-01", "k-acme-web-01")
    key_create(db, "acme", "web-02", "k-acme-web-02")
    # epoch 2 of web-03 current, epoch 1 revoked
    key_create(db, "acme", "web-03", "k-acme-web-03-1")
    rc, out, err = ctl(db, "key", "rotate", "--tenant", "acme", "--container", "web-03",
                       "--keyid", "k-acme-web-03-2", "--json", "--grace", "0")
    assert rc == 0, err
    s3_1 = None  # revoked below: its secret is gone
    assert ctl(db, "key", "revoke", "--tenant", "acme", "--container", "web-03", "--epoch",
               "1")[0] == 0
    daemon = subprocess.Popen([HMACD, "--socket", sock, "--db", db, "--threads", "1",
                               "--log-level", "warn"])
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        client = hmacd.Client(sock, timeout=10)
        run(db, client, s1)
        client.close()
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    del s3_1
    if failures:
        print("FAIL: %s" % " ".join(failures))
        return 1
    print("explain: every verdict agrees with the daemon's, and no MAC is printed")
    return 0


def run(db, client, s1):
    now = int(time.time())
    body = b'{"cmd":["ls","-l"]}'
    path = "/containers/web-01/exec?tty=1"
    base_headers = [("host", "example.com:8080"), ("content-type", "application/json"),
                    ("x-request-id", "req-42")]

    def v1(name, want, container="web-01", epoch=1, ts=None, nonce=None, path=path,
           tamper=None, secret=s1, hint=None):
        it, sig, headers = v1_case(secret, "acme", "web-01", epoch, "POST", path,
                                   list(base_headers), body, ts or now,
                                   nonce if nonce is not None else os.urandom(8).hex())
        cap_body = body
        item = it
        cap_path = path
        if tamper == "path":
            cap_path = path.replace("tty=1", "tty=0")
        if tamper == "header":
            headers = [(n, "text/plain" if n == "content-type" else v) for n, v in headers]
        if tamper == "body":
            cap_body = body + b" "
        cap = capture("hmacd-v1", container, "POST", "example.com:8080", cap_path,
                      [list(h) for h in headers], cap_body, now=now)
        # what the middleware sends for the captured request: the same, changed alike
        item = hmacd.Item(tenant="acme", container=container, epoch=epoch, method="POST",
                          path=cap_path, ts=it.ts, sig=sig,
                          headers=tuple((n, v) for n, v in headers
                                        if n in ("host", "content-type")),
                          body=cap_body, nonce=it.nonce)
        check(name, db, client, cap, item, [sig, right_mac(s1, item)], want, hint)

    mac_hint = "compare the canonical string with the one your signer built"
    v1("v1 ok", "OK", hint="hmacd would answer OK")
    v1("v1 container changed", "BAD_SIGNATURE", container="web-02", hint=mac_hint)
    v1("v1 container without key", "UNKNOWN_KEY", container="web-09",
       hint="no epoch 1 in acme/web-09")
    v1("v1 path changed", "BAD_SIGNATURE", tamper="path", hint=mac_hint)
    v1("v1 header value changed", "BAD_SIGNATURE", tamper="header", hint=mac_hint)
    v1("v1 body changed", "BAD_SIGNATURE", tamper="body", hint=mac_hint)
    v1("v1 stale timestamp", "STALE_TIMESTAMP", ts=now - 1000,
       hint="the timestamp is 1000 s before captured_at; the allowed skew is 300 s")
    v1("v1 wrong epoch", "UNKNOWN_KEY", epoch=7, hint="no epoch 7 in acme/web-01")
    v1("v1 revoked key", "KEY_REVOKED", container="web-03", epoch=1,
       hint="epoch 1 (key id k-acme-web-03-1) of acme/web-03 is revoked")

    # rfc9421
    def rfc(name, want, components=None, container="web-01", keyid="k-acme-web-01",
            tamper=None, created=None, hint=None):
        headers = [("host", "example.com:8080"), ("content-type", "application/json"),
                   ("x-tenant", "acme")]
        sig_headers = rfc9421.sign("POST", path, key=s1, keyid=keyid, headers=headers,
                                   body=body, components=components, authority=
                                   "example.com:8080", scheme="http",
                                   created=created if created is not None else now)
        hs = headers + [(k.lower(), v) for k, v in sig_headers.items()]
        cap_body = body + b"!" if tamper == "body" else body
        cap = capture("rfc9421", container, "POST", "example.com:8080", path,
                      [list(h) for h in hs], cap_body, tenant="acme", label="sig1", now=now)
        item = hmacd.RFC9421Item(tenant="acme", container=container, method="POST",
                                 authority="example.com:8080", path=path,
                                 signature_input=sig_headers["Signature-Input"],
                                 signature=sig_headers["Signature"], headers=tuple(hs),
                                 uri_scheme="http", label="sig1", body=cap_body)
        mac = base64.b64decode(sig_headers["Signature"].split(":")[1])
        check(name, db, client, cap, item, [mac], want, hint)

    rfc("rfc9421 ok", "OK", hint="hmacd would answer OK")
    rfc("rfc9421 missing @query", "INSUFFICIENT_COVERAGE",
        components=["@method", "@authority", "@path", "content-digest"],
        hint="the request has a query and @query is not covered")
    rfc("rfc9421 body digest", "BAD_SIGNATURE", tamper="body",
        hint="Content-Digest does not match the body's digest")
    rfc("rfc9421 other scope key", "UNKNOWN_KEY", container="web-02",
        hint="key id k-acme-web-01 is not a key of acme/web-02")
    rfc("rfc9421 stale created", "STALE_TIMESTAMP", created=now - 1000,
        hint="created is 1000 s before captured_at")
    capture_errors(db, now, body)


def capture_errors(db, now, body):
    """Files explain refuses (exit 2, naming what is wrong), and the middleware's own 401."""
    good = capture("hmacd-v1", "web-01", "POST", "example.com", "/x",
                   [["authorization", "Bearer x"]], body, now=now)

    def refused(name, cap, says, raw=None):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(raw if raw is not None else json.dumps(cap))
            fname = f.name
        try:
            rc, out, err = ctl(db, "explain", "--request", fname)
        finally:
            os.unlink(fname)
        ok = rc == 2 and says in err and out == ""
        print("%-28s exit %d %s" % (name, rc, "ok" if ok else "FAIL: " + err.strip()))
        if not ok:
            failures.append(name)

    refused("capture: unknown key", dict(good, extra=1), 'unknown key "extra"')
    refused("capture: version 2", dict(good, hmacd_capture=2), '"hmacd_capture" must be 1')
    refused("capture: no body_sha256", {k: v for k, v in good.items() if k != "body_sha256"},
            '"body_sha256" is required')
    refused("capture: body mismatch", dict(good, body=b64(body + b"x"),
                                           body_length=len(body) + 1),
            '"body" does not match "body_sha256"')
    refused("capture: bad scheme", dict(good, scheme="RFC9421"), '"scheme" must be')
    refused("capture: upper-case name", dict(good, headers=[["Host", "x"]]),
            "headers[0]: the name must be a lower-case token")
    refused("capture: not JSON", None, "not JSON", raw='{"hmacd_capture": 1,}')
    refused("capture: over 1 MiB", None, "larger than 1048576 bytes",
            raw=" " * (1 << 20) + "{}")
    # the middleware refuses it itself (401) before asking hmacd: explain says so, exits 1
    rc, text, js, doc = explain(db, good)
    ok = rc == 1 and doc["verdict"] is None and doc["check"] == "middleware" and \
        "no Authorization header" not in doc["hint"] and "the scheme" in doc["hint"]
    print("%-28s exit %d %s" % ("middleware refuses", rc, "ok" if ok else "FAIL: " + js))
    if not ok:
        failures.append("middleware refuses")


def right_mac(secret, item):
    """The MAC the key produces over the item as captured: what must never be printed."""
    return hmacd.sign_item(secret, item)


if __name__ == "__main__":
    sys.exit(main())
