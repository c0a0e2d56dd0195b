"""test_middleware.py - PROTOCOL.md 13.3 end to end: the Flask example (WSGI middleware, driven
by flask's test client), the FastAPI example (ASGI middleware, driven by starlette's
TestClient) and the Django example (hmacd.django, driven by Django's test client), against the
real hmacd. (The same apps as processes, as their README commands run them: test_examples.py.)

Each case runs on every app: a signed request passes; no or a broken Authorization, a signature
made for another container (re-addressed request, or a signer claiming another container), a
replay, a changed body or query, a missing signed header: 401 with the exact body; a body over
the limit: 413; the daemon down: 503 (fail closed) and back to 200 once it is up; verdict 9
UNAVAILABLE (from a fake daemon: the real one gives it only in fleet mode): the same 503 as a
daemon that is down, never 401; strict body binding (400 {"error":"bad_request"}, the same in
every example); an exempt route; an unknown route is 401, not passed on.

The RFC 9421 cases (PROTOCOL.md 13.5) run on every app too, with keys imported by keyid: a
request signed by hmacd.rfc9421.sign() passes; a tampered path, method, covered header, body,
query or authority, another scope's key id, another tenant in X-Tenant, a signature short of
the policy, a replay, and HMACD-V1 plus Signature-Input are all 401, and the log names the
daemon's verdict (so each refusal is the daemon's, not a guess of the middleware). RFC 9421
B.2.5 passes through bare WSGI and ASGI middleware with the RFC's key, in a scope whose policy
asks for no more than B.2.5 covers (--no-query among the rest: its query is not covered).
Policies end to end (the query rule, hmacd-v1's --v1-nonce / --v1-require): in
test_policy_middleware.py.
"""

import asyncio
import base64
import io
import json
import os
import sys

import pytest

from fakedaemon import serve_forever
from helpers import (RFC_B2_BODY, RFC_B2_HEADERS, RFC_B2_TARGET, RFC_B25_INPUT, RFC_B25_SIGNATURE,
                     unique)
from hmacd import AsyncClient, Client, Signer, sign_rfc9421

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

BODY_401 = b'{"error":"unauthorized"}'
BODY_503 = b'{"error":"unavailable"}'
BODY_413 = b'{"error":"too_large"}'


class FlaskApp:
    name = "flask"
    host = "localhost"

    def __init__(self, socket_path):
        import flask_app
        self.client = Client(socket_path, timeout=5)
        self.tc = flask_app.create_app(self.client).test_client()

    def request(self, method, target, body=b"", headers=None):
        r = self.tc.open(target, method=method, data=body, headers=headers or {})
        return r.status_code, r.get_data(), r.headers

    def close(self):
        self.client.close()


class FastAPIApp:
    name = "fastapi"
    host = "testserver"

    def __init__(self, socket_path):
        from starlette.testclient import TestClient
        import fastapi_app
        self.client = AsyncClient(socket_path, timeout=5)
        self.cm = TestClient(fastapi_app.create_app(self.client))
        self.tc = self.cm.__enter__()

    def request(self, method, target, body=b"", headers=None):
        r = self.tc.request(method, target, content=body, headers=headers or {})
        return r.status_code, r.content, r.headers

    def close(self):
        self.cm.__exit__(None, None, None)


class DjangoApp:
    """The Django example's settings and URLs, with a Client on socket_path, through Django's
    test client."""

    name = "django"
    host = "testserver"

    def __init__(self, socket_path):
        from django.test import Client as DjangoClient
        from django.test import override_settings
        import django_app
        self.client = Client(socket_path, timeout=5)
        self.override = override_settings(**django_app.django_settings(client=self.client))
        self.override.enable()
        self.tc = DjangoClient()

    def request(self, method, target, body=b"", headers=None):
        extra = {}
        kw = {}
        for k, v in (headers or {}).items():
            if k.lower() == "content-type":
                kw["content_type"] = v
            else:
                extra["HTTP_" + k.upper().replace("-", "_")] = v
        r = self.tc.generic(method, target, data=body, **kw, **extra)
        return r.status_code, r.content, r.headers

    def close(self):
        self.override.disable()
        self.client.close()


