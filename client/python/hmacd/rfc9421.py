"""hmacd.rfc9421 - RFC 9421 HTTP Message Signatures with hmac-sha256, the signing side.

    from hmacd.rfc9421 import sign
    h = sign("POST", "https://api.example.com/containers/web-01/exec?tty=1",
             key=secret, keyid="web-01-k1",
             headers={"Content-Type": "application/json"}, body=b'{"cmd":["ls"]}')
    # send the request with h["Signature-Input"], h["Signature"], h["Content-Digest"]

What is here:
- sign(): the Signature-Input, Signature and (when a body is signed) Content-Digest values
  (RFC 9530, sha-256) of a request, with the options of PROTOCOL.md 13.5: the covered
  components (default @method, @authority, @path, plus @query when the target has a query and
  content-digest with a body), created (default now), nonce (default 16 random bytes in hex),
  label (default "sig1"), tag, keyid.
- signature_base(): the signature base of RFC 9421 section 2.5 for a request: one line
  `<serialized identifier>: <value>` per covered component, then the @signature-params line;
  signature_base_of(): the same for a Signature-Input value and a label, as the daemon reads it.
- parse_field() / serialize_field(): the RFC 8941 structured fields it needs (Dictionaries,
  Lists, Items, Inner Lists, Parameters, every bare item type).

The base is built the way the daemon builds it (proto/sigbase.c), with the same readings
where the RFC leaves room, so a request signed here verifies through hmacd when it is sent
exactly as signed:
- a field: its lines in order, each stripped of leading and trailing SP/HTAB, joined with ", ";
  names match case-insensitively. ;bs wraps each line as a Byte Sequence. ;sf parses the lines
  as the structured type the field is registered with (content-digest, repr-digest,
  want-content-digest, want-repr-digest, signature, signature-input, accept-signature and
  priority are Dictionaries; cache-status, proxy-status, accept-ch, client-cert-chain Lists;
  client-cert an Item) and re-serializes it; ;sf on any other field is refused. ;key="k"
  parses the lines as a Dictionary and takes member k.
- @authority: lower-cased, an empty or default port (:443 for https, :80 for http) dropped;
  @target-uri uses it after the lower-case scheme. @path and @query are taken from the target
  as sent (not decoded); @query is "?" alone without a query.
- @query-param;name="n": the query decoded as application/x-www-form-urlencoded and
  re-encoded (space %20, upper-case hex); a name occurring twice, or a parameter that does not
  decode to UTF-8, is refused.
- Byte Sequences parse without padding but never with non-zero pad bits, and serialize padded;
  a key repeated in a Dictionary or Parameters overwrites in place.
Anything the daemon would refuse as MALFORMED raises ValueError here instead.

Strings (method, target, authority, header names and values) may be str (sent as UTF-8) or
bytes (sent as they are).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time
from typing import (Callable, Dict, Iterable, List, Mapping, NamedTuple, NoReturn, Optional,
                    Sequence, Set, Tuple, TypedDict, Union)
from urllib.parse import urlsplit

from .signer import Headers, Secret, b, decode_secret, header_pairs
from .wire import Text

ALG = "hmac-sha256"
DEFAULT_LABEL = "sig1"

# ---- RFC 8941 structured field values ----


class Token(str):
    """An RFC 8941 Token (a bare word, not a quoted String)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Token(%s)" % str.__repr__(self)


class Decimal(NamedTuple):
    """An RFC 8941 Decimal, kept exactly as thousandths (at most 3 fractional digits)."""

    milli: int

    def __str__(self) -> str:
        return _ser_decimal(self.milli)


BareItem = Union[bool, int, Decimal, Token, str, bytes]
"""An RFC 8941 bare item: Boolean, Integer, Decimal, Token, String (str) or Byte Sequence."""

Params = Dict[str, BareItem]
"""Parameters, in order; True is a parameter with no value."""


class SfItem(NamedTuple):
    """A bare item with its parameters (a dict, in order; True is a parameter with no value)."""

    value: BareItem
    params: Params


class InnerList(NamedTuple):
    """An Inner List: SfItems and the list's own parameters."""

    items: List[SfItem]
    params: Params


Member = Union[SfItem, InnerList]
"""A member of a List or a Dictionary."""

Dictionary = Dict[str, Member]
SfList = List[Member]
FieldValue = Union[Dictionary, SfList, SfItem]
"""A parsed field: a Dictionary (a dict), a List (a list) or an Item (an SfItem)."""


_INT_MAX = 999_999_999_999_999
_DIGITS = frozenset("0123456789")
_LCALPHA = frozenset("abcdefghijklmnopqrstuvwxyz")
_ALPHA = _LCALPHA | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TCHAR = _ALPHA | _DIGITS | frozenset("!#$%&'*+-.^_`|~")
_KEY_FIRST = _LCALPHA | {"*"}
_KEY_REST = _LCALPHA | _DIGITS | frozenset("_-.*")
_B64 = _ALPHA | _DIGITS | frozenset("+/=")
_B64_VAL = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}

