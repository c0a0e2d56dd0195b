"""hmacd.wire - verify items, frames and the msgpack profile of PROTOCOL.md sections 2 to 7.

Two kinds of item: Item (hmacd-v1, no "scheme" key on the wire) and RFC9421Item
("scheme": "rfc9421", PROTOCOL.md 7.2). pack_item() takes either.

Pure functions of bytes, shared by the thread-safe client and the asyncio client. Items are
packed one by one (pack_item) when they are submitted, so a frame that batches many callers'
items is only a concatenation (verify_frame). Answers are checked as strictly as the C client
checks them (hm_response_decode): anything unexpected is a ProtocolError.

Str fields are bytes on the wire. Python str values are sent as their UTF-8 bytes; bytes values
are sent as they are, still as msgpack str (a raw path may hold bytes that are not UTF-8; the
daemon does not check UTF-8). The surrogateescape round trip does that with msgpack's C packer.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import msgpack

from .errors import ProtocolError, ServerError, as_verdict

FRAME_HEADER = 4
DEFAULT_MAX_FRAME = 1 << 20  # the daemon's default --max-frame
DEFAULT_MAX_BATCH = 1024     # the daemon's default --max-batch
MAX_FRAME_LIMIT = 64 << 20
RESPONSE_MAX = 64 << 20      # an answer is ~1 byte per item; anything near this is broken

Text = Union[str, bytes]
"""A str field: a str is sent as its UTF-8 bytes, bytes as they are."""


@dataclass
class Item:
    """One request to verify (PROTOCOL.md section 7).

    `container` comes from the route the app matched, never from the signer's word. `path` is
    the request target as received (path and ?query, not decoded). Give `body` (the raw bytes)
    or `body_sha256` (32 bytes); with neither the body is empty. `nonce` "" means none."""

    tenant: Text
    container: Text
    epoch: int
    method: Text
    path: Text
    ts: int
    sig: bytes
    headers: Sequence[Tuple[Text, Text]] = field(default_factory=tuple)
    body: Optional[bytes] = None
    body_sha256: Optional[bytes] = None
    nonce: Text = ""


@dataclass
class RFC9421Item:
    """One RFC 9421 request to verify (PROTOCOL.md 7.2, "scheme": "rfc9421").

    `tenant` comes from the app's configuration (for the middleware, the X-Tenant header by
    default) and `container` from the route: the key store binds each keyid to one scope, so a
    signature made with another scope's key is UNKNOWN_KEY. `authority` is the Host header
    (host[:port]); `path` the request target as received (path and ?query, not decoded);
    `headers` every request header as (lower-case name, value), in arrival order;
    `signature_input` / `signature` the raw header values (several lines joined with ", ").
    `uri_scheme` "http" or "https" (None: https); `label` which signature to verify (None: the
    only one); `body` the raw body as received (b"" or None: the empty body). The body is
    always sent, so a covered Content-Digest is always checked against it."""

    tenant: Text
    container: Text
    method: Text
    authority: Text
    path: Text
    signature_input: Text
    signature: Text
    headers: Sequence[Tuple[Text, Text]] = field(default_factory=tuple)
    uri_scheme: Optional[Text] = None
    label: Optional[Text] = None
    body: Optional[bytes] = b""


SCHEME_RFC9421 = "rfc9421"

AnyItem = Union[Item, RFC9421Item]
"""Either kind of verify item."""

Response = Tuple[Optional[int], str, Any]
"""decode_response()'s (id, kind, value)."""


def _s(v: object) -> str:
    """A str field's value as a str msgpack will write back to the same bytes."""
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", "surrogateescape")
    raise TypeError("a str field must be str or bytes, not %s" % type(v).__name__)


