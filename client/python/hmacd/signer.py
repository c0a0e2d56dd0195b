"""hmacd.signer - the hmacd-v1 canonical string, signatures and the Authorization header.

For the side that sends requests (PROTOCOL.md 13.2) and for tests. The canonical string is
section 8: LF-ended lines "hmacd-v1", tenant, container, epoch, method, path, ts, nonce, one
"name:value" per signed header, then the hex SHA-256 of the body with no LF after it. Items are
checked against section 7 before signing, as the C signer does, so a signer never produces a
signature the daemon would answer MALFORMED.

    signer = Signer("acme", epoch=1, secret="<base64 from hmacctl>")
    auth = signer.sign_request("POST", "/containers/web-01/exec", container="web-01",
                               headers={"Host": "api.example.com",
                                        "Content-Type": "application/json"},
                               body=b'{"cmd":["ls"]}')
    # send the request with  Authorization: <auth>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from .wire import Item, Text

Secret = Union[str, bytes]
"""A key: its raw bytes (16..64), or the standard base64 text hmacctl prints."""

Headers = Union[Mapping[str, Text], Mapping[bytes, Text], Iterable[Tuple[Text, Text]]]
"""Request headers: a mapping, or (name, value) pairs in the order they are sent."""

PREFIX = b"hmacd-v1"
MAC_LEN = 32
SECRET_MIN, SECRET_MAX = 16, 64
SCOPE_MAX, NONCE_MAX, METHOD_MAX, MAX_HEADERS = 128, 64, 32, 64
U64_MAX = (1 << 64) - 1

_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
SCOPE_BYTES = _ALNUM | frozenset(b"._:/-")
TCHAR = _ALNUM | frozenset(b"!#$%&'*+-.^_`|~")
LOWER_TCHAR = TCHAR - frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
NONCE_HEADER_BYTES = _ALNUM | frozenset(b"._~-")  # the Nonce parameter (13.1)
_CTL = frozenset(range(0x20)) | {0x7F}


def b(v: Union[Text, bytearray, memoryview]) -> bytes:
    """A field's bytes: str as UTF-8, bytes as they are."""
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    return bytes(v)


def scope_ok(v: Text) -> bool:
    v = b(v)
    return 1 <= len(v) <= SCOPE_MAX and SCOPE_BYTES.issuperset(v)


def _no_ctl(v: bytes) -> bool:
    return _CTL.isdisjoint(v)


def item_problem(it: Item) -> Optional[str]:
    """The first rule of PROTOCOL.md section 7 that item `it` breaks (its sig aside), or None."""
    if not scope_ok(it.tenant):
        return "tenant"
    if not scope_ok(it.container):
        return "container"
    if isinstance(it.epoch, bool) or not isinstance(it.epoch, int) or not 1 <= it.epoch <= U64_MAX:
        return "epoch"
    m = b(it.method)
    if not 1 <= len(m) <= METHOD_MAX or not TCHAR.issuperset(m):
        return "method"
    p = b(it.path)
    if not p.startswith(b"/") or not _no_ctl(p):
        return "path"
    if isinstance(it.ts, bool) or not isinstance(it.ts, int) or not 0 <= it.ts <= U64_MAX:
        return "ts"
    n = b(it.nonce)
    if len(n) > NONCE_MAX or not _no_ctl(n):
        return "nonce"
    if len(it.headers) > MAX_HEADERS:
        return "headers"
    for name, value in it.headers:
        nb = b(name)
        if not nb or not LOWER_TCHAR.issuperset(nb) or not _no_ctl(b(value)):
            return "headers"
    if it.body is not None and it.body_sha256 is not None:
        return "body"
    if it.body_sha256 is not None and len(it.body_sha256) != 32:
        return "body_sha256"
    return None


def canonical_string(it: Item) -> bytes:
    """The canonical string of item `it` (an Item; its sig is ignored). ValueError if the item
    breaks a rule of section 7."""
    bad = item_problem(it)
    if bad is not None:
        raise ValueError("item cannot be signed: bad %s" % bad)
    if it.body_sha256 is not None:
        digest = bytes(it.body_sha256).hex().encode()
    else:
        digest = hashlib.sha256(it.body if it.body is not None else b"").hexdigest().encode()
    parts = [PREFIX, b(it.tenant), b(it.container), b"%d" % it.epoch, b(it.method), b(it.path),
             b"%d" % it.ts, b(it.nonce)]
    parts += [b(n) + b":" + b(v) for n, v in it.headers]
    parts.append(digest)
    return b"\n".join(parts)


def decode_secret(secret: Union[Secret, bytearray, memoryview]) -> bytes:
    """A secret as bytes: bytes as they are, str as the standard base64 hmacctl prints."""
    if isinstance(secret, str):
        try:
            secret = base64.b64decode(secret, validate=True)
        except binascii.Error:
            raise ValueError("secret is not base64") from None
    secret = bytes(secret)
    if not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise ValueError("secret must be %d..%d bytes" % (SECRET_MIN, SECRET_MAX))
    return secret


def sign_item(secret: Secret, it: Item) -> bytes:
    """sig = HMAC-SHA256(secret, canonical_string(it)). ValueError if the item is malformed."""
    return hmac.new(decode_secret(secret), canonical_string(it), hashlib.sha256).digest()