KIND_ITEM, KIND_LIST, KIND_DICT = "item", "list", "dictionary"

# The daemon's capacity limits (proto/sfv.h): a field beyond them is malformed there, so it is
# malformed here too, or a signer could sign what the daemon refuses. The pools count what a
# parse consumes across the lines of one field, members overwritten included.
MAX_MEMBERS = 16      # members of a Dictionary or List
MAX_INNER = 32        # items of one Inner List
MAX_PARAMS = 8        # parameters of one item, inner list or member
MAX_ITEM_POOL = 64    # inner-list items of a whole field
MAX_PARAM_POOL = 128  # parameters of a whole field

_NUMBER = re.compile(r"(-?)([0-9]+)(?:\.([0-9]*))?")


class _Parser:
    """A cursor over one field line; each method is the RFC 8941 4.2 algorithm of its name."""

    def __init__(self, text: str, pool: Optional[List[int]] = None) -> None:
        self.s = text
        self.i = 0
        self.pool = pool if pool is not None else [0, 0]  # items, params used by the field

    def fail(self, why: str) -> NoReturn:
        raise ValueError("structured field: %s at offset %d" % (why, self.i))

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.i += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t"):
            self.i += 1

    def key(self) -> str:
        start = self.i
        if self.peek() not in _KEY_FIRST:
            self.fail("bad key")
        self.i += 1
        while self.peek() and self.peek() in _KEY_REST:
            self.i += 1
        return self.s[start:self.i]

    def bare(self) -> BareItem:
        c = self.peek()
        if not c:
            self.fail("missing value")
        if c == "-" or c in _DIGITS:
            return self.number()
        if c == '"':
            return self.string()
        if c in _ALPHA or c == "*":
            return self.token()
        if c == ":":
            return self.byte_sequence()
        if c == "?":
            return self.boolean()
        return self.fail("unexpected character")

    def number(self) -> Union[int, Decimal]:
        m = _NUMBER.match(self.s, self.i)
        if m is None:
            return self.fail("bad number")
        sign, ipart, frac = m.group(1), m.group(2), m.group(3)
        if frac is None:
            if len(ipart) > 15:
                self.fail("integer too long")
            self.i = m.end()
            return -int(ipart) if sign else int(ipart)
        if len(ipart) > 12 or not 1 <= len(frac) <= 3:
            self.fail("bad decimal")
        self.i = m.end()
        milli = int(ipart) * 1000 + int(frac.ljust(3, "0"))
        return Decimal(-milli if sign else milli)

    def string(self) -> str:
        self.i += 1
        out: List[str] = []
        while True:
            c = self.peek()
            if not c:
                self.fail("unterminated string")
            self.i += 1
            if c == "\\":
                e = self.peek()
                if e not in ('"', "\\"):
                    self.fail("bad escape")
                self.i += 1
                out.append(e)
            elif c == '"':
                return "".join(out)
            elif not " " <= c <= "~":
                self.fail("bad string character")
            else:
                out.append(c)

    def token(self) -> Token:
        start = self.i
        self.i += 1
        while self.peek() and (self.peek() in _TCHAR or self.peek() in ":/"):
            self.i += 1
        return Token(self.s[start:self.i])

    def byte_sequence(self) -> bytes:
        end = self.s.find(":", self.i + 1)
        if end < 0:
            self.fail("unterminated byte sequence")
        text = self.s[self.i + 1:end]
        data = _b64_strict(text)
        if data is None:
            return self.fail("bad byte sequence")
        self.i = end + 1
        return data

    def boolean(self) -> bool:
        self.i += 1
        c = self.peek()
        if c not in ("0", "1"):
            self.fail("bad boolean")
        self.i += 1
        return c == "1"

    def params(self) -> Params:
        out: Params = {}
        while self.peek() == ";":
            self.i += 1
            self.skip_sp()
            k = self.key()
            v: BareItem = True
            if self.peek() == "=":
                self.i += 1
                v = self.bare()
            if k not in out:
                if len(out) >= MAX_PARAMS or self.pool[1] >= MAX_PARAM_POOL:
                    self.fail("more parameters than hmacd reads")
                self.pool[1] += 1
            out[k] = v  # a repeated key keeps its first position
        return out

    def inner_list(self) -> InnerList:
        self.i += 1
        items: List[SfItem] = []
        while self.i < len(self.s):
            self.skip_sp()
            if self.peek() == ")":
                self.i += 1
                return InnerList(items, self.params())
            if len(items) >= MAX_INNER or self.pool[0] >= MAX_ITEM_POOL:
                self.fail("more inner-list items than hmacd reads")
            self.pool[0] += 1
            v = self.bare()
            items.append(SfItem(v, self.params()))
            if self.peek() not in (" ", ")"):
                self.fail("bad inner list")
        return self.fail("unterminated inner list")

    def item_or_inner(self) -> Member:
        if self.peek() == "(":
            return self.inner_list()
        v = self.bare()
        return SfItem(v, self.params())

    def after_member(self) -> bool:
        """True if another member follows."""
        self.skip_ows()
        if self.i >= len(self.s):
            return False
        if self.peek() != ",":
            self.fail("expected a comma")
        self.i += 1
        self.skip_ows()
        if self.i >= len(self.s):
            self.fail("trailing comma")
        return True

    def list_into(self, out: SfList) -> None:
        more = self.i < len(self.s)
        while more:
            if len(out) >= MAX_MEMBERS:
                self.fail("more members than hmacd reads")
            out.append(self.item_or_inner())
            more = self.after_member()

    def dict_into(self, out: Dictionary) -> None:
        more = self.i < len(self.s)
        while more:
            k = self.key()
            v: Member
            if self.peek() == "=":
                self.i += 1
                v = self.item_or_inner()
            else:
                v = SfItem(True, self.params())
            if k not in out and len(out) >= MAX_MEMBERS:
                self.fail("more members than hmacd reads")
            out[k] = v
            more = self.after_member()


