"""test_django.py - hmacd.django.HmacdMiddleware with Django's test clients (WSGI and ASGI)
against the real hmacd.

The container is the resolved URL's <id> (process_view's view_kwargs). A signed request
reaches its view with request.hmacd; a signature for another container, a tampered body, query
or method, a missing or broken Authorization, a missing signed header and a replay are 401
with the fixed body, the view never runs and the log names the reason (the daemon's verdict
where the daemon was asked). A body over MAX_BODY (or Django's DATA_UPLOAD_MAX_MEMORY_SIZE) is
413; hmacd down is 503 and back to 200 once it is up; the verdict 9 UNAVAILABLE (from a fake
daemon: the real one gives it only in fleet mode) is the same 503. Exempt views pass unsigned;
a view without the container argument and a URL no pattern matches are 401. RFC 9421 requests
pass the same middleware, with the scheme of the connection: a client's X-Forwarded-Proto
changes nothing even where SECURE_PROXY_SSL_HEADER would trust it. Bad settings are
ImproperlyConfigured at start-up.
"""

import asyncio
import contextlib
import json
import os

import pytest

django = pytest.importorskip("django")

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import AsyncClient as DjangoAsyncClient  # noqa: E402
from django.test import Client as DjangoClient  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from fakedaemon import serve_forever  # noqa: E402
from helpers import unique  # noqa: E402
from hmacd import Client, Signer, sign_rfc9421  # noqa: E402
from hmacd.django import HmacdMiddleware, hmacd_exempt  # noqa: E402

BODY_401 = b'{"error":"unauthorized"}'
BODY_413 = b'{"error":"too_large"}'
BODY_503 = b'{"error":"unavailable"}'
EXEC = b'{"cmd":["ls","-l"]}'
HOST = "testserver"

RUNS = []  # the containers the exec view ran for


def exec_view(request, id):
    RUNS.append(id)
    return JsonResponse({"container": id, "hmacd": request.hmacd,
                         "body": request.body.decode()})


def ok(request):
    return JsonResponse({"ok": True})


@hmacd_exempt
def health(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("containers/<str:id>/exec", exec_view),
    path("healthz", health),
    path("open", ok),       # exempt through HMACD["EXEMPT"]
    path("version", ok),    # no <id>: nothing to verify against
]


class App:
    """Django's test client (WSGI, or ASGI with asgi=True) on this module's URLs, behind
    HmacdMiddleware with a Client on socket_path and the HMACD settings given."""

    def __init__(self, socket_path, asgi=False, settings=None, **hmacd):
        self.client = Client(socket_path, timeout=5)
        conf = {"CLIENT": self.client, "EXEMPT": lambda r: r.path == "/open"}
        conf.update(hmacd)
        over = dict(ROOT_URLCONF=__name__, MIDDLEWARE=["hmacd.django.HmacdMiddleware"],
                    HMACD=conf)
        over.update(settings or {})
        self.override = override_settings(**over)
        self.override.enable()
        self.asgi = asgi
        self.tc = DjangoAsyncClient() if asgi else DjangoClient()

    def request(self, method, target, body=b"", headers=None, secure=False):
        extra = {}
        kw = {"secure": secure}
        for k, v in (headers or {}).items():
            if k.lower() == "content-type":
                kw["content_type"] = v
            elif self.asgi and k.lower() == "host":
                assert v == HOST  # Django's AsyncClient sends it
            elif self.asgi:
                extra[k.lower()] = v  # Django 3.2's AsyncClient: header names as they are
            else:
                extra["HTTP_" + k.upper().replace("-", "_")] = v
        if self.asgi:
            r = asyncio.run(self.tc.generic(method, target, data=body, **kw, **extra))
        else:
            r = self.tc.generic(method, target, data=body, **kw, **extra)
        return r.status_code, r.content, r

    def close(self):
        self.override.disable()
        self.client.close()


@contextlib.contextmanager
def app_on(socket_path, **kw):
    a = App(socket_path, **kw)
    try:
        yield a
    finally:
        a.close()


