"""test_body_stripping.py - a signed body cannot be stripped (issue 10, finding 1), end to end:
a Flask app behind the WSGI middleware, a Starlette app behind the ASGI middleware and a Django
view behind hmacd.django, the real hmacd, and a handler that records every call.

The attack: a request signed with its body {"dry_run":true} is re-sent with every header kept
(Content-Digest and the signature included) but with Content-Length: 0 and no body. Were the
empty body left out of the item, the daemon would not check the covered Content-Digest and the
handler would run with an empty body, the dry run gone. The middleware sends the body it hands
the application, an empty one included: 401, and the handler never runs. The same request
with its body passes (200), so each test proves the refusal is about the body.
"""

import os

import pytest

from helpers import unique
from hmacd import AsyncClient, Client, Signer, sign_rfc9421

BODY = b'{"dry_run":true}'
TARGET = "/containers/web-01/exec"


class FlaskApp:
    """Flask behind HmacdWSGIMiddleware, driven by Flask's test client."""

    name = "wsgi-flask"
    host = "localhost"

    def __init__(self, socket_path):
        from flask import Flask, request
        from hmacd.wsgi import HmacdWSGIMiddleware, flask_route_param
        self.ran = []
        self.client = Client(socket_path, timeout=5)
        app = Flask(__name__)

        @app.post("/containers/<id>/exec")
        def exec_in_container(id):
            self.ran.append(request.get_data())
            return "ran"

        app.wsgi_app = HmacdWSGIMiddleware(app.wsgi_app, self.client,
                                           container_from=flask_route_param(app, "id"))
        self.tc = app.test_client()

    def post(self, body, headers):
        r = self.tc.post(TARGET, data=body, headers=headers)
        return r.status_code

    def close(self):
        self.client.close()


class StarletteApp:
    """Starlette behind HmacdASGIMiddleware (with an AsyncClient), driven by its TestClient."""

    name = "asgi-starlette"
    host = "testserver"

    def __init__(self, socket_path):
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route
        from starlette.testclient import TestClient
        from hmacd.asgi import HmacdASGIMiddleware, starlette_route_param
        self.ran = []

        async def exec_in_container(request):
            self.ran.append(await request.body())
            return PlainTextResponse("ran")

        routes = [Route("/containers/{id}/exec", exec_in_container, methods=["POST"])]
        app = Starlette(routes=routes)
        app.add_middleware(HmacdASGIMiddleware, client=AsyncClient(socket_path, timeout=5),
                           container_from=starlette_route_param(app, "id"))
        self.cm = TestClient(app)
        self.tc = self.cm.__enter__()

    def post(self, body, headers):
        return self.tc.post(TARGET, content=body, headers=headers).status_code

    def close(self):
        self.cm.__exit__(None, None, None)


DJANGO_RAN = []


def django_view(request, id):
    DJANGO_RAN.append(request.body)
    from django.http import HttpResponse
    return HttpResponse(b"ran")


class DjangoApp:
    """A Django view behind hmacd.django.HmacdMiddleware, driven by Django's test client."""

    name = "django"
    host = "testserver"

    def __init__(self, socket_path):
        from django.test import Client as DjangoClient
        from django.test import override_settings
        self.client = Client(socket_path, timeout=5)
        self.override = override_settings(ROOT_URLCONF=__name__,
                                          MIDDLEWARE=["hmacd.django.HmacdMiddleware"],
                                          HMACD={"CLIENT": self.client})
        self.override.enable()
        DJANGO_RAN.clear()
        self.ran = DJANGO_RAN
        self.tc = DjangoClient()

    def post(self, body, headers):
        extra = {}
        for k, v in headers.items():
            k = k.upper().replace("-", "_")
            extra[k if k in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + k] = v
        return self.tc.generic("POST", TARGET, data=body, **extra).status_code

    def close(self):
        self.override.disable()
        self.client.close()


try:
    from django.urls import path
except ImportError:
    APPS = [FlaskApp, StarletteApp]
else:
    urlpatterns = [path("containers/<str:id>/exec", django_view)]
    APPS = [FlaskApp, StarletteApp, DjangoApp]


@pytest.fixture(params=APPS, ids=[a.name for a in APPS])
def app(request, daemon):
    a = request.param(daemon.socket)
    yield a
    a.close()


def stripped(headers):
    """The same headers, announcing no body."""
    out = {n: v for n, v in headers.items() if n.lower() != "content-length"}
    out["Content-Length"] = "0"
    return out


def test_rfc9421_body_cannot_be_stripped(app, daemon, caplog):
    t, key, keyid = unique("strip"), os.urandom(32), unique("strip-k")
    daemon.import_key(t, "web-01", key, keyid)

    def signed():
        h = {"Host": app.host, "Content-Type": "application/json", "X-Tenant": t,
             "Content-Length": str(len(BODY))}
        h.update(sign_rfc9421("POST", TARGET, key=key, keyid=keyid, headers=h, body=BODY))
        assert "content-digest" in h["Signature-Input"]
        return h

    assert app.post(BODY, signed()) == 200
    assert app.ran == [BODY]
    app.ran.clear()
    assert app.post(b"", stripped(signed())) == 401
    assert app.ran == []
    assert "BAD_SIGNATURE" in caplog.text  # the daemon checked the digest against b""


def test_hmacd_v1_body_cannot_be_stripped(app, daemon, caplog):
    t = unique("strip")
    signer = Signer(t, 1, daemon.create(t, "web-01")["secret"])

    def signed():
        h = {"Host": app.host, "Content-Type": "application/json"}
        h["Authorization"] = signer.sign_request("POST", TARGET, container="web-01",
                                                 headers=h, body=BODY)
        return h

    assert app.post(BODY, signed()) == 200
    assert app.ran == [BODY]
    app.ran.clear()
    assert app.post(b"", stripped(signed())) == 401
    assert app.ran == []
    assert "BAD_SIGNATURE" in caplog.text
