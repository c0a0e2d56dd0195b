"""test_resend.py - the clients' connection rules against a scripted fake daemon.

The real daemon cannot be made to misbehave on cue, so these tests run a tiny Unix-socket server
(fakedaemon.py, the `fake` fixture) whose every connection follows a script, and which records
every request it reads. They pin down the rule shared with the C client: a request is sent
again on a new connection only if no byte of it was written; once it may have reached the
daemon, the caller gets Unavailable (its nonce may have been recorded) and the request is never
seen twice. Also: timeouts, answers that break the protocol or come in pieces, and error
responses (which keep the connection).
"""

import asyncio
import struct
import threading

import msgpack
import pytest

from fakedaemon import serve_forever
from hmacd import (AsyncClient, Client, Item, ProtocolError, ServerError, Timeout, Unavailable,
                   Verdict, verdict_name)


def _item(n=0):
    return Item(tenant="t", container="c", epoch=1, method="GET", path="/%d" % n, ts=1,
                sig=bytes(32))


def serve_once_then_close(i, c, srv):
    req = srv.read_request(i, c)
    srv.answer(c, req)


def swallow(i, c, srv):
    """Reads one request and closes without answering (the daemon died mid-request)."""
    srv.read_request(i, c)


def hold(i, c, srv):
    """Reads one request and never answers."""
    srv.read_request(i, c)
    srv.release.wait(10)


def test_dead_idle_connection_is_replaced(fake):
    srv = fake(lambda i: serve_once_then_close if i == 0 else serve_forever)
    with Client(srv.path, pool_size=1) as c:
        assert c.verify(_item(1)) is Verdict.OK
        assert srv.closed.wait(5)
        assert c.verify(_item(2)) is Verdict.OK   # connection 0 was closed while idle
    assert [(i, r["items"][0]["path"]) for i, r in srv.requests] == [(0, "/1"), (1, "/2")]


def test_request_in_flight_is_never_resent(fake):
    srv = fake(lambda i: swallow if i == 0 else serve_forever)
    with Client(srv.path, pool_size=1) as c:
        with pytest.raises(Unavailable):
            c.verify(_item(1))
        assert c.verify(_item(2)) is Verdict.OK   # the next call connects afresh
    assert [(i, r["items"][0]["path"]) for i, r in srv.requests] == [(0, "/1"), (1, "/2")]


def test_async_request_in_flight_is_never_resent(fake):
    srv = fake(lambda i: swallow if i == 0 else serve_forever)

    async def main():
        async with AsyncClient(srv.path) as c:
            with pytest.raises(Unavailable):
                await c.verify(_item(1))
            assert await c.verify(_item(2)) is Verdict.OK
    asyncio.run(main())
    assert [(i, r["items"][0]["path"]) for i, r in srv.requests] == [(0, "/1"), (1, "/2")]


def test_timeout_in_flight_and_in_queue(fake):
    srv = fake(lambda i: hold if i == 0 else serve_forever)
    with Client(srv.path, pool_size=1) as c:
        errors = []

        def call(n, timeout):
            try:
                c.verify(_item(n), timeout=timeout)
            except Exception as e:
                errors.append((n, type(e)))
        t1 = threading.Thread(target=call, args=(1, 1.0))
        t1.start()
        while not srv.requests:   # wait until request 1 holds the only connection slot
            t1.join(0.01)
        call(2, 0.2)              # queued behind it, never sent, gives up first
        t1.join(5)
        assert sorted(errors) == [(1, Timeout), (2, Timeout)]
        assert c.verify(_item(3), timeout=5) is Verdict.OK
    paths = [r["items"][0]["path"] for _, r in srv.requests]
    assert paths == ["/1", "/3"]


def test_async_timeout_keeps_pipeline_in_step(fake):
    state = {"n": 0}

    def slow_first(i, c, srv):
        req = srv.read_request(i, c)
        srv.release.wait(0.5)          # the first answer comes late...
        srv.answer(c, req)
        serve_forever(i, c, srv)       # ...and the rest on time

    srv = fake(lambda i: slow_first)

    async def main():
        async with AsyncClient(srv.path) as c:
            with pytest.raises(Timeout):
                await c.verify(_item(1), timeout=0.1)
            state["n"] = await c.verify(_item(2), timeout=5)
    asyncio.run(main())
    assert state["n"] is Verdict.OK
    assert len(set(i for i, _ in srv.requests)) == 1  # one connection throughout


@pytest.mark.parametrize("override", [
    {"id": 999},                       # answers another request
    {"results": [0, 0]},               # two verdicts for one item
    {"results": [True]},               # not a uint
    {"pong": True},                    # a second kind key
    {"extra": 1},                      # an unknown key
])
def test_protocol_errors(fake, override):
    def bad(i, c, srv):
        if i == 0:
            req = srv.read_request(i, c)
            srv.answer(c, req, **override)
            srv.release.wait(10)
        else:
            serve_forever(i, c, srv)
    srv = fake(lambda i: bad)
    with Client(srv.path, pool_size=1) as c:
        with pytest.raises(ProtocolError):
            c.verify(_item(1))
        assert c.verify(_item(2)) is Verdict.OK   # on a new connection
    assert [i for i, _ in srv.requests] == [0, 1]