try:
    import django  # noqa: F401
except ImportError:
    APPS = [FlaskApp, FastAPIApp]
else:
    APPS = [FlaskApp, FastAPIApp, DjangoApp]


@pytest.fixture(params=APPS, ids=[a.name for a in APPS])
def app(request, daemon):
    a = request.param(daemon.socket)
    yield a
    a.close()


@pytest.fixture
def keys(daemon):
    """A tenant with keys for web-01 and web-02 (so a cross-container signature is a real
    BAD_SIGNATURE, not merely an unknown key)."""
    t = unique("acme")
    signer = Signer(t, 1, daemon.create(t, "web-01")["secret"])
    signer.web02 = Signer(t, 1, daemon.create(t, "web-02")["secret"])
    return signer


EXEC = b'{"cmd":["ls","-l"],"tty":false}'


def sign(app, signer, target, body=EXEC, container="web-01", method="POST", extra=None,
         signed_headers=None, **kw):
    headers = {"Host": app.host, "Content-Type": "application/json"}
    headers.update(extra or {})
    auth = signer.sign_request(method, target, container=container, headers=headers, body=body,
                               signed_headers=signed_headers, **kw)
    headers["Authorization"] = auth
    return headers


def assert_401(resp):
    status, body, headers = resp
    assert status == 401
    assert body == BODY_401
    assert headers["WWW-Authenticate"] == "HMACD-V1"
    assert headers["Content-Type"] == "application/json"


def test_signed_request_passes(app, keys):
    target = "/containers/web-01/exec?tty=1"
    status, body, _ = app.request("POST", target, EXEC, sign(app, keys, target))
    assert status == 200, body
    # the answer every example gives, in every language
    assert json.loads(body) == {"tenant": keys.tenant, "container": "web-01",
                                "cmd": ["ls", "-l"], "tty": False}


def test_no_or_bad_authorization(app, keys):
    target = "/containers/web-01/exec"
    assert_401(app.request("POST", target, EXEC, {"Content-Type": "application/json"}))
    h = sign(app, keys, target)
    h["Authorization"] = h["Authorization"].replace("HMACD-V1", "hmacd-v1")
    assert_401(app.request("POST", target, EXEC, h))
    h = sign(app, keys, target)
    h["Authorization"] += ", Container=web-01"
    assert_401(app.request("POST", target, EXEC, h))


def test_signature_for_another_container(app, keys):
    # a valid request for web-01, re-addressed to web-02
    h = sign(app, keys, "/containers/web-01/exec")
    assert_401(app.request("POST", "/containers/web-02/exec", EXEC, h))
    # a signer that signed the web-02 path but claimed web-01: the route says web-02
    h = sign(app, keys, "/containers/web-02/exec", container="web-01")
    assert_401(app.request("POST", "/containers/web-02/exec", EXEC, h))
    # web-01's key cannot sign for web-02, even honestly: web-02 has its own key
    h = sign(app, keys, "/containers/web-02/exec", container="web-02")
    assert_401(app.request("POST", "/containers/web-02/exec", EXEC, h))
    # web-02's key, for web-02: passes
    h = sign(app, keys.web02, "/containers/web-02/exec", container="web-02")
    assert app.request("POST", "/containers/web-02/exec", EXEC, h)[0] == 200


def test_replay_and_tampering(app, keys):
    target = "/containers/web-01/exec?tty=1"
    h = sign(app, keys, target)
    assert app.request("POST", target, EXEC, h)[0] == 200
    assert_401(app.request("POST", target, EXEC, h))                       # replay
    h = sign(app, keys, target)
    assert_401(app.request("POST", target, EXEC.replace(b"-l", b"-a"), h))  # body
    h = sign(app, keys, target)
    assert_401(app.request("POST", "/containers/web-01/exec?tty=0", EXEC, h))  # query
    h = sign(app, keys, target)
    assert_401(app.request("PUT", target, EXEC, h))                         # method


