"""hmacd._http - what the WSGI and ASGI middleware share: PROTOCOL.md 13.3 and 13.5 minus the
framework.

Which scheme: a request with a Signature-Input header and no HMACD-V1 Authorization is an RFC
9421 request; with both it is refused (401); else it is hmacd-v1.

An hmacd-v1 request becomes a verify item here: tenant, epoch, ts and nonce from the
Authorization header; the container from the route (the caller passes it); method and raw target
as received; each signed header's fields trimmed of spaces and tabs and joined with ", "; the
SHA-256 of the raw body. An RFC 9421 request becomes an RFC9421Item: the tenant from the app's
configuration (default: the X-Tenant header), the container from the route, method, authority
(the Host header), raw target, every header in arrival order, the Signature-Input and Signature
lines joined with ", ", the label the app chose, the raw body, and the scheme: the
connection's, or a trusted proxy's X-Forwarded-Proto when the app says so (never a client's),
or the one the app fixes. Both kinds of item carry the
body the application will be handed, an empty one included: a signed body that an attacker
strips (Content-Length: 0) is then checked as the empty body, and refused.

The refusals are constant: 401 {"error":"unauthorized"} with WWW-Authenticate: HMACD-V1 whatever
the reason (an RFC 9421 one included), 503 {"error":"unavailable"} when hmacd cannot judge (no
answer, an error, or the verdict UNAVAILABLE), 413 {"error":"too_large"} for a body over the
limit. Reasons go to the "hmacd" logger only, and never
include the signature or the nonce.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from typing import (Callable, Generic, Iterable, List, Literal, Optional, Pattern, Protocol,
                    Sequence, Tuple, TypedDict, TypeVar, Union)

from ._capture import DEFAULT_CAPTURE_MAX, CaptureDir, Capturer, covered_rfc9421
from .authorization import SCHEME, Authorization, AuthorizationError, parse_authorization
from .errors import PeerCredentialsError, Verdict, verdict_name
from .rfc9421 import signature_info
from .signer import field_value, scope_ok
from .wire import AnyItem, Item, RFC9421Item, Text

log = logging.getLogger("hmacd")

DEFAULT_MAX_BODY = 1 << 20
DEFAULT_TENANT_HEADER = "x-tenant"

BODY_401 = b'{"error":"unauthorized"}'
BODY_503 = b'{"error":"unavailable"}'
BODY_413 = b'{"error":"too_large"}'

STATUS_TEXT = {401: "401 Unauthorized", 413: "413 Payload Too Large",
               503: "503 Service Unavailable"}


class Verifier(Protocol):
    """What the synchronous middleware needs of a client: hmacd.Client, or a test double."""

    def verify(self, item: AnyItem) -> int: ...


class AsyncVerifier(Protocol):
    """What the ASGI middleware can also use: hmacd.aio.AsyncClient."""

    async def verify(self, item: AnyItem) -> int: ...


class V1Identity(TypedDict):
    """What a handler learns about a verified hmacd-v1 request (environ/scope key "hmacd",
    Django's request.hmacd)."""

    scheme: Literal["hmacd-v1"]
    tenant: str
    container: str
    epoch: int
    ts: int
    nonce: Optional[str]


class RFC9421Identity(TypedDict):
    """What a handler learns about a verified RFC 9421 request."""

    scheme: Literal["rfc9421"]
    tenant: str
    container: str
    label: Optional[str]
    keyid: Optional[str]
    created: Optional[int]
    nonce: Optional[str]
    covered: List[str]


Identity = Union[V1Identity, RFC9421Identity]

Header = Tuple[bytes, bytes]


def refusal_headers(status: int, body: bytes) -> List[Header]:
    h = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
         (b"cache-control", b"no-store")]
    if status == 401:
        h.append((b"www-authenticate", b"HMACD-V1"))
    return h