@pytest.fixture
def keys(daemon):
    """Tenant t with hmacd-v1 keys for web-01 and web-02, and web-01's key imported under a
    key id for RFC 9421."""
    t = unique("acme-dj")
    signer = Signer(t, 1, daemon.create(t, "web-01")["secret"])
    signer.web02 = Signer(t, 1, daemon.create(t, "web-02")["secret"])
    signer.rfc_key, signer.rfc_keyid = os.urandom(32), unique("dj-kid")
    daemon.import_key(t, "web-03", signer.rfc_key, signer.rfc_keyid)
    return signer


def sign(signer, target, body=EXEC, container="web-01", method="POST", extra=None, **kw):
    headers = {"Host": HOST, "Content-Type": "application/json"}
    headers.update(extra or {})
    headers["Authorization"] = signer.sign_request(method, target, container=container,
                                                   headers=headers, body=body, **kw)
    return headers


def refused(resp, caplog, reason, status=401):
    """The fixed refusal, and the reason in the log only."""
    code, body, r = resp
    want = {401: BODY_401, 413: BODY_413, 503: BODY_503}[status]
    assert (code, body) == (status, want), (code, body, caplog.text)
    assert r["Content-Type"] == "application/json"
    assert r["Cache-Control"] == "no-store"
    if status == 401:
        assert r["WWW-Authenticate"] == "HMACD-V1"
    else:
        assert not r.has_header("WWW-Authenticate")
    assert reason in caplog.text, caplog.text
    assert reason.encode() not in body
    caplog.clear()
    return True


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
def test_signed_request_reaches_the_view(daemon, keys, asgi):
    target = "/containers/web-01/exec?tty=1"
    RUNS.clear()
    with app_on(daemon.socket, asgi=asgi) as app:
        h = sign(keys, target)
        status, body, _ = app.request("POST", target, EXEC, h)
    assert status == 200, body
    out = json.loads(body)
    assert RUNS == ["web-01"] and out["container"] == "web-01" and out["body"] == EXEC.decode()
    who = out["hmacd"]
    assert (who["scheme"], who["tenant"], who["container"], who["epoch"]) == (
        "hmacd-v1", keys.tenant, "web-01", 1)
    assert who["nonce"] and isinstance(who["ts"], int)


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
def test_attacks_are_401(daemon, keys, caplog, asgi):
    target = "/containers/web-01/exec"
    RUNS.clear()
    with app_on(daemon.socket, asgi=asgi) as app:
        # a valid request for web-01, re-addressed to web-02
        h = sign(keys, target)
        assert refused(app.request("POST", "/containers/web-02/exec", EXEC, h), caplog,
                       "BAD_SIGNATURE")
        # web-02's own signer, claiming web-01 on web-02's path: the URL says web-02
        h = sign(keys.web02, "/containers/web-02/exec", container="web-01")
        assert refused(app.request("POST", "/containers/web-02/exec", EXEC, h), caplog,
                       "BAD_SIGNATURE")
        # tampered body, query, method
        h = sign(keys, target)
        assert refused(app.request("POST", target, EXEC.replace(b"-l", b"-a"), h), caplog,
                       "BAD_SIGNATURE")
        h = sign(keys, target + "?tty=1")
        assert refused(app.request("POST", target + "?tty=0", EXEC, h), caplog,
                       "BAD_SIGNATURE")
        h = sign(keys, target)
        assert refused(app.request("PUT", target, EXEC, h), caplog, "BAD_SIGNATURE")
        # missing and broken Authorization, a signed header missing
        assert refused(app.request("POST", target, EXEC, {"Content-Type": "application/json"}),
                       caplog, "NO_AUTHORIZATION")
        h = sign(keys, target)
        h["Authorization"] += ", Container=web-01"
        assert refused(app.request("POST", target, EXEC, h), caplog, "BAD_AUTHORIZATION")
        h = sign(keys, target, extra={"X-Request-Id": "r1"},
                 signed_headers=["host", "x-request-id"])
        del h["X-Request-Id"]
        assert refused(app.request("POST", target, EXEC, h), caplog, "MISSING_SIGNED_HEADER")
        # a replay
        h = sign(keys, target)
        assert app.request("POST", target, EXEC, h)[0] == 200
        assert refused(app.request("POST", target, EXEC, h), caplog, "REPLAY")
    assert RUNS == ["web-01"]  # the one valid request