def test_signed_headers(app, keys):
    target = "/containers/web-01/exec"
    h = sign(app, keys, target, extra={"X-Request-Id": "  req-42\t"},
             signed_headers=["host", "content-type", "x-request-id"])
    assert app.request("POST", target, EXEC, h)[0] == 200   # value trimmed on both sides
    h = sign(app, keys, target, extra={"X-Request-Id": "req-42"},
             signed_headers=["x-request-id"])
    del h["X-Request-Id"]
    assert_401(app.request("POST", target, EXEC, h))        # a signed header is missing
    h = sign(app, keys, target, extra={"X-Request-Id": "req-42"},
             signed_headers=["x-request-id"])
    h["X-Request-Id"] = "req-43"
    assert_401(app.request("POST", target, EXEC, h))


def test_percent_encoded_target(app, keys):
    target = "/containers/web-01/exec?path=%2Fetc%2Fhosts&q=a%20b"
    status, body, _ = app.request("POST", target, EXEC, sign(app, keys, target))
    assert status == 200, body


def test_strict_body_binding(app, keys):
    target = "/containers/web-01/exec"
    for body in (b'{"cmd":["sh"],"privileged":true}', b'{"cmd":"sh"}', b'{"tty":true}',
                 b'{"cmd":["sh"],"tty":"yes"}', b'[1]', b'{"cmd":["sh"],"cmd":["rm"]}',
                 b'{"cmd":["sh"]} {}', b'{"cmd":[""]}', b'{"cmd":[]}', b'\xff',
                 b'{"cmd":["sh"],"container":"web-02"}', b'{"cmd":["sh"],"tty":NaN}',
                 b'{"cmd":["' + b"a" * 4097 + b'"]}', b'{"cmd":[' + b'"a",' * 64 + b'"a"]}'):
        status, out, _ = app.request("POST", target, body, sign(app, keys, target, body=body))
        assert status == 400, body
        assert json.loads(out) == {"error": "bad_request"}
    body = b'{"cmd":["sh","-c","id"],"tty":true}'
    status, out, _ = app.request("POST", target, body, sign(app, keys, target, body=body))
    assert status == 200 and json.loads(out)["cmd"] == ["sh", "-c", "id"], out
    assert json.loads(out)["tty"] is True


def test_body_too_large(app, keys):
    target = "/containers/web-01/exec"
    body = b'{"cmd":["' + b"a" * (70 * 1024) + b'"]}'
    status, out, _ = app.request("POST", target, body, sign(app, keys, target, body=body))
    assert (status, out) == (413, BODY_413)


def test_exempt_and_unknown_routes(app):
    assert app.request("GET", "/healthz")[0] == 200
    assert_401(app.request("GET", "/nowhere"))
    assert_401(app.request("POST", "/containers/web-01/exec", EXEC))


@pytest.mark.parametrize("app_cls", APPS, ids=[a.name for a in APPS])
def test_daemon_down_fails_closed(app_cls, own_daemon):
    t = unique("acme")
    signer = Signer(t, 1, own_daemon.create(t, "web-01")["secret"])
    app = app_cls(own_daemon.socket)
    try:
        target = "/containers/web-01/exec"
        assert app.request("POST", target, EXEC, sign(app, signer, target))[0] == 200
        own_daemon.stop()
        status, body, headers = app.request("POST", target, EXEC, sign(app, signer, target))
        assert (status, body) == (503, BODY_503)
        assert headers["Content-Type"] == "application/json"
        own_daemon.start()
        assert app.request("POST", target, EXEC, sign(app, signer, target))[0] == 200
    finally:
        app.close()


def _headers(h):
    """A response's headers, minus the ones that differ from one response to the next."""
    return {k.lower(): v for k, v in h.items() if k.lower() not in ("date", "server")}


