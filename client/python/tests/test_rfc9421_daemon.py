"""test_rfc9421_daemon.py - RFC 9421 items signed by hmacd.rfc9421.sign(), verified by the real
hmacd through the thread-safe Client and the AsyncClient: keys imported with `hmacctl key import
--keyid`, coverage policies set with `hmacctl policy set`.

Covered: OK; a tampered path, query (covered by default), method, authority, covered header
or body (BAD_SIGNATURE); a key id of another container or tenant, or unknown (UNKNOWN_KEY);
coverage short of the policy:
a required component, created, nonce or content-digest missing (INSUFFICIENT_COVERAGE, and its
precedence over UNKNOWN_KEY); replay (REPLAY); created or expires out of the window
(STALE_TIMESTAMP); malformed Signature-Input/Signature (MALFORMED); every derived component
and field form the signer builds, verified by the daemon's own base; per-tenant and per-scope
policies, with the query rule (@query wanted whenever there is a query, a @query-param alone
not enough; --no-query lifts it) and what `policy show` reports; and RFC 9421 B.2.5 itself with
the RFC's shared secret (keyid test-shared-secret), in a scope set with --no-query among the
rest, and refused where the query rule holds.
"""

import asyncio
import dataclasses
import os
import re

import pytest

from helpers import (RFC_B2_HEADERS, RFC_B25_COMPONENTS, RFC_B25_POLICY_FLAGS, now,
                     rfc_b25_item, rfc_item, unique)
from hmacd import AsyncClient, Client, Verdict
from hmacd.rfc9421 import sign


@pytest.fixture(scope="module")
def client(daemon):
    with Client(daemon.socket, pool_size=2, timeout=10) as c:
        yield c


@pytest.fixture(params=["sync", "async"])
def verify(request, client, daemon):
    """verify(items) -> verdicts, through the Client or through an AsyncClient."""
    if request.param == "sync":
        return client.verify_many

    def run(items):
        async def main():
            async with AsyncClient(daemon.socket, timeout=10) as c:
                return await c.verify_many(items)
        return asyncio.run(main())
    return run


class Keys:
    """Tenant t: web-01 (k1, kid1) and web-02 (k2, kid2); tenant t2: web-01 (k3, kid3)."""

    def __init__(self, daemon):
        self.t, self.t2 = unique("rfc"), unique("rfc-other")
        self.k1, self.k2, self.k3 = os.urandom(32), os.urandom(64), os.urandom(16)
        self.kid1, self.kid2, self.kid3 = unique("k1"), unique("k2/x:y"), unique("k3@z")
        for t, c, k, kid in ((self.t, "web-01", self.k1, self.kid1),
                             (self.t, "web-02", self.k2, self.kid2),
                             (self.t2, "web-01", self.k3, self.kid3)):
            out = daemon.import_key(t, c, k, kid)
            assert out == {"tenant": t, "container": c, "epoch": 1, "keyid": kid}, out

    def item(self, **kw):
        """An item for (t, web-01) signed with k1 (fields and sign() options in kw)."""
        f = dict(tenant=self.t, container="web-01", key=self.k1, keyid=self.kid1)
        f.update(kw)
        return rfc_item(f.pop("tenant"), f.pop("container"), f.pop("key"), f.pop("keyid"), **f)


@pytest.fixture(scope="module")
def keys(daemon):
    return Keys(daemon)


def replace(item, **kw):
    return dataclasses.replace(item, **kw)


def test_import_prints_no_secret_and_list_shows_keyids(daemon, keys):
    listed = daemon.ctl("key", "list", "--tenant", keys.t, "--json")
    assert sorted(e["keyid"] for e in listed) == sorted([keys.kid1, keys.kid2])
    assert all("secret" not in e for e in listed)


