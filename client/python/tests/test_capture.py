"""test_capture.py - capture files (capture_dir, capture_max; issue 15) through each Python
middleware (WSGI under Flask, ASGI under FastAPI, Django), against the real hmacd.

A request hmacd refuses (BAD_SIGNATURE) writes exactly one file with exactly the members of
PROTOCOL.md's capture format: the uncovered headers' values "[redacted]" (cookie, x-api-token), the covered
ones and the always-kept ones as sent, the body's length and base64 SHA-256 / SHA-512 equal to
hashlib's, never the body itself, mode 0600, a name hmacd-capture-<captured_at>-<16 hex>.json.
Both schemes. A good request, a 401 decided before hmacd and a 503 (the daemon down) write none;
capture_max bounds them (counting the files there at start, shared by middlewares on the same
directory); a directory writable by others, a symlink, a file or a missing path is refused when
the middleware is made, and one made unfit later is skipped with the 401 unchanged.
"""

import base64
import hashlib
import json
import logging
import os
import re
import stat
import subprocess

import pytest

from helpers import unique
from hmacd import AsyncClient, Client, Signer, sign_rfc9421
from hmacd.asgi import HmacdASGIMiddleware, starlette_route_param
from hmacd.wsgi import HmacdWSGIMiddleware, flask_route_param

BODY = b'{"cmd":["rm -rf /srv"]}'
BODY_401 = b'{"error":"unauthorized"}'
BODY_503 = b'{"error":"unavailable"}'
MEMBERS = {"hmacd_capture", "captured_at", "scheme", "tenant", "container", "method",
           "uri_scheme", "authority", "path", "headers", "body_length", "body_sha256",
           "body_sha512", "verdict"}
NAME = re.compile(r"^hmacd-capture-([0-9]+)-[0-9a-f]{16}\.json$")


def capture_dir(tmp_path, name="captures"):
    d = tmp_path / name
    d.mkdir(mode=0o700)
    os.chmod(d, 0o700)
    return str(d)


def explain(daemon, path):
    """hmacctl explain on a capture the middleware wrote, against the daemon's store: the
    capture format both sides implement (PROTOCOL.md section 17), read back by the real CLI,
    which must find the verdict the daemon gave."""
    r = subprocess.run([daemon.hmacctl_path, "--db", daemon.db, "explain", "--request", path,
                        "--json"], capture_output=True, timeout=30)
    assert r.returncode == 1, r.stderr.decode()
    return json.loads(r.stdout)


def captures(d):
    return sorted(os.path.join(d, n) for n in os.listdir(d) if NAME.match(n))


class FlaskApp:
    name = "flask"
    host = "localhost"

    def __init__(self, socket_path, **opts):
        from flask import Flask
        self.client = Client(socket_path, timeout=5)
        app = Flask(__name__)

        @app.post("/containers/<id>/exec")
        def run(id):
            return "ran " + id

        app.wsgi_app = HmacdWSGIMiddleware(app.wsgi_app, self.client,
                                           container_from=flask_route_param(app, "id"), **opts)
        self.tc = app.test_client()

    def request(self, target, body, headers):
        r = self.tc.open(target, method="POST", data=body, headers=headers)
        return r.status_code, r.get_data(), r.headers

    def close(self):
        self.client.close()


class FastAPIApp:
    name = "fastapi"
    host = "testserver"

    def __init__(self, socket_path, **opts):
        from fastapi import FastAPI
        from starlette.testclient import TestClient
        self.client = AsyncClient(socket_path, timeout=5)
        app = FastAPI()

        @app.post("/containers/{id}/exec")
        async def run(id: str):
            return "ran " + id

        app.add_middleware(HmacdASGIMiddleware, client=self.client,
                           container_from=starlette_route_param(app, "id"), **opts)
        self.cm = TestClient(app)
        self.tc = self.cm.__enter__()

    def request(self, target, body, headers):
        r = self.tc.request("POST", target, content=body, headers=headers)
        return r.status_code, r.content, r.headers

    def close(self):
        self.cm.__exit__(None, None, None)


class DjangoApp:
    name = "django"
    host = "testserver"

    def __init__(self, socket_path, **opts):
        from django.test import Client as DjangoClient
        from django.test import override_settings
        import django_capture_urls  # noqa: F401  (the module below, made importable)
        self.client = Client(socket_path, timeout=5)
        hmacd = {"CLIENT": self.client, "PARAM": "id"}
        hmacd.update({k.upper(): v for k, v in opts.items()})
        self.override = override_settings(ROOT_URLCONF="django_capture_urls",
                                          MIDDLEWARE=["hmacd.django.HmacdMiddleware"],
                                          HMACD=hmacd)
        self.override.enable()
        # Django makes the middleware at the first request: make it now, so that a bad
        # CAPTURE_DIR fails here as it would at start-up
        from django.core.exceptions import ImproperlyConfigured
        from hmacd.django import HmacdMiddleware
        try:
            HmacdMiddleware(lambda r: None)
        except ImproperlyConfigured as e:
            self.override.disable()
            raise ValueError(str(e)) from None
        self.tc = DjangoClient()

    def request(self, target, body, headers):
        extra, kw = {}, {}
        for k, v in headers.items():
            if k.lower() == "content-type":
                kw["content_type"] = v
            else:
                extra["HTTP_" + k.upper().replace("-", "_")] = v
        r = self.tc.generic("POST", target, data=body, **kw, **extra)
        return r.status_code, r.content, r.headers

    def close(self):
        self.override.disable()
        self.client.close()


