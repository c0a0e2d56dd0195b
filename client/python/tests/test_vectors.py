"""test_vectors.py - the Python signer, parser, item rules and middleware against the shared
vectors (proto/vectors/hmacd-v1.json). No daemon needed: test_daemon.py sends the tampered and
malformed vectors to the real one.

The middleware checks are the strongest here: each HTTP-safe positive vector is turned into a
WSGI environ and an ASGI scope as a server would build them, run through the middleware with a
client that records the item, and the item's canonical string and sig must be the vector's.
"""

import asyncio
import base64
import hashlib
import io

import msgpack
import pytest

from helpers import item_from_vector
from hmacd import (AuthorizationError, Item, Signer, Verdict, canonical_string,
                   format_authorization, parse_authorization, sign_item)
from hmacd.asgi import HmacdASGIMiddleware
from hmacd.signer import item_problem
from hmacd.wire import pack_item
from hmacd.wsgi import HmacdWSGIMiddleware

WORKED_EXAMPLE_SIG = "83b55937fb410a3bcbe53204bf2baa4d1f062cf8509914b176ba56f509069dab"


def pytest_generate_tests(metafunc):
    import json
    from conftest import VECTORS
    with open(VECTORS, encoding="utf-8") as f:
        v = json.load(f)
    lists = {
        "positive": v["positive"],
        "http_vector": [p for p in v["positive"] if p["http"]],
        "tampered": v["tampered"],
        "malformed_content": [m for m in v["malformed"] if m["kind"] == "content"],
        "auth_valid": v["authorization"]["valid"],
        "auth_invalid": v["authorization"]["invalid"],
    }
    for name, items in lists.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, items, ids=[i["name"] for i in items])


def test_first_vector_is_the_worked_example(vectors):
    first = vectors["positive"][0]
    assert first["name"] == "protocol-worked-example"
    assert first["sig_hex"] == WORKED_EXAMPLE_SIG


def test_verdict_table(vectors):
    """The file's verdict table is hmacd.Verdict, name for name (9 UNAVAILABLE included)."""
    assert vectors["verdicts"] == {v.name: v.value for v in Verdict}
    assert vectors["verdicts"]["UNAVAILABLE"] == 9


def test_positive_signer(positive):
    it = item_from_vector(positive, sig=b"")
    canon = canonical_string(it)
    assert canon == positive["canonical"].encode("utf-8")
    assert hashlib.sha256(it.body).hexdigest() == positive["body_sha256"]
    # the digest form gives the same string
    alt = item_from_vector(positive, body=None, body_sha256=bytes.fromhex(positive["body_sha256"]))
    assert canonical_string(alt) == canon
    sig = sign_item(positive["secret_b64"], it)
    assert sig.hex() == positive["sig_hex"]
    assert base64.b64encode(sig).decode() == positive["sig_b64"]
    auth = format_authorization(positive["tenant"], positive["epoch"], positive["ts"], sig,
                                positive["nonce"], [h[0] for h in positive["headers"]])
    assert auth == positive["authorization"]


def test_positive_parses_back(positive):
    a = parse_authorization(positive["authorization"])
    assert a.tenant == positive["tenant"]
    assert a.epoch == positive["epoch"] and a.ts == positive["ts"]
    assert (a.nonce or "") == positive["nonce"]
    assert list(a.signed_headers) == [h[0] for h in positive["headers"]]
    assert a.sig.hex() == positive["sig_hex"]


def test_positive_wire_form(positive):
    """The packed item is the msgpack map of PROTOCOL.md section 7, str fields as str."""
    m = msgpack.unpackb(pack_item(item_from_vector(positive)), raw=True)
    assert m[b"tenant"] == positive["tenant"].encode()
    assert m[b"path"] == positive["path"].encode("utf-8")
    assert m[b"epoch"] == positive["epoch"] and m[b"ts"] == positive["ts"]
    assert m[b"headers"] == [[n.encode(), v.encode()] for n, v in positive["headers"]]
    assert m[b"body"] == base64.b64decode(positive["body_b64"])
    assert m[b"sig"] == bytes.fromhex(positive["sig_hex"])
    assert m.get(b"nonce", b"") == positive["nonce"].encode()


def test_signer_makes_the_header(http_vector):
    """Signer.sign_request, given the vector's request, produces its Authorization byte for
    byte (ts and nonce fixed)."""
    v = http_vector
    s = Signer(v["tenant"], v["epoch"], v["secret_b64"])
    headers = [(n.upper() if i % 2 else n, val) for i, (n, val) in enumerate(v["headers"])]
    auth = s.sign_request(v["method"], v["path"], container=v["container"], headers=headers,
                          body=base64.b64decode(v["body_b64"]),
                          signed_headers=[h[0] for h in v["headers"]], ts=v["ts"],
                          nonce=v["nonce"])
    assert auth == v["authorization"]