def format_authorization(tenant: Text, epoch: int, ts: int, sig: bytes, nonce: Text = "",
                         signed_headers: Iterable[Text] = ()) -> str:
    """The Authorization value in the one form signers send (13.1): parameters in table order,
    ", " between them, Nonce left out when empty, SignedHeaders left out when none."""
    tb = b(tenant)
    if not scope_ok(tb):
        raise ValueError("bad tenant")
    for v, lo in ((epoch, 1), (ts, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= U64_MAX:
            raise ValueError("epoch and ts must be ints in range")
    nb = b(nonce)
    if nb and (len(nb) > NONCE_MAX or not NONCE_HEADER_BYTES.issuperset(nb)):
        raise ValueError("a nonce in the header is 1..64 of [A-Za-z0-9._~-]")
    names = [b(n) for n in signed_headers]
    if any(not n or not LOWER_TCHAR.issuperset(n) for n in names):
        raise ValueError("signed header names are lower-case tokens")
    if len(sig) != MAC_LEN:
        raise ValueError("sig must be 32 bytes")
    parts = ["Tenant=" + tb.decode(), "Epoch=%d" % epoch, "Timestamp=%d" % ts]
    if nb:
        parts.append("Nonce=" + nb.decode())
    if names:
        parts.append("SignedHeaders=" + ";".join(n.decode() for n in names))
    parts.append("Signature=" + base64.b64encode(sig).decode())
    return "HMACD-V1 " + ", ".join(parts)


def target_of(url: str) -> str:
    """The request target (path plus ?query, as written) of a URL or a target."""
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query or url.endswith("?"):
        target += "?" + parts.query
    return target


def field_value(values: Iterable[Text]) -> bytes:
    """What a 13.3 middleware makes of the fields of one name: each value with leading and
    trailing spaces and tabs removed, several joined with ", " in order."""
    return b", ".join(b(v).strip(b" \t") for v in values)


def header_pairs(headers: Optional[Headers]) -> List[Tuple[Text, Text]]:
    """(name, value) pairs of a mapping (anything with items()) or of an iterable of pairs."""
    if headers is None:
        return []
    items = getattr(headers, "items", None)
    if callable(items):
        return list(items())
    return list(headers)  # type: ignore[arg-type]  # no items(): pairs, not a Mapping


class Signer:
    """Signs requests for one tenant with one key epoch (PROTOCOL.md 13.2).

    secret: 16..64 bytes, or the base64 that `hmacctl key create/rotate --json` prints.
    clock: returns unix seconds (for tests); nonces are 16 random bytes in hex by default."""

    def __init__(self, tenant: str, epoch: int, secret: Secret, *,
                 clock: Callable[[], float] = time.time) -> None:
        if not scope_ok(tenant):
            raise ValueError("bad tenant")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= U64_MAX:
            raise ValueError("bad epoch")
        self.tenant = tenant
        self.epoch = epoch
        self._secret = decode_secret(secret)
        self._clock = clock

    def __repr__(self) -> str:
        return "Signer(tenant=%r, epoch=%d)" % (self.tenant, self.epoch)  # never the secret

    def sign_request(self, method: Text, target: str, *, container: Text, headers: Headers = (),
                     body: Optional[bytes] = b"", signed_headers: Optional[Sequence[Text]] = None,
                     ts: Optional[int] = None, nonce: Optional[str] = None) -> str:
        """Returns the Authorization value for a request.

        method: as sent ("POST"). target: the request target exactly as it goes on the wire
        (path and ?query, percent-encoding untouched), or a URL (its target is taken). container:
        the container the request is addressed to (the one in its path). headers: a mapping or
        (name, value) pairs, as the request will carry them. signed_headers: the names to sign,
        in order; default "host" and, with a body, "content-type" (those present). ts: default
        now. nonce: default 16 random bytes in hex; "" for none (no replay protection, and
        INSUFFICIENT_COVERAGE in a scope whose policy has --v1-nonce; likewise a header that
        policy names with --v1-require and signed_headers leaves out)."""
        pairs = header_pairs(headers)
        by_name: Dict[bytes, List[Text]] = {}
        for name, value in pairs:
            by_name.setdefault(b(name).lower(), []).append(value)
        if signed_headers is None:
            wanted = [n for n in (b"host", b"content-type")
                      if n in by_name and (n != b"content-type" or body)]
        else:
            wanted = [b(n) for n in signed_headers]
            for n in wanted:
                if n not in by_name:
                    raise ValueError("signed header %r is not in headers" % n.decode())
        signed = [(n, field_value(by_name[n])) for n in wanted]
        ts = int(self._clock()) if ts is None else ts
        nonce = os.urandom(16).hex() if nonce is None else nonce
        it = Item(tenant=self.tenant, container=container, epoch=self.epoch, method=method,
                  path=target_of(target), ts=ts, nonce=nonce, headers=signed,
                  body=bytes(body or b""), sig=b"")
        sig = hmac.new(self._secret, canonical_string(it), hashlib.sha256).digest()
        return format_authorization(self.tenant, self.epoch, ts, sig, nonce, wanted)