def test_ok_and_tampering(verify, keys):
    xr = [("x-request-id", "req-42")]
    comps = ["@method", "@authority", "@path", "content-digest", "x-request-id"]
    items = [
        (keys.item(), Verdict.OK),
        (keys.item(method="GET", body=b""), Verdict.OK),
        (keys.item(headers=xr, components=comps), Verdict.OK),
        (replace(keys.item(), path="/containers/web-01/exec2"), Verdict.BAD_SIGNATURE),
        (replace(keys.item(), method="PUT"), Verdict.BAD_SIGNATURE),
        (replace(keys.item(), authority="evil.example.com"), Verdict.BAD_SIGNATURE),
        # the body no longer matches the covered Content-Digest
        (replace(keys.item(), body=b'{"cmd":["rm"]}'), Verdict.BAD_SIGNATURE),
    ]
    it = keys.item(headers=xr, components=comps)
    items.append((replace(it, headers=[(n, "req-43" if n == "x-request-id" else v)
                                       for n, v in it.headers]), Verdict.BAD_SIGNATURE))
    # the right key id with the wrong secret
    items.append((keys.item(key=os.urandom(32)), Verdict.BAD_SIGNATURE))
    # the query is covered by default (@query), and by @request-target
    it = keys.item(target="/containers/web-01/exec?force=true")
    items.append((it, Verdict.OK))
    items.append((replace(keys.item(target="/containers/web-01/exec?force=true"),
                          path="/containers/web-01/exec?force=false"), Verdict.BAD_SIGNATURE))
    it = keys.item(target="/containers/web-01/exec?tty=1",
                   components=["@method", "@authority", "@path", "content-digest",
                               "@request-target"])
    items.append((replace(it, path="/containers/web-01/exec?tty=0"), Verdict.BAD_SIGNATURE))
    assert verify([i for i, _ in items]) == [w for _, w in items]


def test_another_scopes_key_is_unknown(verify, keys):
    items = [
        # web-02's key, honestly signed, presented for web-01
        (keys.item(key=keys.k2, keyid=keys.kid2), Verdict.UNKNOWN_KEY),
        # another tenant's key for the same container name
        (keys.item(key=keys.k3, keyid=keys.kid3), Verdict.UNKNOWN_KEY),
        # and the same keys in their own scopes pass
        (keys.item(container="web-02", key=keys.k2, keyid=keys.kid2), Verdict.OK),
        (keys.item(tenant=keys.t2, key=keys.k3, keyid=keys.kid3), Verdict.OK),
        # the tenant header of another tenant does not help
        (keys.item(tenant=keys.t2), Verdict.UNKNOWN_KEY),
        (keys.item(keyid=unique("nobody")), Verdict.UNKNOWN_KEY),
    ]
    assert verify([i for i, _ in items]) == [w for _, w in items]


def test_insufficient_coverage(verify, keys):
    cov = Verdict.INSUFFICIENT_COVERAGE
    items = [
        (keys.item(components=["@method", "@authority", "content-digest"]), cov),   # no @path
        (keys.item(components=["@method", "@path", "content-digest"]), cov),   # no @authority
        (keys.item(nonce=None), cov),
        (keys.item(created=None), cov),
        # a body, and content-digest not covered (the header is sent all the same)
        (keys.item(components=["@method", "@authority", "@path"]), cov),
        # coverage is judged from public data first: before the key is looked up
        (keys.item(components=["@method"], keyid=unique("nobody")), cov),
        (keys.item(components=["@method", "@authority", "@path", "content-digest"]),
         Verdict.OK),
    ]
    assert verify([i for i, _ in items]) == [w for _, w in items]
    # a body announced by Content-Length only (none sent) still wants content-digest
    it = keys.item(method="GET", body=b"", headers=[("content-length", "5")])
    assert verify([it]) == [cov]


def test_replay(verify, keys):
    it = keys.item()
    assert verify([it, it]) == [Verdict.OK, Verdict.REPLAY]
    assert verify([it]) == [Verdict.REPLAY]
    # a forged copy does not consume a nonce
    fresh = keys.item()
    assert verify([replace(fresh, method="PUT"), fresh]) == [Verdict.BAD_SIGNATURE, Verdict.OK]


def test_stale(verify, keys):
    t = now()
    items = [
        (keys.item(created=t - 3600), Verdict.STALE_TIMESTAMP),
        (keys.item(created=t + 3600), Verdict.STALE_TIMESTAMP),
        (keys.item(expires=t - 1), Verdict.STALE_TIMESTAMP),
        (keys.item(expires=t + 60), Verdict.OK),
    ]
    assert verify([i for i, _ in items]) == [w for _, w in items]


