"""helpers.py - small shared helpers for the tests (items from vectors, signing, names)."""

import base64
import itertools
import os
import time

from hmacd import Item, RFC9421Item, sign_item
from hmacd.rfc9421 import sign as rfc_sign

_seq = itertools.count(1)


def unique(prefix):
    """A scope name not used before in this run."""
    return "%s-%d-%d" % (prefix, os.getpid(), next(_seq))


def now():
    return int(time.time())


def item_from_vector(v, **over):
    """The Item of a vector's fields (sig from sig_b64), with fields replaced by `over`."""
    fields = dict(tenant=v["tenant"], container=v["container"], epoch=v["epoch"],
                  method=v["method"], path=v["path"], ts=v["ts"], nonce=v["nonce"],
                  headers=[tuple(h) for h in v["headers"]],
                  body=base64.b64decode(v["body_b64"]), sig=base64.b64decode(v["sig_b64"]))
    fields.update(over)
    return Item(**fields)


def signed(secret_b64, **fields):
    """A fresh item signed with secret_b64. Defaults: POST /containers/<container>/exec now,
    a random nonce, one signed header, a small body."""
    f = dict(epoch=1, method="POST", ts=now(), nonce=os.urandom(16).hex(),
             headers=[("content-type", "application/json")], body=b'{"cmd":["ls"]}', sig=b"")
    f.update(fields)
    f.setdefault("path", "/containers/%s/exec" % f["container"])
    it = Item(**f)
    it.sig = sign_item(secret_b64, it)
    return it


# ---- RFC 9421 Appendix B.2 (the request, B.2.5's base and signature; as in
# tests/unit/test_sigbase.c) ----

RFC_B2_HEADERS = [
    ("host", "example.com"),
    ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
    ("content-type", "application/json"),
    ("content-digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiY"
                       "llu7BNNyealdVLvRwEmTHWXvJwew==:"),
    ("content-length", "18"),
]
RFC_B2_TARGET = "/foo?param=Value&Pet=dog"
RFC_B2_BODY = b'{"hello": "world"}'
RFC_B25_INPUT = ('sig-b25=("date" "@authority" "content-type")'
                 ';created=1618884473;keyid="test-shared-secret"')
RFC_B25_SIGNATURE = "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:"
RFC_B25_BASE = (b'"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
                b'"@authority": example.com\n'
                b'"content-type": application/json\n'
                b'"@signature-params": ("date" "@authority" "content-type")'
                b';created=1618884473;keyid="test-shared-secret"')
RFC_SHARED_SECRET_B64 = ("uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6"
                         "pcl8jsasjlTMtDQ==")
RFC_B25_COMPONENTS = ["date", "@authority", "content-type"]
# what a scope's policy must give up for B.2.5 to verify: no nonce, no age check (created is in
# 2021), no Content-Digest (the body is not covered), no @query (the target's query is not)
RFC_B25_POLICY_FLAGS = ["--no-nonce", "--no-age-check", "--no-body-digest", "--no-query"]


def rfc_b25_item(tenant, container, **over):
    """The B.2 request signed as in B.2.5, as a middleware would send it."""
    headers = RFC_B2_HEADERS + [("signature-input", RFC_B25_INPUT),
                                ("signature", RFC_B25_SIGNATURE)]
    f = dict(tenant=tenant, container=container, method="POST", authority="example.com",
             path=RFC_B2_TARGET, headers=headers, signature_input=RFC_B25_INPUT,
             signature=RFC_B25_SIGNATURE, body=RFC_B2_BODY)
    f.update(over)
    return RFC9421Item(**f)


def rfc_item(tenant, container, key, keyid, *, method="POST", target=None,
             authority="api.example.com", headers=(), body=b'{"cmd":["ls"]}',
             uri_scheme=None, label=None, **sign_opts):
    """A request signed with hmacd.rfc9421.sign(), as the middleware turns it into an item:
    every header (the request's and the signature's) as (lower-case name, value) in order.
    Default: POST /containers/<container>/exec with a small JSON body, the default
    components, created now and a random nonce."""
    if target is None:
        target = "/containers/%s/exec" % container
    hdrs = [("host", authority)] + list(headers)
    if body:
        hdrs.append(("content-length", str(len(body))))
    scheme = sign_opts.pop("scheme", uri_scheme)
    sig = rfc_sign(method, target, key=key, keyid=keyid, headers=hdrs, body=body or None,
                   scheme=scheme, **sign_opts)
    all_headers = [(n.lower(), v) for n, v in hdrs] + [(n.lower(), v) for n, v in sig.items()]
    return RFC9421Item(tenant=tenant, container=container, method=method, authority=authority,
                       path=target, headers=all_headers,
                       signature_input=sig["Signature-Input"], signature=sig["Signature"],
                       uri_scheme=uri_scheme, label=label, body=body or None)
