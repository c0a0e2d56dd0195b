"""test_scheme.py - RFC 9421 @scheme through every Python middleware (WSGI, ASGI, Django),
against the real hmacd (issue 14): the scheme is the connection's (WSGI wsgi.url_scheme, ASGI
scope["scheme"], Django's connection whatever SECURE_PROXY_SSL_HEADER says: test_django.py),
and a proxy's X-Forwarded-Proto counts only with trusted_proxy=True (Django: TRUSTED_PROXY).

Both ways, on each framework: a standard signature (hmacd.rfc9421.sign, which the RFC's own
examples check) that covers @scheme (or @target-uri) as "http" verifies over plain HTTP, and one
made for "https" does not (the daemon says BAD_SIGNATURE); over TLS (the test clients'
https base URL) the other way round. A client's forged X-Forwarded-Proto changes nothing
without the option; with it, the proxy's value (the last one) decides, and a value that is
not http or https is refused before hmacd is asked.
"""

import json
import os

import pytest

from helpers import unique
from hmacd import AsyncClient, Client, sign_rfc9421

HOST = "api.test"
TARGET = "/containers/web-01/exec"
BODY = b'{"cmd":["ls"]}'
BODY_401 = b'{"error":"unauthorized"}'


def wsgi_app(environ, start_response):
    body = json.dumps(environ["hmacd"]).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            await send({"type": m["type"] + ".complete"})
            if m["type"] == "lifespan.shutdown":
                return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(scope["hmacd"]).encode()})


class WSGI:
    name = "wsgi"

    def __init__(self, socket_path, **opts):
        from werkzeug.test import Client as WerkzeugClient
        from hmacd.wsgi import HmacdWSGIMiddleware
        self.client = Client(socket_path)
        self.tc = WerkzeugClient(HmacdWSGIMiddleware(
            wsgi_app, self.client, container_pattern=r"/containers/(?P<id>[^/]+)/exec", **opts))

    def request(self, headers, tls=False):
        r = self.tc.open(TARGET, method="POST", data=BODY, headers=headers,
                         base_url="%s://%s" % ("https" if tls else "http", HOST))
        return r.status_code, r.get_data()

    def close(self):
        self.client.close()


class ASGI:
    name = "asgi"

    def __init__(self, socket_path, **opts):
        from starlette.testclient import TestClient
        from hmacd.asgi import HmacdASGIMiddleware
        mw = HmacdASGIMiddleware(asgi_app, AsyncClient(socket_path),
                                 container_pattern=r"/containers/(?P<id>[^/]+)/exec", **opts)
        self.clients = {tls: TestClient(mw, base_url="%s://%s" % ("https" if tls else "http",
                                                                  HOST))
                        for tls in (False, True)}
        for c in self.clients.values():
            c.__enter__()

    def request(self, headers, tls=False):
        r = self.clients[tls].request("POST", TARGET, content=BODY, headers=headers)
        return r.status_code, r.content

    def close(self):
        for c in self.clients.values():
            c.__exit__(None, None, None)


class Django:
    """Django's test client (WSGI) on this module's urlpatterns."""

    name = "django"

    def __init__(self, socket_path, **opts):
        from django.test import Client as DjangoClient
        from django.test import override_settings
        from hmacd.django import HmacdMiddleware
        self.client = Client(socket_path)
        hmacd = {"CLIENT": self.client}
        hmacd.update({k.upper(): v for k, v in opts.items()})
        self.override = override_settings(ROOT_URLCONF=__name__, HMACD=hmacd,
                                          MIDDLEWARE=["hmacd.django.HmacdMiddleware"])
        self.override.enable()
        try:
            HmacdMiddleware(lambda r: None)  # a bad option fails here, as at Django's start
        except Exception:
            self.close()
            raise
        self.tc = DjangoClient()

    def request(self, headers, tls=False):
        extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()
                 if k != "Content-Type"}
        r = self.tc.post(TARGET, data=BODY, content_type=headers["Content-Type"], secure=tls,
                         **extra)
        return r.status_code, r.content

    def close(self):
        self.override.disable()
        self.client.close()


def django_view(request, id):
    from django.http import JsonResponse
    return JsonResponse(request.hmacd)


try:
    from django.urls import path
except ImportError:
    FRAMEWORKS = [WSGI, ASGI]
else:
    urlpatterns = [path("containers/<str:id>/exec", django_view)]
    FRAMEWORKS = [WSGI, ASGI, Django]


@pytest.fixture(scope="module")
def scope_keys(daemon):
    """A tenant with web-01's key imported under a key id (RFC 9421 names keys by id)."""
    t, key, keyid = unique("acme-scheme"), os.urandom(32), unique("kid")
    daemon.import_key(t, "web-01", key, keyid)
    return t, key, keyid