def _b64_strict(text: str) -> Optional[bytes]:
    """The bytes of base64 text as RFC 8941 reads it here: padding optional but never wrong,
    pad bits zero (another spelling of the same bytes would serialize differently). None if
    invalid."""
    if any(c not in _B64 for c in text):
        return None
    d = text.rstrip("=")
    pad = len(text) - len(d)
    if "=" in d or len(d) % 4 == 1 or pad > 2 or (pad and (len(d) + pad) % 4):
        return None
    if len(d) % 4 == 2 and _B64_VAL[d[-1]] & 0x0F:
        return None
    if len(d) % 4 == 3 and _B64_VAL[d[-1]] & 0x03:
        return None
    try:
        return base64.b64decode(d + "=" * (-len(d) % 4), validate=True)
    except binascii.Error:
        return None


def _text(v: Union[Text, bytearray, memoryview]) -> str:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("latin-1")
    return v


FieldLines = Union[Text, bytearray, memoryview, Iterable[Text]]
"""A field value: one line (str or bytes) or its lines."""


def parse_field(value: FieldLines, kind: str) -> FieldValue:
    """Parses a field value (str or bytes; or a list of its lines, parsed as their ", " join
    would be) as a Dictionary (a dict key -> SfItem/InnerList), a List (a list of them) or an
    Item (an SfItem). ValueError if it does not parse.

    Lines are parsed one by one: a String cannot span two lines, and an empty line, or any
    line after an empty first one, is refused (the join would hold a stray comma). The
    daemon's capacity limits apply (MAX_MEMBERS and the others above)."""
    lines: List[Union[Text, bytearray, memoryview]]
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        lines = [value]
    else:
        lines = list(value)
    if not lines:
        raise ValueError("structured field: no value")
    if kind not in (KIND_DICT, KIND_LIST, KIND_ITEM):
        raise ValueError("unknown kind %r" % kind)
    d: Dictionary = {}
    lst: SfList = []
    item: Optional[SfItem] = None
    pool = [0, 0]
    for n, line in enumerate(lines):
        p = _Parser(_text(line), pool)
        p.skip_sp()
        if n > 0 and (kind == KIND_ITEM or not (d or lst) or p.i == len(p.s)):
            raise ValueError("structured field: empty line or a second Item line")
        if kind == KIND_DICT:
            p.dict_into(d)
        elif kind == KIND_LIST:
            p.list_into(lst)
        else:
            it = p.item_or_inner()
            if isinstance(it, InnerList):
                raise ValueError("structured field: an Item field holds an inner list")
            item = it
        p.skip_sp()
        if p.i != len(p.s):
            p.fail("trailing characters")
    if kind == KIND_DICT:
        return d
    if kind == KIND_LIST:
        return lst
    assert item is not None
    return item


def _parse_dict(value: FieldLines) -> Dictionary:
    d = parse_field(value, KIND_DICT)
    assert isinstance(d, dict)
    return d