def test_malformed(verify, keys):
    mal = Verdict.MALFORMED
    xr = [("x-request-id", "req-42")]
    it = keys.item(headers=xr, components=["@method", "@authority", "@path",
                                           "content-digest", "x-request-id"])
    no_xr = replace(it, headers=[h for h in it.headers if h[0] != "x-request-id"])
    ok = keys.item()
    si = ok.signature_input
    two_in = si + ", " + si.replace("sig1=", "sig2=", 1)
    two_sig = ok.signature + ", " + ok.signature.replace("sig1=", "sig2=", 1)
    items = [
        (no_xr, mal),                                   # a covered header is absent
        (replace(ok, signature="sig1=:AAAA:"), mal),    # not 32 bytes
        (replace(ok, signature="sig1=(1)"), mal),
        (replace(ok, signature_input="sig1=("), mal),
        (replace(ok, signature_input=si + ';alg="ed25519"'), mal),
        (replace(ok, signature_input=re.sub(r';keyid="[^"]*"', "", si)), mal),
        (replace(ok, signature_input=two_in, signature=two_sig), mal),   # which one?
        (replace(ok, label="sig9"), mal),
        (replace(ok, label="sig1", uri_scheme="ftp"), mal),
        (replace(ok, signature_input=two_in, signature=two_sig, label="sig2"), Verdict.OK),
    ]
    assert verify([i for i, _ in items]) == [w for _, w in items]


def test_every_component_form(verify, keys):
    """The signer's base and the daemon's base agree on every component and field form."""
    headers = [
        ("accept", "application/json"), ("x-empty", ""), ("accept", " */* "),
        ("example-dict", " a=1, b=2;x=1;y=2, c=(a   b    c), d"),
        ("priority", "u=1"), ("priority", "i"),
        ("x-data", "\tvalue, with, commas "),
    ]
    comps = ["@method", "@authority", "@path", "@target-uri", "@scheme", "@request-target",
             "@query", "@query-param;name=id", '@query-param;name="fa%C3%A7ade%22%3A%20"',
             "@query-param;name=q", "accept", "accept;bs", "x-empty", "x-empty;bs",
             'example-dict;key="b"', "example-dict;key=c", "example-dict;key=d", "priority;sf",
             "priority;key=u", "x-data", "x-data;bs"]
    target = ("/containers/web-01/files/a%2Fb%20c?id=web-01&q=a+b%2a%7e&"
              "fa%C3%A7ade%22%3A%20=1&empty")
    def get(**kw):
        return keys.item(method="GET", body=b"", target=target, headers=headers,
                         components=comps, authority="API.Example.com:443", **kw)

    post = keys.item(target=target, headers=headers, tag="app", alg="hmac-sha256",
                     components=comps + ["content-digest", "content-digest;sf",
                                         'content-digest;key="sha-256"', "content-length",
                                         "content-digest;bs"])
    http = keys.item(method="GET", body=b"", authority="api.example.com:80", uri_scheme="http",
                     components=["@method", "@authority", "@path", "@target-uri", "@scheme"])
    moved, swapped = get(), get()
    items = [
        (get(), Verdict.OK),
        (post, Verdict.OK),
        (http, Verdict.OK),
        (replace(keys.item(method="GET", body=b"", uri_scheme="http",
                           components=["@method", "@authority", "@path", "@scheme"]),
                 uri_scheme="https"), Verdict.BAD_SIGNATURE),
        # field lines of other names moved around: the same base
        (replace(moved, headers=[h for h in moved.headers if h[0] != "x-data"] +
                 [h for h in moved.headers if h[0] == "x-data"]), Verdict.OK),
        # the lines of one name in another order: another base
        (replace(swapped, headers=[h for h in swapped.headers if h[0] != "accept"] +
                 [("accept", "*/*"), ("accept", "application/json")]), Verdict.BAD_SIGNATURE),
    ]
    assert verify([i for i, _ in items]) == [w for _, w in items]