@pytest.mark.parametrize("app_cls", APPS, ids=[a.name for a in APPS])
def test_verdict_unavailable_is_503(app_cls, fake, caplog):
    """Verdict 9 UNAVAILABLE (fleet mode: the nonce could not be claimed fleet-wide in time)
    through the real middleware of each example app: 503 with exactly the body and headers of a
    daemon that does not answer, never 401, the handler never runs, and the log names
    UNAVAILABLE. The real daemon only answers 9 in fleet mode, so a fake one (the real
    protocol, every verify item answered 9) stands in; both schemes."""
    srv = fake(lambda i: serve_forever, verdict=9)
    app = app_cls(srv.path)
    signer = Signer("acme", 1, base64.b64encode(bytes(range(32))).decode())
    target = "/containers/web-01/exec"
    try:
        caplog.clear()
        status, body, headers = app.request("POST", target, EXEC, sign(app, signer, target))
        assert (status, body) == (503, BODY_503)
        assert "www-authenticate" not in _headers(headers)
        assert "503 UNAVAILABLE tenant=acme container=web-01" in caplog.text, caplog.text
        assert len(srv.requests) == 1  # the daemon's answer, not a connection failure

        caplog.clear()
        status, body, headers = app.request("POST", target, EXEC,
                                            rfc_sign_with(app, bytes(32), "kid-1", "acme", target))
        assert (status, body) == (503, BODY_503)
        assert "503 UNAVAILABLE tenant=acme container=web-01" in caplog.text, caplog.text
        assert srv.requests[-1][1]["items"][0]["scheme"] == "rfc9421"
        unavailable = _headers(headers)

        # the same request with no daemon at all: the very same response
        srv.close()
        status, body, headers = app.request("POST", target, EXEC, sign(app, signer, target))
        assert (status, body) == (503, BODY_503)
        assert _headers(headers) == unavailable
    finally:
        app.close()


def rfc_sign_with(app, key, keyid, tenant, target, body=EXEC, method="POST"):
    """Request headers signed with hmacd.rfc9421.sign() under (key, keyid), tenant in X-Tenant."""
    headers = {"Host": app.host, "Content-Type": "application/json", "X-Tenant": tenant}
    headers.update(sign_rfc9421(method, target, key=key, keyid=keyid, headers=headers,
                                body=body))
    return headers


# ---- the middleware without a framework ----

def test_wsgi_rebuilds_the_target_and_uses_a_pattern(daemon):
    """No RAW_URI/REQUEST_URI: the target is rebuilt from PATH_INFO and QUERY_STRING, and the
    container comes from a regex."""
    from hmacd.wsgi import HmacdWSGIMiddleware
    t = unique("acme")
    signer = Signer(t, 1, daemon.create(t, "web-01")["secret"])
    seen = []

    def inner(environ, start_response):
        seen.append(environ["hmacd"]["container"])
        start_response("204 No Content", [])
        return []

    with Client(daemon.socket) as client:
        mw = HmacdWSGIMiddleware(inner, client,
                                 container_pattern=r"/containers/(?P<id>[^/]+)/files/.*")
        target = "/containers/web-01/files/a%20b%25c?x=1"
        auth = signer.sign_request("GET", target, container="web-01",
                                   headers={"Host": "h"})
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/containers/web-01/files/a b%c",
                   "QUERY_STRING": "x=1", "HTTP_HOST": "h", "HTTP_AUTHORIZATION": auth,
                   "wsgi.input": io.BytesIO()}
        status = []
        mw(environ, lambda s, h: status.append(s))
        assert status == ["204 No Content"] and seen == ["web-01"]


