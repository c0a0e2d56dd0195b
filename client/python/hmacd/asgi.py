"""hmacd.asgi - ASGI middleware that lets a request through only if hmacd says its signature is
valid for the container in its route (PROTOCOL.md 13.3).

    from fastapi import FastAPI
    from hmacd.aio import AsyncClient
    from hmacd.asgi import HmacdASGIMiddleware, starlette_route_param

    app = FastAPI()
    app.add_middleware(HmacdASGIMiddleware, client=AsyncClient("/run/hmacd/hmacd.sock"),
                       container_from=starlette_route_param(app, "id"))

The container comes from the route, never from the signer. In order: `container_from(scope)` if
given (starlette_route_param() asks the Starlette/FastAPI router itself, so the middleware and the
endpoint see the same parameter); else scope["path_params"][param] when the framework has set it
(a middleware mounted inside a route); else `container_pattern`, a regex whose named group
`param` captures it from scope["path"]. A request with no container gets 401, never passes.
`exempt(scope)` names requests to leave alone. Lifespan events pass through; websockets are
closed unless exempt (the convention covers HTTP requests only).

The signed target is scope["raw_path"] plus "?" and scope["query_string"] when there is one
(rebuilt from scope["path"] if the server gives no raw_path). The body is read (at most max_body
bytes, else 413) and replayed to the app. client: an AsyncClient, or a thread-safe Client (run
in a thread).

RFC 9421 (PROTOCOL.md 13.5): a request with a Signature-Input header and no HMACD-V1 Authorization
is verified as an rfc9421 item (both: 401). Its tenant is `tenant_from(scope)` if given, else the
`tenant_header` request header (default X-Tenant); missing or invalid: 401. The container comes from
the route as above, the authority from the Host header (else scope["server"]), and every header of
scope["headers"] goes to hmacd in arrival order; `label` picks one of several signatures (default:
the only one). The key store binds each keyid to one scope, so a signature with another tenant's or
container's key is refused whatever X-Tenant says.

The scheme (RFC 9421 @scheme, and @target-uri's) is the connection's, scope["scheme"] ("https"
over TLS, else "http", the default when the server leaves it out). Behind a TLS-terminating
proxy, `trusted_proxy=True` takes it from the proxy's X-Forwarded-Proto instead (its last value;
not http or https: 401); without that option X-Forwarded-Proto is an ordinary header, so a
client cannot choose the scheme. (A server's own proxy-headers mode, such as uvicorn's, rewrites
scope["scheme"] from that header: enable it only behind a proxy you trust, as with this
option.) `uri_scheme` ("http", "https" or a callable of the scope) fixes it instead.

`capture_dir` (off by default) writes a capture file to that directory for each request hmacd
refused (a 401 from its verdict; never a 503, a 413 or a 401 decided before hmacd), for
`hmacctl explain --request FILE`: every header (the values of those the signature does not cover
replaced by "[redacted]"), the body's length and digests (never the body) and the verdict, mode
0600, at most `capture_max` files (default 100). The directory must exist, not be a symlink,
belong to the process's user and not be writable by group or others (ValueError otherwise). The
response is the same; the log line names the file.

scope["hmacd"] holds, for the endpoint, {scheme: "hmacd-v1", tenant, container, epoch, ts,
nonce}, or for RFC 9421 {scheme: "rfc9421", tenant, container, label, keyid, created, nonce,
covered (the serialized component identifiers)}.
"""

from __future__ import annotations

import asyncio
import functools
from typing import (TYPE_CHECKING, Any, Awaitable, Callable, List, MutableMapping,
                    Optional, Pattern, Union, cast)
from urllib.parse import quote

from ._capture import DEFAULT_CAPTURE_MAX, CaptureDir
from ._http import (DEFAULT_MAX_BODY, DEFAULT_TENANT_HEADER, AsyncVerifier, Exempt, Header,
                    Identity, Middleware, Pending, RFC9421Identity, Refused, TenantFrom,
                    UriScheme, V1Identity, Verifier, check_verdict, compile_pattern,
                    log, refusal_headers, unavailable)
