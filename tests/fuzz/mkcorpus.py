#!/usr/bin/python3
"""mkcorpus.py - (re)writes the libFuzzer seed corpora in tests/fuzz/corpus/.

Seeds are small valid and near-valid inputs that get each target past its first checks at once:
  frame/    the malformed-frame vectors of tests/vectors/frames, valid frames, and a chain of them
  request/  frame payloads: the vectors' payloads and encoded valid requests (PROTOCOL.md 4, 7),
            rfc9421 items (7.2) alone and mixed with hmacd-v1 ones
  canon/    inputs in fuzz_canon.c's layout (mode byte, item description, derivation)
  fleet_record/  record plaintexts (daemon/fleet/record.h): epochs in each state, the longest
            one, policies set and unset; each again in format 2, with the change's origin
            (operator, admin host, operation, time) after the identity, the longest one too
  audit/    audit record values (daemon/store/audit.h): each kind of operation, with and without
            a sudo user, the longest one; format 2 (a fleet change applied, the operator known
            or not), the longest one
Deterministic: running it twice writes the same bytes. Needs python3-msgpack.
Usage: tests/fuzz/mkcorpus.py   (from anywhere; writes next to itself)
"""
import base64
import hashlib
import os
import random
import struct
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "vectors", "frames")
OUT = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def item(i, body=True, nonce=True, headers=2):
    it = {
        "tenant": "acme",
        "container": "web-%d" % i,
        "epoch": 1 + i,
        "method": "POST",
        "path": "/containers/c%d/exec?tty=0" % i,
        "headers": [["content-type", "application/json"], ["x-request-id", str(i)]][:headers],
        "ts": 1700000000 + i,
        "sig": bytes((i * 7 + k) & 0xFF for k in range(32)),
    }
    b = b'{"cmd":["ls","-l"]}'
    if body:
        it["body"] = b
    else:
        it["body_sha256"] = hashlib.sha256(b).digest()
    if nonce:
        it["nonce"] = "n-%08d" % i
    return it


def requests():
    yield "ping", pack({"id": 1, "op": "ping"})
    yield "stats", pack({"id": 2, "op": "stats"})
    yield "verify-1", pack({"id": 3, "op": "verify", "items": [item(0)]})
    yield "verify-digest", pack({"id": 4, "op": "verify", "items": [item(1, body=False)]})
    yield "verify-3", pack({"id": 5, "op": "verify",
                            "items": [item(2), item(3, nonce=False, headers=0), item(4, body=False)]})
    bad = item(5)
    bad["epoch"] = 0
    yield "verify-bad-item", pack({"id": 6, "op": "verify", "items": [item(6), bad, 7, item(8)]})
    many = item(9)
    many["headers"] = [["h%d" % k, "v" * k] for k in range(64)]
    yield "verify-64-headers", pack({"id": 2**40, "op": "verify", "items": [many]})
    yield "verify-empty", pack({"id": 7, "op": "verify", "items": []})
    # the response shapes too (fuzz_frame decodes payloads as responses as well)
    yield "resp-results", pack({"id": 5, "results": [0, 1, 2, 7]})
    yield "resp-error", pack({"id": None, "error": "malformed", "message": "request is not a map"})
    yield "resp-stats", pack({"id": 2, "stats": {"verdict_ok": 10, "connections": 1}})


def rfc_item(i, body=True, label=True, uri_scheme=None, nheaders=None):
    """An rfc9421 item (PROTOCOL.md 7.2) modelled on RFC 9421 Appendix B.2 (not a valid signature)."""
    b = b'{"hello": "world"}'
    headers = [["host", "example.com"], ["date", "Tue, 20 Apr 2021 02:07:55 GMT"],
               ["content-type", "application/json"],
               ["content-digest", "sha-512=:" + base64.b64encode(hashlib.sha512(b).digest())
                .decode() + ":"],
               ["content-length", str(len(b))]]
    if nheaders is not None:
        headers = [["x-h%d" % k, "\tv %d\t" % k] for k in range(nheaders)]
    it = {
        "scheme": "rfc9421",
        "tenant": "acme",
        "container": "web-%d" % i,
        "method": "POST",
        "authority": "example.com",
        "path": "/foo?param=Value&Pet=dog",
        "headers": headers,
        "signature_input": 'sig-b25=("date" "@authority" "content-type" "content-digest");'
                           'created=1618884473;keyid="test-shared-secret";nonce="n-%d"' % i,
        "signature": "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:",
    }
    if uri_scheme:
        it["uri_scheme"] = uri_scheme
    if label:
        it["label"] = "sig-b25"
    if body:
        it["body"] = b
    return it


