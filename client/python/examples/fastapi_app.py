"""fastapi_app.py - POST /containers/{id}/exec with FastAPI and hmacd's ASGI middleware.

The same app as flask_app.py: HmacdASGIMiddleware takes the container from the route FastAPI
will dispatch to (starlette_route_param), so a signature made for one container is refused on
another (401), a daemon that is down refuses everything (503) and a body over 64 KiB is 413.
The body is bound by exec_request.py, as in the other examples (400 for an unknown field and
the like), from the very bytes hmacd verified. RFC 9421 requests (Signature-Input, with the
tenant in X-Tenant) pass the same middleware. GET /healthz is left open. Each refusal's reason
is logged on stderr, never sent to the caller.

Run it from the checkout, with hmacd listening on HMACD_SOCKET (sh daemon/demo.sh starts one
on demo/hmacd.sock with a key for tenant demo, container web-01) and Debian's python3-fastapi
and python3-uvicorn:

    HMACD_SOCKET=$PWD/demo/hmacd.sock PORT=8080 PYTHONPATH=client/python \\
        /usr/bin/python3 client/python/examples/fastapi_app.py

Configuration (exec_request.config_from_env): HMACD_SOCKET (default /run/hmacd/hmacd.sock),
PORT (default 8080), HMACD_SERVER_USER, and HMACD_TRUST_PROXY=1 only behind a proxy that sets
X-Forwarded-Proto (RFC 9421's @scheme: the middleware's trusted_proxy); it listens on
127.0.0.1. uvicorn runs in the process, with proxy_headers=False whatever HMACD_TRUST_PROXY
says: by default it would let X-Forwarded-Proto from 127.0.0.1 rewrite the request's scheme,
so a local client could choose the RFC 9421 @scheme hmacd checks (the middleware takes the
connection's, or with HMACD_TRUST_PROXY=1 the header's).
"""

from __future__ import annotations

import logging
from typing import Any, Dict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from exec_request import (BAD_REQUEST, BadBody, bind_exec_request, config_from_env, exec_answer,
                          log_to_stderr)
from hmacd import AsyncClient, Client
from hmacd.asgi import HmacdASGIMiddleware, starlette_route_param

log = logging.getLogger("example")


def create_app(client: AsyncClient | Client, *, max_body: int = 64 * 1024,
               trust_proxy: bool = False) -> FastAPI:
    app = FastAPI()

    @app.post("/containers/{id}/exec")
    async def exec_in_container(id: str, request: Request) -> Any:
        # request.scope["hmacd"] is what the middleware verified; `id` is the same container
        try:
            req = bind_exec_request(await request.body())
        except BadBody as e:
            log.info("exec: bad body: %s", e)
            return JSONResponse(BAD_REQUEST, status_code=400)
        return exec_answer(request.scope["hmacd"]["tenant"], id, req)

    @app.get("/healthz")
    async def healthz() -> Dict[str, bool]:
        return {"ok": True}

    app.add_middleware(HmacdASGIMiddleware, client=client,
                       container_from=starlette_route_param(app, "id"), max_body=max_body,
                       trusted_proxy=trust_proxy,
                       exempt=lambda scope: scope.get("path") == "/healthz")
    return app


def main() -> None:
    import uvicorn

    conf = config_from_env()
    log_to_stderr()
    app = create_app(AsyncClient(conf.socket, server_user=conf.server_user),
                     trust_proxy=conf.trust_proxy)
    uvicorn.run(app, host="127.0.0.1", port=conf.port, proxy_headers=False)


if __name__ == "__main__":
    main()
