"""test_daemon.py - the thread-safe Client against the real hmacd: every verdict code, batches,
error responses, and the shared vectors (re-signed with real keys, tampered, malformed)."""

import base64
import socket

import msgpack
import pytest

from helpers import item_from_vector, now, signed, unique
from hmacd import Client, Item, ServerError, Unavailable, Verdict, sign_item, wire


@pytest.fixture(scope="module")
def client(daemon):
    with Client(daemon.socket, pool_size=4, timeout=10) as c:
        yield c


def test_ping_and_stats(client):
    client.ping()
    st = client.stats()
    assert isinstance(st, dict) and st["requests"] >= 1
    assert all(isinstance(k, str) and isinstance(v, int) for k, v in st.items())


def test_ok(daemon, client):
    t = unique("acme")
    k = daemon.create(t, "web-01")
    assert client.verify(signed(k["secret"], tenant=t, container="web-01")) is Verdict.OK


def _verdict_cases(daemon):
    """Returns make() -> [(item, expected verdict)] with fresh nonces on every call."""
    c = "web-01"
    t = unique("acme")
    k = daemon.create(t, c)["secret"]
    tr = unique("revoked")
    kr = daemon.create(tr, c)["secret"]
    daemon.rotate(tr, c)
    daemon.revoke(tr, c, 1)
    te = unique("expired")
    ke = daemon.create(te, c)["secret"]
    daemon.rotate(te, c, grace=0)

    def make():
        ok = signed(k, tenant=t, container=c)
        bad = signed(k, tenant=t, container=c)
        bad.sig = bytes([bad.sig[0] ^ 1]) + bad.sig[1:]
        return [
            (ok, Verdict.OK),
            (bad, Verdict.BAD_SIGNATURE),
            (signed(k, tenant=unique("nobody"), container=c), Verdict.UNKNOWN_KEY),
            (signed(k, tenant=t, container=c, epoch=2), Verdict.UNKNOWN_KEY),
            (signed(k, tenant=t, container="other"), Verdict.UNKNOWN_KEY),
            (signed(kr, tenant=tr, container=c, epoch=1), Verdict.KEY_REVOKED),
            (signed(ke, tenant=te, container=c, epoch=1), Verdict.KEY_EXPIRED),
            (signed(k, tenant=t, container=c, ts=now() - 3600), Verdict.STALE_TIMESTAMP),
            (signed(k, tenant=t, container=c, ts=now() + 3600), Verdict.STALE_TIMESTAMP),
            (Item(tenant="bad tenant", container=c, epoch=1, method="POST", path="/", ts=now(),
                  sig=bytes(32)), Verdict.MALFORMED),
            (Item(tenant=t, container=c, epoch=1, method="POST", path="/", ts=now(),
                  sig=bytes(31)), Verdict.MALFORMED),
        ]
    return make, k, t, c


def test_every_verdict_one_by_one(daemon, client):
    make, k, t, c = _verdict_cases(daemon)
    for it, want in make():
        assert client.verify(it) == want, (it.tenant, want)
    # replay: the same nonce twice; the second is refused
    it = signed(k, tenant=t, container=c)
    assert client.verify(it) is Verdict.OK
    assert client.verify(it) is Verdict.REPLAY
    # no nonce: no replay protection
    it = signed(k, tenant=t, container=c, nonce="")
    assert client.verify_many([it, it]) == [Verdict.OK, Verdict.OK]


def test_every_verdict_in_one_batch(daemon, client):
    make, k, t, c = _verdict_cases(daemon)
    cases = make()
    rep = signed(k, tenant=t, container=c)
    items = [it for it, _ in cases] + [rep, rep]
    want = [v for _, v in cases] + [Verdict.OK, Verdict.REPLAY]
    assert client.verify_many(items) == want


def test_body_digest_is_equivalent(daemon, client):
    import hashlib
    t = unique("acme")
    k = daemon.create(t, "c1")["secret"]
    it = signed(k, tenant=t, container="c1", body=b"x" * 1000)
    it.body_sha256, it.body = hashlib.sha256(it.body).digest(), None
    assert client.verify(it) is Verdict.OK


def test_rotation_seen_live(daemon, client):
    t, c = unique("rot"), "c1"
    k1 = daemon.create(t, c)["secret"]
    k2 = daemon.rotate(t, c, grace=86400)["secret"]
    assert client.verify(signed(k1, tenant=t, container=c, epoch=1)) is Verdict.OK
    assert client.verify(signed(k2, tenant=t, container=c, epoch=2)) is Verdict.OK
    daemon.revoke(t, c, 1)
    assert client.verify(signed(k1, tenant=t, container=c, epoch=1)) is Verdict.KEY_REVOKED


def test_error_response_keeps_the_client_usable(daemon):
    t = unique("big")
    k = daemon.create(t, "c1")["secret"]
    # this client believes the daemon takes 5000 items; it takes 1024 (--max-batch)
    with Client(daemon.socket, max_batch=5000, pool_size=1) as c:
        items = [signed(k, tenant=t, container="c1") for _ in range(1025)]
        with pytest.raises(ServerError) as e:
            c.verify_many(items)
        assert e.value.code == "too_many_items"
        assert c.verify(signed(k, tenant=t, container="c1")) is Verdict.OK


