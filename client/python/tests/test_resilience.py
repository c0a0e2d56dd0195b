"""test_resilience.py - concurrency, daemon restart and daemon down, for both clients, against
the real hmacd.

- 32 threads x 200 verifies through one Client (pool of 4): every verdict right, and the
  batching layer really shared frames (the daemon counted fewer requests than items).
- 500 concurrent asyncio verifies through one AsyncClient: every verdict right.
- The daemon restarted under an idle client: the next call succeeds (dead pooled connections are
  noticed before anything is sent on them).
- The daemon down: calls raise Unavailable quickly (fail closed), and work again once it is back.
"""

import asyncio
import threading

import pytest

from helpers import now, signed, unique
from hmacd import AsyncClient, Client, Unavailable, Verdict

THREADS, PER_THREAD = 32, 200


def _mixed(k, t, c, i):
    """Item number i of a mixed workload and the verdict it must get."""
    if i % 5 == 1:
        it = signed(k, tenant=t, container=c)
        it.sig = bytes(32)
        return it, Verdict.BAD_SIGNATURE
    if i % 5 == 2:
        return signed(k, tenant=t, container=c, ts=now() - 10000), Verdict.STALE_TIMESTAMP
    if i % 5 == 3:
        return signed(k, tenant=t, container=c + "-nokey"), Verdict.UNKNOWN_KEY
    return signed(k, tenant=t, container=c), Verdict.OK


def test_threads(daemon):
    t, c = unique("threads"), "c1"
    k = daemon.create(t, c)["secret"]
    work = [[_mixed(k, t, c, i * PER_THREAD + j) for j in range(PER_THREAD)]
            for i in range(THREADS)]
    errors = []
    start = threading.Barrier(THREADS)

    def run(items):
        try:
            start.wait()
            for it, want in items:
                got = client.verify(it)
                if got != want:
                    errors.append((want, got))
        except Exception as e:  # reported below, with the others
            errors.append(e)

    with Client(daemon.socket, pool_size=4, timeout=30) as client:
        before = client.stats()
        threads = [threading.Thread(target=run, args=(w,)) for w in work]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert not any(th.is_alive() for th in threads)
        after = client.stats()
    assert errors == []
    items = after["items"] - before["items"]
    frames = after["requests"] - before["requests"] - 1  # the second stats call
    assert items == THREADS * PER_THREAD
    assert frames < items, "concurrent callers' items were never batched"


def test_asyncio_500(daemon):
    t, c = unique("aio"), "c1"
    k = daemon.create(t, c)["secret"]
    work = [_mixed(k, t, c, i) for i in range(500)]

    async def main():
        async with AsyncClient(daemon.socket, timeout=30) as client:
            got = await asyncio.gather(*(client.verify(it) for it, _ in work))
            await client.ping()
            return got
    assert asyncio.run(main()) == [want for _, want in work]


def test_restart_sync(own_daemon):
    d = own_daemon
    t, c = unique("restart"), "c1"
    k = d.create(t, c)["secret"]
    with Client(d.socket, pool_size=2) as client:
        assert client.verify(signed(k, tenant=t, container=c)) is Verdict.OK
        assert client.verify_many([signed(k, tenant=t, container=c)] * 1) == [Verdict.OK]
        d.restart()
        # the pooled connection died with the old daemon: the very next call must work
        assert client.verify(signed(k, tenant=t, container=c)) is Verdict.OK
        client.ping()
        d.restart()
        client.ping()


def test_restart_asyncio(own_daemon):
    d = own_daemon
    t, c = unique("restart"), "c1"
    k = d.create(t, c)["secret"]

    async def main():
        async with AsyncClient(d.socket) as client:
            assert await client.verify(signed(k, tenant=t, container=c)) is Verdict.OK
            d.restart()  # blocks the loop: the client has not seen the EOF yet
            assert await client.verify(signed(k, tenant=t, container=c)) is Verdict.OK
            d.restart()
            await asyncio.sleep(0)  # this time the reader sees the EOF first
            assert await client.verify(signed(k, tenant=t, container=c)) is Verdict.OK
    asyncio.run(main())


def test_daemon_down(own_daemon):
    d = own_daemon
    t, c = unique("down"), "c1"
    k = d.create(t, c)["secret"]
    client = Client(d.socket, timeout=2)
    aclient = AsyncClient(d.socket, timeout=2)

    async def averify():
        return await aclient.verify(signed(k, tenant=t, container=c))

    loop = asyncio.new_event_loop()
    try:
        assert client.verify(signed(k, tenant=t, container=c)) is Verdict.OK
        assert loop.run_until_complete(averify()) is Verdict.OK
        d.stop()
        with pytest.raises(Unavailable):
            client.verify(signed(k, tenant=t, container=c))
        with pytest.raises(Unavailable):
            client.ping()
        with pytest.raises(Unavailable):
            loop.run_until_complete(averify())
        d.start()
        assert client.verify(signed(k, tenant=t, container=c)) is Verdict.OK
        assert loop.run_until_complete(averify()) is Verdict.OK
    finally:
        client.close()
        loop.run_until_complete(aclient.close())
        loop.close()