def test_asgi_path_params_pattern_and_websocket(daemon):
    from hmacd.asgi import HmacdASGIMiddleware
    t = unique("acme")
    signer = Signer(t, 1, daemon.create(t, "web-01")["secret"])

    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run(mw, scope, body=b""):
        sent = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(m):
            sent.append(m)
        await mw(scope, receive, send)
        return sent

    async def main():
        async with AsyncClient(daemon.socket) as client:
            by_params = HmacdASGIMiddleware(inner, client)
            by_regex = HmacdASGIMiddleware(inner, client,
                                           container_pattern=r"/containers/(?P<id>[^/]+)/exec")
            target = "/containers/web-01/exec"
            for mw, extra in ((by_params, {"path_params": {"id": "web-01"}}), (by_regex, {})):
                auth = signer.sign_request("POST", target, container="web-01",
                                           headers={"host": "h"})
                scope = dict({"type": "http", "method": "POST", "path": target,
                              "raw_path": target.encode(), "query_string": b"",
                              "headers": [(b"host", b"h"), (b"authorization", auth.encode())]},
                             **extra)
                assert (await run(mw, scope))[0]["status"] == 204
            # the router's path_params name another container than the one signed for: 401
            auth = signer.sign_request("POST", target, container="web-01", headers={"host": "h"})
            scope = {"type": "http", "method": "POST", "path": target, "raw_path": target.encode(),
                     "query_string": b"", "path_params": {"id": "web-02"},
                     "headers": [(b"host", b"h"), (b"authorization", auth.encode())]}
            assert (await run(by_params, scope))[0]["status"] == 401
            # no way to find the container: 401, never passed on
            scope = dict(scope, path_params={})
            assert (await run(by_params, scope))[0]["status"] == 401
            ws = await run(by_params, {"type": "websocket", "path": target, "headers": []})
            assert ws == [{"type": "websocket.close", "code": 1008}]
    asyncio.run(main())


# ---- RFC 9421 through the same apps (PROTOCOL.md 13.5) ----

class RfcKeys:
    """Tenant t: web-01 (k1, kid1) and web-02 (k2, kid2), imported with hmacctl key import."""

    def __init__(self, daemon):
        self.t = unique("acme-rfc")
        self.k1, self.kid1 = os.urandom(32), unique("w1")
        self.k2, self.kid2 = os.urandom(32), unique("w2")
        daemon.import_key(self.t, "web-01", self.k1, self.kid1)
        daemon.import_key(self.t, "web-02", self.k2, self.kid2)


@pytest.fixture
def rfc_keys(daemon):
    return RfcKeys(daemon)


def rfc_sign(app, keys, target, body=EXEC, method="POST", extra=None, key=None, keyid=None,
             tenant=None, **kw):
    """Request headers signed with hmacd.rfc9421.sign() (default: web-01's key)."""
    headers = {"Host": app.host, "Content-Type": "application/json",
               "X-Tenant": tenant or keys.t}
    headers.update(extra or {})
    headers.update(sign_rfc9421(method, target, key=key or keys.k1, keyid=keyid or keys.kid1,
                                headers=headers, body=body, **kw))
    return headers


def assert_refused(resp, caplog, reason):
    """401 as usual, and the log says why (the daemon's verdict, or the middleware's reason)."""
    assert_401(resp)
    assert reason in caplog.text, caplog.text
    caplog.clear()


def test_rfc9421_signed_request_passes(app, rfc_keys):
    target = "/containers/web-01/exec?tty=1"
    status, body, _ = app.request("POST", target, EXEC, rfc_sign(app, rfc_keys, target))
    assert status == 200, body
    out = json.loads(body)
    assert out["container"] == "web-01" and out["tenant"] == rfc_keys.t
    # an unsigned request is still refused
    assert_401(app.request("POST", target, EXEC, {"X-Tenant": rfc_keys.t}))