def test_oversize_frame_is_not_resent(daemon):
    """A frame over the daemon's --max-frame makes it close the connection unanswered: the
    request was sent, so the client reports it lost and never resends it; the next call works."""
    t = unique("frame")
    k = daemon.create(t, "c1")["secret"]
    with Client(daemon.socket, max_frame=4 << 20, pool_size=1) as c:
        with pytest.raises(Unavailable):
            c.verify(signed(k, tenant=t, container="c1", body=b"x" * (2 << 20)))
        assert c.verify(signed(k, tenant=t, container="c1")) is Verdict.OK


def test_large_batch_is_split(daemon, client):
    t = unique("split")
    k = daemon.create(t, "c1")["secret"]
    items = [signed(k, tenant=t, container="c1") for _ in range(2500)]
    assert client.verify_many(items) == [Verdict.OK] * 2500


# ---- the shared vectors against the daemon ----

def _keyring(daemon, scopes):
    """Creates each (tenant, container) with `epochs` epochs; returns {(t, c, epoch): secret}."""
    ring = {}
    for (t, c), epochs in scopes.items():
        ring[(t, c, 1)] = daemon.create(t, c)["secret"]
        for e in range(2, epochs + 1):
            ring[(t, c, e)] = daemon.rotate(t, c)["secret"]
    return ring


def test_positive_vectors_resigned(own_daemon, vectors):
    """Every positive vector, signed with a real key and a fresh timestamp, is OK (epochs that
    cannot exist in a store give UNKNOWN_KEY)."""
    scopes = {}
    for v in vectors["positive"]:
        if v["epoch"] <= 8:
            key = (v["tenant"], v["container"])
            scopes[key] = max(scopes.get(key, 0), v["epoch"])
    ring = _keyring(own_daemon, scopes)
    with Client(own_daemon.socket) as c:
        for v in vectors["positive"]:
            it = item_from_vector(v, ts=now())
            secret = ring.get((v["tenant"], v["container"], v["epoch"]), v["secret_b64"])
            it.sig = sign_item(secret, it)
            want = Verdict.OK if v["epoch"] <= 8 else Verdict.UNKNOWN_KEY
            assert c.verify(it) == want, v["name"]


def test_tampered_vectors(own_daemon, vectors):
    """The base signed with a real key comes back STALE_TIMESTAMP (its 2023 ts: the signature
    is checked first, so it was valid); each tampered item with that signature BAD_SIGNATURE."""
    base = vectors["positive"][0]
    scopes = {(base["tenant"], base["container"]): base["epoch"]}
    for v in vectors["tampered"]:
        key = (v["tenant"], v["container"])
        scopes[key] = max(scopes.get(key, 0), v["epoch"])
    ring = _keyring(own_daemon, scopes)
    base_item = item_from_vector(base)
    sig = sign_item(ring[(base["tenant"], base["container"], base["epoch"])], base_item)
    base_item.sig = sig
    with Client(own_daemon.socket) as c:
        assert c.verify(base_item) is Verdict.STALE_TIMESTAMP
        items = [item_from_vector(v, sig=sig) for v in vectors["tampered"]]
        got = c.verify_many(items)
    for v, verdict in zip(vectors["tampered"], got):
        assert verdict == Verdict[v["expected"]], v["name"]


def wire_map(v):
    """The msgpack map of a malformed vector (proto/vectors/README.md)."""
    m = {
        "tenant": v["tenant"], "container": v["container"], "epoch": v["epoch"],
        "method": v["method"], "path": v["path"], "headers": v["headers"],
        "body": base64.b64decode(v["body_b64"]), "ts": v["ts"], "nonce": v["nonce"],
        "sig": base64.b64decode(v["sig_b64"]),
    }
    w = v.get("wire", {})
    for k in w.get("remove", []):
        del m[k]
    for k, val in w.get("set", {}).items():
        m[k] = val
    for k, val in w.get("set_bin", {}).items():
        m[k] = base64.b64decode(val)
    return m


def raw_verify(path, maps):
    """Sends one verify frame of raw item maps; returns the decoded answer."""
    packed = [msgpack.packb(m, use_bin_type=True) for m in maps]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(wire.verify_frame(7, packed))
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + wire.frame_length(buf[:4]):
            chunk = s.recv(65536)
            assert chunk, "hmacd closed the connection"
            buf += chunk
    return wire.decode_response(buf[4:])


def test_malformed_vectors(daemon, vectors):
    """Each malformed vector, between two good items, is MALFORMED; its neighbours are not."""
    good = wire_map(vectors["positive"][0])
    for v in vectors["malformed"]:
        rid, kind, results = raw_verify(daemon.socket, [good, wire_map(v), good])
        assert (rid, kind) == (7, "results"), v["name"]
        assert results[1] == Verdict[v["expected"]], v["name"]
        assert results[0] != Verdict.MALFORMED and results[2] != Verdict.MALFORMED, v["name"]
