"""test_rfc9421.py - the RFC 9421 signer (hmacd.rfc9421) without a daemon: the RFC's own
examples byte for byte, every derived component and field form (the expected lines are the
ones tests/unit/test_sigbase.c pins down for the daemon's builder, so both sides agree), the
RFC 8941 parser and serializer, the refusals, the rfc9421 wire item, and the items the WSGI and
ASGI middleware build from a request (with a client that records them; test_rfc9421_daemon.py
sends real ones to the real daemon).
"""

import asyncio
import base64
import hashlib
import hmac
import io

import msgpack
import pytest

from helpers import (RFC_B2_BODY, RFC_B2_HEADERS, RFC_B2_TARGET, RFC_B25_BASE,
                     RFC_B25_COMPONENTS, RFC_B25_INPUT, RFC_B25_SIGNATURE, RFC_SHARED_SECRET_B64)
from hmacd import RFC9421Item, RFC9421Signer, Verdict
from hmacd.asgi import HmacdASGIMiddleware
from hmacd.rfc9421 import (KIND_DICT, KIND_ITEM, KIND_LIST, Decimal, InnerList, SfItem, Token,
                           component, content_digest, make_request, parse_field,
                           serialize_field, sign, signature_base, signature_info)
from hmacd.wire import pack_item
from hmacd.wsgi import HmacdWSGIMiddleware

# ---- RFC 9421 Appendix B.2 (the values of tests/unit/test_sigbase.c, in helpers.py) ----

B2_HEADERS = RFC_B2_HEADERS
B2_TARGET = RFC_B2_TARGET
B2_BODY = RFC_B2_BODY
B25_INPUT = RFC_B25_INPUT
B25_SIGNATURE = RFC_B25_SIGNATURE
B25_BASE = RFC_B25_BASE
SHARED_SECRET_B64 = RFC_SHARED_SECRET_B64
B25_COMPONENTS = RFC_B25_COMPONENTS


def b2_request(**over):
    f = dict(method="POST", authority="example.com", target=B2_TARGET, headers=B2_HEADERS,
             scheme="https")
    f.update(over)
    return make_request(f["method"], f["authority"], f["target"], f["headers"], f["scheme"])


def test_rfc_b25_base_and_signature():
    params = {"created": 1618884473, "keyid": "test-shared-secret"}
    assert signature_base(b2_request(), B25_COMPONENTS, params) == B25_BASE
    key = base64.b64decode(SHARED_SECRET_B64)
    assert len(key) == 64
    mac = hmac.new(key, B25_BASE, hashlib.sha256).digest()
    assert "sig-b25=:%s:" % base64.b64encode(mac).decode() == B25_SIGNATURE

    h = sign("POST", B2_TARGET, key=SHARED_SECRET_B64, keyid="test-shared-secret",
             headers=B2_HEADERS, components=B25_COMPONENTS, created=1618884473, nonce=None,
             label="sig-b25")
    assert h == {"Signature-Input": B25_INPUT, "Signature": B25_SIGNATURE}
    # the same from an absolute URL and raw key bytes, and through RFC9421Signer
    h2 = sign("POST", "https://example.com" + B2_TARGET, key=key, keyid="test-shared-secret",
              headers=[x for x in B2_HEADERS if x[0] != "host"], components=B25_COMPONENTS,
              created=1618884473, nonce=None, label="sig-b25")
    assert h2 == h
    s = RFC9421Signer("test-shared-secret", key, components=B25_COMPONENTS, label="sig-b25")
    assert "uzvJ" not in repr(s)
    assert s.sign("POST", B2_TARGET, headers=B2_HEADERS, created=1618884473, nonce=None) == h


