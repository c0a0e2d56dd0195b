"""test_policy_middleware.py - the scope's policy, end to end (issue 10, finding 5): a Flask app
behind the WSGI middleware (with a Client) and a Starlette app behind the ASGI middleware (with
an AsyncClient), the real hmacd, and a handler that records every call.

- hmacd-v1: a scope set with `hmacctl policy set ... --v1-nonce --v1-require host` refuses a
  signed request without a nonce, or without host among its signed headers: 401, the handler
  never runs, and the log names the daemon's verdict, INSUFFICIENT_COVERAGE (decided before the
  key: a signature with an unknown epoch gets it too). A request that meets the policy passes
  (and its nonce is then used: a copy is REPLAY); the same requests pass in a scope without the
  policy, and in the first one once the policy is unset, so each refusal is the policy's.
- RFC 9421: a signer that covered @path but not @query (an explicit component list) leaves
  the query open; under the default policy a request whose query was added or changed is
  refused (401, INSUFFICIENT_COVERAGE, the handler never runs), as is one covering only a
  @query-param with another parameter added. Covering @query makes the same change
  BAD_SIGNATURE. In a scope set with --no-query the added query goes through: the rule, not
  anything else, is what refuses it. hmacd-v1 always binds the query (BAD_SIGNATURE).
"""

import os

import pytest

from helpers import signed as signed_item
from helpers import unique
from hmacd import AsyncClient, Client, Signer, Verdict, sign_rfc9421

BODY = b'{"cmd":["ls"]}'
TARGET = "/containers/%s/exec"


class FlaskApp:
    """Flask behind HmacdWSGIMiddleware (a Client), driven by Flask's test client."""

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
            self.ran.append((id, request.query_string.decode(), request.get_data(),
                             request.environ["hmacd"]))
            return "ran"

        app.wsgi_app = HmacdWSGIMiddleware(app.wsgi_app, self.client,
                                           container_from=flask_route_param(app, "id"))
        self.tc = app.test_client()

    def post(self, target, headers, body=BODY):
        return self.tc.post(target, data=body, headers=headers).status_code

    def close(self):
        self.client.close()


class StarletteApp:
    """Starlette behind HmacdASGIMiddleware (an AsyncClient), driven by its TestClient."""

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
            self.ran.append((request.path_params["id"], request.url.query, await request.body(),
                             request.scope["hmacd"]))
            return PlainTextResponse("ran")

        routes = [Route("/containers/{id}/exec", exec_in_container, methods=["POST"])]
        app = Starlette(routes=routes)
        app.add_middleware(HmacdASGIMiddleware, client=AsyncClient(socket_path, timeout=5),
                           container_from=starlette_route_param(app, "id"))
        self.cm = TestClient(app)
        self.tc = self.cm.__enter__()

    def post(self, target, headers, body=BODY):
        return self.tc.post(target, content=body, headers=headers).status_code

    def close(self):
        self.cm.__exit__(None, None, None)


APPS = [FlaskApp, StarletteApp]


@pytest.fixture(params=APPS, ids=[a.name for a in APPS])
def app(request, daemon):
    a = request.param(daemon.socket)
    yield a
    a.close()


def refused(app, caplog, verdict, target, headers):
    """The request is 401, the handler did not run, and the log names the daemon's verdict."""
    caplog.clear()
    assert app.post(target, headers) == 401
    assert app.ran == []
    assert verdict in caplog.text, caplog.text
    caplog.clear()


def passed(app, target, headers):
    """The request is 200 and the handler ran once, with the body; returns what it saw."""
    assert app.post(target, headers) == 200
    assert len(app.ran) == 1 and app.ran[0][2] == BODY
    return app.ran.pop()