def _django_urls():
    """A urlconf module for DjangoApp: POST /containers/<id>/exec, CSRF-exempt."""
    import sys
    import types
    from django.http import HttpResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt
    def run(request, id):
        return HttpResponse("ran " + id)

    mod = types.ModuleType("django_capture_urls")
    mod.urlpatterns = [path("containers/<str:id>/exec", run)]
    sys.modules["django_capture_urls"] = mod


try:
    import django  # noqa: F401
except ImportError:
    APPS = [FlaskApp, FastAPIApp]
else:
    _django_urls()
    APPS = [FlaskApp, FastAPIApp, DjangoApp]


@pytest.fixture(params=APPS, ids=[a.name for a in APPS])
def app_cls(request):
    return request.param


def v1_headers(app, signer, target, container):
    """Signed for `container` (host, content-type and x-request-id), plus an unsigned Cookie."""
    headers = {"Host": app.host, "Content-Type": "application/json", "X-Request-Id": "req-42"}
    headers["Authorization"] = signer.sign_request(
        "POST", target, container=container, headers=headers, body=BODY,
        signed_headers=["host", "content-type", "x-request-id"])
    headers["Cookie"] = "session=s3cret"  # (flask's test client keeps it to its cookie jar)
    headers["X-Api-Token"] = "s3cret"
    return headers


def read_capture(path, body=BODY):
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    with open(path, "rb") as f:
        data = f.read()
    assert body not in data and b"rm -rf" not in data and b"s3cret" not in data
    doc = json.loads(data)
    m = NAME.match(os.path.basename(path))
    assert m and int(m.group(1)) == doc["captured_at"]
    return doc


def header(doc, name):
    for n, v in doc["headers"]:
        assert n == n.lower()
        if n == name:
            return v
    return None


