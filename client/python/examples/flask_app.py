"""flask_app.py - the seed's POST /containers/<id>/exec, done right, with Flask.

- Every request to the app must carry a valid HMACD-V1 signature for the container in its
  route: HmacdWSGIMiddleware asks Flask's own URL map for the route parameter `id`, so the
  container hmacd checks is exactly the one the view receives. A signature made for web-01 is
  refused on /containers/web-02/exec (401), a daemon that is down refuses everything (503).
- The JSON body is bound strictly: an object with exactly the allowed fields, each of the right
  type; anything else (an unknown field such as "privileged", a duplicate key, a wrong type) is
  a 400. The body hmacd verified is the body the view parses.
- /healthz is the one route left unprotected (exempt).
- Requests signed with RFC 9421 (Signature-Input, Signature, Content-Digest; see
  hmacd.rfc9421.sign) pass the same middleware: the tenant comes from the X-Tenant header, the
  container from the same route parameter, and the key id must belong to that scope.

Run it (from client/python, with hmacd running and a key for tenant acme, container web-01):

    HMACD_SOCKET=/run/hmacd/hmacd.sock PYTHONPATH=. /usr/bin/python3 examples/flask_app.py

HMACD_SERVER_USER names the user hmacd runs as when it is neither root nor the owner of the
socket's directory (the client refuses any other server: 503).

The view only describes the command it would run: this is an example, not a container runtime.
"""

import json
import os

from flask import Flask, jsonify, request

from hmacd import Client
from hmacd.wsgi import HmacdWSGIMiddleware, flask_route_param

ALLOWED = {"cmd", "tty", "workdir", "env"}


class BadBody(ValueError):
    pass


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise BadBody("duplicate key")
    return dict(pairs)


def bind_exec_request(raw):
    """The exec request: {"cmd": [str, ...] (1..64, required), "tty": bool, "workdir": str,
    "env": {str: str}}; nothing else. Raises BadBody."""
    try:
        doc = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError):
        raise BadBody("not JSON") from None
    if not isinstance(doc, dict):
        raise BadBody("not an object")
    unknown = set(doc) - ALLOWED
    if unknown:
        raise BadBody("unknown field")
    cmd = doc.get("cmd")
    if (not isinstance(cmd, list) or not 1 <= len(cmd) <= 64 or
            not all(isinstance(a, str) for a in cmd)):
        raise BadBody("cmd must be a list of 1..64 strings")
    if not isinstance(doc.get("tty", False), bool):
        raise BadBody("tty must be a boolean")
    if not isinstance(doc.get("workdir", "/"), str):
        raise BadBody("workdir must be a string")
    env = doc.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise BadBody("env must map strings to strings")
    return {"cmd": cmd, "tty": doc.get("tty", False), "workdir": doc.get("workdir", "/"),
            "env": env}


def create_app(client, *, max_body=64 * 1024):
    app = Flask(__name__)

    @app.post("/containers/<id>/exec")
    def exec_in_container(id):
        # request.environ["hmacd"] is what the middleware verified; `id` is the same container
        try:
            req = bind_exec_request(request.get_data(cache=False))
        except BadBody as e:
            return jsonify(error="bad_request", detail=str(e)), 400
        who = request.environ["hmacd"]
        return jsonify(container=id, tenant=who["tenant"], would_run=req["cmd"],
                       tty=req["tty"], workdir=req["workdir"])

    @app.get("/healthz")
    def healthz():
        return jsonify(ok=True)

    app.wsgi_app = HmacdWSGIMiddleware(
        app.wsgi_app, client, container_from=flask_route_param(app, "id"),
        max_body=max_body, exempt=lambda environ: environ.get("PATH_INFO") == "/healthz")
    return app


if __name__ == "__main__":
    app = create_app(Client(os.environ.get("HMACD_SOCKET", "/run/hmacd/hmacd.sock"),
                            server_user=os.environ.get("HMACD_SERVER_USER") or None))
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