def test_rfc_b26_and_b4_ed25519_bases():
    """The RFC's Ed25519 examples check the base (@method, @path, content-length, joined
    repeated fields) with the RFC's public key, when python3-cryptography is there."""
    ed = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    pub = ed.Ed25519PublicKey.from_public_bytes(bytes.fromhex(
        "26b40b8f93fff3d897112f7ebc582b232dbd72517d082fe83cfb30ddce43d1bb"))
    base = signature_base(
        b2_request(), ["date", "@method", "@path", "@authority", "content-type",
                       "content-length"],
        {"created": 1618884473, "keyid": "test-key-ed25519"})
    pub.verify(base64.b64decode("wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPi"
                                "u4A0w6vuQv5lIp5WPpBKRCw=="), base)
    b4 = make_request("GET", "example.org", "/demo?name1=Value1&Name2=value2",
                      [("host", "example.org"), ("date", "Fri, 15 Jul 2022 14:24:55 GMT"),
                       ("accept", "application/json"), ("accept", "*/*")])
    base = signature_base(b4, ["@method", "@path", "@authority", "accept"],
                          {"created": 1618884473, "keyid": "test-key-ed25519"})
    pub.verify(base64.b64decode("ZT1kooQsEHpZ0I1IjCqtQppOmIqlJPeo7DHR3SoMn0s5JZ1eRGS0A+vyYP9t/LX"
                                "lh5QMFFQ6cpLt2m0pmj3NDA=="), base)


def test_content_digest_rfc9530_example():
    # RFC 9530 section 2 (and B.2's body)
    assert content_digest(B2_BODY) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"


# ---- one line per component (the expectations of test_sigbase.c) ----

def line(r, comp):
    """The base line of one component (without the @signature-params line)."""
    base = signature_base(r, [comp], {})
    first, last = base.rsplit(b"\n", 1)
    assert last.startswith(b'"@signature-params": (')
    return first.decode("utf-8")


def test_derived_components():
    r = b2_request()
    assert line(r, "@method") == '"@method": POST'
    assert line(r, "@target-uri") == '"@target-uri": https://example.com/foo?param=Value&Pet=dog'
    assert line(r, "@authority") == '"@authority": example.com'
    assert line(r, "@scheme") == '"@scheme": https'
    assert line(r, "@request-target") == '"@request-target": /foo?param=Value&Pet=dog'
    assert line(r, "@path") == '"@path": /foo'
    assert line(r, "@query") == '"@query": ?param=Value&Pet=dog'
    assert line(r, "@query-param;name=Pet") == '"@query-param";name="Pet": dog'
    assert line(r, '@query-param;name="param"') == '"@query-param";name="param": Value'
    assert line(r, '"@query-param";name="param"') == '"@query-param";name="param": Value'

    assert line(b2_request(method="get"), "@method") == '"@method": get'
    assert line(b2_request(scheme="HTTP"), "@scheme") == '"@scheme": http'
    http = dict(scheme="http")
    assert line(b2_request(authority="Example.COM:80", **http), "@authority") == \
        '"@authority": example.com'
    assert line(b2_request(authority="Example.COM:80", **http), "@target-uri") == \
        '"@target-uri": http://example.com/foo?param=Value&Pet=dog'
    assert line(b2_request(authority="example.com:443", **http), "@authority") == \
        '"@authority": example.com:443'
    for a, want in (("example.com:443", "example.com"), ("example.com:", "example.com"),
                    ("example.com:8443", "example.com:8443"), ("[::1]:443", "[::1]"),
                    ("[::1]", "[::1]")):
        assert line(b2_request(authority=a), "@authority") == '"@authority": ' + want

    r = b2_request(target="/a%2Fb/c")
    assert line(r, "@query") == '"@query": ?'
    assert line(r, "@path") == '"@path": /a%2Fb/c'
    r = b2_request(target="/x?")
    assert line(r, "@query") == '"@query": ?'
    assert line(r, "@path") == '"@path": /x'


