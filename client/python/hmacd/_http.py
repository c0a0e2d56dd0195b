"""hmacd._http - what the WSGI and ASGI middleware share: PROTOCOL.md 13.3 minus the framework.

A request becomes a verify item here: tenant, epoch, ts and nonce from the Authorization header;
the container from the route (the caller passes it); method and raw target as received; each
signed header's fields trimmed of spaces and tabs and joined with ", "; the SHA-256 of the raw
body. The refusals are constant: 401 {"error":"unauthorized"} with WWW-Authenticate: HMACD-V1
whatever the reason, 503 {"error":"unavailable"} when hmacd cannot judge, 413
{"error":"too_large"} for a body over the limit. Reasons go to the "hmacd" logger only, and never
include the signature or the nonce.
"""

import hashlib
import logging
import re

from .authorization import AuthorizationError, parse_authorization
from .signer import field_value
from .wire import Item

log = logging.getLogger("hmacd")

DEFAULT_MAX_BODY = 1 << 20

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
    return {"tenant": auth.tenant, "container": container, "epoch": auth.epoch,
            "ts": auth.ts, "nonce": auth.nonce}
