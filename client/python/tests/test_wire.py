"""test_wire.py - the request frames the clients build from constant pieces (wire.verify_frame,
wire.pack_uint) are byte for byte what msgpack itself writes for the same map, and str or bytes
fields pack to the same bytes."""

import msgpack
import pytest

from hmacd import Item, wire


def _as_msgpack(rid, packed):
    """The verify frame as msgpack writes the map {"id", "op", "items"} (items pre-packed)."""
    n = len(packed)
    arr = (bytes([0x90 | n]) if n < 16 else
           b"\xdc" + n.to_bytes(2, "big") if n < 0x10000 else b"\xdd" + n.to_bytes(4, "big"))
    head = msgpack.packb({"id": rid, "op": "verify"})
    payload = bytes([0x83]) + head[1:] + msgpack.packb("items") + arr + b"".join(packed)
    return len(payload).to_bytes(4, "big") + payload


@pytest.mark.parametrize("v", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, (1 << 32) - 1,
                               1 << 32, (1 << 64) - 1])
def test_pack_uint_is_msgpacks(v):
    assert wire.pack_uint(v) == msgpack.packb(v)


@pytest.mark.parametrize("rid", [1, 127, 128, 65536, (1 << 64) - 1])
@pytest.mark.parametrize("n", [1, 15, 16, 70000])
def test_verify_frame_is_the_msgpack_map(rid, n):
    packed = [msgpack.packb({"i": i}) for i in range(n)]
    got = wire.verify_frame(rid, packed)
    assert got == _as_msgpack(rid, packed)
    m = msgpack.unpackb(got[4:])
    assert list(m) == ["id", "op", "items"] and m["id"] == rid and len(m["items"]) == n


def test_str_and_bytes_fields_pack_alike():
    kw = dict(epoch=3, ts=9, sig=bytes(32), nonce="n-1", body=b"{}")
    as_str = Item(tenant="acme", container="web-01", method="POST", path="/p?q=%C3",
                  headers=[("host", "h")], **kw)
    as_bytes = Item(tenant=b"acme", container=b"web-01", method=b"POST", path=b"/p?q=%C3",
                    headers=[(b"host", b"h")], **kw)
    assert wire.pack_item(as_str) == wire.pack_item(as_bytes)
    raw = Item(tenant="acme", container="web-01", method="POST", path=b"/\xff", **kw)
    assert msgpack.unpackb(wire.pack_item(raw), raw=True)[b"path"] == b"/\xff"


def test_an_item_too_large_for_a_frame():
    wire.check_fits(1024 - wire.verify_overhead(1), 1024)
    with pytest.raises(ValueError):
        wire.check_fits(1025 - wire.verify_overhead(1), 1024)