def test_query_param():
    r = b2_request(target="/parameters?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace"
                          "&fa%C3%A7ade%22%3A%20=something")
    assert line(r, "@query-param;name=var") == \
        '"@query-param";name="var": this%20is%20a%20big%0Avalue'
    assert line(r, "@query-param;name=bar") == \
        '"@query-param";name="bar": with%20plus%20whitespace'
    assert line(r, "@query-param;name=fa%C3%A7ade%22%3A%20") == \
        '"@query-param";name="fa%C3%A7ade%22%3A%20": something'
    r = b2_request(target="/p?&a=&b&&c=x%2a%7e-._!'()~%zz%4")
    assert line(r, "@query-param;name=a") == '"@query-param";name="a": '
    assert line(r, "@query-param;name=b") == '"@query-param";name="b": '
    assert line(r, "@query-param;name=c") == \
        '"@query-param";name="c": x*%7E-._%21%27%28%29%7E%25zz%254'
    assert line(b2_request(target="/p?k=a=b"), "@query-param;name=k") == \
        '"@query-param";name="k": a%3Db'
    assert line(b2_request(target="/p?a=1&A=2"), "@query-param;name=a") == \
        '"@query-param";name="a": 1'
    assert line(b2_request(target="/p?a=%F0%9F%98%80"), "@query-param;name=a") == \
        '"@query-param";name="a": %F0%9F%98%80'
    for target, name, why in (("/p?a=1&a=2", "a", "more than once"),
                              ("/p?a=1", "b", "not in the query"),
                              ("/p?a=1", "a%3D", "not in the query"),
                              ("/p", "a", "not in the query"),
                              ("/p?a=%FF", "a", "UTF-8"),
                              ("/p?a=%C3%A7%ED%A0%80", "a", "UTF-8")):
        with pytest.raises(ValueError, match=why):
            signature_base(b2_request(target=target), ["@query-param;name=" + name], {})


FIELDS = [
    ("accept", "  application/json \t"),
    ("x-empty", ""),
    ("Accept", "*/*"),
    ("example-header", "value, with, lots"),
    ("example-header", "of, commas"),
    ("example-dict", " a=1, b=2;x=1;y=2, c=(a   b    c), d"),
    ("signature-input", 'a=( "x"  "y" );created=1'),
    ("priority", "u=1"),
    ("priority", " i , u=2"),
]


def test_fields():
    r = make_request("GET", "example.com", "/", FIELDS)
    assert line(r, "accept") == '"accept": application/json, */*'
    assert line(r, "Accept") == '"accept": application/json, */*'  # names are lower-cased
    assert line(r, "x-empty") == '"x-empty": '
    assert line(r, "example-header") == '"example-header": value, with, lots, of, commas'
    assert line(r, "example-header;bs") == \
        '"example-header";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:'
    assert line(r, "x-empty;bs") == '"x-empty";bs: ::'
    assert line(r, 'example-dict;key="a"') == '"example-dict";key="a": 1'
    assert line(r, "example-dict;key=d") == '"example-dict";key="d": ?1'
    assert line(r, "example-dict;key=b") == '"example-dict";key="b": 2;x=1;y=2'
    assert line(r, "example-dict;key=c") == '"example-dict";key="c": (a b c)'
    assert line(r, "signature-input;sf") == '"signature-input";sf: a=("x" "y");created=1'
    assert line(r, "priority;sf") == '"priority";sf: u=2, i'
    assert line(r, "priority;key=u") == '"priority";key="u": 2'
    assert line(r, "priority;key=i") == '"priority";key="i": ?1'
    assert signature_base(r, ["accept", "accept;bs"], {}) == (
        b'"accept": application/json, */*\n'
        b'"accept";bs: :YXBwbGljYXRpb24vanNvbg==:, :Ki8q:\n'
        b'"@signature-params": ("accept" "accept";bs)')
    two = make_request("GET", "example.com", "/", [("priority", "u=1"), ("priority", "i")])
    assert signature_base(two, ["priority;sf", "priority;bs"], {}) == (
        b'"priority";sf: u=1, i\n"priority";bs: :dT0x:, :aQ==:\n'
        b'"@signature-params": ("priority";sf "priority";bs)')
    # content-digest;sf re-serializes (padding added back)
    cd = make_request("POST", "h", "/", [("content-digest", "sha-256=:AAAA:, sha-512=:AA:")])
    assert line(cd, "content-digest;sf") == '"content-digest";sf: sha-256=:AAAA:, sha-512=:AA==:'


