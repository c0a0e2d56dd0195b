"""test_middleware.py - PROTOCOL.md 13.3 end to end: the Flask example (WSGI middleware, driven
by flask's test client) and the FastAPI example (ASGI middleware, driven by starlette's
TestClient), against the real hmacd.

Each case runs on both apps: a signed request passes; no or a broken Authorization, a signature
made for another container (re-addressed request, or a signer claiming another container), a
replay, a changed body or query, a missing signed header: 401 with the exact body; a body over
the limit: 413; the daemon down: 503 (fail closed) and back to 200 once it is up; strict body
binding; an exempt route; an unknown route is 401, not passed on.
"""

import asyncio
import io
import json
import os
import sys

import pytest

from helpers import unique
from hmacd import AsyncClient, Client, Signer

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

BODY_401 = b'{"error":"unauthorized"}'
BODY_503 = b'{"error":"unavailable"}'
BODY_413 = b'{"error":"too_large"}'


class FlaskApp:
    name = "flask"
    host = "localhost"
    bad_body_status = 400

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
    bad_body_status = 422

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


APPS = [FlaskApp, FastAPIApp]


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
    out = json.loads(body)
    assert out["container"] == "web-01" and out["would_run"] == ["ls", "-l"]
    assert out["tenant"] == keys.tenant


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
                 b'{"cmd":["sh"],"tty":"yes"}', b'[1]'):
        status, _, _ = app.request("POST", target, body, sign(app, keys, target, body=body))
        assert status == app.bad_body_status, body


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