def test_rfc9421_tampering(app, rfc_keys, caplog):
    target = "/containers/web-01/exec?tty=1"
    # re-addressed to web-02: the key id belongs to web-01
    h = rfc_sign(app, rfc_keys, target)
    assert_refused(app.request("POST", "/containers/web-02/exec?tty=1", EXEC, h), caplog,
                   "UNKNOWN_KEY")
    # signed for PUT, sent as POST
    h = rfc_sign(app, rfc_keys, target, method="PUT")
    assert_refused(app.request("POST", target, EXEC, h), caplog, "BAD_SIGNATURE")
    # a covered header changed
    h = rfc_sign(app, rfc_keys, target, extra={"X-Request-Id": "req-42"},
                 components=["@method", "@authority", "@path", "@query", "content-digest",
                             "x-request-id"])
    h["X-Request-Id"] = "req-43"
    assert_refused(app.request("POST", target, EXEC, h), caplog, "BAD_SIGNATURE")
    # the body changed under its Content-Digest
    h = rfc_sign(app, rfc_keys, target)
    assert_refused(app.request("POST", target, EXEC.replace(b"-l", b"-a"), h), caplog,
                   "BAD_SIGNATURE")
    # the query: covered by default
    target_q = "/containers/web-01/exec?force=true"
    h = rfc_sign(app, rfc_keys, target_q)
    assert '"@query"' in h["Signature-Input"]
    assert_refused(app.request("POST", "/containers/web-01/exec?force=false", EXEC, h), caplog,
                   "BAD_SIGNATURE")
    h = rfc_sign(app, rfc_keys, target_q)
    assert_refused(app.request("POST", "/containers/web-01/exec", EXEC, h), caplog,
                   "BAD_SIGNATURE")
    h = rfc_sign(app, rfc_keys, target_q)
    assert app.request("POST", target_q, EXEC, h)[0] == 200
    # the authority
    h = rfc_sign(app, rfc_keys, target)
    h["Host"] = "elsewhere.example"
    assert_refused(app.request("POST", target, EXEC, h), caplog, "BAD_SIGNATURE")


def test_rfc9421_scope(app, rfc_keys, daemon, caplog):
    target = "/containers/web-01/exec"
    # web-02's key, honestly used, for web-01
    h = rfc_sign(app, rfc_keys, target, key=rfc_keys.k2, keyid=rfc_keys.kid2)
    assert_refused(app.request("POST", target, EXEC, h), caplog, "UNKNOWN_KEY")
    # and for web-02, where it belongs
    h = rfc_sign(app, rfc_keys, "/containers/web-02/exec", key=rfc_keys.k2,
                 keyid=rfc_keys.kid2)
    assert app.request("POST", "/containers/web-02/exec", EXEC, h)[0] == 200
    # X-Tenant naming another tenant does not move the key
    other = unique("acme-rfc")
    daemon.import_key(other, "web-01", os.urandom(32), unique("w1"))
    h = rfc_sign(app, rfc_keys, target, tenant=other)
    assert_refused(app.request("POST", target, EXEC, h), caplog, "UNKNOWN_KEY")
    # no or a bad X-Tenant: refused before hmacd is asked
    h = rfc_sign(app, rfc_keys, target)
    del h["X-Tenant"]
    assert_refused(app.request("POST", target, EXEC, h), caplog, "NO_TENANT")
    h = rfc_sign(app, rfc_keys, target, tenant="bad tenant")
    assert_refused(app.request("POST", target, EXEC, h), caplog, "BAD_TENANT")