@pytest.mark.parametrize("comp, why", [
    ("example-dict;sf", "unknown structured type"),
    ("example-dict;key=z", "no member"),
    ("accept;key=a", "structured field"),
    ("example-header;key=a", "no member"),
    ("example-dict;key=a;bs", ";bs with"),
    ("signature-input;sf;bs", ";bs with"),
    ("x-missing", "not in the request"),
    ("x-missing;bs", "not in the request"),
    ("content-digest;sf", "not in the request"),
    ("accept;name=a", ";name is for"),
    ("accept;req", "unknown or misplaced"),
    ("accept;tr", "unknown or misplaced"),
    ("accept;sf=?0", "unknown or misplaced"),
    ('"Accept"', "bad field name"),
    ("acc ept", "bad field name"),
    ("", "non-empty"),
    ("@foo", "unknown derived"),
    ("@Method", "unknown derived"),
    ("@status", "responses"),
    ("@signature-params", "never a covered"),
    ("@method;sf", "no parameter"),
    ("@method;bs", "no parameter"),
    ("@path;name=x", "no parameter"),
    ("@query-param", "exactly ;name"),
])
def test_component_refusals(comp, why):
    r = make_request("GET", "example.com", "/", FIELDS)
    with pytest.raises(ValueError, match=why):
        signature_base(r, [comp], {})


def test_base_refusals():
    r = b2_request()
    for comps in (["@method", "@method"], ["date", "@path", "date"],
                  ["@query-param;name=Pet", '"@query-param";name="Pet"']):
        with pytest.raises(ValueError, match="twice"):
            signature_base(r, comps, {})
    for params in ({"created": "1"}, {"keyid": Token("k")}, {"nonce": 1}, {"created": True}):
        with pytest.raises(ValueError, match="signature parameter"):
            signature_base(r, ["@method"], params)
    # an empty inner list is legal: the base is the params line alone
    assert signature_base(r, [], {"created": 1, "alg": "hmac-sha256", "x": False}) == \
        b'"@signature-params": ();created=1;alg="hmac-sha256";x=?0'
    for bad in (dict(headers=[("date", "a\nb")]), dict(target="foo"), dict(method=""),
                dict(scheme="ftp"), dict(target="/a b"), dict(authority="")):
        with pytest.raises(ValueError):
            b2_request(**bad)
    # a tab inside a value is fine (stripped at the ends)
    assert line(make_request("GET", "h", "/", [("x", "\ta\tb ")]), "x") == '"x": a\tb'


# ---- RFC 8941 ----

def test_structured_fields_round_trip():
    cases = [
        ("a=1, b=2;x=1;y=2, c=(a b c), d", KIND_DICT, None),
        ('sig1=("@method" "@path");created=1;keyid="k\\"1"', KIND_DICT, None),
        ("a=?0, b, c;foo=bar", KIND_DICT, None),
        ("1.5, -2, 3.125, 0.0, -0.5, *tok/en:x", KIND_LIST, None),
        ("(), (1 2);a, :AAEC:", KIND_LIST, None),
        ("  a=1,b=2\t,   c=3  ", KIND_DICT, "a=1, b=2, c=3"),
        ("a=1.50, b=:AAE:", KIND_DICT, "a=1.5, b=:AAE=:"),
        ("a=1, b=2, a=3", KIND_DICT, "a=3, b=2"),
        ("x;a=1;b=2;a=3", KIND_ITEM, "x;a=3;b=2"),
        ("", KIND_DICT, ""),
    ]
    for text, kind, want in cases:
        assert serialize_field(parse_field(text, kind)) == (text if want is None else want)
    d = parse_field('sig1=("@method" "x";sf);created=1618884473;keyid="k"', KIND_DICT)
    m = d["sig1"]
    assert isinstance(m, InnerList) and m.params == {"created": 1618884473, "keyid": "k"}
    assert m.items == [SfItem("@method", {}), SfItem("x", {"sf": True})]
    assert parse_field("1.25", KIND_ITEM) == SfItem(Decimal(1250), {})
    assert parse_field("tok", KIND_ITEM).value == Token("tok")
    assert parse_field(":aGk=:", KIND_ITEM).value == b"hi"
    # lines parsed as their ", " join would be
    assert serialize_field(parse_field(["u=1", "i, u=2"], KIND_DICT)) == "u=2, i"
    assert serialize_field(parse_field(["1", "2"], KIND_LIST)) == "1, 2"