def check_digests(doc, body):
    assert doc["body_length"] == len(body)
    assert doc["body_sha256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert doc["body_sha512"] == base64.b64encode(hashlib.sha512(body).digest()).decode()


def test_capture_hmacd_v1(app_cls, own_daemon, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="hmacd")
    d = capture_dir(tmp_path)
    t = unique("acme")
    signer = Signer(t, 1, own_daemon.create(t, "web-01")["secret"])
    own_daemon.create(t, "web-02")
    app = app_cls(own_daemon.socket, capture_dir=d)
    try:
        target = "/containers/web-01/exec?tty=1"
        assert app.request(target, BODY, v1_headers(app, signer, target, "web-01"))[0] == 200
        h = v1_headers(app, signer, target, "web-01")
        del h["Authorization"]
        assert app.request(target, BODY, h)[:2] == (401, BODY_401)
        h = v1_headers(app, signer, target, "web-01")
        del h["X-Request-Id"]
        assert app.request(target, BODY, h)[:2] == (401, BODY_401)
        assert captures(d) == []

        # signed for web-01, sent to web-02: BAD_SIGNATURE, one capture
        other = "/containers/web-02/exec?tty=1"
        status, body, headers = app.request(other, BODY, v1_headers(app, signer, target,
                                                                    "web-01"))
        assert (status, body) == (401, BODY_401)
        assert headers["WWW-Authenticate"] == "HMACD-V1"
        files = captures(d)
        assert len(files) == 1
        doc = read_capture(files[0])
        assert set(doc) == MEMBERS
        assert doc["hmacd_capture"] == 1 and doc["scheme"] == "hmacd-v1"
        assert (doc["tenant"], doc["container"]) == (t, "web-02")
        assert (doc["method"], doc["uri_scheme"], doc["authority"], doc["path"]) == (
            "POST", "http", app.host, other)
        assert doc["verdict"] == "BAD_SIGNATURE"
        check_digests(doc, BODY)
        assert header(doc, "cookie") in ("[redacted]", None)
        assert header(doc, "x-api-token") == "[redacted]"
        assert header(doc, "x-request-id") == "req-42"
        assert header(doc, "content-type") == "application/json"
        assert header(doc, "host") == app.host
        assert header(doc, "authorization").startswith("HMACD-V1 Tenant=" + t)
        assert "capture %s written" % files[0] in caplog.text
        out = explain(own_daemon, files[0])
        assert (out["verdict"], out["check"]) == ("BAD_SIGNATURE", "signature")

        # the daemon down: 503, no capture
        own_daemon.stop()
        status, body, _ = app.request(other, BODY, v1_headers(app, signer, target, "web-01"))
        assert (status, body) == (503, BODY_503)
        own_daemon.start()
        assert captures(d) == files
    finally:
        app.close()


def test_capture_rfc9421(app_cls, daemon, tmp_path):
    d = capture_dir(tmp_path)
    t, k, kid = unique("acme-rfc"), os.urandom(32), unique("kid")
    daemon.import_key(t, "web-01", k, kid)
    app = app_cls(daemon.socket, capture_dir=d, label="sig1")
    try:
        target = "/containers/web-01/exec"
        headers = {"Host": app.host, "Content-Type": "application/json", "X-Tenant": t}
        headers.update(sign_rfc9421("POST", target, key=k, keyid=kid, headers=headers,
                                    body=BODY, components=["@method", "@authority", "@path",
                                                           "content-digest", "x-tenant"]))
        headers["Cookie"] = "session=s3cret"
        headers["X-Api-Token"] = "s3cret"
        assert app.request(target, BODY, headers)[0] == 200
        tampered = b'{"cmd":["rm -rf /"]}'
        status, body, _ = app.request(target, tampered, headers)
        assert (status, body) == (401, BODY_401)
        files = captures(d)
        assert len(files) == 1
        doc = read_capture(files[0], tampered)
        assert set(doc) == MEMBERS | {"label"}
        assert (doc["scheme"], doc["tenant"], doc["container"], doc["label"]) == (
            "rfc9421", t, "web-01", "sig1")
        assert doc["verdict"] == "BAD_SIGNATURE"
        check_digests(doc, tampered)
        assert header(doc, "cookie") in ("[redacted]", None)
        assert header(doc, "x-api-token") == "[redacted]"
        assert header(doc, "x-tenant") == t
        for name in ("signature", "signature-input", "content-digest"):
            assert header(doc, name) == headers[name.title()]
        out = explain(daemon, files[0])
        assert out["verdict"] == "BAD_SIGNATURE"
    finally:
        app.close()


def test_capture_max(app_cls, fake, tmp_path, caplog):
    """capture_max, with a fake daemon answering BAD_SIGNATURE (1) to everything; 9 writes
    nothing."""
    from fakedaemon import serve_forever
    d = capture_dir(tmp_path)
    with open(os.path.join(d, "hmacd-capture-1-0000000000000000.json"), "w"):
        pass  # one there already: it counts
    srv = fake(lambda i: serve_forever, verdict=1)
    signer = Signer("acme", 1, base64.b64encode(bytes(range(32))).decode())
    app = app_cls(srv.path, capture_dir=d, capture_max=3)
    try:
        target = "/containers/web-01/exec"
        for _ in range(4):
            assert app.request(target, BODY, v1_headers(app, signer, target, "web-01"))[0] == 401
        assert len(captures(d)) == 3
        assert caplog.text.count("no more captures") == 1
    finally:
        app.close()

    srv9 = fake(lambda i: serve_forever, verdict=9)
    d9 = capture_dir(tmp_path, "nine")
    app = app_cls(srv9.path, capture_dir=d9)
    try:
        target = "/containers/web-01/exec"
        assert app.request(target, BODY, v1_headers(app, signer, target, "web-01"))[0] == 503
        assert captures(d9) == []
    finally:
        app.close()


def test_capture_dir_refused(app_cls, tmp_path):
    base = capture_dir(tmp_path)
    bad = {}
    for name, mode in (("open", 0o777), ("group", 0o770), ("others", 0o702)):
        p = os.path.join(base, name)
        os.mkdir(p)
        os.chmod(p, mode)
        bad[name] = p
    bad["link"] = os.path.join(base, "link")
    os.symlink(capture_dir(tmp_path, "target"), bad["link"])
    bad["file"] = os.path.join(base, "file")
    open(bad["file"], "w").close()
    bad["absent"] = os.path.join(base, "absent")
    bad["empty"] = ""
    for what, p in bad.items():
        with pytest.raises(ValueError, match="capture_dir"):
            app_cls("/nonexistent.sock", capture_dir=p)
    with pytest.raises(ValueError, match="capture_max"):
        app_cls("/nonexistent.sock", capture_dir=base, capture_max=0)


def test_capture_dir_unfit_later(fake, tmp_path, caplog):
    """The directory made writable by others after start-up: the capture is skipped (logged),
    the 401 is the same."""
    from fakedaemon import serve_forever
    d = capture_dir(tmp_path)
    srv = fake(lambda i: serve_forever, verdict=1)
    signer = Signer("acme", 1, base64.b64encode(bytes(range(32))).decode())
    app = FlaskApp(srv.path, capture_dir=d)
    try:
        os.chmod(d, 0o777)
        target = "/containers/web-01/exec"
        status, body, headers = app.request(target, BODY, v1_headers(app, signer, target,
                                                                     "web-01"))
        assert (status, body) == (401, BODY_401)
        assert captures(d) == []
        assert "capture not written" in caplog.text
    finally:
        os.chmod(d, 0o700)
        app.close()
