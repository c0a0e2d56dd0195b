"""hmacd.authorization - parse the HMACD-V1 Authorization header (PROTOCOL.md 13.1).

Strict on purpose: a header that is not exactly in the 13.1 form is refused, because a lenient
parser is where two implementations start to disagree about what was signed. The grammar, read
strictly and pinned down by proto/vectors/hmacd-v1.json:

    value = "HMACD-V1" SP param *( *SP "," *SP param )
    param = Name "=" value-without-space-or-comma

Names are case-sensitive, each at most once, and any name but Tenant, Epoch, Timestamp, Nonce,
SignedHeaders and Signature is refused (a Container parameter too: the container is never the
signer's claim).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Dict, NamedTuple, Optional, Tuple, Union

from .signer import LOWER_TCHAR, NONCE_HEADER_BYTES, NONCE_MAX, U64_MAX, scope_ok

SCHEME = "HMACD-V1"

_PARAM = re.compile(r"([A-Za-z]+)=([\x21-\x2b\x2d-\x7e]*)\Z")
_SEP = re.compile(r" *, *")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,19})\Z")
_SIG = re.compile(r"[A-Za-z0-9+/]{43}=\Z")
_NAMES = frozenset(("Tenant", "Epoch", "Timestamp", "Nonce", "SignedHeaders", "Signature"))


class AuthorizationError(ValueError):
    """The header is missing or not a valid HMACD-V1 header (the middleware answers 401). The
    message says why, for server logs; it is never sent to the client."""


class Authorization(NamedTuple):
    tenant: str
    epoch: int
    ts: int
    nonce: Optional[str]          # None: no Nonce parameter (no replay protection)
    signed_headers: Tuple[str, ...]
    sig: bytes                    # 32 bytes


def _decimal(s: str, name: str) -> int:
    if not _DECIMAL.match(s):
        raise AuthorizationError("bad " + name)
    v = int(s)
    if v > U64_MAX:
        raise AuthorizationError(name + " out of range")
    return v


def parse_authorization(value: Union[str, bytes, bytearray]) -> Authorization:
    """Parses an Authorization field value (str, or bytes as WSGI/ASGI give them).
    Returns an Authorization; raises AuthorizationError."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    if not isinstance(value, str) or not value.startswith(SCHEME + " "):
        raise AuthorizationError("not an HMACD-V1 header")
    params: Dict[str, str] = {}
    for part in _SEP.split(value[len(SCHEME) + 1:]):
        m = _PARAM.match(part)
        if m is None:
            raise AuthorizationError("bad parameter syntax")
        name, val = m.group(1), m.group(2)
        if name not in _NAMES:
            raise AuthorizationError("unknown parameter")
        if name in params:
            raise AuthorizationError("repeated parameter")
        params[name] = val
    for name in ("Tenant", "Epoch", "Timestamp", "Signature"):
        if name not in params:
            raise AuthorizationError("missing " + name)
    tenant = params["Tenant"]
    if not scope_ok(tenant):
        raise AuthorizationError("bad Tenant")
    epoch = _decimal(params["Epoch"], "Epoch")
    if epoch < 1:
        raise AuthorizationError("Epoch 0")
    ts = _decimal(params["Timestamp"], "Timestamp")
    nonce = params.get("Nonce")
    if nonce is not None and (not 1 <= len(nonce) <= NONCE_MAX or
                              not NONCE_HEADER_BYTES.issuperset(nonce.encode())):
        raise AuthorizationError("bad Nonce")
    names: Tuple[str, ...] = ()
    if params.get("SignedHeaders"):
        names = tuple(params["SignedHeaders"].split(";"))
        if any(not n or not LOWER_TCHAR.issuperset(n.encode()) for n in names):
            raise AuthorizationError("bad SignedHeaders")
    s = params["Signature"]
    if not _SIG.match(s):
        raise AuthorizationError("bad Signature")
    try:
        sig = base64.b64decode(s, validate=True)
    except binascii.Error:
        raise AuthorizationError("bad Signature") from None
    if len(sig) != 32 or base64.b64encode(sig).decode() != s:
        raise AuthorizationError("Signature is not the canonical base64 of 32 bytes")
    return Authorization(tenant, epoch, ts, nonce, names, sig)