def test_tampered(tampered, vectors):
    base = next(p for p in vectors["positive"] if p["name"] == tampered["base"])
    it = item_from_vector(tampered)
    canon = canonical_string(it)
    assert canon == tampered["canonical"].encode("utf-8")
    assert canon != base["canonical"].encode("utf-8")
    assert sign_item(tampered["secret_b64"], it).hex() != tampered["sig_hex"]


def test_malformed_content(malformed_content):
    """The signer refuses to sign what the daemon would call MALFORMED (the wire-level vectors
    are sent to the daemon in test_daemon.py)."""
    it = item_from_vector(malformed_content)
    assert item_problem(it) is not None
    with pytest.raises(ValueError):
        sign_item(bytes(32), it)


def test_auth_valid(auth_valid):
    a = parse_authorization(auth_valid["header"])
    p = auth_valid["parsed"]
    assert (a.tenant, a.epoch, a.ts, a.nonce) == (p["tenant"], p["epoch"], p["ts"], p["nonce"])
    assert list(a.signed_headers) == p["signed_headers"]
    assert a.sig.hex() == p["sig_hex"]
    assert parse_authorization(auth_valid["header"].encode("latin-1")) == a


def test_auth_invalid(auth_invalid):
    with pytest.raises(AuthorizationError):
        parse_authorization(auth_invalid["header"])


# ---- the middleware turns each HTTP-safe vector back into its item ----

class Recorder:
    """A client that records items and says OK."""

    def __init__(self):
        self.items = []

    def verify(self, item):
        self.items.append(item)
        return Verdict.OK


class AsyncRecorder(Recorder):
    async def verify(self, item):
        return Recorder.verify(self, item)


def _check_recorded(v, it):
    assert isinstance(it, Item)
    assert it.body is None and it.body_sha256 == bytes.fromhex(v["body_sha256"])
    assert canonical_string(it) == v["canonical"].encode("utf-8")
    assert it.sig.hex() == v["sig_hex"]


def _app_seen(store):
    def app(environ, start_response):
        store["body"] = environ["wsgi.input"].read()
        store["hmacd"] = environ["hmacd"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    return app


def test_wsgi_builds_the_vector_item(http_vector):
    v = http_vector
    body = base64.b64decode(v["body_b64"])
    path, _, query = v["path"].partition("?")
    environ = {
        "REQUEST_METHOD": v["method"], "RAW_URI": v["path"], "PATH_INFO": path,
        "QUERY_STRING": query, "SCRIPT_NAME": "", "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)), "HTTP_AUTHORIZATION": v["authorization"],
    }
    for name, value in v["headers"]:
        key = {"content-type": "CONTENT_TYPE"}.get(name) or \
            "HTTP_" + name.upper().replace("-", "_")
        environ[key] = value.encode("utf-8").decode("latin-1")  # as PEP 3333 servers do
    rec, seen, status = Recorder(), {}, []
    mw = HmacdWSGIMiddleware(_app_seen(seen), rec, container_from=lambda e: v["container"])
    out = b"".join(mw(environ, lambda s, h: status.append(s)))
    assert status == ["200 OK"] and out == b"ok"
    _check_recorded(v, rec.items[0])
    assert seen["body"] == body
    assert seen["hmacd"]["tenant"] == v["tenant"]


def test_asgi_builds_the_vector_item(http_vector):
    v = http_vector
    body = base64.b64decode(v["body_b64"])
    path, _, query = v["path"].partition("?")
    headers = [(b"authorization", v["authorization"].encode())]
    headers += [(n.encode(), val.encode("utf-8")) for n, val in v["headers"]]
    scope = {"type": "http", "method": v["method"], "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "headers": headers,
             "path_params": {"id": v["container"]}}
    seen = {}

    async def app(scope, receive, send):
        msg = await receive()
        seen["body"] = msg["body"]
        seen["hmacd"] = scope["hmacd"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    for rec in (AsyncRecorder(), Recorder()):  # an AsyncClient, or a Client run in a thread
        sent = []
        chunks = [body[:3], body[3:]]

        async def receive():
            c = chunks.pop(0)
            return {"type": "http.request", "body": c, "more_body": bool(chunks)}

        async def send(msg):
            sent.append(msg)

        mw = HmacdASGIMiddleware(app, rec)  # container from scope["path_params"]
        asyncio.run(mw(dict(scope), receive, send))
        assert sent[0]["status"] == 200
        _check_recorded(v, rec.items[0])
        assert seen["body"] == body
        assert seen["hmacd"]["container"] == v["container"]