def test_rfc9421_coverage_replay_and_both_schemes(app, rfc_keys, caplog):
    target = "/containers/web-01/exec"
    h = rfc_sign(app, rfc_keys, target, components=["@method", "@authority",
                                                    "content-digest"])
    assert_refused(app.request("POST", target, EXEC, h), caplog, "INSUFFICIENT_COVERAGE")
    h = rfc_sign(app, rfc_keys, target, components=["@method", "@authority", "@path"])
    assert_refused(app.request("POST", target, EXEC, h), caplog, "INSUFFICIENT_COVERAGE")
    h = rfc_sign(app, rfc_keys, target, nonce=None)
    assert_refused(app.request("POST", target, EXEC, h), caplog, "INSUFFICIENT_COVERAGE")
    h = rfc_sign(app, rfc_keys, target)
    assert app.request("POST", target, EXEC, h)[0] == 200
    assert_refused(app.request("POST", target, EXEC, h), caplog, "REPLAY")
    # an HMACD-V1 Authorization and a Signature-Input: refused, whichever is valid
    h = rfc_sign(app, rfc_keys, target)
    h["Authorization"] = "HMACD-V1 Tenant=x, Epoch=1, Timestamp=1, Signature=" + "A" * 43 + "="
    assert_refused(app.request("POST", target, EXEC, h), caplog, "BOTH_SCHEMES")
    # another Authorization scheme is just a header
    h = rfc_sign(app, rfc_keys, target, extra={"Authorization": "Bearer abc"})
    assert app.request("POST", target, EXEC, h)[0] == 200


def test_rfc9421_body_too_large(app, rfc_keys):
    target = "/containers/web-01/exec"
    body = b'{"cmd":["' + b"a" * (70 * 1024) + b'"]}'
    status, out, _ = app.request("POST", target, body, rfc_sign(app, rfc_keys, target, body))
    assert (status, out) == (413, BODY_413)


def test_rfc9421_b25_through_the_middleware(daemon, rfc_example, caplog):
    """RFC 9421 B.2.5 as an HTTP request, through a bare WSGI app (werkzeug's test client)
    and a bare ASGI app (starlette's TestClient): the scope from the app's configuration."""
    from starlette.testclient import TestClient
    from werkzeug.test import Client as WerkzeugClient
    from hmacd.asgi import HmacdASGIMiddleware
    from hmacd.wsgi import HmacdWSGIMiddleware

    t, c = rfc_example
    headers = [(n, v) for n, v in RFC_B2_HEADERS if n not in ("host", "content-length")]
    headers += [("Signature-Input", RFC_B25_INPUT), ("Signature", RFC_B25_SIGNATURE)]
    seen = []

    def wsgi_app(environ, start_response):
        seen.append(environ["hmacd"])
        start_response("204 No Content", [])
        return []

    async def asgi_app(scope, receive, send):
        if scope["type"] == "lifespan":  # the middleware passes it through
            while True:
                m = await receive()
                await send({"type": m["type"] + ".complete"})
                if m["type"] == "lifespan.shutdown":
                    return
        seen.append(scope["hmacd"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with Client(daemon.socket) as client:
        mw = HmacdWSGIMiddleware(wsgi_app, client, container_from=lambda e: c,
                                 tenant_from=lambda e: t)
        wc = WerkzeugClient(mw)
        r = wc.open(RFC_B2_TARGET, method="POST", data=RFC_B2_BODY, headers=headers,
                    base_url="https://example.com")
        assert r.status_code == 204
        bad = [(n, v.replace("02:07:55", "02:07:56")) for n, v in headers]
        r = wc.open(RFC_B2_TARGET, method="POST", data=RFC_B2_BODY, headers=bad,
                    base_url="https://example.com")
        assert r.status_code == 401 and "BAD_SIGNATURE" in caplog.text
        caplog.clear()

    amw = HmacdASGIMiddleware(asgi_app, AsyncClient(daemon.socket),
                              container_from=lambda s: c, tenant_from=lambda s: t)
    with TestClient(amw, base_url="https://example.com") as tc:
        r = tc.request("POST", RFC_B2_TARGET, content=RFC_B2_BODY, headers=headers)
        assert r.status_code == 204
        r = tc.request("POST", RFC_B2_TARGET, content=RFC_B2_BODY, headers=bad)
        assert r.status_code == 401 and "BAD_SIGNATURE" in caplog.text
    assert len(seen) == 2
    for who in seen:
        assert who == {"scheme": "rfc9421", "tenant": t, "container": c, "label": "sig-b25",
                       "keyid": "test-shared-secret", "created": 1618884473, "nonce": None,
                       "covered": ['"date"', '"@authority"', '"content-type"']}