@pytest.mark.parametrize("text, kind", [
    ("a=1,", KIND_DICT), ("a=1 b=2", KIND_DICT), ("A=1", KIND_DICT), ("a=(1 2", KIND_DICT),
    ("a=(1,2)", KIND_DICT), ('a="x', KIND_DICT), ('a="\\x"', KIND_DICT), ('a="\x01"', KIND_DICT),
    ("a=:AAF:", KIND_DICT), ("a=:AB:", KIND_DICT),  # non-zero pad bits
    ("a=:AA=A:", KIND_DICT), ("a=:A:", KIND_DICT), ("a=:AA:x", KIND_DICT),
    ("a=1234567890123456", KIND_DICT), ("a=1234567890123.5", KIND_DICT), ("a=1.2345", KIND_DICT),
    ("a=1.", KIND_DICT), ("a=-", KIND_DICT), ("a=?2", KIND_DICT), ("a=@", KIND_DICT),
    ("", KIND_ITEM), ("(1)", KIND_ITEM), ("1 2", KIND_ITEM), ("1,", KIND_LIST),
    (["a=1", ""], KIND_DICT), (["", "a=1"], KIND_DICT), (['a="x', 'y"'], KIND_DICT),
    (["1", "2"], KIND_ITEM),
])
def test_structured_field_refusals(text, kind):
    with pytest.raises(ValueError):
        parse_field(text, kind)


def test_component_forms():
    assert component('@query-param;name="id"') == component("@query-param;name=id") == \
        component('"@query-param";name="id"') == SfItem("@query-param", {"name": "id"})
    assert component("Content-Digest;sf") == SfItem("content-digest", {"sf": True})
    assert signature_info('a=("@method" "x";bs);created=5;nonce="n";keyid="k"') == {
        "label": "a", "covered": ['"@method"', '"x";bs'], "created": 5, "expires": None,
        "nonce": "n", "keyid": "k", "tag": None, "alg": None}
    with pytest.raises(ValueError):
        signature_info('a=("@method"), b=("@path")')
    assert signature_info('a=("@method"), b=("@path")', "b")["covered"] == ['"@path"']


# ---- sign() ----

KEY = bytes(range(32))


def verify_locally(h, method, target, headers, label="sig1", scheme="https"):
    """Recomputes the signature from the returned Signature-Input (the daemon's job; here only
    to check sign() against its own base)."""
    d = parse_field(h["Signature-Input"], KIND_DICT)
    m = d[label]
    comps = [i for i in m.items]
    req = make_request(method, dict((n.lower(), v) for n, v in headers)["host"], target,
                       headers, scheme)
    base = signature_base(req, comps, m.params)
    want = parse_field(h["Signature"], KIND_DICT)[label].value
    return hmac.compare_digest(hmac.new(KEY, base, hashlib.sha256).digest(), want)


def test_sign_defaults():
    body = b'{"cmd":["ls"]}'
    headers = [("Host", "api.example.com"), ("Content-Type", "application/json")]
    h = sign("POST", "/containers/web-01/exec?tty=1", key=KEY, keyid="k1", headers=headers,
             body=body, clock=lambda: 1700000000.7)
    assert set(h) == {"Signature-Input", "Signature", "Content-Digest"}
    assert h["Content-Digest"] == content_digest(body)
    info = signature_info(h["Signature-Input"])
    assert info["label"] == "sig1" and info["keyid"] == "k1" and info["created"] == 1700000000
    # the target has a query: @query is covered, after @path
    assert info["covered"] == ['"@method"', '"@authority"', '"@path"', '"@query"',
                               '"content-digest"']
    assert len(info["nonce"]) == 32 and int(info["nonce"], 16) >= 0
    assert h["Signature-Input"].startswith(
        'sig1=("@method" "@authority" "@path" "@query" "content-digest");created=1700000000;'
        'nonce="')
    assert h["Signature-Input"].endswith('";keyid="k1"')
    all_headers = headers + [("Content-Digest", h["Content-Digest"])]
    assert verify_locally(h, "POST", "/containers/web-01/exec?tty=1", all_headers)
    # a second signature has another nonce
    assert signature_info(sign("POST", "/", key=KEY, keyid="k1", headers=headers)
                          ["Signature-Input"])["nonce"] != info["nonce"]