def rfc_requests():
    yield "rfc-1", pack({"id": 11, "op": "verify", "items": [rfc_item(0)]})
    last = dict(rfc_item(1, body=False, label=False, uri_scheme="http"))
    last["scheme"] = last.pop("scheme")  # the scheme key last: decided after all other keys
    yield "rfc-mixed", pack({"id": 12, "op": "verify",
                             "items": [item(0), last, rfc_item(2, nheaders=128), item(1, body=False)]})
    bad = rfc_item(3)
    bad["ts"] = 1700000000  # a v1 key in an rfc9421 item
    v1 = item(4)
    v1["scheme"] = "hmacd-v1"
    yield "rfc-bad-item", pack({"id": 13, "op": "verify",
                                "items": [rfc_item(5), bad, v1, rfc_item(6, nheaders=129)]})


def fleet_ident(kind, tenant, container, epoch=None):
    out = bytes([kind, len(tenant)]) + tenant + bytes([len(container)]) + container
    return out + (struct.pack(">I", epoch) if kind == 1 else b"")


def fleet_epoch(tenant, container, epoch, state, deadline, keyid, secret):
    return (fleet_ident(1, tenant, container, epoch) + bytes([state]) +
            struct.pack(">qq", 1700000000, deadline) + bytes([len(keyid)]) + keyid +
            bytes([len(secret)]) + secret)


def fleet_policy(tenant, container, components, v1_headers):
    if components is None:
        return fleet_ident(2, tenant, container) + b"\x00\x00\x00"
    # policy.h's encoding, version 2: flags (created, nonce, age, digest, query), components,
    # hmacd-v1 flags (nonce) and header names
    enc = bytes([2, 0x1f, len(components)])
    for c in components:
        enc += bytes([len(c)]) + c
    enc += bytes([1, len(v1_headers)])
    for h in v1_headers:
        enc += bytes([len(h)]) + h
    return fleet_ident(2, tenant, container) + b"\x01" + struct.pack(">H", len(enc)) + enc


def fleet_origin(op, uid=1000, user=b"bob", sudo=(b"alice", 1001), host=b"admin-1"):
    """Format 2's origin: op | i64 BE time | u32 BE uid | u8 sudo flag | u32 BE sudo uid |
    u8 len, user | u8 len, sudo user | u8 len, host."""
    sudo_user, sudo_uid = sudo if sudo is not None else (b"", None)
    return (struct.pack(">BqIBI", op, 1796551427000, uid, 1 if sudo_uid is not None else 0,
                        sudo_uid or 0) +
            bytes([len(user)]) + user + bytes([len(sudo_user)]) + sudo_user +
            bytes([len(host)]) + host)


def with_origin(plain, origin):
    """A format 1 plaintext made format 2: the origin right after the identity."""
    il = 2 + plain[1]
    il += 1 + plain[il]
    if plain[0] == 1:
        il += 4
    return plain[:il] + origin + plain[il:]


def fleet_records():
    secret = bytes(range(0xa0, 0xe0))
    # format 2: the operation of each record's kind (rotate, revoke, policy set/unset)
    v2 = {"current": 2, "superseded": 2, "revoked": 4, "policy": 5, "policy-tenant": 5,
          "policy-unset": 6}
    for name, plain in fleet_records_v1(secret):
        yield name, plain
        if name in v2:
            yield "v2-" + name, with_origin(plain, fleet_origin(v2[name]))
    longest = fleet_epoch(b"t" * 128, b"c" * 128, 0xFFFFFFFF, 1, 0, b"~" * 128, secret)
    yield "v2-longest", with_origin(longest, fleet_origin(3, 2**32 - 1, b"u" * 64,
                                                          (b"s" * 64, 2**32 - 1), b"h" * 255))
    yield "v2-no-sudo", with_origin(fleet_epoch(b"a", b"b", 1, 1, 0, b"k", secret[:16]),
                                    fleet_origin(1, 0, b"", None, b""))


def fleet_records_v1(secret):
    yield "current", fleet_epoch(b"acme", b"web", 1, 1, 0, b"hk_0123", secret[:32])
    yield "superseded", fleet_epoch(b"acme", b"web", 2, 2, 1700086400, b"k.2", secret[:16])
    yield "revoked", fleet_epoch(b"acme", b"web", 3, 3, 0, b"k/3", b"")
    yield "longest", fleet_epoch(b"t" * 128, b"c" * 128, 0xFFFFFFFF, 1, 0, b"~" * 128, secret)
    comps = [b'"@method"', b'"@path"', b'"content-digest";sf', b'"@query-param";name="id"']
    yield "policy", fleet_policy(b"acme", b"web", comps, [b"x-request-id"])
    yield "policy-tenant", fleet_policy(b"acme", b"", comps[:1], [])
    yield "policy-unset", fleet_policy(b"acme", b"web", None, [])


