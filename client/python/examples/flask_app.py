"""flask_app.py - POST /containers/<id>/exec with Flask and hmacd's WSGI middleware.

- Every request must carry a valid signature (HMACD-V1, or RFC 9421 with the tenant in
  X-Tenant) for the container in its route: HmacdWSGIMiddleware asks Flask's own URL map for
  the route parameter `id`, so the container hmacd checks is exactly the one the view receives.
  A signature made for web-01 is refused on /containers/web-02/exec (401), a daemon that is down
  refuses everything (503), a body over 64 KiB is 413.
- The JSON body is bound strictly (exec_request.py, shared with the FastAPI and Django apps):
  an unknown field, a repeated field or a wrong type is 400. The body the view parses is the
  body hmacd verified.
- GET /healthz is the one route left open (exempt).
- Each refusal's reason (the daemon's verdict, or what was missing) is logged on stderr, never
  sent to the caller.

Run it from the checkout, with hmacd listening on HMACD_SOCKET (sh daemon/demo.sh starts one
on demo/hmacd.sock with a key for tenant demo, container web-01) and Debian's python3-flask:

    HMACD_SOCKET=$PWD/demo/hmacd.sock PORT=8080 PYTHONPATH=client/python \\
        /usr/bin/python3 client/python/examples/flask_app.py

Or under gunicorn (Debian's python3-gunicorn), with the settings of gunicorn.conf.py beside this
file (127.0.0.1:$PORT, and never a scheme from X-Forwarded-Proto, which gunicorn would believe
from 127.0.0.1 by default):

    HMACD_SOCKET=$PWD/demo/hmacd.sock PORT=8080 PYTHONPATH=client/python \\
        /usr/bin/python3 -m gunicorn -c client/python/examples/gunicorn.conf.py \\
        'flask_app:app_from_env()'

Configuration (exec_request.config_from_env): HMACD_SOCKET (default /run/hmacd/hmacd.sock),
PORT (default 8080), HMACD_SERVER_USER, and HMACD_TRUST_PROXY=1 only behind a proxy that sets
X-Forwarded-Proto (RFC 9421's @scheme); it listens on 127.0.0.1. The view only describes the
command it would run: this is an example, not a container runtime.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request

from exec_request import (BAD_REQUEST, BadBody, bind_exec_request, config_from_env, exec_answer,
                          log_to_stderr)
from hmacd import Client
from hmacd.wsgi import HmacdWSGIMiddleware, flask_route_param

log = logging.getLogger("example")


def create_app(client: Client, *, max_body: int = 64 * 1024, trust_proxy: bool = False) -> Flask:
    app = Flask(__name__)

    @app.post("/containers/<id>/exec")
    def exec_in_container(id: str) -> Response:
        # request.environ["hmacd"] is what the middleware verified; `id` is the same container
        try:
            req = bind_exec_request(request.get_data(cache=False))
        except BadBody as e:
            log.info("exec: bad body: %s", e)
            resp = jsonify(BAD_REQUEST)
            resp.status_code = 400
            return resp
        return jsonify(exec_answer(request.environ["hmacd"]["tenant"], id, req))

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(ok=True)

    app.wsgi_app = HmacdWSGIMiddleware(  # type: ignore  # Flask's way to wrap its WSGI app
        app.wsgi_app, client, container_from=flask_route_param(app, "id"),
        max_body=max_body, trusted_proxy=trust_proxy,
        exempt=lambda environ: environ.get("PATH_INFO") == "/healthz")
    return app


def app_from_env() -> Flask:
    """The app as its environment configures it (for a WSGI server: gunicorn.conf.py)."""
    conf = config_from_env()
    log_to_stderr()
    return create_app(Client(conf.socket, server_user=conf.server_user),
                      trust_proxy=conf.trust_proxy)


def main() -> None:
    port = config_from_env().port
    app_from_env().run(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