def test_sign_covers_the_query_by_default():
    def covered(target, **kw):
        h = sign("POST", target, key=KEY, keyid="k1", authority="api.example.com", **kw)
        return signature_info(h["Signature-Input"])["covered"]

    default_q = ['"@method"', '"@authority"', '"@path"', '"@query"']
    assert covered("/containers/web-01/exec?force=true") == default_q
    assert covered("https://api.example.com/containers/web-01/exec?force=true") == default_q
    assert covered("/containers/web-01/exec?") == default_q          # '?' with an empty query
    assert covered("/containers/web-01/exec") == ['"@method"', '"@authority"', '"@path"']
    assert covered("/containers/web-01/exec?force=true", body=b"x") == default_q + [
        '"content-digest"']
    assert RFC9421Signer("k1", KEY).sign("GET", "/x?y=1", authority="h")["Signature-Input"] \
        .startswith('sig1=("@method" "@authority" "@path" "@query");')
    # an explicit list is covered as given, the query left out if the caller leaves it out
    assert covered("/containers/web-01/exec?force=true",
                   components=["@method", "@authority", "@path"]) == [
        '"@method"', '"@authority"', '"@path"']
    # the default covers the query's value: another query, another base
    h = sign("POST", "/c?force=true", key=KEY, keyid="k1", authority="h", created=1, nonce="n")
    hdrs = [("host", "h")]
    assert verify_locally(h, "POST", "/c?force=true", hdrs)
    assert not verify_locally(h, "POST", "/c?force=false", hdrs)


def test_sign_options():
    headers = [("host", "h.example"), ("x-a", "1")]
    h = sign("GET", "http://H.example:80/p?q=1", key=base64.b64encode(KEY).decode(),
             keyid="k/2", components=["@method", "@target-uri", "@scheme", "x-a"],
             created=None, nonce=None, expires=20, label="s2", tag="app", alg="hmac-sha256",
             headers=[("x-a", "1")])
    assert set(h) == {"Signature-Input", "Signature"}   # no body, no Content-Digest
    assert h["Signature-Input"] == ('s2=("@method" "@target-uri" "@scheme" "x-a");expires=20'
                                    ';alg="hmac-sha256";keyid="k/2";tag="app"')
    assert verify_locally(h, "GET", "/p?q=1", headers, label="s2", scheme="http")
    # an empty body covered explicitly gets a digest; a body with no default coverage too
    h = sign("POST", "https://h/", key=KEY, keyid="k", body=b"",
             components=["@method", "content-digest"])
    assert h["Content-Digest"] == content_digest(b"")
    h = sign("POST", "https://h/", key=KEY, keyid="k", body=b"x", components=["@method"])
    assert h["Content-Digest"] == content_digest(b"x")
    # without a body, a covered content-digest is the caller's header
    h = sign("POST", "https://h/", key=KEY, keyid="k", components=["content-digest"],
             headers={"Content-Digest": "sha-512=:AA==:"})
    assert "Content-Digest" not in h
    for bad in (dict(alg="hmac-sha512"), dict(label="Sig"), dict(keyid=""),
                dict(body=b"x", headers={"content-digest": "x"}), dict(key=b"short"),
                dict(components=["x-missing"]), dict(keyid="k\u00e9")):
        kw = dict(key=KEY, keyid="k")
        kw.update(bad)
        with pytest.raises(ValueError):
            sign("POST", "https://h/", **kw)
    with pytest.raises(ValueError, match="authority"):
        sign("GET", "/p", key=KEY, keyid="k")
    assert sign("GET", "/p", key=KEY, keyid="k", authority="a.example")["Signature"]


# ---- the wire item ----

def test_pack_rfc9421_item():
    it = RFC9421Item(tenant="acme", container="web-01", method="POST", authority="h",
                     path="/x?y", headers=[("host", "h"), (b"x-b", b"\xff")],
                     signature_input="sig1=()", signature="sig1=:AA==:")
    m = msgpack.unpackb(pack_item(it), raw=True)
    assert list(m) == [b"scheme", b"tenant", b"container", b"method", b"authority", b"path",
                       b"headers", b"signature_input", b"signature", b"body"]
    assert m[b"scheme"] == b"rfc9421" and m[b"headers"] == [[b"host", b"h"], [b"x-b", b"\xff"]]
    # the body is always sent, an empty one (b"" or None) too: a covered digest is checked
    assert m[b"body"] == b""
    it.body = None
    assert msgpack.unpackb(pack_item(it), raw=True)[b"body"] == b""
    it.uri_scheme, it.label, it.body = "http", "sig1", b"\x00body"
    it.headers = []
    m = msgpack.unpackb(pack_item(it), raw=False)
    assert list(m) == ["scheme", "tenant", "container", "method", "authority", "path",
                       "uri_scheme", "headers", "signature_input", "signature", "label", "body"]
    assert m["body"] == b"\x00body" and m["uri_scheme"] == "http" and m["label"] == "sig1"
    assert Verdict(8) is Verdict.INSUFFICIENT_COVERAGE