@pytest.fixture(params=FRAMEWORKS, ids=[f.name for f in FRAMEWORKS])
def make(request, daemon):
    """make(**middleware options) -> a framework app around the middleware."""
    made = []

    def make(**opts):
        app = request.param(daemon.socket, **opts)
        made.append(app)
        return app
    yield make
    for a in made:
        a.close()


def signed(keys, scheme, components=("@method", "@authority", "@path", "@scheme",
                                     "content-digest"), extra=None):
    """Headers of a request signed with hmacd.rfc9421.sign() for scheme://HOST/TARGET."""
    t, key, keyid = keys
    headers = {"Host": HOST, "Content-Type": "application/json", "X-Tenant": t}
    headers.update(sign_rfc9421("POST", "%s://%s%s" % (scheme, HOST, TARGET), key=key,
                                keyid=keyid, headers=headers, body=BODY,
                                components=list(components)))
    headers.update(extra or {})
    return headers


def refused(resp, caplog, reason):
    status, body = resp
    ok = status == 401 and body == BODY_401 and reason in caplog.text
    caplog.clear()
    return ok


def test_scheme_from_the_connection(make, scope_keys, caplog):
    app = make()
    # plain HTTP: a signer covering @scheme as http verifies, as https it does not
    status, body = app.request(signed(scope_keys, "http"))
    assert status == 200, body
    assert '"@scheme"' in json.loads(body)["covered"]
    assert refused(app.request(signed(scope_keys, "https")), caplog, "BAD_SIGNATURE")
    # @target-uri carries the scheme too
    comps = ("@method", "@target-uri", "@authority", "content-digest")
    assert app.request(signed(scope_keys, "http", comps))[0] == 200
    assert refused(app.request(signed(scope_keys, "https", comps)), caplog, "BAD_SIGNATURE")
    # over TLS, the other way round
    assert app.request(signed(scope_keys, "https"), tls=True)[0] == 200
    assert refused(app.request(signed(scope_keys, "http"), tls=True), caplog, "BAD_SIGNATURE")


def test_forged_forwarded_proto_is_ignored(make, scope_keys, caplog):
    app = make()
    xfp = {"X-Forwarded-Proto": "https"}
    # the client says https over plain HTTP: the scheme stays http
    assert refused(app.request(signed(scope_keys, "https", extra=xfp)), caplog, "BAD_SIGNATURE")
    assert app.request(signed(scope_keys, "http", extra=xfp))[0] == 200
    # and the other way: a client cannot downgrade a TLS connection's scheme either
    xfp = {"X-Forwarded-Proto": "http"}
    assert refused(app.request(signed(scope_keys, "http", extra=xfp), tls=True), caplog,
                   "BAD_SIGNATURE")
    assert app.request(signed(scope_keys, "https", extra=xfp), tls=True)[0] == 200


def test_trusted_proxy(make, scope_keys, caplog):
    app = make(trusted_proxy=True)
    xfp = {"X-Forwarded-Proto": "https"}
    # TLS ended at the proxy, which says so: https
    assert app.request(signed(scope_keys, "https", extra=xfp))[0] == 200
    assert refused(app.request(signed(scope_keys, "http", extra=xfp)), caplog, "BAD_SIGNATURE")
    # a proxy that appends: the last value is the proxy's, the client's comes first
    xfp = {"X-Forwarded-Proto": "http, https"}
    assert app.request(signed(scope_keys, "https", extra=xfp))[0] == 200
    xfp = {"X-Forwarded-Proto": "https,http"}
    assert app.request(signed(scope_keys, "http", extra=xfp))[0] == 200
    # no header: the connection's
    assert app.request(signed(scope_keys, "http"))[0] == 200
    # not a scheme: refused before hmacd is asked
    xfp = {"X-Forwarded-Proto": "gopher"}
    assert refused(app.request(signed(scope_keys, "http", extra=xfp)), caplog,
                   "BAD_FORWARDED_PROTO")


def test_fixed_scheme(make, scope_keys, caplog):
    app = make(uri_scheme="https")
    assert app.request(signed(scope_keys, "https"))[0] == 200
    assert refused(app.request(signed(scope_keys, "http")), caplog, "BAD_SIGNATURE")


@pytest.mark.parametrize("fw", FRAMEWORKS, ids=[f.name for f in FRAMEWORKS])
def test_trusted_proxy_and_a_fixed_scheme_conflict(fw):
    errors = (ValueError,)
    if fw is Django:
        from django.core.exceptions import ImproperlyConfigured
        errors = (ImproperlyConfigured,)
    with pytest.raises(errors):
        fw("/nonexistent/socket", trusted_proxy=True, uri_scheme="https")