def test_hmacd_v1_policy(app, daemon, caplog):
    t = unique("v1-policy")
    sec1 = daemon.create(t, "web-01")["secret"]
    s1 = Signer(t, 1, sec1)
    s2 = Signer(t, 1, daemon.create(t, "web-02")["secret"])
    daemon.policy_set(t, ["@method", "@authority", "@path"], "web-01",
                      ["--v1-nonce", "--v1-require", "host"])
    shown = daemon.ctl("policy", "show", "--tenant", t, "--container", "web-01", "--json")
    assert (shown["source"], shown["v1_nonce"], shown["v1_require"]) == ("scope", True, ["host"])
    shown = daemon.ctl("policy", "show", "--tenant", t, "--container", "web-02", "--json")
    assert (shown["source"], shown["v1_nonce"], shown["v1_require"]) == ("default", False, [])

    def headers(signer, container, **kw):
        h = {"Host": app.host, "Content-Type": "application/json"}
        h["Authorization"] = signer.sign_request("POST", TARGET % container, container=container,
                                                 headers=h, body=BODY, **kw)
        return h

    cov = "INSUFFICIENT_COVERAGE"
    web01 = TARGET % "web-01"
    # no nonce (host and content-type signed)
    h = headers(s1, "web-01", nonce="")
    assert "Nonce=" not in h["Authorization"] and "SignedHeaders=host;" in h["Authorization"]
    refused(app, caplog, cov, web01, h)
    # a nonce, but host not signed
    h = headers(s1, "web-01", signed_headers=["content-type"])
    assert "Nonce=" in h["Authorization"]
    refused(app, caplog, cov, web01, h)
    # coverage is judged before the key: an epoch the scope does not have, no nonce
    refused(app, caplog, cov, web01,
            headers(Signer(t, 9, os.urandom(32)), "web-01", nonce=""))
    # meeting the policy: 200, and its nonce is recorded
    h = headers(s1, "web-01")
    seen = passed(app, web01, h)
    assert seen[0] == "web-01" and seen[3]["scheme"] == "hmacd-v1" and seen[3]["nonce"]
    refused(app, caplog, "REPLAY", web01, h)
    # web-02 has no such policy: the same shortfalls pass there
    passed(app, TARGET % "web-02", headers(s2, "web-02", nonce=""))
    passed(app, TARGET % "web-02", headers(s2, "web-02", signed_headers=["content-type"]))

    # the Client directly: the same verdicts
    with Client(daemon.socket, timeout=5) as c:
        hosts = [("host", "h"), ("content-type", "application/json")]
        items = [
            (signed_item(sec1, tenant=t, container="web-01", nonce="", headers=hosts),
             Verdict.INSUFFICIENT_COVERAGE),
            (signed_item(sec1, tenant=t, container="web-01", headers=hosts[1:]),
             Verdict.INSUFFICIENT_COVERAGE),
            (signed_item(sec1, tenant=t, container="web-01", headers=hosts), Verdict.OK),
        ]
        assert c.verify_many([i for i, _ in items]) == [w for _, w in items]

    # unset: the request without a nonce passes in web-01 too
    daemon.ctl("policy", "unset", "--tenant", t, "--container", "web-01")
    passed(app, web01, headers(s1, "web-01", nonce=""))


def test_query_outside_the_coverage(app, daemon, caplog):
    t = unique("query")
    k1, kid1 = os.urandom(32), unique("q1")
    k2, kid2 = os.urandom(32), unique("q2")
    daemon.import_key(t, "web-01", k1, kid1)
    daemon.import_key(t, "web-02", k2, kid2)
    # web-01 keeps the default policy; web-02 gives up the query rule
    daemon.policy_set(t, ["@method", "@authority", "@path"], "web-02", ["--no-query"])
    shown = daemon.ctl("policy", "show", "--tenant", t, "--container", "web-01", "--json")
    assert (shown["source"], shown["query"]) == ("default", True)

    path_only = ["@method", "@authority", "@path", "content-digest"]

    def headers(target, components=None, key=k1, keyid=kid1):
        h = {"Host": app.host, "Content-Type": "application/json", "X-Tenant": t}
        h.update(sign_rfc9421("POST", target, key=key, keyid=keyid, headers=h, body=BODY,
                              components=components))
        return h

    cov = "INSUFFICIENT_COVERAGE"
    web01 = TARGET % "web-01"
    # @path without @query, no query: meets the default policy
    passed(app, web01, headers(web01, path_only))
    # the same signature, a query added on the way
    h = headers(web01, path_only)
    assert '"@query"' not in h["Signature-Input"]
    refused(app, caplog, cov, web01 + "?force=true", h)
    # signed with a query it did not cover, the query changed
    refused(app, caplog, cov, web01 + "?force=true", headers(web01 + "?force=false", path_only))
    # one parameter covered, another added
    h = headers(web01 + "?force=false", path_only + ['@query-param;name="force"'])
    refused(app, caplog, cov, web01 + "?force=false&dry_run=false", h)
    # @query covered: the change is a bad signature, the request as signed passes
    h = headers(web01 + "?force=false", path_only + ["@query"])
    refused(app, caplog, "BAD_SIGNATURE", web01 + "?force=true", h)
    seen = passed(app, web01 + "?force=false", headers(web01 + "?force=false",
                                                      path_only + ["@query"]))
    assert seen[1] == "force=false" and seen[3]["scheme"] == "rfc9421"
    # the default components cover the query by themselves
    h = headers(web01 + "?force=false")
    assert '"@query"' in h["Signature-Input"]
    refused(app, caplog, "BAD_SIGNATURE", web01 + "?force=true", h)

    # web-02 (--no-query): the added query goes through, so the refusals above are the rule's
    web02 = TARGET % "web-02"
    seen = passed(app, web02 + "?force=true", headers(web02, path_only, k2, kid2))
    assert seen[:2] == ("web-02", "force=true")

    # hmacd-v1 binds path and query in its canonical string whatever the policy
    s = Signer(t, 1, daemon.create(t, "web-03")["secret"])
    h = {"Host": app.host, "Content-Type": "application/json"}
    h["Authorization"] = s.sign_request("POST", TARGET % "web-03", container="web-03",
                                        headers=h, body=BODY)
    refused(app, caplog, "BAD_SIGNATURE", TARGET % "web-03" + "?force=true", h)