# ---- what the middleware sends (a recording client) ----

class Recorder:
    def __init__(self, verdict=Verdict.OK):
        self.items = []
        self.verdict = verdict

    def verify(self, item):
        self.items.append(item)
        return self.verdict


class AsyncRecorder(Recorder):
    async def verify(self, item):
        return Recorder.verify(self, item)


def _wsgi(mw, environ):
    status = []
    out = b"".join(mw(environ, lambda s, h: status.append(s)))
    return int(status[0].split()[0]), out


def _environ(target, headers, body=b"", method="POST"):
    path, _, qs = target.partition("?")
    env = {"REQUEST_METHOD": method, "RAW_URI": target, "PATH_INFO": path, "QUERY_STRING": qs,
           "SERVER_NAME": "srv", "SERVER_PORT": "8080", "wsgi.input": io.BytesIO(body),
           "CONTENT_TYPE": "", "CONTENT_LENGTH": str(len(body)) if body else ""}
    for n, v in headers:
        key = n.upper().replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
        env[key] = v
    return env


def _signed_headers(body=b'{"a":1}'):
    h = [("Host", "api.example.com"), ("X-Tenant", "acme"), ("Content-Type", "application/json"),
         ("Content-Length", str(len(body)))]
    sig = sign("POST", "/containers/web-01/exec?tty=1", key=KEY, keyid="k1", headers=h,
               body=body)
    return h + list(sig.items())


def test_wsgi_builds_the_rfc9421_item():
    seen = []

    def inner(environ, start_response):
        seen.append(environ["hmacd"])
        start_response("200 OK", [])
        return [environ["wsgi.input"].read()]

    rec = Recorder()
    mw = HmacdWSGIMiddleware(inner, rec, container_pattern=r"/containers/(?P<id>[^/]+)/exec",
                             label="sig1")
    body = b'{"a":1}'
    headers = _signed_headers(body)
    assert _wsgi(mw, _environ("/containers/web-01/exec?tty=1", headers, body)) == (200, body)
    (it,) = rec.items
    assert isinstance(it, RFC9421Item)
    assert (it.tenant, it.container, it.method, it.authority, it.path) == (
        "acme", "web-01", "POST", b"api.example.com", b"/containers/web-01/exec?tty=1")
    assert it.uri_scheme == "http" and it.label == "sig1" and it.body == body  # the connection's
    sent = dict(headers)
    assert it.signature_input == sent["Signature-Input"].encode()
    assert it.signature == sent["Signature"].encode()
    names = [n for n, _ in it.headers]
    assert sorted(names) == sorted(n.lower().encode() for n, _ in headers)
    assert dict(it.headers)[b"content-digest"] == sent["Content-Digest"].encode()
    who = seen[0]
    assert who["scheme"] == "rfc9421" and who["tenant"] == "acme" and who["keyid"] == "k1"
    assert who["covered"] == ['"@method"', '"@authority"', '"@path"', '"@query"',
                              '"content-digest"']

    # tenant_from and uri_scheme options; no Host: SERVER_NAME:SERVER_PORT
    rec = Recorder()
    mw = HmacdWSGIMiddleware(inner, rec, container_from=lambda e: "c1",
                             tenant_from=lambda e: "other", uri_scheme=lambda e: "http")
    env = _environ("/x", [(n, v) for n, v in headers if n != "Host"], body)
    assert _wsgi(mw, env)[0] == 200
    assert rec.items[0].tenant == "other" and rec.items[0].uri_scheme == "http"
    assert rec.items[0].authority == b"srv:8080" and rec.items[0].label is None
    # a GET with no body: the empty body is sent, no empty content-type/content-length headers
    rec = Recorder()
    mw = HmacdWSGIMiddleware(inner, rec, container_from=lambda e: "c1")
    env = _environ("/x", [("Host", "h"), ("X-Tenant", "t"), ("Signature-Input", "s=()"),
                          ("Signature", "s=:AA==:")], method="GET")
    assert _wsgi(mw, env)[0] == 200
    assert rec.items[0].body == b""
    assert [n for n, _ in rec.items[0].headers] == [b"host", b"x-tenant", b"signature-input",
                                                    b"signature"]