def _uint(v: object, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v >= 1 << 64:
        raise TypeError("%s must be an int in 0..2^64-1" % what)
    return v


_local = threading.local()


def _packer() -> Any:
    try:
        return _local.packer
    except AttributeError:
        p = msgpack.Packer(use_bin_type=True, unicode_errors="surrogateescape")
        _local.packer = p
        return p


def _pack_rfc9421(it: RFC9421Item) -> bytes:
    m: Dict[str, Any] = {
        "scheme": SCHEME_RFC9421,
        "tenant": _s(it.tenant),
        "container": _s(it.container),
        "method": _s(it.method),
        "authority": _s(it.authority),
        "path": _s(it.path),
    }
    if it.uri_scheme is not None:
        m["uri_scheme"] = _s(it.uri_scheme)
    m["headers"] = [[_s(n), _s(v)] for n, v in it.headers]
    m["signature_input"] = _s(it.signature_input)
    m["signature"] = _s(it.signature)
    if it.label is not None:
        m["label"] = _s(it.label)
    m["body"] = bytes(it.body) if it.body is not None else b""
    return bytes(_packer().pack(m))


def pack_item(it: AnyItem) -> bytes:
    """The msgpack bytes of one item (an Item or an RFC9421Item), keys in the order of the
    PROTOCOL.md tables. TypeError/ValueError if the wire cannot carry it (wrong types, both body
    forms); content rules are the daemon's to judge (verdict MALFORMED)."""
    if isinstance(it, RFC9421Item):
        return _pack_rfc9421(it)
    if it.body is not None and it.body_sha256 is not None:
        raise ValueError("give body or body_sha256, not both")
    # str values (the usual case) are taken as they are: _s() only for the others
    t, c, meth, path = it.tenant, it.container, it.method, it.path
    m: Dict[str, Any] = {
        "tenant": t if type(t) is str else _s(t),
        "container": c if type(c) is str else _s(c),
        "epoch": _uint(it.epoch, "epoch"),
        "method": meth if type(meth) is str else _s(meth),
        "path": path if type(path) is str else _s(path),
        "headers": [[_s(n), _s(v)] for n, v in it.headers],
    }
    if it.body_sha256 is not None:
        m["body_sha256"] = bytes(it.body_sha256)
    else:
        m["body"] = bytes(it.body) if it.body is not None else b""
    m["ts"] = _uint(it.ts, "ts")
    if it.nonce:
        m["nonce"] = _s(it.nonce)
    m["sig"] = bytes(it.sig)
    return bytes(_packer().pack(m))


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 0x10000:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def frame(payload: bytes) -> bytes:
    if len(payload) > 0xFFFFFFFF:
        raise ValueError("frame too large")
    return struct.pack(">I", len(payload)) + payload


def verify_overhead(n: int) -> int:
    """Frame bytes a verify request of n items adds to the packed items."""
    return FRAME_HEADER + 1 + 3 + 9 + 3 + 7 + 6 + len(_array_header(n))


def pack_uint(v: int) -> bytes:
    """msgpack's own (shortest) form of an int in 0..2^64-1, as msgpack.packb writes it."""
    if v < 0x80:
        return _FIXINT[v]
    if v < 0x100:
        return b"\xcc" + v.to_bytes(1, "big")
    if v < 0x10000:
        return b"\xcd" + v.to_bytes(2, "big")
    if v < 1 << 32:
        return b"\xce" + v.to_bytes(4, "big")
    return b"\xcf" + v.to_bytes(8, "big")


_FIXINT = [bytes((i,)) for i in range(0x80)]
_VERIFY_ID = b"\x83\xa2id"            # {"id": ...
_VERIFY_ITEMS = b"\xa2op\xa6verify\xa5items"  # "op": "verify", "items": [...]}


def verify_frame(req_id: int, packed_items: Sequence[bytes]) -> bytes:
    """A whole verify request frame from already packed items: {"id", "op": "verify",
    "items"} in that order, as msgpack writes that map, built from constant pieces."""
    head = b"".join((_VERIFY_ID, pack_uint(req_id), _VERIFY_ITEMS,
                     _array_header(len(packed_items))))
    size = len(head) + sum(map(len, packed_items))
    if size > 0xFFFFFFFF:
        raise ValueError("frame too large")
    return b"".join((struct.pack(">I", size), head, *packed_items))


def simple_frame(req_id: int, op: str) -> bytes:
    """A ping or stats request frame."""
    return frame(bytes(_packer().pack({"id": req_id, "op": op})))


def frame_length(header: bytes) -> int:
    """Payload length announced by a 4-byte frame header; ProtocolError if absurd."""
    n: int = struct.unpack(">I", header)[0]
    if n > RESPONSE_MAX:
        raise ProtocolError("answer of %d bytes announced" % n)
    return n


def _is_uint(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 64


_KINDS = ("results", "pong", "stats", "error")


def decode_response(payload: bytes) -> Response:
    """Checks one answer payload (PROTOCOL.md section 5). Returns (id, kind, value): kind is
    'results' (a list of verdicts), 'pong' (True), 'stats' (a dict) or 'error' (a ServerError,
    id may be None). ProtocolError if it does not follow the protocol."""
    try:
        m = msgpack.unpackb(payload, raw=False, use_list=True, strict_map_key=True)
    except Exception as e:  # ExtraData, FormatError, StackError, UnicodeDecodeError, ...
        raise ProtocolError("answer is not one msgpack value: %s" % type(e).__name__) from None
    if type(m) is dict and len(m) == 2:
        # the usual answer, {"id": <uint>, "results": [<uint>...]}, checked in one go
        rid, v = m.get("id"), m.get("results")
        if (type(rid) is int and 0 <= rid < 1 << 64 and type(v) is list and
                all(type(c) is int and 0 <= c < 1 << 64 for c in v)):
            return rid, "results", [as_verdict(c) for c in v]
    if not isinstance(m, dict):
        raise ProtocolError("answer is not a map")
    kinds = [k for k in _KINDS if k in m]
    extra = set(m) - set(_KINDS) - {"id", "message"}
    if len(kinds) != 1 or extra or ("message" in m and kinds != ["error"]):
        raise ProtocolError("answer has unexpected keys")
    kind = kinds[0]
    rid = m.get("id")
    if kind == "error":
        if "id" not in m or (rid is not None and not _is_uint(rid)):
            raise ProtocolError("bad id in an error answer")
        code, msg = m["error"], m.get("message", "")
        if not isinstance(code, str) or not isinstance(msg, str):
            raise ProtocolError("bad error answer")
        return rid, kind, ServerError(code, msg)
    if not _is_uint(rid):
        raise ProtocolError("answer without a valid id")
    v = m[kind]
    if kind == "results":
        if not isinstance(v, list) or not all(_is_uint(c) for c in v):
            raise ProtocolError("bad results")
        return rid, kind, [as_verdict(c) for c in v]
    if kind == "pong":
        if v is not True:
            raise ProtocolError("pong is not true")
        return rid, kind, True
    if not isinstance(v, dict) or not all(isinstance(k, str) and _is_uint(c)
                                          for k, c in v.items()):
        raise ProtocolError("bad stats")
    return rid, kind, v


def check_limits(max_frame: int, max_batch: int) -> None:
    if not isinstance(max_frame, int) or not 1024 <= max_frame <= MAX_FRAME_LIMIT:
        raise ValueError("max_frame must be 1024..%d" % MAX_FRAME_LIMIT)
    if not isinstance(max_batch, int) or max_batch < 1:
        raise ValueError("max_batch must be >= 1")


def check_fits(size: int, max_frame: int) -> None:
    """ValueError if an item of `size` packed bytes does not fit alone in a frame."""
    if verify_overhead(1) + size > max_frame:
        raise ValueError("an item of %d bytes does not fit in a frame of %d" % (size, max_frame))


def chunks(packed: Sequence[bytes], max_frame: int, max_batch: int) -> List[List[bytes]]:
    """Splits packed items into lists that each fit one verify frame. ValueError if one item
    alone is too large."""
    out: List[List[bytes]] = []
    cur: List[bytes] = []
    size = 0
    for p in packed:
        check_fits(len(p), max_frame)
        if cur and (len(cur) >= max_batch or
                    verify_overhead(len(cur) + 1) + size + len(p) > max_frame):
            out.append(cur)
            cur, size = [], 0
        cur.append(p)
        size += len(p)
    if cur:
        out.append(cur)
    return out