from .wire import AnyItem

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["HmacdASGIMiddleware", "Identity", "RFC9421Identity", "V1Identity",
           "starlette_route_param"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ContainerFrom = Callable[[Scope], Optional[str]]
"""A function of the ASGI scope giving the container (None: the request has none)."""


def raw_target(scope: Scope) -> bytes:
    # A raw path never holds "?" (the first one starts the query), but some servers (starlette's
    # TestClient before 0.27) put the query in raw_path too: keep the path part only.
    raw: bytes = (scope.get("raw_path") or b"").split(b"?", 1)[0]
    if not raw:
        raw = quote(scope.get("root_path", "") + scope.get("path", ""),
                    safe="/:@!$&'()*+,;=-._~").encode("ascii")
    qs = scope.get("query_string") or b""
    if isinstance(qs, str):  # not ASGI, but Django's test client makes such scopes
        qs = qs.encode("latin-1")
    return raw + b"?" + bytes(qs) if qs else raw


def header_fields(scope: Scope, name: str) -> List[bytes]:
    """Values of header `name` (a lower-case str), in arrival order."""
    n = name.encode("latin-1")
    return [bytes(v) for k, v in scope.get("headers", ()) if k.lower() == n]


def _authority(scope: Scope) -> Optional[bytes]:
    """The Host header, else the server address of the scope."""
    hosts = header_fields(scope, "host")
    if len(hosts) == 1 and hosts[0]:
        return hosts[0]
    if hosts:
        return None  # several Host headers: refused
    server = scope.get("server")
    if not server or not server[0]:
        return None
    host: str = server[0]
    port: Optional[int] = server[1]
    if ":" in host:
        host = "[%s]" % host
    return ("%s:%d" % (host, port) if port else host).encode("latin-1")


def starlette_route_param(app: Starlette, name: str = "id") -> ContainerFrom:
    """container_from for a Starlette or FastAPI app: the path parameter `name` of the route the
    router will dispatch the request to (None if no route fully matches)."""
    from starlette.routing import Match

    def container_from(scope: Scope) -> Optional[str]:
        for route in app.router.routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                v = child.get("path_params", {}).get(name)
                return v if isinstance(v, str) else None
        return None
    return container_from


class HmacdASGIMiddleware(Middleware[Scope]):
    """See the module doc."""

    def __init__(self, app: ASGIApp, client: Union[AsyncVerifier, Verifier], *,
                 container_from: Optional[ContainerFrom] = None,
                 container_pattern: Union[str, Pattern[str], None] = None, param: str = "id",
                 max_body: int = DEFAULT_MAX_BODY, exempt: Optional[Exempt[Scope]] = None,
                 tenant_from: Optional[TenantFrom[Scope]] = None,
                 tenant_header: str = DEFAULT_TENANT_HEADER,
                 uri_scheme: UriScheme[Scope] = None, trusted_proxy: bool = False,
                 label: Optional[str] = None, capture_dir: Optional[CaptureDir] = None,
                 capture_max: int = DEFAULT_CAPTURE_MAX) -> None:
        super().__init__(max_body=max_body, exempt=exempt, tenant_from=tenant_from,
                         tenant_header=tenant_header, uri_scheme=uri_scheme,
                         trusted_proxy=trusted_proxy, label=label, capture_dir=capture_dir,
                         capture_max=capture_max)
        self.app = app
        self.client = client
        self.param = param
        self.container_from = container_from
        self.rx = compile_pattern(container_pattern, param) if container_pattern else None
        self._async = asyncio.iscoroutinefunction(getattr(client, "verify", None))

    async def _verify(self, item: AnyItem) -> int:
        if self._async:
            return await cast(AsyncVerifier, self.client).verify(item)
        sync = cast(Verifier, self.client)  # thread-safe: run in a thread
        return await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(sync.verify, item))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan" or (self.exempt is not None and self.exempt(scope)):
            await self.app(scope, receive, send)
            return
        if kind != "http":
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        p = Pending(scope.get("method", ""), raw_target(scope))
        try:
            self._check_head(scope, p)
            body = await self._read_body(scope, receive, p.tenant)
            item = self._build_item(scope, p, body)
            try:
                verdict = await self._verify(item)
            except Exception as e:  # HmacdError, or anything else: fail closed
                raise unavailable(e, p.tenant) from None
            if self._captures(verdict):
                await self._capture_off_loop(scope, p, body, verdict)
            check_verdict(verdict, p.tenant)
        except Refused as r:
            p.log_refusal(r)
            if r.status != 0:
                out = r.body
                await send({"type": "http.response.start", "status": r.status,
                            "headers": refusal_headers(r.status, out)})
                await send({"type": "http.response.body", "body": out})
            return
        who: Identity = p.identity()

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(dict(scope, hmacd=who), replay, send)

    async def _capture_off_loop(self, scope: Scope, p: Pending, body: bytes,
                                verdict: int) -> None:
        """self._capture() (a file write) in a thread, off the event loop; never raises."""
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(self._capture, scope, p, body, verdict))
        except Exception as e:
            log.error("hmacd: capture not written: %r", e)

    def _fields(self, scope: Scope, name: str) -> List[bytes]:
        return header_fields(scope, name)

    def _authority(self, scope: Scope) -> Optional[bytes]:
        return _authority(scope)

    def _all_headers(self, scope: Scope) -> List[Header]:
        return [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", ())]

    def _connection_scheme(self, scope: Scope) -> str:
        return str(scope.get("scheme") or "http")  # optional in a scope, "http" by default

    def _container(self, scope: Scope) -> Optional[str]:
        if self.container_from is not None:
            return self.container_from(scope)
        params = scope.get("path_params")
        if isinstance(params, dict) and isinstance(params.get(self.param), str):
            v: str = params[self.param]
            return v
        if self.rx is not None:
            m = self.rx.fullmatch(scope.get("path", ""))
            return m.group(self.param) if m else None
        return None

    async def _read_body(self, scope: Scope, receive: Receive, tenant: Optional[str]) -> bytes:
        for v in header_fields(scope, "content-length"):
            try:
                n = int(v)
            except ValueError:
                raise Refused(401, "BAD_CONTENT_LENGTH", tenant) from None
            if n > self.max_body:
                raise Refused(413, "TOO_LARGE", tenant)
        chunks: List[bytes] = []
        got = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise Refused(0, "CLIENT_GONE", tenant)  # nobody to answer
            chunk: bytes = msg.get("body", b"")
            got += len(chunk)
            if got > self.max_body:
                raise Refused(413, "TOO_LARGE", tenant)
            chunks.append(chunk)
            if not msg.get("more_body", False):
                return b"".join(chunks)