@pytest.mark.parametrize("change, reason", [
    (lambda h: h + [("Authorization", "HMACD-V1 Tenant=acme")], "BOTH_SCHEMES"),
    (lambda h: [x for x in h if x[0] != "X-Tenant"], "NO_TENANT"),
    (lambda h: [x if x[0] != "X-Tenant" else ("X-Tenant", "a b") for x in h], "BAD_TENANT"),
    (lambda h: [x for x in h if x[0] != "Signature"], "NO_SIGNATURE"),
])
def test_middleware_refuses_before_asking(change, reason, caplog):
    headers = change(_signed_headers())
    rec = Recorder()
    mw = HmacdWSGIMiddleware(None, rec, container_from=lambda e: "web-01")
    status, out = _wsgi(mw, _environ("/containers/web-01/exec", headers, b'{"a":1}'))
    assert (status, out) == (401, b'{"error":"unauthorized"}')
    assert rec.items == [] and reason in caplog.text

    arec = AsyncRecorder()
    amw = HmacdASGIMiddleware(None, arec, container_from=lambda s: "web-01")
    sent = _asgi(amw, _scope("/containers/web-01/exec", headers), b'{"a":1}')
    assert sent[0]["status"] == 401 and arec.items == []


def test_a_verdict_other_than_ok_is_401(caplog):
    rec = Recorder(Verdict.INSUFFICIENT_COVERAGE)
    mw = HmacdWSGIMiddleware(None, rec, container_from=lambda e: "web-01")
    status, _ = _wsgi(mw, _environ("/containers/web-01/exec", _signed_headers(), b'{"a":1}'))
    assert status == 401 and "INSUFFICIENT_COVERAGE" in caplog.text


def _scope(target, headers, method="POST"):
    path, _, qs = target.partition("?")
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
            "query_string": qs.encode(), "server": ("::1", 8443),
            "headers": [(n.lower().encode(), v.encode()) for n, v in headers]}


def _asgi(mw, scope, body=b""):
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(m):
        sent.append(m)
    asyncio.run(mw(scope, receive, send))
    return sent


def test_asgi_builds_the_rfc9421_item():
    seen = []

    async def inner(scope, receive, send):
        seen.append((scope["hmacd"], (await receive())["body"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    body = b'{"a":1}'
    headers = _signed_headers(body)
    headers.insert(1, ("Accept", "a"))
    headers.append(("accept", "b"))
    for rec in (AsyncRecorder(), Recorder()):
        mw = HmacdASGIMiddleware(inner, rec)
        scope = dict(_scope("/containers/web-01/exec?tty=1", headers),
                     path_params={"id": "web-01"})
        assert _asgi(mw, scope, body)[0]["status"] == 204
        (it,) = rec.items
        assert (it.tenant, it.container, it.method, it.authority, it.path, it.body) == (
            "acme", "web-01", "POST", b"api.example.com", b"/containers/web-01/exec?tty=1",
            body)
        # every header, in arrival order, repeats kept
        assert it.headers == [(n.lower().encode(), v.encode()) for n, v in headers]
        assert it.uri_scheme == "http" and it.label is None  # no scope["scheme"]: http
    assert seen[0][0]["scheme"] == "rfc9421" and seen[0][1] == body
    # no Host: the server address
    rec = AsyncRecorder()
    mw = HmacdASGIMiddleware(inner, rec, container_from=lambda s: "c", uri_scheme="http")
    _asgi(mw, _scope("/", [(n, v) for n, v in headers if n != "Host"]), body)
    assert rec.items[0].authority == b"[::1]:8443" and rec.items[0].uri_scheme == "http"
    # no body: the empty body is sent
    _asgi(mw, _scope("/", headers), b"")
    assert rec.items[1].body == b""
    with pytest.raises(ValueError):
        HmacdASGIMiddleware(inner, rec, uri_scheme="ftp")