def test_body_limits(daemon, keys, caplog):
    target = "/containers/web-01/exec"
    big = b'{"cmd":["' + b"a" * 2000 + b'"]}'
    RUNS.clear()
    with app_on(daemon.socket, MAX_BODY=1024) as app:
        assert refused(app.request("POST", target, big, sign(keys, target, body=big)), caplog,
                       "TOO_LARGE", 413)
    with app_on(daemon.socket, settings={"DATA_UPLOAD_MAX_MEMORY_SIZE": 1024}) as app:
        assert refused(app.request("POST", target, big, sign(keys, target, body=big)), caplog,
                       "TOO_LARGE", 413)
        assert app.request("POST", target, EXEC, sign(keys, target))[0] == 200
    assert RUNS == ["web-01"]


def test_exempt_unrouted_and_no_container(daemon, caplog):
    with app_on(daemon.socket) as app:
        assert app.request("GET", "/healthz")[:2] == (200, b'{"ok": true}')  # @hmacd_exempt
        assert app.request("GET", "/open")[0] == 200                          # EXEMPT
        assert refused(app.request("GET", "/version"), caplog, "NO_AUTHORIZATION")
        assert refused(app.request("GET", "/nowhere"), caplog, "NO_ROUTE")
        assert refused(app.request("GET", "/healthz/"), caplog, "NO_ROUTE")


def test_no_container_argument(daemon, keys, caplog):
    with app_on(daemon.socket) as app:
        h = sign(keys, "/version", body=b"", method="GET")
        assert refused(app.request("GET", "/version", b"", h), caplog, "NO_CONTAINER")


def test_daemon_down_fails_closed(own_daemon, caplog):
    t = unique("acme-dj")
    signer = Signer(t, 1, own_daemon.create(t, "web-01")["secret"])
    target = "/containers/web-01/exec"
    RUNS.clear()
    with app_on(own_daemon.socket) as app:
        assert app.request("POST", target, EXEC, sign(signer, target))[0] == 200
        own_daemon.stop()
        assert refused(app.request("POST", target, EXEC, sign(signer, target)), caplog,
                       "Unavailable", 503)
        own_daemon.start()
        assert app.request("POST", target, EXEC, sign(signer, target))[0] == 200
    assert RUNS == ["web-01", "web-01"]


def test_verdict_unavailable_is_503(fake, caplog):
    srv = fake(lambda i: serve_forever, verdict=9)
    signer = Signer("acme", 1, bytes(range(32)))
    target = "/containers/web-01/exec"
    RUNS.clear()
    with app_on(srv.path) as app:
        assert refused(app.request("POST", target, EXEC, sign(signer, target)), caplog,
                       "503 UNAVAILABLE tenant=acme container=web-01", 503)
    assert len(srv.requests) == 1 and RUNS == []


def rfc_headers(keys, scheme="http", components=None, tenant=None, extra=None, target=None):
    target = target or "/containers/web-03/exec"
    headers = {"Host": HOST, "Content-Type": "application/json",
               "X-Tenant": tenant or keys.tenant}
    headers.update(sign_rfc9421("POST", "%s://%s%s" % (scheme, HOST, target), key=keys.rfc_key,
                                keyid=keys.rfc_keyid, headers=headers, body=EXEC,
                                components=components))
    headers.update(extra or {})
    return headers


@pytest.mark.parametrize("asgi", [False, True], ids=["wsgi", "asgi"])
def test_rfc9421(daemon, keys, caplog, asgi):
    target = "/containers/web-03/exec"
    scheme = ["@method", "@authority", "@path", "@scheme", "content-digest"]
    with app_on(daemon.socket, asgi=asgi) as app:
        status, body, _ = app.request("POST", target, EXEC, rfc_headers(keys))
        assert status == 200, body
        who = json.loads(body)["hmacd"]
        assert (who["scheme"], who["tenant"], who["container"], who["keyid"]) == (
            "rfc9421", keys.tenant, "web-03", keys.rfc_keyid)
        # the key belongs to web-03: on web-01 it is unknown
        h = rfc_headers(keys, target="/containers/web-01/exec")
        assert refused(app.request("POST", "/containers/web-01/exec", EXEC, h), caplog,
                       "UNKNOWN_KEY")
        # @scheme: the connection's
        assert app.request("POST", target, EXEC, rfc_headers(keys, "http", scheme))[0] == 200
        assert refused(app.request("POST", target, EXEC, rfc_headers(keys, "https", scheme)),
                       caplog, "BAD_SIGNATURE")
        assert app.request("POST", target, EXEC, rfc_headers(keys, "https", scheme),
                           secure=True)[0] == 200
        # a forged X-Forwarded-Proto changes nothing
        h = rfc_headers(keys, "https", scheme, extra={"X-Forwarded-Proto": "https"})
        assert refused(app.request("POST", target, EXEC, h), caplog, "BAD_SIGNATURE")