def _ser_decimal(milli: int) -> str:
    u = abs(milli)
    frac = ("%03d" % (u % 1000)).rstrip("0") or "0"
    return "%s%d.%s" % ("-" if milli < 0 else "", u // 1000, frac)


def serialize_bare(v: object) -> str:
    """RFC 8941 4.1.3.1: bool, int, Decimal, Token, str (String) or bytes (Byte Sequence)."""
    if isinstance(v, bool):
        return "?1" if v else "?0"
    if isinstance(v, int):
        if not -_INT_MAX <= v <= _INT_MAX:
            raise ValueError("integer out of range")
        return "%d" % v
    if isinstance(v, Decimal):
        if not abs(v.milli) < 10 ** 15:
            raise ValueError("decimal out of range")
        return _ser_decimal(v.milli)
    if isinstance(v, Token):
        if not v or (v[0] not in _ALPHA and v[0] != "*") or \
                any(c not in _TCHAR and c not in ":/" for c in v):
            raise ValueError("bad token %r" % str(v))
        return str(v)
    if isinstance(v, str):
        if any(not " " <= c <= "~" for c in v):
            raise ValueError("a String holds only printable ASCII: %r" % v)
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (bytes, bytearray, memoryview)):
        return ":" + base64.b64encode(bytes(v)).decode("ascii") + ":"
    raise TypeError("no structured-field type for %s" % type(v).__name__)


def _check_key(k: object) -> str:
    if not isinstance(k, str) or not k or k[0] not in _KEY_FIRST or \
            any(c not in _KEY_REST for c in k[1:]):
        raise ValueError("bad structured-field key %r" % (k,))
    return k


def serialize_params(params: Params) -> str:
    out: List[str] = []
    for k, v in params.items():
        out.append(";" + _check_key(k))
        if v is not True:
            out.append("=" + serialize_bare(v))
    return "".join(out)


def serialize_item(it: SfItem) -> str:
    return serialize_bare(it.value) + serialize_params(it.params)


def serialize_member(m: Member) -> str:
    """An SfItem, or an InnerList with its parameters."""
    if isinstance(m, InnerList):
        return "(" + " ".join(serialize_item(i) for i in m.items) + ")" + \
            serialize_params(m.params)
    return serialize_item(m)


def serialize_field(value: FieldValue) -> str:
    """A dict (Dictionary), a list (List) or an SfItem (Item), as RFC 8941 4.1 writes it."""
    if isinstance(value, dict):
        parts = []
        for k, m in value.items():
            if isinstance(m, SfItem) and m.value is True:
                parts.append(_check_key(k) + serialize_params(m.params))
            else:
                parts.append(_check_key(k) + "=" + serialize_member(m))
        return ", ".join(parts)
    if isinstance(value, SfItem):
        return serialize_item(value)
    return ", ".join(serialize_member(m) for m in value)


# ---- component identifiers ----

# fields whose structured type RFC 9421 ;sf may rely on (the daemon's table, sigbase.c)
SF_TYPES = {
    "accept-ch": KIND_LIST,
    "accept-signature": KIND_DICT,
    "cache-status": KIND_LIST,
    "client-cert": KIND_ITEM,
    "client-cert-chain": KIND_LIST,
    "content-digest": KIND_DICT,
    "priority": KIND_DICT,
    "proxy-status": KIND_LIST,
    "repr-digest": KIND_DICT,
    "signature": KIND_DICT,
    "signature-input": KIND_DICT,
    "want-content-digest": KIND_DICT,
    "want-repr-digest": KIND_DICT,
}

DERIVED = ("@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path",
           "@query", "@query-param")


def component(spec: Union[str, SfItem]) -> SfItem:
    """A component identifier as an SfItem (name, parameters).

    spec: the form an admin writes for `hmacctl policy set --require` ("@method",
    "content-digest;sf", "@query-param;name=id", '@query-param;name="id"',
    'example-dict;key="a"', "x-data;bs"), or the serialized form ('"@query-param";name="id"'),
    or an SfItem. Field names are lower-cased. ValueError if it is not a valid request
    component (unknown derived name, wrong parameters)."""
    it: SfItem
    if isinstance(spec, SfItem):
        it = spec
    elif isinstance(spec, str) and spec.startswith('"'):
        parsed = parse_field(spec, KIND_ITEM)
        assert isinstance(parsed, SfItem)
        it = parsed
    elif isinstance(spec, str):
        name, _, rest = spec.partition(";")
        params: Params = {}
        for p in rest.split(";") if rest else ():
            k, eq, v = p.partition("=")
            k = _check_key(k.strip())
            if not eq:
                params[k] = True
            elif v.startswith('"'):
                pv = parse_field(v, KIND_ITEM)
                assert isinstance(pv, SfItem)
                params[k] = pv.value
            else:
                params[k] = v
        it = SfItem(name if name.startswith("@") else name.lower(), params)
    else:
        raise TypeError("a component is a str or an SfItem")
    _check_component(it)
    return it