def test_policies(daemon, verify):
    t = unique("rfc-policy")
    k, kid = os.urandom(32), unique("kp")
    k2, kid2 = os.urandom(32), unique("kp")
    daemon.import_key(t, "web-01", k, kid)
    daemon.import_key(t, "web-02", k2, kid2)
    daemon.policy_set(t, ["@method", "@authority", "@path", '@query-param;name="id"'])
    daemon.policy_set(t, ["@method"], "web-02", ["--no-nonce", "--no-body-digest"])
    # web-03 opts out of the query rule: only the id parameter is bound
    k3, kid3 = os.urandom(32), unique("kp")
    daemon.import_key(t, "web-03", k3, kid3)
    daemon.policy_set(t, ["@method", "@authority", "@path", '@query-param;name="id"'], "web-03",
                      ["--no-query"])
    shown = daemon.ctl("policy", "show", "--tenant", t, "--container", "web-01", "--json")
    assert shown["source"] == "tenant" and shown["nonce"] is True
    assert shown["require"] == ["@method", "@authority", "@path", '@query-param;name="id"']
    # set without --no-query: @query is wanted whenever there is a query; replays all refused
    assert shown["query"] is True and shown["replay_protection"] == "all"
    assert (shown["v1_nonce"], shown["v1_require"]) == (False, [])
    shown = daemon.ctl("policy", "show", "--tenant", t, "--container", "web-02", "--json")
    assert shown["source"] == "scope" and shown["require"] == ["@method"]
    assert shown["nonce"] is False and shown["replay_protection"] == "with_nonce"
    assert shown["query"] is True
    shown = daemon.ctl("policy", "show", "--tenant", t, "--container", "web-03", "--json")
    assert shown["source"] == "scope" and shown["query"] is False

    def item(c, key, keyid, **kw):
        return rfc_item(t, c, key, keyid, method="GET", body=b"", **kw)

    target = "/containers/web-01/exec?id=7"
    full = ["@method", "@authority", "@path", "@query-param;name=id"]
    items = [
        (item("web-01", k, kid, target=target, components=["@method", "@authority", "@path"]),
         Verdict.INSUFFICIENT_COVERAGE),
        # the default components cover @query, which meets any @query-param
        (item("web-01", k, kid, target=target), Verdict.OK),
        # the required @query-param alone leaves the rest of the query open (&force=1 could be
        # added): the query rule still wants @query (or @request-target / @target-uri)
        (item("web-01", k, kid, target=target, components=full),
         Verdict.INSUFFICIENT_COVERAGE),
        (item("web-01", k, kid, target=target, components=full + ["@query"]), Verdict.OK),
        (item("web-01", k, kid, target=target, components=full + ["@request-target"]),
         Verdict.OK),
        # the query covered, the nonce missing: that alone is short of the policy
        (item("web-01", k, kid, target=target, components=full + ["@query"], nonce=None),
         Verdict.INSUFFICIENT_COVERAGE),
        # web-02's own policy: @method alone, no nonce, a body without a digest
        (item("web-02", k2, kid2, components=["@method"], nonce=None), Verdict.OK),
        (rfc_item(t, "web-02", k2, kid2, components=["@method"], nonce=None), Verdict.OK),
        (item("web-02", k2, kid2, components=["@method"], created=None),
         Verdict.INSUFFICIENT_COVERAGE),
        # every policy set without --no-query wants @query when there is a query
        (item("web-02", k2, kid2, target="/containers/web-02/exec?id=7", components=["@method"],
              nonce=None), Verdict.INSUFFICIENT_COVERAGE),
        (item("web-02", k2, kid2, target="/containers/web-02/exec?id=7",
              components=["@method", "@query"], nonce=None), Verdict.OK),
        # web-03 (--no-query): the id parameter alone meets it, and is bound ...
        (item("web-03", k3, kid3, target="/containers/web-03/exec?id=7", components=full),
         Verdict.OK),
        (replace(item("web-03", k3, kid3, target="/containers/web-03/exec?id=7",
                      components=full), path="/containers/web-03/exec?id=8"),
         Verdict.BAD_SIGNATURE),
        # ... and the rest of the query is open: what --no-query gives away
        (replace(item("web-03", k3, kid3, target="/containers/web-03/exec?id=7",
                      components=full), path="/containers/web-03/exec?id=7&force=1"),
         Verdict.OK),
    ]
    assert verify([i for i, _ in items]) == [w for _, w in items]
    daemon.ctl("policy", "unset", "--tenant", t)
    assert verify([item("web-01", k, kid, target=target)]) == [Verdict.OK]


