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
lines joined with ", ", the label the app chose, the raw body. Both kinds of item carry the
body the application will be handed, an empty one included: a signed body that an attacker
strips (Content-Length: 0) is then checked as the empty body, and refused.

The refusals are constant: 401 {"error":"unauthorized"} with WWW-Authenticate: HMACD-V1 whatever
the reason (an RFC 9421 one included), 503 {"error":"unavailable"} when hmacd cannot judge (no
answer, an error, or the verdict UNAVAILABLE), 413 {"error":"too_large"} for a body over the
limit. Reasons go to the "hmacd" logger only, and never
include the signature or the nonce.
"""

import hashlib
import logging
import re

from .authorization import SCHEME, AuthorizationError, parse_authorization
from .errors import PeerCredentialsError, Verdict, verdict_name
from .rfc9421 import signature_info
from .signer import field_value, scope_ok
from .wire import Item, RFC9421Item

log = logging.getLogger("hmacd")

DEFAULT_MAX_BODY = 1 << 20
DEFAULT_TENANT_HEADER = "x-tenant"

BODY_401 = b'{"error":"unauthorized"}'
BODY_503 = b'{"error":"unavailable"}'
BODY_413 = b'{"error":"too_large"}'

STATUS_TEXT = {401: "401 Unauthorized", 413: "413 Payload Too Large",
               503: "503 Service Unavailable"}


def refusal_headers(status, body):
    h = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
         (b"cache-control", b"no-store")]
    if status == 401:
        h.append((b"www-authenticate", b"HMACD-V1"))
    return h


class Refused(Exception):
    """A request that must not pass: status, the reason for the log, the tenant if known."""

    def __init__(self, status, reason, tenant=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.tenant = tenant

    @property
    def body(self):
        return {401: BODY_401, 413: BODY_413}.get(self.status, BODY_503)


def log_refusal(r, method, target, container):
    path = target.split(b"?", 1)[0].decode("latin-1") if isinstance(target, bytes) else ""
    who = ""
    if r.tenant is not None:
        who = " tenant=%s container=%s" % (r.tenant, container)
    log.warning("hmacd: %d %s%s %s %s", r.status, r.reason, who, method, path)


def compile_pattern(pattern, param):
    """A regex (str or compiled) with a named group `param` that captures the container."""
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    if param not in rx.groupindex:
        raise ValueError("container_pattern has no group named %r" % param)
    return rx


def parse_auth(values):
    """The one Authorization field's parsed value; Refused(401) if none, several or invalid."""
    if not values:
        raise Refused(401, "NO_AUTHORIZATION")
    if len(values) > 1:
        raise Refused(401, "BAD_AUTHORIZATION")
    try:
        return parse_authorization(values[0])
    except AuthorizationError:
        raise Refused(401, "BAD_AUTHORIZATION") from None


def build_item(auth, container, method, target, fields, body_sha256):
    """The verify item of 13.3 step 2. fields(name) -> the values of the request's fields of
    that (lower-case) name, in arrival order. Refused(401) if a signed header is absent."""
    headers = []
    for name in auth.signed_headers:
        values = fields(name)
        if not values:
            raise Refused(401, "MISSING_SIGNED_HEADER", auth.tenant)
        headers.append((name, field_value(values)))
    return Item(tenant=auth.tenant, container=container, epoch=auth.epoch, method=method,
                path=target, ts=auth.ts, nonce=auth.nonce or "", headers=headers,
                body_sha256=body_sha256, sig=auth.sig)


def sha256(body):
    return hashlib.sha256(body).digest()


def identity(auth, container):
    """What a protected handler learns about the request (environ/scope key "hmacd")."""
    return {"scheme": "hmacd-v1", "tenant": auth.tenant, "container": container,
            "epoch": auth.epoch, "ts": auth.ts, "nonce": auth.nonce}


# ---- RFC 9421 (PROTOCOL.md 13.5) ----

def _is_hmacd_v1(value):
    v = value.encode("latin-1") if isinstance(value, str) else bytes(value)
    return v.split(b" ", 1)[0] == SCHEME.encode()


def is_rfc9421(auth_values, sig_input_values):
    """True if the request is to be verified as RFC 9421: it has a Signature-Input and no
    HMACD-V1 Authorization. Refused(401) if it has both."""
    if not sig_input_values:
        return False
    if any(_is_hmacd_v1(v) for v in auth_values):
        raise Refused(401, "BOTH_SCHEMES")
    return True


def check_tenant(values):
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