def _check_component(it: SfItem) -> None:
    name, params = it.value, it.params
    if isinstance(name, Token) or not isinstance(name, str) or not name:
        raise ValueError("a component name is a non-empty String")
    for k, v in params.items():
        if k in ("sf", "bs") and v is True:
            continue
        if k in ("key", "name") and isinstance(v, str) and not isinstance(v, Token):
            serialize_bare(v)
            continue
        raise ValueError("component %r: unknown or misplaced parameter %r" % (name, k))
    if name.startswith("@"):
        if name == "@signature-params":
            raise ValueError("@signature-params is never a covered component")
        if name == "@status":
            raise ValueError("@status is for responses")
        if name not in DERIVED:
            raise ValueError("unknown derived component %r" % name)
        want = {"name"} if name == "@query-param" else set()
        if set(params) != want:
            raise ValueError("component %r takes %s" % (
                name, "exactly ;name" if want else "no parameter"))
        return
    if any(c not in _TCHAR or c in _ALPHA - _LCALPHA for c in name):
        raise ValueError("bad field name %r" % name)
    if "name" in params:
        raise ValueError("field %r: ;name is for @query-param" % name)
    if "bs" in params and ("sf" in params or "key" in params):
        raise ValueError("field %r: ;bs with ;sf or ;key" % name)
    if "sf" in params and "key" not in params and name not in SF_TYPES:
        raise ValueError("field %r: ;sf on a field of unknown structured type" % name)


# ---- the signature base (RFC 9421 section 2.5) ----

_CTL = frozenset(range(0x20)) | {0x7F}
_CTL_BUT_TAB = _CTL - {0x09}


class Request(NamedTuple):
    """A request as it goes on the wire (all bytes): target is path plus ?query as sent,
    scheme b"http" or b"https", headers a list of (lower-case name, value)."""

    method: bytes
    authority: bytes
    target: bytes
    scheme: bytes
    headers: List[Tuple[bytes, bytes]]


def _pairs(headers: Optional[Headers]) -> List[Tuple[bytes, bytes]]:
    return [(b(n).lower(), b(v)) for n, v in header_pairs(headers)]


def make_request(method: Text, authority: Text, target: Text, headers: Optional[Headers] = (),
                 scheme: Text = "https") -> Request:
    """A Request from str/bytes fields, checked as the daemon checks the fields of an rfc9421
    item (PROTOCOL.md 7.2): method 1 to 32 token characters, authority host[:port] of 1 to 255
    bytes without controls, space, '/', '?', '#' or '@', target from '/' without controls or
    space, header names tokens and values without controls but HTAB."""
    r = Request(b(method), b(authority), b(target), b(scheme).lower(), _pairs(headers))
    if not 1 <= len(r.method) <= 32 or not _TCHAR.issuperset(r.method.decode("latin-1")):
        raise ValueError("bad method: 1 to 32 token characters")
    if not 1 <= len(r.authority) <= 255 or any(c < 0x21 or c in b"\x7f/?#@" for c in r.authority):
        raise ValueError("bad authority: host[:port], 1 to 255 bytes")
    if not r.target.startswith(b"/") or not _CTL.isdisjoint(r.target) or b" " in r.target:
        raise ValueError("the target is the path plus ?query as sent, starting with '/'")
    if r.scheme not in (b"http", b"https"):
        raise ValueError("scheme is http or https")
    for n, v in r.headers:
        if not n or not _TCHAR.issuperset(n.decode("latin-1")):
            raise ValueError("bad header name %r" % n)
        if not _CTL_BUT_TAB.isdisjoint(v):
            raise ValueError("header %r holds a control byte" % n.decode("latin-1"))
    return r


def _authority(r: Request) -> bytes:
    a = r.authority
    cut = len(a)
    for i in range(len(a) - 1, -1, -1):
        if a[i:i + 1] == b"]":
            break  # an IPv6 literal: its colons are not a port separator
        if a[i:i + 1] == b":":
            port = a[i + 1:]
            default = b"443" if r.scheme == b"https" else b"80"
            if port.isdigit() or not port:
                if not port or port == default:
                    cut = i
            break
    return a[:cut].lower()


def _split_target(r: Request) -> Tuple[bytes, Optional[bytes]]:
    q = r.target.find(b"?")
    return (r.target, None) if q < 0 else (r.target[:q], r.target[q + 1:])


_HEX = b"0123456789abcdefABCDEF"
_FORM_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-._")


def form_decode(raw: bytes) -> bytes:
    """application/x-www-form-urlencoded decoding of one name or value: '+' is a space, %XX
    (two hex digits) a byte, any other '%' stays."""
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x2B:
            out.append(0x20)
        elif c == 0x25 and i + 2 < len(raw) and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            out.append(int(raw[i + 1:i + 3], 16))
            i += 2
        else:
            out.append(c)
        i += 1
    return bytes(out)


def form_encode(data: bytes) -> bytes:
    """The urlencoded percent-encode set: everything but A-Z a-z 0-9 * - . _ as %XX."""
    return b"".join(bytes([c]) if c in _FORM_SAFE else b"%%%02X" % c for c in data)