def test_rfc_b25_example(daemon, verify, rfc_example):
    """RFC 9421 B.2.5 byte for byte: the RFC's request, Signature-Input and Signature, the
    RFC's shared secret imported under keyid test-shared-secret, in a scope whose policy asks
    only for what B.2.5 covers (--no-query among the rest: its target has a query it does not
    cover)."""
    t, c = rfc_example
    shown = daemon.ctl("policy", "show", "--tenant", t, "--container", c, "--json")
    assert (shown["source"], shown["require"]) == ("scope", RFC_B25_COMPONENTS)
    assert (shown["nonce"], shown["age_check"], shown["body_digest"], shown["query"]) == (
        False, False, False, False)
    assert shown["replay_protection"] == "weak"
    # the same policy without --no-query, in another container of the tenant
    daemon.policy_set(t, RFC_B25_COMPONENTS, "rfc-example-query",
                      [f for f in RFC_B25_POLICY_FLAGS if f != "--no-query"])
    it = rfc_b25_item(t, c)
    items = [
        (it, Verdict.OK),
        (it, Verdict.OK),                              # no nonce: no replay protection
        (replace(it, label="sig-b25"), Verdict.OK),
        (replace(it, body=None), Verdict.OK),
        (replace(it, method="GET", path="/bar"), Verdict.OK),  # neither is covered
        # nor is the query, and this scope's policy does not ask for it
        (replace(it, path="/foo?param=Other&Pet=cat&force=true"), Verdict.OK),
        # where the policy keeps the query rule, B.2.5 is short of it (before the key: the key
        # id belongs to rfc-example) ...
        (replace(it, container="rfc-example-query"), Verdict.INSUFFICIENT_COVERAGE),
        # ... and the query is all it misses: without one, coverage passes and the key is looked
        # up (another scope's)
        (replace(it, container="rfc-example-query", path="/foo"), Verdict.UNKNOWN_KEY),
        (replace(it, headers=[(n, "Tue, 20 Apr 2021 02:07:56 GMT" if n == "date" else v)
                              for n, v in it.headers]), Verdict.BAD_SIGNATURE),
        (replace(it, authority="example.org"), Verdict.BAD_SIGNATURE),
        (replace(it, headers=[h for h in it.headers if h[0] != "date"]), Verdict.MALFORMED),
        # another container of the tenant has the default policy, which B.2.5 does not meet
        # (and coverage is judged before the key: not UNKNOWN_KEY)
        (replace(it, container="other"), Verdict.INSUFFICIENT_COVERAGE),
        (replace(it, tenant=unique("nobody")), Verdict.INSUFFICIENT_COVERAGE),
    ]
    assert verify([i for i, _ in items]) == [w for _, w in items]


def test_rfc_b25_signed_by_sign(verify, rfc_example):
    """sign() with the RFC's key and parameters produces B.2.5's headers, and they verify."""
    t, c = rfc_example
    from helpers import RFC_B25_INPUT, RFC_B25_SIGNATURE, RFC_SHARED_SECRET_B64
    h = sign("POST", "https://example.com/foo?param=Value&Pet=dog", key=RFC_SHARED_SECRET_B64,
             keyid="test-shared-secret", headers=RFC_B2_HEADERS,
             components=["date", "@authority", "content-type"], created=1618884473,
             nonce=None, label="sig-b25")
    assert (h["Signature-Input"], h["Signature"]) == (RFC_B25_INPUT, RFC_B25_SIGNATURE)
    assert verify([rfc_b25_item(t, c, signature_input=h["Signature-Input"],
                                signature=h["Signature"])]) == [Verdict.OK]