class Refused(Exception):
    """A request that must not pass: status, the reason for the log, the tenant if known."""

    def __init__(self, status: int, reason: str, tenant: Optional[str] = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.tenant = tenant

    @property
    def body(self) -> bytes:
        return {401: BODY_401, 413: BODY_413}.get(self.status, BODY_503)


def log_refusal(r: Refused, method: str, target: object, container: Optional[str]) -> None:
    path = target.split(b"?", 1)[0].decode("latin-1") if isinstance(target, bytes) else ""
    who = ""
    if r.tenant is not None:
        who = " tenant=%s container=%s" % (r.tenant, container)
    log.warning("hmacd: %d %s%s %s %s", r.status, r.reason, who, method, path)


def compile_pattern(pattern: Union[str, Pattern[str]], param: str) -> Pattern[str]:
    """A regex (str or compiled) with a named group `param` that captures the container."""
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    if param not in rx.groupindex:
        raise ValueError("container_pattern has no group named %r" % param)
    return rx


def parse_auth(values: Sequence[Text]) -> Authorization:
    """The one Authorization field's parsed value; Refused(401) if none, several or invalid."""
    if not values:
        raise Refused(401, "NO_AUTHORIZATION")
    if len(values) > 1:
        raise Refused(401, "BAD_AUTHORIZATION")
    try:
        return parse_authorization(values[0])
    except AuthorizationError:
        raise Refused(401, "BAD_AUTHORIZATION") from None


def build_item(auth: Authorization, container: str, method: str, target: bytes,
               fields: Callable[[str], List[bytes]], body_sha256: bytes) -> Item:
    """The verify item of 13.3 step 2. fields(name) -> the values of the request's fields of
    that (lower-case) name, in arrival order. Refused(401) if a signed header is absent."""
    headers: List[Tuple[Text, Text]] = []
    for name in auth.signed_headers:
        values = fields(name)
        if not values:
            raise Refused(401, "MISSING_SIGNED_HEADER", auth.tenant)
        headers.append((name, field_value(values)))
    return Item(tenant=auth.tenant, container=container, epoch=auth.epoch, method=method,
                path=target, ts=auth.ts, nonce=auth.nonce or "", headers=headers,
                body_sha256=body_sha256, sig=auth.sig)


def sha256(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def identity(auth: Authorization, container: str) -> V1Identity:
    """What a protected handler learns about the request (environ/scope key "hmacd")."""
    return {"scheme": "hmacd-v1", "tenant": auth.tenant, "container": container,
            "epoch": auth.epoch, "ts": auth.ts, "nonce": auth.nonce}


# ---- RFC 9421 (PROTOCOL.md 13.5) ----

def _is_hmacd_v1(value: Union[Text, bytearray]) -> bool:
    v = value.encode("latin-1") if isinstance(value, str) else bytes(value)
    return v.split(b" ", 1)[0] == SCHEME.encode()


def is_rfc9421(auth_values: Sequence[Text], sig_input_values: Sequence[bytes]) -> bool:
    """True if the request is to be verified as RFC 9421: it has a Signature-Input and no
    HMACD-V1 Authorization. Refused(401) if it has both."""
    if not sig_input_values:
        return False
    if any(_is_hmacd_v1(v) for v in auth_values):
        raise Refused(401, "BOTH_SCHEMES")
    return True


def check_tenant(values: Sequence[Union[Text, bytearray, None]]) -> str:
    """The tenant from the values of the tenant header (or the one value a tenant_from option
    gave, as a list). Refused(401) if absent, repeated or not a valid scope name."""
    if not values or values[0] is None:
        raise Refused(401, "NO_TENANT")
    if len(values) > 1:
        raise Refused(401, "BAD_TENANT")
    t = values[0]
    t = t.decode("latin-1") if isinstance(t, (bytes, bytearray)) else t
    if not isinstance(t, str) or not scope_ok(t):
        raise Refused(401, "BAD_TENANT")
    return t


def check_uri_scheme(v: object) -> str:
    if v not in ("http", "https"):
        raise ValueError('uri_scheme must be "http", "https" or a callable giving one of them')
    return str(v)


def forwarded_proto(values: Sequence[bytes], tenant: Optional[str]) -> Optional[str]:
    """The scheme a trusted proxy's X-Forwarded-Proto gives (None if it sent none): the last
    value, the one the proxy nearest to us wrote (a proxy that appends to what the client sent
    keeps the client's value in front). Refused(401) if it is not http or https."""
    last = b",".join(values).split(b",")[-1].strip(b" \t").lower()
    if not last:
        return None
    if last not in (b"http", b"https"):
        raise Refused(401, "BAD_FORWARDED_PROTO", tenant)
    return last.decode("ascii")


def joined(values: Sequence[Union[bytes, bytearray]]) -> bytes:
    """Several lines of one field as one value: each trimmed, joined with ", "."""
    return b", ".join(bytes(v).strip(b" \t") for v in values)


def build_rfc9421_item(tenant: str, container: str, method: str, authority: bytes,
                       target: bytes, headers: List[Header], sig_inputs: Sequence[bytes],
                       sigs: Sequence[bytes], uri_scheme: str, label: Optional[str],
                       body: bytes) -> RFC9421Item:
    """The RFC9421Item of 13.5. headers: every (lower-case name, value) in arrival order.
    body: the body the application will get, sent even when empty, so that a covered
    Content-Digest is always checked (a stripped body is refused). Refused(401) without a
    Signature header."""
    if not sigs:
        raise Refused(401, "NO_SIGNATURE", tenant)
    return RFC9421Item(tenant=tenant, container=container, method=method, authority=authority,
                       path=target, headers=headers, signature_input=joined(sig_inputs),
                       signature=joined(sigs), uri_scheme=uri_scheme, label=label,
                       body=body)


def rfc9421_identity(item: RFC9421Item) -> RFC9421Identity:
    """What a protected handler learns about a verified RFC 9421 request."""
    label = item.label if isinstance(item.label, str) or item.label is None else None
    out: RFC9421Identity = {
        "scheme": "rfc9421", "tenant": str(item.tenant), "container": str(item.container),
        "label": label, "keyid": None, "created": None, "nonce": None, "covered": []}
    try:
        info = signature_info(item.signature_input, label)
    except ValueError:  # cannot happen for a request the daemon verified
        return out
    out["label"], out["keyid"], out["created"] = info["label"], info["keyid"], info["created"]
    out["nonce"], out["covered"] = info["nonce"], info["covered"]
    return out


# ---- the middleware's flow, whatever the framework ----

class Pending:
    """One request on its way through the middleware, filled in as it is checked, so that the
    log line of a refusal names the tenant and container as far as they were known."""

    def __init__(self, method: str, target: bytes) -> None:
        self.received_at = int(time.time())  # unix seconds: a capture's captured_at
        self.method = method
        self.target = target
        self.tenant: Optional[str] = None
        self.container: Optional[str] = None
        self.auth: Optional[Authorization] = None  # hmacd-v1: the parsed Authorization
        # RFC 9421: the authority, the Signature-Input and Signature lines
        self.authority: Optional[bytes] = None
        self.sig_inputs: Sequence[bytes] = ()
        self.sigs: Sequence[bytes] = ()
        self.item: Optional[AnyItem] = None

    def log_refusal(self, r: Refused) -> None:
        log_refusal(r, self.method, self.target, self.container)

    def identity(self) -> Identity:
        """What the protected handler learns (environ/scope key "hmacd") once verified."""
        if self.auth is not None:
            assert self.container is not None
            return identity(self.auth, self.container)
        assert isinstance(self.item, RFC9421Item)
        return rfc9421_identity(self.item)


R = TypeVar("R")
"""The framework's request: a WSGI environ, an ASGI scope, a Django HttpRequest."""

UriScheme = Union[str, Callable[[R], str], None]
TenantFrom = Callable[[R], Union[Text, None]]
Exempt = Callable[[R], bool]


class Middleware(Generic[R]):
    """What HmacdWSGIMiddleware and HmacdASGIMiddleware share: the options, and the checks of
    13.3 and 13.5 that come before the body and after it. `r` is the framework's request (a
    WSGI environ or an ASGI scope); a subclass gives _fields(r, name) (the values of a header,
    name in lower case), _container(r), _authority(r) and _all_headers(r), and may override
    _authorization(r) (the values of the Authorization header).

    capture_dir (off by default): write a capture file there for each request hmacd refused
    (401 from its verdict), for `hmacctl explain --request FILE` (hmacd._capture); at most
    capture_max of them. ValueError if the directory is not fit for them."""

    def __init__(self, *, max_body: int, exempt: Optional[Exempt[R]],
                 tenant_from: Optional[TenantFrom[R]], tenant_header: str,
                 uri_scheme: UriScheme[R], trusted_proxy: bool, label: Optional[str],
                 capture_dir: Optional[CaptureDir] = None,
                 capture_max: int = DEFAULT_CAPTURE_MAX) -> None:
        if uri_scheme is not None and not callable(uri_scheme):
            check_uri_scheme(uri_scheme)
        if trusted_proxy and uri_scheme is not None:
            raise ValueError("trusted_proxy reads X-Forwarded-Proto instead of the connection's "
                             "scheme: give it or uri_scheme, not both")
        self.tenant_from = tenant_from
        self.tenant_header = tenant_header.lower()
        self.uri_scheme = uri_scheme
        self.trusted_proxy = trusted_proxy
        self.label = label
        self.max_body = max_body
        self.exempt = exempt
        self.capturer = (Capturer(capture_dir, capture_max) if capture_dir is not None
                         else None)

    # ---- what a subclass gives ----

    def _fields(self, r: R, name: str) -> List[bytes]:
        raise NotImplementedError

    def _container(self, r: R) -> Optional[str]:
        raise NotImplementedError

    def _authority(self, r: R) -> Optional[bytes]:
        raise NotImplementedError

    def _all_headers(self, r: R) -> List[Header]:
        raise NotImplementedError

    def _connection_scheme(self, r: R) -> str:
        """The scheme of the connection the request came on: "https" over TLS, else "http"."""
        raise NotImplementedError

    def _authorization(self, r: R) -> Sequence[Text]:
        return self._fields(r, "authorization")

    # ---- the checks ----

    def _tenant(self, r: R) -> Sequence[Union[Text, None]]:
        if self.tenant_from is not None:
            return [self.tenant_from(r)]
        return self._fields(r, self.tenant_header)

    def _uri_scheme(self, r: R, tenant: Optional[str]) -> str:
        """The scheme of the request (RFC 9421 @scheme, @target-uri): uri_scheme if the app
        gave one; else X-Forwarded-Proto when the app trusts its proxy and the proxy sent it;
        else the connection's. A client's X-Forwarded-Proto is an ordinary header otherwise."""
        if callable(self.uri_scheme):
            return check_uri_scheme(self.uri_scheme(r))
        if self.uri_scheme is not None:
            return self.uri_scheme
        if self.trusted_proxy:
            fwd = forwarded_proto(self._fields(r, "x-forwarded-proto"), tenant)
            if fwd is not None:
                return fwd
        scheme = self._connection_scheme(r)
        if scheme not in ("http", "https"):
            raise Refused(401, "BAD_SCHEME", tenant)
        return scheme

    def _check_head(self, r: R, p: Pending) -> None:
        """The checks before the body, filling p (a Pending) in: which scheme, the tenant, the
        container, and for RFC 9421 the authority and the Signature lines. Refused(401)."""
        sig_inputs = self._fields(r, "signature-input")
        auths = self._authorization(r)
        if is_rfc9421(auths, sig_inputs):
            p.tenant = check_tenant(self._tenant(r))
            self._check_container(r, p)
            p.authority = self._authority(r)
            if not p.authority:
                raise Refused(401, "NO_AUTHORITY", p.tenant)
            p.sigs = self._fields(r, "signature")
            if not p.sigs:
                raise Refused(401, "NO_SIGNATURE", p.tenant)
            p.sig_inputs = sig_inputs
        else:
            p.auth = parse_auth(auths)
            p.tenant = p.auth.tenant
            self._check_container(r, p)

    def _check_container(self, r: R, p: Pending) -> None:
        p.container = self._container(r)
        if not p.container:
            raise Refused(401, "NO_CONTAINER", p.tenant)

    def _build_item(self, r: R, p: Pending, body: bytes) -> AnyItem:
        """p.item, the item to verify for the request of p with its raw body."""
        assert p.container is not None
        item: AnyItem
        if p.auth is not None:
            item = build_item(p.auth, p.container, p.method, p.target,
                              lambda n: self._fields(r, n), sha256(body))
        else:
            assert p.tenant is not None and p.authority is not None
            item = build_rfc9421_item(p.tenant, p.container, p.method, p.authority, p.target,
                                      self._all_headers(r), p.sig_inputs, p.sigs,
                                      self._uri_scheme(r, p.tenant), self.label, body)
        p.item = item
        return item

    def _check_verdict(self, r: R, p: Pending, body: bytes, verdict: int) -> None:
        """check_verdict(), after writing the capture of a request hmacd refused (a 401) when
        capture_dir is set."""
        if self._captures(verdict):
            self._capture(r, p, body, verdict)
        check_verdict(verdict, p.tenant)

    def _captures(self, verdict: int) -> bool:
        """Whether a request with this verdict is to be captured: a 401 from hmacd's verdict
        (not OK, not UNAVAILABLE) with capture_dir set."""
        return (self.capturer is not None and verdict != Verdict.OK
                and verdict != Verdict.UNAVAILABLE)

    def _capture(self, r: R, p: Pending, body: bytes, verdict: int) -> None:
        """Writes the capture of a request hmacd refused; never raises."""
        try:
            self._write_capture(r, p, body, verdict)
        except Exception as e:  # a capture never changes the response
            log.error("hmacd: capture not written: %r", e)

    def _write_capture(self, r: R, p: Pending, body: bytes, verdict: int) -> None:
        c, item = self.capturer, p.item
        assert c is not None and item is not None and p.container is not None
        covered: Iterable[str]
        if isinstance(item, RFC9421Item):
            scheme, label = "rfc9421", self.label
            uri_scheme = str(item.uri_scheme or "https")
            authority = p.authority or b""
            covered = covered_rfc9421(item.signature_input, label)
        else:
            scheme, label = "hmacd-v1", None
            try:
                uri_scheme = self._uri_scheme(r, p.tenant)
            except Refused:  # a trusted proxy's bad X-Forwarded-Proto: hmacd-v1 ignores it
                uri_scheme = self._connection_scheme(r)
            authority = self._authority(r) or b""
            covered = p.auth.signed_headers if p.auth is not None else ()
        c.capture(scheme=scheme, tenant=p.tenant, container=p.container, label=label,
                  method=p.method, uri_scheme=uri_scheme, authority=authority, path=p.target,
                  headers=self._all_headers(r), covered=covered, body=body,
                  verdict=verdict_name(verdict), received_at=p.received_at)


def unavailable(e: BaseException, tenant: Optional[str]) -> Refused:
    """The Refused(503) for an error from the client (fail closed, whatever it is). A server
    that failed the peer check may be an impostor on the socket: that is logged as an error,
    with the uids, on every request it refuses."""
    if isinstance(e, PeerCredentialsError):
        log.error("%s", e)
    else:
        log.debug("hmacd: verify failed: %r", e)
    return Refused(503, type(e).__name__, tenant)


def check_verdict(verdict: int, tenant: Optional[str]) -> None:
    """Refused(401) unless hmacd said OK; Refused(503) for UNAVAILABLE (fleet mode: the nonce
    could not be claimed in time), the same refusal as when hmacd does not answer."""
    if verdict == Verdict.UNAVAILABLE:
        raise Refused(503, verdict_name(verdict), tenant)
    if verdict != Verdict.OK:
        raise Refused(401, verdict_name(verdict), tenant)