def _query_param(r: Request, name: bytes) -> bytes:
    _, query = _split_target(r)
    found: List[bytes] = []
    for seq in (query or b"").split(b"&"):
        if not seq:
            continue
        n, eq, v = seq.partition(b"=")
        dn = form_decode(n)
        if form_encode(dn) != name:
            continue
        dv = form_decode(v)
        try:
            dn.decode("utf-8")
            dv.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("query parameter %r does not decode to UTF-8"
                             % name.decode("latin-1")) from None
        found.append(dv)
    if not found:
        raise ValueError("query parameter %r is not in the query" % name.decode("latin-1"))
    if len(found) > 1:
        raise ValueError("query parameter %r occurs more than once" % name.decode("latin-1"))
    return form_encode(found[0])


def _field_lines(r: Request, name: str) -> List[bytes]:
    nb = name.encode("latin-1")
    lines = [v.strip(b" \t") for n, v in r.headers if n == nb]
    if not lines:
        raise ValueError("covered field %r is not in the request" % name)
    return lines


def component_value(r: Request, it: SfItem) -> bytes:
    """The value (bytes) of component `it` (an SfItem from component()) in request r."""
    name, params = it.value, it.params
    if not isinstance(name, str):
        raise ValueError("a component name is a String")
    if name.startswith("@"):
        path, query = _split_target(r)
        if name == "@method":
            return r.method
        if name == "@authority":
            return _authority(r)
        if name == "@scheme":
            return r.scheme
        if name == "@target-uri":
            return r.scheme + b"://" + _authority(r) + r.target
        if name == "@request-target":
            return r.target
        if name == "@path":
            return path
        if name == "@query":
            return b"?" + (query or b"")
        qname = params.get("name")
        if not isinstance(qname, str):
            raise ValueError("@query-param takes ;name")
        return _query_param(r, qname.encode("ascii"))
    lines = _field_lines(r, name)
    if params.get("bs"):
        return b", ".join(b":" + base64.b64encode(v) + b":" for v in lines)
    if "key" in params:
        d = _parse_dict(lines)
        key = params["key"]
        if not isinstance(key, str) or key not in d:
            raise ValueError("field %r has no member %r" % (name, key))
        return serialize_member(d[key]).encode("ascii")
    if params.get("sf"):
        return serialize_field(parse_field(lines, SF_TYPES[name])).encode("ascii")
    return b", ".join(lines)


SigParams = Mapping[str, Optional[BareItem]]
"""Signature parameters (created, expires, nonce, alg, keyid, tag, ...), in the order to write
them; None values are left out."""


def signature_params(components: Iterable[Union[str, SfItem]], params: SigParams) -> InnerList:
    """The @signature-params value, i.e. the Signature-Input member: the inner list of the
    covered identifiers with the signature parameters (a dict, in the order to write them)."""
    comps = [component(c) for c in components]
    seen: Set[str] = set()
    for c in comps:
        s = serialize_item(c)
        if s in seen:
            raise ValueError("component %s covered twice" % s)
        seen.add(s)
    for k, want in (("created", int), ("expires", int), ("nonce", str), ("alg", str),
                    ("keyid", str), ("tag", str)):
        v = params.get(k)
        if v is not None and (isinstance(v, (bool, Token)) or not isinstance(v, want)):
            raise ValueError("signature parameter %s must be %s" % (
                k, "an Integer" if want is int else "a String"))
    return InnerList(comps, {k: v for k, v in params.items() if v is not None})


def signature_base(request: Request, components: Iterable[Union[str, SfItem]],
                   params: SigParams) -> bytes:
    """The RFC 9421 2.5 signature base (bytes) of a Request (see make_request) covering
    `components` (component() specs) with signature parameters `params` (a dict: created,
    expires, nonce, alg, keyid, tag, ... in the order to write them; None values are left
    out). ValueError if a component cannot be had from the request."""
    sp = signature_params(components, params)
    lines: List[bytes] = []
    for it in sp.items:
        lines.append(serialize_item(it).encode("ascii") + b": " + component_value(request, it))
    lines.append(b'"@signature-params": ' + serialize_member(sp).encode("ascii"))
    return b"\n".join(lines)


def _select(signature_input: FieldLines, label: Optional[str]) -> Tuple[str, Member]:
    """(label, member) of the signature a Signature-Input names: the one under label, or the
    only one when label is None or "". ValueError if it does not parse, if there is no such
    signature, or if there are several and no label."""
    d = _parse_dict(signature_input)
    if not label:
        if len(d) != 1:
            raise ValueError("no label and %d signatures" % len(d))
        label = next(iter(d))
    m = d.get(label)
    if m is None:
        raise ValueError("no signature %r" % label)
    return label, m


