"""hmacd.wsgi - WSGI middleware that lets a request through only if hmacd says its signature is
valid for the container in its route (PROTOCOL.md 13.3).

    from hmacd import Client
    from hmacd.wsgi import HmacdWSGIMiddleware, flask_route_param

    client = Client("/run/hmacd/hmacd.sock")
    app.wsgi_app = HmacdWSGIMiddleware(app.wsgi_app, client,
                                       container_from=flask_route_param(app, "id"))

The container comes from the route, never from the signer: give `container_from(environ)` (for
Flask, flask_route_param() asks Flask's own URL map, so the middleware and the view see the same
parameter), or `container_pattern`, a regex whose named group `param` captures it from the
decoded PATH_INFO. A request the middleware cannot place (no container) is refused with 401, not
passed on; `exempt(environ)` names requests it must leave alone (a health check).

The signed target is the raw one: RAW_URI or REQUEST_URI when the server gives it (gunicorn,
uWSGI, werkzeug), else rebuilt from SCRIPT_NAME, PATH_INFO (percent-encoded again) and
QUERY_STRING, which loses encodings that decoding merged (%2F and /): run behind a server that
gives the raw URI when signers may send such paths. WSGI servers join repeated header fields in
their own way; 13.3 joins them with ", ".

RFC 9421 (PROTOCOL.md 13.5): a request with a Signature-Input header and no HMACD-V1 Authorization
is verified as an rfc9421 item (both: 401). Its tenant is `tenant_from(environ)` if given, else the
`tenant_header` request header (default X-Tenant); missing or invalid: 401. The container comes from
the route as above, the authority from the Host header, and every request header goes to hmacd in
environ order; `label` picks one of several signatures (default: the only one). The daemon's key
store binds each keyid to one scope, so a signature with another tenant's or container's key is
refused whatever X-Tenant says.

The scheme (RFC 9421 @scheme, and @target-uri's) is the connection's, environ["wsgi.url_scheme"]
("https" over TLS, else "http"): a signer that covers @scheme gets what it sent over. Behind a
TLS-terminating proxy, `trusted_proxy=True` takes it from the proxy's X-Forwarded-Proto instead
(its last value, the one the nearest proxy wrote; not http or https: 401); without that option
X-Forwarded-Proto is an ordinary header, so a client cannot choose the scheme by sending one.
`uri_scheme` ("http", "https" or a callable of environ) fixes it instead.

`capture_dir` (off by default) writes a capture file to that directory for each request hmacd
refused (a 401 from its verdict; never a 503, a 413 or a 401 decided before hmacd), for
`hmacctl explain --request FILE`: every header (the values of those the signature does not cover
replaced by "[redacted]"), the body's length and digests (never the body) and the verdict, mode
0600, at most `capture_max` files (default 100). The directory must exist, not be a symlink,
belong to the process's user and not be writable by group or others (ValueError otherwise). The
response is the same; the log line names the file.

On success the body was read (at most max_body bytes, else 413) and is put back as
environ["wsgi.input"], and environ["hmacd"] holds {scheme: "hmacd-v1", tenant, container, epoch,
ts, nonce}, or for RFC 9421 {scheme: "rfc9421", tenant, container, label, keyid, created, nonce,
covered (the serialized component identifiers)}.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Callable, Iterable, List, Optional, Pattern, Sequence, Union
from urllib.parse import quote

from ._capture import DEFAULT_CAPTURE_MAX, CaptureDir
from ._http import (DEFAULT_MAX_BODY, DEFAULT_TENANT_HEADER, STATUS_TEXT, Exempt, Header,
                    Identity, Middleware, Pending, RFC9421Identity, Refused, TenantFrom,
                    UriScheme, V1Identity, Verifier, compile_pattern, refusal_headers,
                    unavailable)
from .wire import Text

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

__all__ = ["HmacdWSGIMiddleware", "Identity", "RFC9421Identity", "V1Identity",
           "flask_route_param"]

ContainerFrom = Callable[["WSGIEnvironment"], Optional[str]]
"""A function of the WSGI environ giving the container (None: the request has none)."""

_SPECIAL = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def _latin1(s: Union[str, bytes]) -> bytes:
    return s.encode("latin-1") if isinstance(s, str) else bytes(s)


def raw_target(environ: WSGIEnvironment) -> bytes:
    """The request target as received, as bytes."""
    for key in ("RAW_URI", "REQUEST_URI"):
        v = environ.get(key)
        if v:
            return _latin1(v)
    path = _latin1(environ.get("SCRIPT_NAME", "")) + _latin1(environ.get("PATH_INFO", ""))
    target = quote(path, safe="/:@!$&'()*+,;=-._~").encode("ascii") or b"/"
    qs = environ.get("QUERY_STRING", "")
    if qs:
        target += b"?" + _latin1(qs)
    return target


def header_fields(environ: WSGIEnvironment, name: str) -> List[bytes]:
    """The values of header `name` (a lower-case str) as the server passed them."""
    key = _SPECIAL.get(name) or "HTTP_" + name.upper().replace("-", "_")
    v = environ.get(key)
    return [] if v is None else [_latin1(v)]


def all_headers(environ: WSGIEnvironment) -> List[Header]:
    """Every request header as (lower-case name, value) bytes, in the order the server put
    them in environ (arrival order for the servers we know; a server joins a repeated field
    into one value, which keeps the order within the name, all that a signature base needs).
    An empty CONTENT_TYPE or CONTENT_LENGTH means the header was absent."""
    out = []
    for key, v in environ.items():
        if key.startswith("HTTP_"):
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue  # some servers copy these; CONTENT_* are the real ones
            name = key[5:]
        elif key in _SPECIAL.values():
            if not v:
                continue
            name = key
        else:
            continue
        if isinstance(v, (str, bytes)):
            out.append((name.lower().replace("_", "-").encode("latin-1"), _latin1(v)))
    return out


def _authority(environ: WSGIEnvironment) -> Optional[bytes]:
    """The Host header, else SERVER_NAME[:SERVER_PORT]."""
    host = environ.get("HTTP_HOST")
    if host:
        return _latin1(host)
    name, port = environ.get("SERVER_NAME"), environ.get("SERVER_PORT")
    if not name:
        return None
    return _latin1(name) + (b":" + _latin1(port) if port else b"")


def flask_route_param(app: Flask, name: str = "id") -> ContainerFrom:
    """container_from for a Flask app: the route parameter `name` of the route Flask will
    dispatch the request to (None if no route matches or it has no such parameter)."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    def container_from(environ: WSGIEnvironment) -> Optional[str]:
        try:
            _, args = app.url_map.bind_to_environ(environ).match()
        except (HTTPException, RequestRedirect):
            return None
        v = args.get(name)
        return v if isinstance(v, str) else None
    return container_from