def test_error_response_keeps_connection(fake):
    def refuse_first(i, c, srv):
        req = srv.read_request(i, c)
        srv.send(c, {"id": req["id"], "error": "internal", "message": "store unreadable"})
        serve_forever(i, c, srv)
    srv = fake(lambda i: refuse_first)
    with Client(srv.path, pool_size=1) as c:
        with pytest.raises(ServerError) as e:
            c.verify(_item(1))
        assert e.value.code == "internal"
        assert c.verify(_item(2)) is Verdict.OK
        assert c.stats() == {"requests": 1}
    assert [i for i, _ in srv.requests] == [0, 0, 0]


def test_unknown_verdict_is_passed_through(fake):
    def future_daemon(i, c, srv):
        req = srv.read_request(i, c)
        srv.answer(c, req, results=[42])
        serve_forever(i, c, srv)
    srv = fake(lambda i: future_daemon)
    with Client(srv.path) as c:
        v = c.verify(_item(1))
    assert v == 42 and v != Verdict.OK


def test_verdict_unavailable(fake):
    """Verdict 9 (fleet mode: the nonce could not be claimed in time) is a verdict, not an
    error, through both clients; the connection stays in use."""
    srv = fake(lambda i: serve_forever, verdict=9)
    with Client(srv.path) as c:
        v = c.verify(_item(1))
        assert v is Verdict.UNAVAILABLE and v == 9 and v.name == "UNAVAILABLE"
        assert c.verify_many([_item(2), _item(3)]) == [Verdict.UNAVAILABLE] * 2

    async def main():
        async with AsyncClient(srv.path) as ac:
            return await ac.verify(_item(4))
    assert asyncio.run(main()) is Verdict.UNAVAILABLE
    assert verdict_name(9) == "UNAVAILABLE"
    assert len(set(i for i, _ in srv.requests)) == 2  # one connection per client


def test_answer_in_pieces_and_stray_bytes(fake):
    """The thread-safe client reads an answer with one recv() when it can: an answer that comes
    in pieces is put together, and bytes after it (an answer nobody asked for) mean the
    connection is not used again."""
    def pieces(i, c, srv):
        if i == 0:
            req = srv.read_request(i, c)
            payload = msgpack.packb({"id": req["id"], "results": [0]})
            data = struct.pack(">I", len(payload)) + payload
            for part in (data[:2], data[2:5], data[5:]):
                c.sendall(part)
                srv.release.wait(0.05)
            req = srv.read_request(i, c)
            payload = msgpack.packb({"id": req["id"], "results": [2]})
            c.sendall((struct.pack(">I", len(payload)) + payload) * 2)
            srv.release.wait(10)
        else:
            serve_forever(i, c, srv)
    srv = fake(lambda i: pieces)
    with Client(srv.path, pool_size=1) as c:
        assert c.verify(_item(1)) is Verdict.OK
        assert c.verify(_item(2)) is Verdict.UNKNOWN_KEY
        assert c.verify(_item(3)) is Verdict.OK   # not the stray copy: a new connection's
    assert [(i, r["items"][0]["path"]) for i, r in srv.requests] == [
        (0, "/1"), (0, "/2"), (1, "/3")]


def test_shorter_timeout_after_longer(fake):
    """The deadline lives in the socket's kernel timeouts, set again when a call has less time
    than the last: a call of 0.2 s after one of 5 s times out before its late answer comes."""
    def late_second(i, c, srv):
        srv.answer(c, srv.read_request(i, c))
        req = srv.read_request(i, c)
        srv.release.wait(2)
        srv.answer(c, req)
        serve_forever(i, c, srv)
    srv = fake(lambda i: late_second if i == 0 else serve_forever)
    with Client(srv.path, pool_size=1, timeout=5) as c:
        assert c.verify(_item(1)) is Verdict.OK
        with pytest.raises(Timeout):
            c.verify(_item(2), timeout=0.2)
        assert c.verify(_item(3)) is Verdict.OK   # on a new connection: 2's answer is dropped
    assert [i for i, _ in srv.requests] == [0, 0, 1]


def test_lone_caller_then_queued_callers_share_a_frame(fake):
    """A caller alone sends its item on its own thread; callers that come while it holds the
    only slot queue, and the first of them to get the slot carries them all in one frame."""
    gate = threading.Event()

    def first_held(i, c, srv):
        req = srv.read_request(i, c)
        gate.wait(10)          # answer the lone caller only once the others have queued
        srv.answer(c, req)
        serve_forever(i, c, srv)

    srv = fake(lambda i: first_held)
    with Client(srv.path, pool_size=1) as c:
        got = {}

        def call(n):
            got[n] = c.verify(_item(n), timeout=10)
        lone = threading.Thread(target=call, args=(0,))
        lone.start()
        while not srv.requests:
            lone.join(0.01)
        others = [threading.Thread(target=call, args=(n,)) for n in (1, 2, 3)]
        for t in others:
            t.start()
        while True:   # all three queued behind the held frame
            with c._lock:
                if len(c._queue) == 3:
                    break
            lone.join(0.01)
        gate.set()
        for t in [lone] + others:
            t.join(10)
        assert got == {n: Verdict.OK for n in range(4)}
    frames = [sorted(it["path"] for it in r["items"]) for _, r in srv.requests]
    assert frames == [["/0"], ["/1", "/2", "/3"]]
    assert len(set(i for i, _ in srv.requests)) == 1  # one connection throughout