def signature_base_of(request: Request, signature_input: FieldLines,
                      label: Optional[str] = None) -> bytes:
    """The signature base (bytes) hmacd builds for the signature `label` of a Signature-Input
    value (str or bytes; label None or "": the only signature) on a Request (see
    make_request): what the daemon MACs for an rfc9421 item with these fields. For tests and
    for debugging a signer; never log it in production (it names the request). ValueError
    wherever the daemon answers MALFORMED: the field does not parse, no signature has that
    label (or there are several and no label), the member is not an inner list, a signature
    parameter has the wrong type, or a component cannot be had from the request."""
    label, m = _select(signature_input, label)
    if not isinstance(m, InnerList):
        raise ValueError("signature %r is not an inner list" % label)
    return signature_base(request, m.items, m.params)


# ---- signing ----

def content_digest(body: Union[Text, bytearray, memoryview]) -> str:
    """The RFC 9530 Content-Digest value with sha-256 of body: 'sha-256=:<base64>:'."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(b(body)).digest()).decode() + ":"


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO = _Auto()  # default of created (now) and nonce (random); None leaves them out


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()  # RFC9421Signer.sign(): the signer's own default


def _split_url(url: Text) -> Tuple[Optional[bytes], Optional[bytes], bytes]:
    """(scheme or None, authority or None, target) of an absolute URL or an origin-form
    target. The target keeps its encoding; a fragment is dropped."""
    u = b(url)
    if u.startswith(b"/"):
        return None, None, u.split(b"#", 1)[0]
    parts = urlsplit(u)
    if not parts.scheme or not parts.netloc:
        raise ValueError("url is an absolute http(s) URL or a target starting with '/'")
    netloc = parts.netloc.rpartition(b"@")[2]  # no userinfo
    target = parts.path or b"/"
    if parts.query or u.split(b"#", 1)[0].endswith(b"?"):
        target += b"?" + parts.query
    return parts.scheme.lower(), netloc, target


def sign(method: Text, url: Text, *, key: Secret, keyid: str, headers: Optional[Headers] = (),
         body: Union[Text, None] = None,
         components: Optional[Sequence[Union[str, SfItem]]] = None,
         created: Union[int, None, _Auto] = AUTO, expires: Optional[int] = None,
         nonce: Union[str, None, _Auto] = AUTO, label: str = DEFAULT_LABEL,
         tag: Optional[str] = None, alg: Optional[str] = None, authority: Optional[Text] = None,
         scheme: Optional[Text] = None,
         clock: Callable[[], float] = time.time) -> Dict[str, str]:
    """Signs a request with hmac-sha256 (RFC 9421); returns the headers to add to it:
    {"Signature-Input": ..., "Signature": ..., and "Content-Digest": ... when a body is signed}.

    method: as sent ("POST"). url: an absolute URL (scheme, authority and target are taken
    from it) or the target alone ("/path?query", exactly as it goes on the wire).
    key: the secret, 16..64 bytes, or the base64 text hmacctl prints. keyid: the key's id
    (hmacctl key create/import --keyid). headers: a mapping or (name, value) pairs, as the
    request will carry them. body: the body bytes (or str, sent as UTF-8), None for none.
    components: the identifiers to cover, in order (see component()); default "@method",
    "@authority", "@path", plus "@query" when the target has a query ('?') and
    "content-digest" when the body is not empty. A list given is covered exactly as given.
    created: unix seconds, default now (clock()); None leaves it out. expires: unix seconds or
    None. nonce: default 16 random bytes in hex; None leaves it out. label: the signature's
    name in both headers. tag: optional application tag. alg: None (left out, the usual case)
    or "hmac-sha256". authority: host[:port] when url is a target; default the Host header,
    else the URL's. scheme: "https" (default) or "http", default the URL's.

    Content-Digest: when the body is not empty, or is given and "content-digest" is covered,
    sign() computes its sha-256 Content-Digest and returns it (send it; it is covered by
    default, and whenever components name it); the headers must not hold one then. Without a
    body, a covered content-digest comes from the headers. ValueError for anything the daemon
    would refuse as MALFORMED."""
    secret = decode_secret(key)
    u_scheme, u_auth, target = _split_url(url)
    pairs = _pairs(headers)
    host = [v for n, v in pairs if n == b"host"]
    if authority is None:
        if len(host) > 1:
            raise ValueError("several Host headers")
        authority = host[0] if host else u_auth
    if authority is None:
        raise ValueError("no authority: give an absolute URL, a Host header or authority=")
    scheme = b(scheme) if scheme is not None else (u_scheme or b"https")
    comps = None if components is None else [component(c) for c in components]
    covers_digest = comps is not None and any(
        c.value == "content-digest" for c in comps)
    body_b = None if body is None else b(body)
    digest = None
    if body_b is not None and (body_b or covers_digest):
        if any(n == b"content-digest" for n, _ in pairs):
            raise ValueError("sign() writes Content-Digest itself when it signs a body: "
                             "leave it out of headers")
        digest = content_digest(body_b)
        pairs.append((b"content-digest", digest.encode("ascii")))
    if comps is None:
        comps = [component(c) for c in ("@method", "@authority", "@path")]
        if b"?" in target:
            comps.append(component("@query"))
        if body_b:
            comps.append(component("content-digest"))
    if alg is not None and alg != ALG:
        raise ValueError("only hmac-sha256 is supported")
    if isinstance(created, _Auto):
        created = int(clock())
    if isinstance(nonce, _Auto):
        nonce = os.urandom(16).hex()
    _check_key(label)
    params: Dict[str, Optional[BareItem]] = {
        "created": created, "expires": expires, "nonce": nonce, "alg": alg, "keyid": keyid,
        "tag": tag}
    if not isinstance(keyid, str) or not keyid:
        raise ValueError("keyid is a non-empty str")
    req = make_request(method, authority, target, pairs, scheme)
    sp = signature_params(comps, params)
    base = signature_base(req, comps, params)
    mac = hmac.new(secret, base, hashlib.sha256).digest()
    out = {"Signature-Input": label + "=" + serialize_member(sp),
           "Signature": label + "=" + serialize_bare(mac)}
    if digest is not None:
        out["Content-Digest"] = digest
    return out


class RFC9421Signer:
    """sign() with a fixed key, keyid and defaults (components, label, tag, alg).

        signer = RFC9421Signer(keyid="web-01-k1", key=secret)
        headers.update(signer.sign("POST", url, headers=headers, body=body))"""

    def __init__(self, keyid: str, key: Secret, *,
                 components: Optional[Sequence[Union[str, SfItem]]] = None,
                 label: str = DEFAULT_LABEL, tag: Optional[str] = None, alg: Optional[str] = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.keyid = keyid
        self._key = decode_secret(key)
        self.components = components
        self.label = label
        self.tag = tag
        self.alg = alg
        self._clock = clock

    def __repr__(self) -> str:
        return "RFC9421Signer(keyid=%r)" % self.keyid  # never the key

    def sign(self, method: Text, url: Text, *, headers: Optional[Headers] = (),
             body: Union[Text, None] = None,
             components: Union[Sequence[Union[str, SfItem]], None, _Unset] = UNSET,
             created: Union[int, None, _Auto] = AUTO, expires: Optional[int] = None,
             nonce: Union[str, None, _Auto] = AUTO, label: Union[str, _Unset] = UNSET,
             tag: Union[str, None, _Unset] = UNSET, alg: Union[str, None, _Unset] = UNSET,
             authority: Optional[Text] = None, scheme: Optional[Text] = None,
             clock: Union[Callable[[], float], _Unset] = UNSET) -> Dict[str, str]:
        """sign() with this signer's key and keyid; components, label, tag, alg and clock
        default to the signer's."""
        return sign(method, url, key=self._key, keyid=self.keyid, headers=headers, body=body,
                    components=self.components if isinstance(components, _Unset) else components,
                    created=created, expires=expires, nonce=nonce,
                    label=self.label if isinstance(label, _Unset) else label,
                    tag=self.tag if isinstance(tag, _Unset) else tag,
                    alg=self.alg if isinstance(alg, _Unset) else alg,
                    authority=authority, scheme=scheme,
                    clock=self._clock if isinstance(clock, _Unset) else clock)