class HmacdWSGIMiddleware(Middleware["WSGIEnvironment"]):
    """client: a hmacd.Client (anything with verify(item) -> verdict). See the module doc."""

    def __init__(self, app: WSGIApplication, client: Verifier, *,
                 container_from: Optional[ContainerFrom] = None,
                 container_pattern: Union[str, Pattern[str], None] = None, param: str = "id",
                 max_body: int = DEFAULT_MAX_BODY,
                 exempt: Optional[Exempt[WSGIEnvironment]] = None,
                 tenant_from: Optional[TenantFrom[WSGIEnvironment]] = None,
                 tenant_header: str = DEFAULT_TENANT_HEADER,
                 uri_scheme: UriScheme[WSGIEnvironment] = None, trusted_proxy: bool = False,
                 label: Optional[str] = None, capture_dir: Optional[CaptureDir] = None,
                 capture_max: int = DEFAULT_CAPTURE_MAX) -> None:
        if (container_from is None) == (container_pattern is None):
            raise ValueError("give exactly one of container_from and container_pattern")
        super().__init__(max_body=max_body, exempt=exempt, tenant_from=tenant_from,
                         tenant_header=tenant_header, uri_scheme=uri_scheme,
                         trusted_proxy=trusted_proxy, label=label, capture_dir=capture_dir,
                         capture_max=capture_max)
        self.app = app
        self.client = client
        if container_pattern is not None:
            rx = compile_pattern(container_pattern, param)

            def by_pattern(environ: WSGIEnvironment) -> Optional[str]:
                path = _latin1(environ.get("PATH_INFO", "")).decode("utf-8", "replace")
                m = rx.fullmatch(path)
                return m.group(param) if m else None
            container_from = by_pattern
        assert container_from is not None
        self.container_from = container_from

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if self.exempt is not None and self.exempt(environ):
            return self.app(environ, start_response)
        p = Pending(environ.get("REQUEST_METHOD", ""), raw_target(environ))
        try:
            self._check_head(environ, p)
            body = self._read_body(environ, p.tenant)
            item = self._build_item(environ, p, body)
            try:
                verdict = self.client.verify(item)
            except Exception as e:  # HmacdError, or anything else: fail closed
                raise unavailable(e, p.tenant) from None
            self._check_verdict(environ, p, body, verdict)
        except Refused as r:
            p.log_refusal(r)
            out = r.body
            headers = [(k.decode(), v.decode()) for k, v in refusal_headers(r.status, out)]
            start_response(STATUS_TEXT[r.status], headers)
            return [out]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["hmacd"] = p.identity()
        return self.app(environ, start_response)

    def _fields(self, environ: WSGIEnvironment, name: str) -> List[bytes]:
        return header_fields(environ, name)

    def _authorization(self, environ: WSGIEnvironment) -> Sequence[Text]:
        return [v for v in [environ.get("HTTP_AUTHORIZATION")] if v is not None]

    def _container(self, environ: WSGIEnvironment) -> Optional[str]:
        return self.container_from(environ)

    def _authority(self, environ: WSGIEnvironment) -> Optional[bytes]:
        return _authority(environ)

    def _all_headers(self, environ: WSGIEnvironment) -> List[Header]:
        return all_headers(environ)

    def _connection_scheme(self, environ: WSGIEnvironment) -> str:
        return str(environ.get("wsgi.url_scheme", "http"))

    def _read_body(self, environ: WSGIEnvironment, tenant: Optional[str]) -> bytes:
        """The raw body, at most max_body bytes; Refused(413) if longer."""
        stream = environ.get("wsgi.input")
        cl = environ.get("CONTENT_LENGTH", "")
        if cl:
            try:
                n = int(cl)
            except ValueError:
                raise Refused(401, "BAD_CONTENT_LENGTH", tenant) from None
            if n < 0:
                raise Refused(401, "BAD_CONTENT_LENGTH", tenant)
            if n > self.max_body:
                raise Refused(413, "TOO_LARGE", tenant)
            want = n
        elif environ.get("wsgi.input_terminated"):
            want = self.max_body + 1  # chunked: read to the end, at most one byte too many
        else:
            return b""  # no length and no end marker: no body (PEP 3333)
        chunks: List[bytes] = []
        got = 0
        while stream is not None and got < want:
            chunk = stream.read(min(want - got, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > self.max_body:
            raise Refused(413, "TOO_LARGE", tenant)
        return b"".join(chunks)