def check_uri_scheme(v):
    if v not in ("http", "https"):
        raise ValueError('uri_scheme must be "http", "https" or a callable giving one of them')
    return v


def joined(values):
    """Several lines of one field as one value: each trimmed, joined with ", "."""
    return b", ".join(bytes(v).strip(b" \t") for v in values)


def build_rfc9421_item(tenant, container, method, authority, target, headers, sig_inputs,
                       sigs, uri_scheme, label, body):
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


def rfc9421_identity(item):
    """What a protected handler learns about a verified RFC 9421 request."""
    out = {"scheme": "rfc9421", "tenant": item.tenant, "container": item.container,
           "label": item.label, "keyid": None, "created": None, "nonce": None, "covered": []}
    try:
        info = signature_info(item.signature_input, item.label)
    except ValueError:  # cannot happen for a request the daemon verified
        return out
    out.update(label=info["label"], keyid=info["keyid"], created=info["created"],
               nonce=info["nonce"], covered=info["covered"])
    return out


# ---- the middleware's flow, whatever the framework ----

class Pending:
    """One request on its way through the middleware, filled in as it is checked, so that the
    log line of a refusal names the tenant and container as far as they were known."""

    def __init__(self, method, target):
        self.method = method
        self.target = target
        self.tenant = None
        self.container = None
        self.auth = None  # hmacd-v1: the parsed Authorization
        self.authority = None  # RFC 9421: the authority, the Signature-Input and Signature lines
        self.sig_inputs = None
        self.sigs = None
        self.item = None

    def log_refusal(self, r):
        log_refusal(r, self.method, self.target, self.container)

    def identity(self):
        """What the protected handler learns (environ/scope key "hmacd") once verified."""
        if self.auth is not None:
            return identity(self.auth, self.container)
        return rfc9421_identity(self.item)


class Middleware:
    """What HmacdWSGIMiddleware and HmacdASGIMiddleware share: the options, and the checks of
    13.3 and 13.5 that come before the body and after it. `r` is the framework's request (a
    WSGI environ or an ASGI scope); a subclass gives _fields(r, name) (the values of a header,
    name in lower case), _container(r), _authority(r) and _all_headers(r), and may override
    _authorization(r) (the values of the Authorization header)."""

    def __init__(self, app, client, *, max_body, exempt, tenant_from, tenant_header, uri_scheme,
                 label):
        if not callable(uri_scheme):
            check_uri_scheme(uri_scheme)
        self.app = app
        self.tenant_from = tenant_from
        self.tenant_header = tenant_header.lower()
        self.uri_scheme = uri_scheme
        self.label = label
        self.client = client
        self.max_body = max_body
        self.exempt = exempt

    def _authorization(self, r):
        return self._fields(r, "authorization")

    def _tenant(self, r):
        if self.tenant_from is not None:
            return [self.tenant_from(r)]
        return self._fields(r, self.tenant_header)

    def _uri_scheme(self, r):
        if callable(self.uri_scheme):
            return check_uri_scheme(self.uri_scheme(r))
        return self.uri_scheme

    def _check_head(self, r, p):
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

    def _check_container(self, r, p):
        p.container = self._container(r)
        if not p.container:
            raise Refused(401, "NO_CONTAINER", p.tenant)

    def _build_item(self, r, p, body):
        """p.item, the item to verify for the request of p with its raw body."""
        if p.auth is not None:
            p.item = build_item(p.auth, p.container, p.method, p.target,
                                lambda n: self._fields(r, n), sha256(body))
        else:
            p.item = build_rfc9421_item(p.tenant, p.container, p.method, p.authority, p.target,
                                        self._all_headers(r), p.sig_inputs, p.sigs,
                                        self._uri_scheme(r), self.label, body)
        return p.item


def unavailable(e, tenant):
    """The Refused(503) for an error from the client (fail closed, whatever it is). A server
    that failed the peer check may be an impostor on the socket: that is logged as an error,
    with the uids, on every request it refuses."""
    if isinstance(e, PeerCredentialsError):
        log.error("%s", e)
    else:
        log.debug("hmacd: verify failed: %r", e)
    return Refused(503, type(e).__name__, tenant)


def check_verdict(verdict, tenant):
    """Refused(401) unless hmacd said OK; Refused(503) for UNAVAILABLE (fleet mode: the nonce
    could not be claimed in time), the same refusal as when hmacd does not answer."""
    if verdict == Verdict.UNAVAILABLE:
        raise Refused(503, verdict_name(verdict), tenant)
    if verdict != Verdict.OK:
        raise Refused(401, verdict_name(verdict), tenant)
