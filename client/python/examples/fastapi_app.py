"""fastapi_app.py - POST /containers/{id}/exec with FastAPI and the ASGI middleware.

The same app as flask_app.py: HmacdASGIMiddleware takes the container from the route FastAPI
will dispatch to (starlette_route_param), so a signature made for one container is refused on
another (401) and a daemon that is down refuses everything (503). The body is bound to a
pydantic model that forbids unknown fields (422 for "privileged": true and the like). RFC 9421
requests (Signature-Input, with the tenant in X-Tenant) pass the same middleware.

Run it (needs an ASGI server, e.g. uvicorn, which this repository does not require):

    HMACD_SOCKET=/run/hmacd/hmacd.sock PYTHONPATH=. uvicorn examples.fastapi_app:app

HMACD_SERVER_USER names the user hmacd runs as when it is neither root nor the owner of the
socket's directory (the client refuses any other server: 503).
"""

import os
from typing import Dict, List

from fastapi import FastAPI, Request
from pydantic import BaseModel, StrictBool, StrictStr, validator

from hmacd.aio import AsyncClient
from hmacd.asgi import HmacdASGIMiddleware, starlette_route_param


class ExecRequest(BaseModel):
    cmd: List[StrictStr]
    tty: StrictBool = False
    workdir: StrictStr = "/"
    env: Dict[StrictStr, StrictStr] = {}

    class Config:
        extra = "forbid"  # an unknown field is an error, not silently dropped

    @validator("cmd")
    def _cmd_length(cls, v):
        if not 1 <= len(v) <= 64:
            raise ValueError("cmd must hold 1..64 strings")
        return v


def create_app(client, *, max_body=64 * 1024):
    app = FastAPI()

    @app.post("/containers/{id}/exec")
    async def exec_in_container(id: str, body: ExecRequest, request: Request):
        # request.scope["hmacd"] is what the middleware verified; `id` is the same container
        who = request.scope["hmacd"]
        return {"container": id, "tenant": who["tenant"], "would_run": body.cmd,
                "tty": body.tty, "workdir": body.workdir}

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    app.add_middleware(HmacdASGIMiddleware, client=client,
                       container_from=starlette_route_param(app, "id"), max_body=max_body,
                       exempt=lambda scope: scope.get("path") == "/healthz")
    return app


app = create_app(AsyncClient(os.environ.get("HMACD_SOCKET", "/run/hmacd/hmacd.sock"),
                             server_user=os.environ.get("HMACD_SERVER_USER") or None))
