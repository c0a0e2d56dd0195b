"""test_rfc9421_vectors.py - the shared RFC 9421 vectors (proto/vectors/rfc9421.json, format in
proto/vectors/README.md), whose answers are the daemon's own (tests/vectors/gen_rfc9421): every
expected signature base byte for byte from signature_base_of(), every case the daemon refuses
refused with ValueError, the signed cases' Signature as the HMAC of that base, and sign(), given
a signed case's "sign" inputs, writing exactly its Signature-Input and Signature. No daemon.

The file is $HMACD_RFC9421_VECTORS, else rfc9421.json next to $HMACD_VECTORS, else its place in
the source tree. Vector strings stand for their UTF-8 bytes, as make_request() reads str.
"""

import base64
import hashlib
import hmac
import json
import os

import pytest

from conftest import VECTORS
from hmacd.rfc9421 import make_request, sign, signature_base_of

RFC9421_VECTORS = os.environ.get("HMACD_RFC9421_VECTORS") or os.path.join(
    os.path.dirname(VECTORS), "rfc9421.json")


def _load():
    with open(RFC9421_VECTORS, encoding="utf-8") as f:
        doc = json.load(f)
    assert doc["format"] == "hmacd rfc9421 signature base vectors" and doc["version"] == 1, \
        "unknown rfc9421 vectors format"
    assert doc["cases"], "no case"
    return doc["cases"]


CASES = _load()
SIGNED = [c for c in CASES if "sign" in c]


def _base(c):
    r = c["request"]
    req = make_request(r["method"], r["authority"], r["path"], r["headers"],
                       r.get("uri_scheme", "https"))
    return signature_base_of(req, c["signature_input"], c.get("label"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_base(case):
    expect = case["expect"]
    if expect.get("error"):
        with pytest.raises(ValueError):
            got = _base(case)
            pytest.fail("the daemon refuses this (%s); signature_base_of() gives:\n%s"
                        % (expect["reason"], got.decode("utf-8", "replace")))
        return
    base = _base(case)
    assert base == expect["base"].encode("utf-8")
    if "key_b64" in case:
        mac = hmac.new(base64.b64decode(case["key_b64"]), base, hashlib.sha256).digest()
        label = case["signature_input"].split("=", 1)[0]
        assert label + "=:" + base64.b64encode(mac).decode() + ":" == expect["signature"]


@pytest.mark.parametrize("case", SIGNED, ids=[c["name"] for c in SIGNED])
def test_signer(case):
    r, s = case["request"], case["sign"]
    out = sign(r["method"], r["path"], key=base64.b64decode(case["key_b64"]), keyid=s["keyid"],
               headers=r["headers"], components=s["components"], created=s.get("created"),
               expires=s.get("expires"), nonce=s.get("nonce"), label=s["label"],
               tag=s.get("tag"), alg="hmac-sha256" if s.get("alg") else None,
               authority=r["authority"], scheme=r.get("uri_scheme", "https"))
    assert out["Signature-Input"] == case["signature_input"]
    assert out["Signature"] == case["expect"]["signature"]
    assert "Content-Digest" not in out


def test_counts():
    """The file holds what the README promises: bases, signed cases and refusals."""
    assert len(SIGNED) >= 3
    assert sum(1 for c in CASES if c["expect"].get("error")) >= 15
    assert any(c["name"] == "rfc-b25-hmac" for c in SIGNED)
