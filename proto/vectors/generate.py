#!/usr/bin/python3
"""generate.py - writes proto/vectors/hmacd-v1.json, the shared hmacd-v1 test vectors.

Every signer, parser and middleware of hmacd (C, Go, Python, Node) checks itself against the file
this script writes, so it implements the canonical string (PROTOCOL.md section 8), the item rules
(section 7) and the Authorization header (section 13.1) on its own, from the text of the spec,
with the Python standard library only: it shares no code with proto/ or with any client. The
first positive vector is the worked example of PROTOCOL.md, and its signature is checked against
the one printed there, so the spec, this file and the implementations cannot drift apart.

Output is deterministic: fixed inputs, secrets derived from vector names, keys in a fixed order.
The format is described in proto/vectors/README.md.

Usage:
    /usr/bin/python3 proto/vectors/generate.py           # (re)write hmacd-v1.json next to this
    /usr/bin/python3 proto/vectors/generate.py --check   # exit 1 if the file is not up to date
    /usr/bin/python3 proto/vectors/generate.py --out FILE
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "hmacd-v1.json")
PROTOCOL_MD = os.path.join(HERE, os.pardir, "PROTOCOL.md")

PREFIX = b"hmacd-v1"
# The signature printed in PROTOCOL.md section 8 ("Worked example").
WORKED_EXAMPLE_SIG = "83b55937fb410a3bcbe53204bf2baa4d1f062cf8509914b176ba56f509069dab"
U64_MAX = 2**64 - 1

VERDICTS = {
    "OK": 0, "BAD_SIGNATURE": 1, "UNKNOWN_KEY": 2, "KEY_REVOKED": 3, "KEY_EXPIRED": 4,
    "STALE_TIMESTAMP": 5, "REPLAY": 6, "MALFORMED": 7, "INSUFFICIENT_COVERAGE": 8,
    "UNAVAILABLE": 9,
}

# ---- the spec, re-implemented -------------------------------------------------------------

ALNUM = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
SCOPE_BYTES = ALNUM | set(b"._:/-")
TCHAR = ALNUM | set(b"!#$%&'*+-.^_`|~")
NONCE_HDR_BYTES = ALNUM | set(b"._~-")  # the Nonce parameter of the header (13.1)


def u8(s):
    """Field bytes: str is UTF-8 encoded, bytes are taken as they are."""
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def canonical(it):
    """The hmacd-v1 canonical string of item `it` (PROTOCOL.md section 8)."""
    lines = [PREFIX, u8(it["tenant"]), u8(it["container"]), str(it["epoch"]).encode(),
             u8(it["method"]), u8(it["path"]), str(it["ts"]).encode(), u8(it["nonce"])]
    lines += [u8(n) + b":" + u8(v) for n, v in it["headers"]]
    digest = hashlib.sha256(it["body"]).hexdigest().encode()
    return b"".join(line + b"\n" for line in lines) + digest


def sign(secret, canon):
    return hmac.new(secret, canon, hashlib.sha256).digest()


def no_ctl(b):
    return all(c >= 0x20 and c != 0x7F for c in b)


def item_problems(it, sig_len=32):
    """The rules of PROTOCOL.md section 7 that hm_item_check() applies; [] if the item is valid."""
    bad = []
    for key in ("tenant", "container"):
        v = u8(it[key])
        if not 1 <= len(v) <= 128 or not set(v) <= SCOPE_BYTES:
            bad.append(key)
    if not 1 <= it["epoch"] <= U64_MAX:
        bad.append("epoch")
    m = u8(it["method"])
    if not 1 <= len(m) <= 32 or not set(m) <= TCHAR:
        bad.append("method")
    p = u8(it["path"])
    if len(p) < 1 or p[0:1] != b"/" or not no_ctl(p):
        bad.append("path")
    if not 0 <= it["ts"] <= U64_MAX:
        bad.append("ts")
    n = u8(it["nonce"])
    if len(n) > 64 or not no_ctl(n):
        bad.append("nonce")
    if len(it["headers"]) > 64:
        bad.append("headers")
    for name, value in it["headers"]:
        nb = u8(name)
        if len(nb) < 1 or not set(nb) <= TCHAR or any(0x41 <= c <= 0x5A for c in nb):
            bad.append("header name")
        if not no_ctl(u8(value)):
            bad.append("header value")
    if sig_len != 32:
        bad.append("sig")
    return bad


def b64(b):
    return base64.b64encode(b).decode("ascii")


def authorization(it, sig):
    """The Authorization value a signer sends (13.1), in the one form signers produce: parameters
    in the order of the table, ", " between them, Nonce omitted when empty, SignedHeaders omitted
    when no header is signed."""
    parts = ["Tenant=" + it["tenant"], "Epoch=%d" % it["epoch"], "Timestamp=%d" % it["ts"]]
    if it["nonce"]:
        parts.append("Nonce=" + it["nonce"])
    if it["headers"]:
        parts.append("SignedHeaders=" + ";".join(n for n, _ in it["headers"]))
    parts.append("Signature=" + b64(sig))
    return "HMACD-V1 " + ", ".join(parts)


DECIMAL = re.compile(r"(0|[1-9][0-9]*)\Z")
PARAM = re.compile(r"([A-Za-z]+)=([^ ,]*)\Z")
B64_44 = re.compile(r"[A-Za-z0-9+/]{43}=\Z")


def parse_authorization(value):
    """Parses an Authorization value (13.1). Returns a dict, or raises ValueError."""
    if not value.startswith("HMACD-V1 "):
        raise ValueError("scheme")
    rest = value[len("HMACD-V1 "):]
    if rest.startswith(" ") or rest.endswith(" "):
        raise ValueError("spaces are allowed around commas only")
    params = {}
    for raw in rest.split(","):
        part = raw.strip(" ")
        m = PARAM.match(part)
        if not m:
            raise ValueError("parameter syntax")
        name, val = m.group(1), m.group(2)
        if name in params:
            raise ValueError("repeated parameter")
        if name not in ("Tenant", "Epoch", "Timestamp", "Nonce", "SignedHeaders", "Signature"):
            raise ValueError("unknown parameter")
        params[name] = val
    for name in ("Tenant", "Epoch", "Timestamp", "Signature"):
        if name not in params:
            raise ValueError("missing " + name)
    tenant = params["Tenant"].encode()
    if not 1 <= len(tenant) <= 128 or not set(tenant) <= SCOPE_BYTES:
        raise ValueError("tenant")
    for name in ("Epoch", "Timestamp"):
        if not DECIMAL.match(params[name]) or int(params[name]) > U64_MAX:
            raise ValueError(name)
    if int(params["Epoch"]) < 1:
        raise ValueError("epoch 0")
    nonce = params.get("Nonce")
    if nonce is not None:
        nb = nonce.encode()
        if not 1 <= len(nb) <= 64 or not set(nb) <= NONCE_HDR_BYTES:
            raise ValueError("nonce")
    names = []
    if params.get("SignedHeaders"):
        names = params["SignedHeaders"].split(";")
        for n in names:
            nb = n.encode()
            if not nb or not set(nb) <= TCHAR or any(0x41 <= c <= 0x5A for c in nb):
                raise ValueError("signed header name")
    s = params["Signature"]
    if not B64_44.match(s):
        raise ValueError("signature syntax")
    sig = base64.b64decode(s, validate=True)
    if len(sig) != 32 or b64(sig) != s:
        raise ValueError("signature not canonical base64 of 32 bytes")
    return {"tenant": params["Tenant"], "epoch": int(params["Epoch"]),
            "ts": int(params["Timestamp"]), "nonce": nonce, "signed_headers": names,
            "sig_b64": s, "sig_hex": sig.hex()}


# ---- inputs ---------------------------------------------------------------------------------

def secret_for(name):
    return hashlib.sha256(b"hmacd-v1 test vector secret:" + name.encode()).digest()


def nonce_for(name):
    return hashlib.sha256(b"hmacd-v1 test vector nonce:" + name.encode()).digest()[:16].hex()


WORKED = {
    "tenant": "acme", "container": "web-01", "epoch": 3, "method": "POST",
    "path": "/containers/web-01/exec?tty=1", "ts": 1700000000, "nonce": "8f14e45fceea167a",
    "headers": [["content-type", "application/json"], ["x-request-id", "req-42"]],
    "body": b'{"cmd":["ls","-l"]}', "secret": bytes(range(32)),
}


def item(name, **kw):
    it = {"tenant": "acme", "container": "web-01", "epoch": 1, "method": "POST",
          "path": "/containers/web-01/exec", "ts": 1700000000, "nonce": nonce_for(name),
          "headers": [["host", "api.example.com"], ["content-type", "application/json"]],
          "body": b'{"cmd":["true"]}', "secret": secret_for(name)}
    it.update(kw)
    return it


def long_scope(n, seed):
    alphabet = "abcXYZ019._:/-"
    out = seed
    i = 0
    while len(out) < n:
        out += alphabet[i % len(alphabet)]
        i += 1
    return out[:n]


def positive_inputs():
    """(name, description, http, item). `http`: the vector survives as an HTTP/1.1 request."""
    many = [["host", "api.example.com"], ["content-type", "application/json"]]
    many += [["x-h%02d" % i, "value %d; a=b, c" % i] for i in range(62)]
    return [
        ("protocol-worked-example",
         "The worked example of PROTOCOL.md sections 8 and 13.4, byte for byte.", True,
         dict(WORKED)),
        ("empty-nonce", "The worked example without a nonce: the 8th line is empty and the "
         "Authorization header has no Nonce parameter.", True,
         dict(WORKED, nonce="", secret=secret_for("empty-nonce"))),
        ("no-headers", "No signed header: the digest follows the nonce line directly; no "
         "SignedHeaders parameter.", True,
         item("no-headers", headers=[], body=b'{"cmd":["uptime"]}')),
        ("empty-body", "GET with an empty body (digest of zero bytes).", True,
         item("empty-body", method="GET", path="/containers/web-01/logs",
              headers=[["host", "api.example.com"]], body=b"")),
        ("query-string", "A target with several query parameters, copied as sent.", True,
         item("query-string", method="GET",
              path="/containers/web-01/logs?since=1700000000&tail=100&follow=true&q=",
              headers=[["host", "api.example.com"]], body=b"")),
        ("percent-encoded-path", "Percent-encoding is signed as sent: never decoded or "
         "normalised (%2F stays %2F, %7e stays lower-case).", True,
         item("percent-encoded-path", method="PUT",
              path="/containers/web-01/files/my%20file%2Fx%7e.txt?name=a%2Bb%3D%3D&x=%E2%9C%93",
              headers=[["host", "api.example.com"], ["content-type", "application/octet-stream"]],
              body=b"hello\n")),
        ("utf8-header-value", "A header value with non-ASCII UTF-8 (obs-text bytes in HTTP).",
         True,
         item("utf8-header-value",
              headers=[["host", "api.example.com"], ["x-user-name", "Zoë Ångström ✓ 日本"]])),
        ("utf8-path", "Raw non-ASCII UTF-8 bytes in the path (allowed in an item, not a valid "
         "HTTP request-target: a real client percent-encodes them).", False,
         item("utf8-path", method="GET", path="/containers/web-01/files/naïve-日本.txt",
              headers=[["host", "api.example.com"]], body=b"")),
        ("max-length-scope", "Tenant and container of 128 bytes using every allowed character.",
         True,
         item("max-length-scope", tenant=long_scope(128, "tenant-"),
              container=long_scope(128, "container-"), path="/containers/x/exec")),
        ("many-headers", "64 signed headers (the maximum), values with spaces, ';' and ','.",
         True, item("many-headers", headers=many)),
        ("empty-header-value", "A signed header whose value is empty.", True,
         item("empty-header-value",
              headers=[["host", "api.example.com"], ["x-empty", ""],
                       ["content-type", "application/json"]])),
        ("repeated-header-name", "The same name twice: two lines in signed order. Not HTTP-safe: "
         "a middleware joins repeated fields with \", \".", False,
         item("repeated-header-name",
              headers=[["host", "api.example.com"], ["x-tag", "b"], ["x-tag", "a"]])),
        ("header-value-spaces", "A value's own leading and trailing spaces are kept in the "
         "canonical string. Not HTTP-safe: HTTP trims field values.", False,
         item("header-value-spaces",
              headers=[["host", "api.example.com"], ["x-padded", "  two spaces  "]])),
        ("large-epoch-ts", "epoch 2^32-1 (the largest that can exist in a store) and ts 2^53-1.",
         True, item("large-epoch-ts", epoch=2**32 - 1, ts=2**53 - 1)),
        ("u64-max-epoch-ts", "epoch and ts 2^64-1: decimal without loss (big_ints).", True,
         item("u64-max-epoch-ts", epoch=U64_MAX, ts=U64_MAX)),
        ("ts-zero-minimal", "ts 0, epoch 1, one-byte scope, method and path; no nonce.", True,
         item("ts-zero-minimal", tenant="t", container="c", method="X", path="/", ts=0,
              nonce="", headers=[], body=b"")),
        ("method-case-kept", "A lower-case method is signed as sent (get and GET differ).", True,
         item("method-case-kept", method="get", path="/containers/web-01/state",
              headers=[["host", "api.example.com"]], body=b"")),
        ("binary-body", "A body of all 256 byte values.", True,
         item("binary-body", headers=[["host", "api.example.com"],
                                      ["content-type", "application/octet-stream"]],
              body=bytes(range(256)))),
        ("nonce-64", "A nonce of 64 characters, every character the header allows.", True,
         item("nonce-64", nonce=("abcXYZ019._~-" * 5)[:64])),
    ]


def tampered_inputs(base):
    """(name, what changed, description, changed item) from the worked example."""
    def ch(**kw):
        it = dict(base)
        it.update(kw)
        return it
    hdrs = base["headers"]
    body = bytearray(base["body"])
    body[-3] = ord("a")  # -l -> -a
    return [
        ("container", "container",
         "The container of the scope changed, path unchanged (a middleware that took the "
         "container from elsewhere than the route).", ch(container="web-02")),
        ("container-and-path", "container",
         "The request re-addressed to another container: container and path both changed.",
         ch(container="web-02", path="/containers/web-02/exec?tty=1")),
        ("tenant", "tenant", "Another tenant.", ch(tenant="acme2")),
        ("epoch", "epoch", "Another epoch of the same scope.", ch(epoch=4)),
        ("method", "method", "Another method.", ch(method="PUT")),
        ("method-case", "method", "The method's case changed.", ch(method="post")),
        ("path", "path", "Another path, same query.", ch(path="/containers/web-01/kill?tty=1")),
        ("path-trailing-slash", "path", "A trailing slash added.",
         ch(path="/containers/web-01/exec/?tty=1")),
        ("path-percent-encoded", "path", "One character percent-encoded (same resource to "
         "most routers, another target to the signature).",
         ch(path="/containers/web%2D01/exec?tty=1")),
        ("query", "query", "A query value changed.", ch(path="/containers/web-01/exec?tty=0")),
        ("query-removed", "query", "The query dropped.", ch(path="/containers/web-01/exec")),
        ("query-added", "query", "A query parameter appended.",
         ch(path="/containers/web-01/exec?tty=1&privileged=1")),
        ("ts", "ts", "The timestamp one second later.", ch(ts=base["ts"] + 1)),
        ("nonce", "nonce", "Another nonce.", ch(nonce="8f14e45fceea167b")),
        ("nonce-removed", "nonce", "The nonce dropped.", ch(nonce="")),
        ("header-value", "headers", "A signed header's value changed.",
         ch(headers=[hdrs[0], ["x-request-id", "req-43"]])),
        ("header-order", "headers", "The signed headers in the other order.",
         ch(headers=[hdrs[1], hdrs[0]])),
        ("header-dropped", "headers", "A signed header left out.", ch(headers=[hdrs[0]])),
        ("header-added", "headers", "A header added to the signed list.",
         ch(headers=hdrs + [["x-admin", "1"]])),
        ("body-byte", "body", "One body byte changed.", ch(body=bytes(body))),
        ("body-appended", "body", "One byte appended to the body.", ch(body=base["body"] + b" ")),
    ]


def malformed_inputs(base):
    """(name, field, description, kind, item, sig, wire) from the worked example."""
    out = []

    def add(name, field, desc, kind="content", sig=None, wire=None, **kw):
        it = dict(base)
        it.update(kw)
        out.append((name, field, desc, kind, it, sig, wire))

    ctl = [("nul", "\x00"), ("lf", "\n"), ("del", "\x7f")]
    for tag, c in ctl:
        add("tenant-" + tag, "tenant", "Control byte in the tenant.", tenant="ac" + c + "me")
        add("container-" + tag, "container", "Control byte in the container.",
            container="web" + c + "01")
        add("method-" + tag, "method", "Control byte in the method.", method="PO" + c + "ST")
        add("path-" + tag, "path", "Control byte in the path.",
            path="/containers/web-01/exec" + c + "?tty=1")
        add("nonce-" + tag, "nonce", "Control byte in the nonce.",
            nonce="8f14e45f" + c + "ceea167a")
        add("header-name-" + tag, "headers", "Control byte in a header name.",
            headers=[["content" + c + "type", "application/json"], base["headers"][1]])
        add("header-value-" + tag, "headers", "Control byte in a header value.",
            headers=[["content-type", "application/" + c + "json"], base["headers"][1]])
    add("header-value-tab", "headers", "A horizontal tab (0x09) in a header value.",
        headers=[["content-type", "application/json;\tcharset=utf-8"], base["headers"][1]])
    add("nonce-unit-separator", "nonce", "Byte 0x1f in the nonce.", nonce="8f14\x1f")
    add("tenant-space", "tenant", "A space in the tenant.", tenant="acme corp")
    add("tenant-at", "tenant", "'@' in the tenant.", tenant="acme@example")
    add("tenant-comma", "tenant", "',' in the tenant.", tenant="acme,web")
    add("tenant-non-ascii", "tenant", "A non-ASCII letter in the tenant.", tenant="acmé")
    add("tenant-empty", "tenant", "An empty tenant.", tenant="")
    add("tenant-129", "tenant", "A tenant of 129 bytes.", tenant=long_scope(129, "tenant-"))
    add("container-space", "container", "A space in the container.", container="web 01")
    add("container-percent", "container", "'%' in the container (a route parameter must be "
        "decoded before it becomes the container).", container="web%2D01")
    add("container-empty", "container", "An empty container.", container="")
    add("container-129", "container", "A container of 129 bytes.",
        container=long_scope(129, "container-"))
    add("epoch-zero", "epoch", "Epoch 0 (epochs are numbered from 1).", epoch=0)
    add("method-empty", "method", "An empty method.", method="")
    add("method-space", "method", "A space in the method.", method="PO ST")
    add("method-slash", "method", "'/' in the method (not a tchar).", method="GET/1")
    add("method-33", "method", "A method of 33 bytes.", method="A" * 33)
    add("method-non-ascii", "method", "A non-ASCII byte in the method.", method="PÖST")
    add("path-no-slash", "path", "A path that does not start with '/'.",
        path="containers/web-01/exec?tty=1")
    add("path-empty", "path", "An empty path.", path="")
    add("path-query-only", "path", "A target that starts with '?'.", path="?tty=1")
    add("path-absolute-uri", "path", "An absolute URI instead of a path.",
        path="http://api.example.com/containers/web-01/exec")
    add("nonce-65", "nonce", "A nonce of 65 bytes.", nonce="n" * 65)
    add("header-name-uppercase", "headers", "An upper-case header name.",
        headers=[["Content-Type", "application/json"], base["headers"][1]])
    add("header-name-colon", "headers", "':' in a header name.",
        headers=[["content-type:x", "application/json"], base["headers"][1]])
    add("header-name-space", "headers", "A space in a header name.",
        headers=[["content type", "application/json"], base["headers"][1]])
    add("header-name-empty", "headers", "An empty header name.",
        headers=[["", "application/json"], base["headers"][1]])
    add("header-name-non-ascii", "headers", "A non-ASCII byte in a header name.",
        headers=[["x-naïve", "1"], base["headers"][1]])
    # Only the wire decoder can see these: the fields above are valid, the map around them is not.
    add("sig-31", "sig", "A sig of 31 bytes.", kind="wire", sig=bytes(range(31)))
    add("sig-33", "sig", "A sig of 33 bytes.", kind="wire", sig=bytes(range(33)))
    add("sig-empty", "sig", "An empty sig.", kind="wire", sig=b"")
    w = [
        ("unknown-key", "keys", "An unknown key in the item.", {"set": {"color": "red"}}),
        ("key-case", "keys", "A key with the wrong case ('Tenant').",
         {"remove": ["tenant"], "set": {"Tenant": "acme"}}),
        ("both-body-forms", "body", "Both body and body_sha256.",
         {"set_bin": {"body_sha256": b64(hashlib.sha256(base["body"]).digest())}}),
        ("no-body-form", "body", "Neither body nor body_sha256.", {"remove": ["body"]}),
        ("body-sha256-31", "body", "A body_sha256 of 31 bytes.",
         {"remove": ["body"], "set_bin": {"body_sha256": b64(bytes(31))}}),
        ("body-as-str", "body", "The body as a msgpack str instead of bin.",
         {"set": {"body": base["body"].decode()}}),
        ("sig-as-str", "sig", "The sig as a 32-byte msgpack str instead of bin.",
         {"set": {"sig": "0123456789abcdef0123456789abcdef"}}),
        ("tenant-as-bin", "tenant", "The tenant as a msgpack bin instead of str.",
         {"set_bin": {"tenant": b64(b"acme")}}),
        ("epoch-as-str", "epoch", "The epoch as a str.", {"set": {"epoch": "3"}}),
        ("epoch-negative", "epoch", "A negative epoch.", {"set": {"epoch": -1}}),
        ("epoch-bool", "epoch", "The epoch as a bool.", {"set": {"epoch": True}}),
        ("ts-negative", "ts", "A negative ts.", {"set": {"ts": -1}}),
        ("ts-nil", "ts", "The ts as nil.", {"set": {"ts": None}}),
        ("nonce-nil", "nonce", "The nonce as nil (absent is fine, nil is not).",
         {"set": {"nonce": None}}),
        ("headers-not-array", "headers", "headers as a str.", {"set": {"headers": "host"}}),
        ("header-pair-of-3", "headers", "A header element of 3 strs.",
         {"set": {"headers": [["content-type", "application/json", "x"]]}}),
        ("header-pair-of-1", "headers", "A header element of 1 str.",
         {"set": {"headers": [["content-type"]]}}),
        ("header-value-int", "headers", "A header value that is an int.",
         {"set": {"headers": [["x-request-id", 42]]}}),
        ("headers-65", "headers", "65 headers (the limit is 64).",
         {"set": {"headers": [["x-h%02d" % i, "v"] for i in range(65)]}}),
    ]
    for key in ("tenant", "container", "epoch", "method", "path", "headers", "ts", "sig"):
        w.append(("missing-" + key, key, "No %s key." % key, {"remove": [key]}))
    for name, field, desc, wire in w:
        add(name, field, desc, kind="wire", wire=wire)
    return out


def auth_inputs(base, base_sig):
    s = b64(base_sig)
    canon = authorization(base, base_sig)
    tail = "Nonce=8f14e45fceea167a, SignedHeaders=content-type;x-request-id, Signature=" + s
    valid = [
        ("canonical", "The form signers send (the worked example).", canon),
        ("reversed-order", "Parameters in reverse order.",
         "HMACD-V1 Signature=%s, SignedHeaders=content-type;x-request-id, "
         "Nonce=8f14e45fceea167a, Timestamp=1700000000, Epoch=3, Tenant=acme" % s),
        ("no-spaces", "No space after the commas.",
         "HMACD-V1 Tenant=acme,Epoch=3,Timestamp=1700000000,Nonce=8f14e45fceea167a,"
         "SignedHeaders=content-type;x-request-id,Signature=" + s),
        ("extra-spaces", "Several spaces before and after the commas.",
         "HMACD-V1 Tenant=acme ,   Epoch=3  ,Timestamp=1700000000,  " + tail),
        ("minimal", "Only the required parameters: no nonce, no signed headers.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature=" + s),
        ("empty-signed-headers", "SignedHeaders present and empty: no signed header.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, SignedHeaders=, Signature=" + s),
        ("ts-zero", "Timestamp 0.",
         "HMACD-V1 Tenant=acme, Epoch=1, Timestamp=0, Signature=" + s),
        ("u64-max", "Epoch and Timestamp 2^64-1 (big_ints).",
         "HMACD-V1 Tenant=acme, Epoch=%d, Timestamp=%d, Signature=%s" % (U64_MAX, U64_MAX, s)),
        ("tenant-128", "A tenant of 128 bytes with every allowed character.",
         "HMACD-V1 Tenant=%s, Epoch=3, Timestamp=1700000000, Signature=%s"
         % (long_scope(128, "tenant-"), s)),
        ("nonce-64", "A nonce of 64 characters, every character allowed.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Nonce=%s, Signature=%s"
         % (("abcXYZ019._~-" * 5)[:64], s)),
        ("repeated-signed-header", "A name listed twice in SignedHeaders.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, SignedHeaders=x-tag;x-tag, "
         "Signature=" + s),
    ]
    good = "Tenant=acme, Epoch=3, Timestamp=1700000000, Signature=" + s
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    bad_pad = s[:42] + alphabet[alphabet.index(s[42]) | 1] + "="  # padding bits not zero
    sig31 = b64(bytes(31))
    sig33 = b64(bytes(33))
    invalid = [
        ("empty", "An empty value.", ""),
        ("scheme-only", "The scheme alone.", "HMACD-V1"),
        ("scheme-lowercase", "The scheme in lower case.", "hmacd-v1 " + good),
        ("scheme-other", "Another scheme.", "Bearer " + s),
        ("scheme-v2", "Another version.", "HMACD-V2 " + good),
        ("scheme-no-space", "No space after the scheme.", "HMACD-V1" + good),
        ("scheme-two-spaces", "Two spaces after the scheme (the scheme is followed by one).",
         "HMACD-V1  " + good),
        ("scheme-tab", "A tab after the scheme.", "HMACD-V1\t" + good),
        ("missing-signature", "No Signature.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Nonce=8f14e45fceea167a"),
        ("missing-tenant", "No Tenant.",
         "HMACD-V1 Epoch=3, Timestamp=1700000000, Signature=" + s),
        ("missing-epoch", "No Epoch.",
         "HMACD-V1 Tenant=acme, Timestamp=1700000000, Signature=" + s),
        ("missing-timestamp", "No Timestamp.", "HMACD-V1 Tenant=acme, Epoch=3, Signature=" + s),
        ("unknown-param", "An unknown parameter.", "HMACD-V1 " + good + ", Foo=bar"),
        ("container-param", "A Container parameter (the container is never the signer's claim).",
         "HMACD-V1 Tenant=acme, Container=web-01, Epoch=3, Timestamp=1700000000, Signature=" + s),
        ("param-lowercase", "A parameter name in lower case.",
         "HMACD-V1 tenant=acme, Epoch=3, Timestamp=1700000000, Signature=" + s),
        ("repeated-param", "Tenant twice, same value.", "HMACD-V1 Tenant=acme, " + good),
        ("repeated-signature", "Signature twice, same value.",
         "HMACD-V1 " + good + ", Signature=" + s),
        ("quoted-value", "A quoted value.",
         'HMACD-V1 Tenant="acme", Epoch=3, Timestamp=1700000000, Signature=' + s),
        ("quoted-signature", "A quoted Signature.",
         'HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature="%s"' % s),
        ("space-around-equals", "Spaces around '='.",
         "HMACD-V1 Tenant = acme, Epoch=3, Timestamp=1700000000, Signature=" + s),
        ("param-without-value-sign", "A parameter without '='.",
         "HMACD-V1 Tenant, Epoch=3, Timestamp=1700000000, Signature=" + s),
        ("trailing-comma", "A comma after the last parameter.", "HMACD-V1 " + good + ","),
        ("leading-comma", "A comma before the first parameter.", "HMACD-V1 ," + good),
        ("double-comma", "An empty parameter between two commas.",
         "HMACD-V1 Tenant=acme,, Epoch=3, Timestamp=1700000000, Signature=" + s),
        ("tab-separator", "A tab around a comma (only spaces are allowed).",
         "HMACD-V1 Tenant=acme,\tEpoch=3, Timestamp=1700000000, Signature=" + s),
        ("semicolon-separator", "';' between parameters.",
         "HMACD-V1 Tenant=acme; Epoch=3; Timestamp=1700000000; Signature=" + s),
        ("tenant-empty", "An empty Tenant.",
         "HMACD-V1 Tenant=, Epoch=3, Timestamp=1700000000, Signature=" + s),
        ("tenant-bad-char", "'@' in the Tenant.",
         "HMACD-V1 Tenant=acme@x, Epoch=3, Timestamp=1700000000, Signature=" + s),
        ("tenant-129", "A Tenant of 129 bytes.",
         "HMACD-V1 Tenant=%s, Epoch=3, Timestamp=1700000000, Signature=%s"
         % (long_scope(129, "tenant-"), s)),
        ("epoch-leading-zero", "Epoch=01.",
         "HMACD-V1 Tenant=acme, Epoch=01, Timestamp=1700000000, Signature=" + s),
        ("epoch-zero", "Epoch=0.",
         "HMACD-V1 Tenant=acme, Epoch=0, Timestamp=1700000000, Signature=" + s),
        ("epoch-sign", "Epoch=+3.",
         "HMACD-V1 Tenant=acme, Epoch=+3, Timestamp=1700000000, Signature=" + s),
        ("epoch-negative", "Epoch=-1.",
         "HMACD-V1 Tenant=acme, Epoch=-1, Timestamp=1700000000, Signature=" + s),
        ("epoch-empty", "Epoch=.",
         "HMACD-V1 Tenant=acme, Epoch=, Timestamp=1700000000, Signature=" + s),
        ("epoch-hex", "Epoch=0x3.",
         "HMACD-V1 Tenant=acme, Epoch=0x3, Timestamp=1700000000, Signature=" + s),
        ("epoch-overflow", "Epoch=2^64.",
         "HMACD-V1 Tenant=acme, Epoch=%d, Timestamp=1700000000, Signature=%s" % (2**64, s)),
        ("epoch-non-ascii-digit", "An Arabic-Indic digit in Epoch.",
         "HMACD-V1 Tenant=acme, Epoch=\u0663, Timestamp=1700000000, Signature=" + s),
        ("timestamp-leading-zero", "Timestamp=01700000000.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=01700000000, Signature=" + s),
        ("timestamp-fraction", "Timestamp=1700000000.5.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000.5, Signature=" + s),
        ("timestamp-empty", "Timestamp=.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=, Signature=" + s),
        ("timestamp-overflow", "Timestamp=2^64.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=%d, Signature=%s" % (2**64, s)),
        ("nonce-empty", "Nonce= (absent is the way to say no nonce).",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Nonce=, Signature=" + s),
        ("nonce-bad-char", "'/' in the Nonce.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Nonce=ab/cd, Signature=" + s),
        ("nonce-65", "A Nonce of 65 characters.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Nonce=%s, Signature=%s"
         % ("n" * 65, s)),
        ("signed-headers-uppercase", "An upper-case name in SignedHeaders.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, SignedHeaders=Content-Type, "
         "Signature=" + s),
        ("signed-headers-empty-name", "An empty name between two ';'.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, SignedHeaders=host;;x-a, "
         "Signature=" + s),
        ("signed-headers-trailing-semicolon", "A ';' after the last name.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, SignedHeaders=host;, "
         "Signature=" + s),
        ("signed-headers-colon", "':' in a name.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, SignedHeaders=host:x, "
         "Signature=" + s),
        ("signature-bad-char", "A '!' in the Signature.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature=!" + s[1:]),
        ("signature-base64url", "base64url alphabet ('-' and '_').",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature="
         + "-_" + s[2:]),
        ("signature-no-padding", "No '=' padding (43 characters).",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature=" + s[:43]),
        ("signature-not-canonical", "Non-zero padding bits in the last character.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature=" + bad_pad),
        ("signature-31-bytes", "The base64 of 31 bytes.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature=" + sig31),
        ("signature-33-bytes", "The base64 of 33 bytes (44 characters, no padding).",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature=" + sig33),
        ("signature-empty", "An empty Signature.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature="),
        ("signature-hex", "The signature in hex instead of base64.",
         "HMACD-V1 Tenant=acme, Epoch=3, Timestamp=1700000000, Signature=" + base_sig.hex()),
    ]
    return valid, invalid


# ---- assembly ---------------------------------------------------------------------------

def fields(it):
    return {
        "tenant": it["tenant"], "container": it["container"], "epoch": it["epoch"],
        "method": it["method"], "path": it["path"], "ts": it["ts"], "nonce": it["nonce"],
        "headers": [[n, v] for n, v in it["headers"]], "body_b64": b64(it["body"]),
    }


def check(cond, what):
    if not cond:
        raise SystemExit("generate.py: self-check failed: " + what)


def build():
    positive = []
    for name, desc, http, it in positive_inputs():
        check(item_problems(it) == [], name + " must be a valid item")
        canon = canonical(it)
        sig = sign(it["secret"], canon)
        v = {"name": name, "description": desc, "http": http,
             "big_ints": it["epoch"] > 2**53 - 1 or it["ts"] > 2**53 - 1,
             "secret_b64": b64(it["secret"])}
        v.update(fields(it))
        v["body_sha256"] = hashlib.sha256(it["body"]).hexdigest()
        v["canonical"] = canon.decode("utf-8")
        v["sig_hex"] = sig.hex()
        v["sig_b64"] = b64(sig)
        v["authorization"] = authorization(it, sig)
        parsed = parse_authorization(v["authorization"])
        check(parsed["sig_hex"] == v["sig_hex"] and parsed["tenant"] == it["tenant"],
              name + ": the header parses back")
        positive.append(v)

    # The first vector is the worked example of PROTOCOL.md, and its signature is the one
    # printed there.
    check(positive[0]["sig_hex"] == WORKED_EXAMPLE_SIG, "worked example signature")
    check(len(canonical(WORKED)) == 200, "worked example canonical string is 200 bytes")
    if os.path.exists(PROTOCOL_MD):
        with open(PROTOCOL_MD, encoding="utf-8") as f:
            spec = f.read()
        check("sig = " + WORKED_EXAMPLE_SIG in spec, "PROTOCOL.md still prints the signature")

    base = WORKED
    base_canon = canonical(base)
    base_sig = sign(base["secret"], base_canon)
    tampered = []
    for name, what, desc, it in tampered_inputs(base):
        check(item_problems(it) == [], "tampered " + name + " must be a valid item")
        canon = canonical(it)
        check(canon != base_canon and sign(it["secret"], canon) != base_sig,
              "tampered " + name + " must change the signature")
        v = {"name": name, "description": desc, "base": positive[0]["name"], "changed": what,
             "expected": "BAD_SIGNATURE", "secret_b64": b64(it["secret"])}
        v.update(fields(it))
        v["body_sha256"] = hashlib.sha256(it["body"]).hexdigest()
        v["canonical"] = canon.decode("utf-8")
        v["sig_hex"] = base_sig.hex()
        v["sig_b64"] = b64(base_sig)
        tampered.append(v)

    malformed = []
    for name, field, desc, kind, it, sig, wire in malformed_inputs(base):
        sig = base_sig if sig is None else sig
        problems = item_problems(it, len(sig))
        if kind == "content":
            check(problems != [], "malformed " + name + " must break a content rule")
        else:
            check(problems in ([], ["sig"]), "wire-malformed " + name + " fields are valid")
        v = {"name": name, "description": desc, "field": field, "kind": kind,
             "expected": "MALFORMED"}
        v.update(fields(it))
        v["sig_b64"] = b64(sig)
        if wire is not None:
            v["wire"] = {k: wire[k] for k in ("remove", "set", "set_bin") if k in wire}
        malformed.append(v)

    valid, invalid = auth_inputs(base, base_sig)
    auth_valid, auth_invalid = [], []
    for name, desc, header in valid:
        parsed = parse_authorization(header)
        auth_valid.append({"name": name, "description": desc, "header": header,
                           "big_ints": parsed["epoch"] > 2**53 - 1 or parsed["ts"] > 2**53 - 1,
                           "parsed": parsed})
    for name, desc, header in invalid:
        try:
            parse_authorization(header)
        except ValueError:
            pass
        else:
            check(False, "authorization " + name + " must be invalid")
        auth_invalid.append({"name": name, "description": desc, "header": header})

    names = [v["name"] for v in positive + tampered + malformed + auth_valid + auth_invalid]
    check(len(set(v["name"] for v in positive)) == len(positive), "unique positive names")
    check(all(re.match(r"[a-z0-9-]+\Z", n) for n in names), "names are [a-z0-9-]")

    return {
        "format": "hmacd-v1 test vectors",
        "version": 1,
        "comment": "Written by proto/vectors/generate.py, do not edit by hand. "
                   "The format is described in proto/vectors/README.md.",
        "verdicts": VERDICTS,
        "positive": positive,
        "tampered": tampered,
        "malformed": malformed,
        "authorization": {"valid": auth_valid, "invalid": auth_invalid},
    }


def dump(v, indent=0):
    """JSON text of v: one object member per line; an array of scalars, or of arrays of
    scalars, on one line per element at most. ensure_ascii: the file is pure ASCII, every other
    character is a \\u escape (its UTF-8 bytes once decoded)."""
    pad = " " * (indent + 1)
    if isinstance(v, dict):
        if not v:
            return "{}"
        inner = (",\n").join(pad + json.dumps(k) + ": " + dump(x, indent + 1)
                             for k, x in v.items())
        return "{\n" + inner + "\n" + " " * indent + "}"
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v):
            return json.dumps(v, ensure_ascii=True)
        if all(isinstance(x, list) and all(not isinstance(y, (dict, list)) for y in x)
               for x in v):
            return "[\n" + ",\n".join(pad + json.dumps(x, ensure_ascii=True) for x in v) + \
                "\n" + " " * indent + "]"
        return "[\n" + ",\n".join(pad + dump(x, indent + 1) for x in v) + "\n" + \
            " " * indent + "]"
    return json.dumps(v, ensure_ascii=True)


def render():
    text = dump(build()) + "\n"
    check(json.loads(text) == build(), "the JSON text reads back")
    return text


def main(argv):
    ap = argparse.ArgumentParser(description="Write the hmacd-v1 shared test vectors.")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output file (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the file differs from what would be written")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        try:
            with open(args.out, encoding="ascii") as f:
                current = f.read()
        except OSError as e:
            print("generate.py: %s" % e, file=sys.stderr)
            return 1
        if current != text:
            print("generate.py: %s is out of date; run %s" % (args.out, sys.argv[0]),
                  file=sys.stderr)
            return 1
        return 0
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