def test_scheme_ignores_secure_proxy_ssl_header(daemon, keys, caplog):
    """SECURE_PROXY_SSL_HEADER makes request.is_secure() believe the header; the middleware
    takes the connection's scheme unless TRUSTED_PROXY says the proxy is trusted."""
    target = "/containers/web-03/exec"
    scheme = ["@method", "@authority", "@path", "@scheme", "content-digest"]
    xfp = {"X-Forwarded-Proto": "https"}
    trust_header = {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}
    with app_on(daemon.socket, settings=trust_header) as app:
        h = rfc_headers(keys, "https", scheme, extra=xfp)
        assert refused(app.request("POST", target, EXEC, h), caplog, "BAD_SIGNATURE")
        h = rfc_headers(keys, "http", scheme, extra=xfp)
        assert app.request("POST", target, EXEC, h)[0] == 200
    with app_on(daemon.socket, TRUSTED_PROXY=True) as app:
        h = rfc_headers(keys, "https", scheme, extra=xfp)
        assert app.request("POST", target, EXEC, h)[0] == 200
        h = rfc_headers(keys, "http", scheme, extra=xfp)
        assert refused(app.request("POST", target, EXEC, h), caplog, "BAD_SIGNATURE")


class ReadsPost:
    """A middleware that reads request.POST before HmacdMiddleware does."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.POST  # noqa: B018
        return self.get_response(request)


def test_body_read_before_the_middleware_is_503(daemon, keys, caplog):
    target = "/containers/web-01/exec"
    body = (b'--b\r\nContent-Disposition: form-data; name="cmd"\r\n\r\nls\r\n--b--\r\n')
    mw = ["test_django.ReadsPost", "hmacd.django.HmacdMiddleware"]
    RUNS.clear()
    with app_on(daemon.socket, settings={"MIDDLEWARE": mw}) as app:
        h = sign(keys, target, body=body, extra={"Content-Type": "multipart/form-data; boundary=b"})
        assert refused(app.request("POST", target, body, h), caplog, "BODY_ALREADY_READ", 503)
    assert RUNS == []


def test_configuration(daemon):
    def make(**hmacd):
        with override_settings(HMACD=hmacd):
            return HmacdMiddleware(lambda r: None)

    assert make(SOCKET=daemon.socket).client.socket_path == daemon.socket
    with Client(daemon.socket) as c:
        mw = make(CLIENT=c, PARAM="name", MAX_BODY=10, TRUSTED_PROXY=True)
        assert (mw.client, mw.param, mw.max_body, mw.trusted_proxy) == (c, "name", 10, True)
        with override_settings(HMACD={"SOCKET": "/elsewhere"}):
            assert HmacdMiddleware(lambda r: None, client=c, socket=None).client is c
        for bad in ({}, {"SOCKET": ""}, {"SOCKET": daemon.socket, "PARAMS": "id"},
                    {"socket": daemon.socket}, {"SOCKET": daemon.socket, "CLIENT": c},
                    {"CLIENT": c, "URI_SCHEME": "https", "TRUSTED_PROXY": True},
                    {"CLIENT": c, "URI_SCHEME": "ftp"}, {"CLIENT": c, "MAX_BODY": "1M"},
                    {"CLIENT": c, "PARAM": ""}):
            with pytest.raises(ImproperlyConfigured):
                make(**bad)
        with override_settings(HMACD=None):
            with pytest.raises(ImproperlyConfigured):
                HmacdMiddleware(lambda r: None)
        with pytest.raises(TypeError):
            HmacdMiddleware(lambda r: None, client=c, params="id")