# ---- reading a Signature-Input (for the middleware's report of what it verified) ----

class SignatureInfo(TypedDict):
    """signature_info()'s answer. A parameter that is absent, or not of the type RFC 9421
    gives it (the daemon answers MALFORMED to those), is None."""

    label: str
    covered: List[str]
    created: Optional[int]
    expires: Optional[int]
    nonce: Optional[str]
    keyid: Optional[str]
    tag: Optional[str]
    alg: Optional[str]


def _int_param(v: Optional[BareItem]) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _str_param(v: Optional[BareItem]) -> Optional[str]:
    return str(v) if isinstance(v, str) and not isinstance(v, Token) else None


def signature_info(signature_input: FieldLines, label: Optional[str] = None) -> SignatureInfo:
    """What a verified request's Signature-Input says about the chosen signature: label,
    covered (serialized identifiers), created, expires, nonce, keyid, tag, alg (None when
    absent). ValueError if it does not parse or the label is absent or ambiguous."""
    label, m = _select(signature_input, label)
    if not isinstance(m, InnerList):
        raise ValueError("no signature %r" % label)
    p = m.params
    return SignatureInfo(label=label, covered=[serialize_item(i) for i in m.items],
                         created=_int_param(p.get("created")),
                         expires=_int_param(p.get("expires")),
                         nonce=_str_param(p.get("nonce")), keyid=_str_param(p.get("keyid")),
                         tag=_str_param(p.get("tag")), alg=_str_param(p.get("alg")))