def audit_record(op, ms, epoch, uid, sudo_uid, strings):
    flags = 1 if sudo_uid is not None else 0
    head = struct.pack("<BBBBqIII", 1, op, flags, 0, ms, epoch, uid, sudo_uid or 0)
    return head + bytes(len(s) for s in strings) + b"\x00" + b"".join(strings)


def audit_record_fleet(op, ms, epoch, uid, sudo_uid, unknown, fleet_op, fleet_ms, strings):
    """Format 2: eight strings (the last the applying host), the operator's time at 32."""
    flags = (1 if sudo_uid is not None else 0) | (2 if unknown else 0)
    head = struct.pack("<BBBBqIII", 2, op, flags, fleet_op, ms, epoch, uid, sudo_uid or 0)
    return (head + bytes(len(s) for s in strings) + struct.pack("<q", fleet_ms) +
            b"".join(strings))


def audit_records():
    yield "create", audit_record(1, 1796551427011, 1, 0, None,
                                 [b"acme", b"web", b"hk_0123", b"root", b"", b"host-a", b""])
    yield "rotate-sudo", audit_record(2, 1796551427072, 2, 1000, 1001,
                                      [b"acme", b"web", b"k2", b"bob", b"alice", b"h", b"grace=60"])
    yield "policy", audit_record(5, 0, 0, 0, None, [b"acme", b"", b"", b"", b"", b"", b""])
    yield "fleet", audit_record(9, 1, 3, 998, None, [b"t", b"c", b"k", b"hmacd", b"", b"h2",
                                                     b"state=revoked version=7 pos=1-0"])
    yield "longest", audit_record(10, 2**62, 2**32 - 1, 2**32 - 1, 2**32 - 1,
                                  [b"t" * 128, b"c" * 128, b"~" * 128, b"u" * 64, b"s" * 64,
                                   b"h" * 255, b"d" * 128])
    yield "fleet-v2", audit_record_fleet(9, 1796551427072, 2, 1000, 1001, False, 2,
                                         1796551427000,
                                         [b"acme", b"web", b"k2", b"bob", b"alice", b"admin-1",
                                          b"state=current version=7 pos=1-0", b"web-7"])
    yield "fleet-v2-unknown", audit_record_fleet(10, 1796551427072, 0, 0, None, True, 0, 0,
                                                 [b"acme", b"", b"", b"", b"", b"",
                                                  b"unset version=8 pos=resync", b"web-7"])
    yield "fleet-v2-longest", audit_record_fleet(9, 2**62, 2**32 - 1, 2**32 - 1, 2**32 - 1,
                                                 False, 4, 2**62,
                                                 [b"t" * 128, b"c" * 128, b"~" * 128, b"u" * 64,
                                                  b"s" * 64, b"h" * 255, b"d" * 128,
                                                  b"a" * 255])


def main():
    vectors = sorted(f for f in os.listdir(VECTORS) if f.endswith(".bin"))
    chain = b""
    for name in vectors:
        data = open(os.path.join(VECTORS, name), "rb").read()
        stem = name[:-4]
        write("frame", stem, data)
        if len(data) >= 4:
            n = struct.unpack(">I", data[:4])[0]
            # payloads of complete frames only, and only small ones (huge ones are frame seeds)
            if len(data) - 4 == n and n <= 4096:
                write("request", "vec-" + stem, data[4:])
    for name, payload in requests():
        write("request", name, payload)
        write("frame", "frame-" + name, frame(payload))
        chain += frame(payload)
    for name, payload in rfc_requests():
        write("request", name, payload)
    write("frame", "chain", chain + b"\x00\x00\x01")  # ends in a truncated header

    rnd = random.Random(20240601)
    for k in range(12):
        mode = bytes([0 if k < 10 else 1])  # folded alphabets for most, raw for two
        desc = bytes(rnd.randrange(256) for _ in range(600))
        deriv = bytes([k % 6, rnd.randrange(256), rnd.randrange(256)])
        write("canon", "seed-%02d" % k, mode + desc[:400] + deriv + desc[400:])

    for name, data in fleet_records():
        write("fleet_record", name, data)
    for name, data in audit_records():
        write("audit", name, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
