"""hmacd.aio - the asyncio client: one connection, pipelined, id-matched futures.

    client = AsyncClient("/run/hmacd/hmacd.sock")
    verdict = await client.verify(item)
    verdicts = await client.verify_many(items)
    await client.ping(); await client.stats(); await client.close()

Every call gets a future. Calls made in the same event-loop iteration are written as one verify
frame (a flush is scheduled with call_soon), and frames are pipelined on the one connection
without waiting for answers. A reader task takes the answers, which come back in request order,
checks each id against the oldest request in flight and resolves that request's futures.

A new connection is checked before anything is written on it: the process answering must run
as server_user, or by default as root or the owner of the socket's directory (hmacd.peer);
else the connection is dropped and the calls waiting for it fail with PeerCredentialsError.

Connection loss fails the futures of every request in flight with Unavailable: those requests
may have been judged (and their nonces recorded), so they are never sent again. Requests not yet
written when the connection is found dead are written on a new connection instead. A call that
times out raises Timeout; its answer, when it comes, is dropped and the pipeline stays in step.

Use one AsyncClient per event loop. If it is used from another loop (e.g. a test framework that
makes a new loop per test), it drops the old connection and starts afresh.
"""

from __future__ import annotations

import asyncio
import collections
import select
from types import TracebackType
from typing import Any, Deque, Dict, Iterable, List, Optional, Tuple, Type, Union

from . import peer, wire
from .errors import (ClosedError, HmacdError, PeerCredentialsError, ProtocolError, ServerError,
                     Timeout, Unavailable)
from .wire import AnyItem

# a queued call: its future and its packed items (a verify chunk) or "ping" / "stats"
_Queued = Tuple["asyncio.Future[Any]", Union[List[bytes], str]]
# a request in flight: its id, the kind of answer expected, (future, items of it) per caller
_InFlight = Tuple[int, str, List[Tuple["asyncio.Future[Any]", int]]]


def _expire(futs: Iterable[asyncio.Future[Any]]) -> None:
    for f in futs:
        if not f.done():
            f.set_exception(Timeout("no answer from hmacd in time"))


class AsyncClient:
    """socket_path: the daemon's socket. timeout: seconds per call (None: no limit).
    max_batch / max_frame: keep frames within the daemon's limits. server_user: the user
    hmacd runs as (a name, looked up now, or a uid); None: root or the owner of the socket's
    directory. Any other server is refused (hmacd.peer)."""

    def __init__(self, socket_path: str, *, timeout: Optional[float] = 5.0,
                 max_batch: int = wire.DEFAULT_MAX_BATCH, max_frame: int = wire.DEFAULT_MAX_FRAME,
                 server_user: Union[str, int, None] = None) -> None:
        wire.check_limits(max_frame, max_batch)
        self.server_uid = peer.resolve_user(server_user)
        self.socket_path = socket_path
        self.timeout = timeout
        self.max_batch = max_batch
        self.max_frame = max_frame
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._reset()
        self._closed = False

    def _reset(self) -> None:
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._read_task: Optional[asyncio.Task[None]] = None
        # a task shared by concurrent connect attempts
        self._connecting: Optional[asyncio.Task[None]] = None
        self._inflight: Deque[_InFlight] = collections.deque()  # in send order
        self._queue: List[_Queued] = []  # not yet written
        self._flush_scheduled = False
        self._next_id = 1

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]],
                        exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        await self.close()

    # ---- public calls ----

    async def verify(self, item: AnyItem, *, timeout: Optional[float] = None) -> int:
        """The verdict of one item (see Client.verify_many for the errors)."""
        return (await self.verify_many([item], timeout=timeout))[0]

    async def verify_many(self, items: Iterable[AnyItem], *,
                          timeout: Optional[float] = None) -> List[int]:
        """Verdicts of items, in order (see Client.verify_many for the errors)."""
        items = list(items)
        if not items:
            return []
        packed = [wire.pack_item(it) for it in items]
        futs = []
        for chunk in wire.chunks(packed, self.max_frame, self.max_batch):
            futs.append(self._submit(chunk))
        results = await self._await(futs, timeout)
        return [v for r in results for v in r]

    async def ping(self, *, timeout: Optional[float] = None) -> None:
        """A round trip to the daemon."""
        await self._await([self._submit_simple("ping")], timeout)

    async def stats(self, *, timeout: Optional[float] = None) -> Dict[str, int]:
        """The daemon's counters, a dict of name -> int."""
        stats: Dict[str, int] = (await self._await([self._submit_simple("stats")], timeout))[0]
        return stats

    async def close(self) -> None:
        """Closes the connection; pending calls fail with ClosedError."""
        self._closed = True
        self._fail_all(ClosedError("client closed"))
        await self._drop()

    # ---- submission ----

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._closed:
            raise ClosedError("client closed")
        if self._loop is not loop:
            if self._writer is not None:
                try:
                    self._writer.transport.abort()
                except Exception:  # the old loop may be closed already
                    pass
            self._reset()
            self._loop = loop
        return loop

    def _submit(self, packed: List[bytes]) -> asyncio.Future[Any]:
        loop = self._bind_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((fut, packed))
        self._schedule_flush()
        return fut

    def _submit_simple(self, op: str) -> asyncio.Future[Any]:
        loop = self._bind_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((fut, op))
        self._schedule_flush()
        return fut

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    async def _await(self, futs: List[asyncio.Future[Any]],
                     timeout: Optional[float]) -> List[Any]:
        """The futures' results. A timer (cheaper than wait_for, which makes a task per call)
        fails the ones still pending with Timeout; their answers are dropped when they come."""
        t = self.timeout if timeout is None else timeout
        timer = None
        if t is not None:
            timer = asyncio.get_running_loop().call_later(t, _expire, futs)
        try:
            out: List[Any] = []
            err: Optional[HmacdError] = None
            for f in futs:  # wait for all, so that no outcome is left unretrieved
                try:
                    out.append(await f)
                except HmacdError as e:
                    err = err or e
            if err is not None:
                raise err
            return out
        finally:
            if timer is not None:
                timer.cancel()

    # ---- writing ----

    def _connected(self) -> bool:
        if (self._writer is None or self._writer.is_closing() or self._read_task is None or
                self._read_task.done()):
            return False
        if not self._inflight and self._readable_now():
            # Idle, yet readable: EOF (the daemon went away, the reader has not run yet) or
            # stray bytes. Nothing of the queued requests was written: use a new connection.
            self._writer.transport.abort()
            return False
        return True

    def _readable_now(self) -> bool:
        if self._writer is None:
            return False
        sock = self._writer.get_extra_info("socket")
        if sock is None:
            return False
        p = select.poll()
        p.register(sock.fileno(), select.POLLIN)
        return bool(p.poll(0))

    def _flush(self) -> None:
        self._flush_scheduled = False
        queue = [(f, x) for f, x in self._queue if not f.done()]  # drop timed-out calls
        self._queue = []
        if not queue:
            return
        if not self._connected() or self._writer is None or self._loop is None:
            # nothing of these was written: send them on a fresh connection
            self._queue = queue
            if self._connecting is None:
                self._connecting = asyncio.get_running_loop().create_task(
                    self._connect_then_flush())
            return
        frames: List[bytes] = []
        batch: List[Tuple[asyncio.Future[Any], List[bytes]]] = []
        n, size = 0, 0

        def close_batch() -> None:
            nonlocal batch, n, size
            if batch:
                rid = self._take_id()
                frames.append(wire.verify_frame(rid, [p for _, ps in batch for p in ps]))
                self._inflight.append((rid, "results", [(f, len(ps)) for f, ps in batch]))
            batch, n, size = [], 0, 0

        for fut, what in queue:
            if isinstance(what, str):  # ping / stats
                close_batch()
                rid = self._take_id()
                frames.append(wire.simple_frame(rid, what))
                self._inflight.append((rid, "pong" if what == "ping" else "stats",
                                       [(fut, 0)]))
                continue
            psize = sum(len(p) for p in what)
            if batch and (n + len(what) > self.max_batch or
                          wire.verify_overhead(n + len(what)) + size + psize > self.max_frame):
                close_batch()
            batch.append((fut, what))
            n += len(what)
            size += psize
        close_batch()
        self._writer.write(b"".join(frames))

    def _take_id(self) -> int:
        rid = self._next_id
        self._next_id = rid + 1 if rid < (1 << 64) - 1 else 1
        return rid

    async def _connect_then_flush(self) -> None:
        try:
            await self._drop()
            try:
                reader, writer = await asyncio.open_unix_connection(self.socket_path)
            except OSError as e:
                self._fail_queued(Unavailable("cannot connect to hmacd at %s: %s"
                                              % (self.socket_path, e.strerror or e)))
                return
            try:
                peer.check(writer.get_extra_info("socket"), self.socket_path, self.server_uid)
            except PeerCredentialsError as e:
                writer.transport.abort()  # nothing was written on it
                self._fail_queued(e)
                return
            self._reader, self._writer = reader, writer
            self._read_task = asyncio.get_running_loop().create_task(self._read_loop(reader))
        finally:
            self._connecting = None
        if self._queue:
            self._schedule_flush()

    # ---- reading ----

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        err: Optional[HmacdError] = None
        try:
            while True:
                try:
                    header = await reader.readexactly(wire.FRAME_HEADER)
                    payload = await reader.readexactly(wire.frame_length(header))
                except asyncio.IncompleteReadError:
                    err = Unavailable("hmacd closed the connection")
                    return
                except OSError as e:
                    err = Unavailable("connection to hmacd broke: %s" % e)
                    return
                rid, kind, value = wire.decode_response(payload)
                if not self._inflight:
                    raise ProtocolError("an answer nobody asked for")
                want_id, want_kind, waiters = self._inflight[0]
                if rid != want_id and not (kind == "error" and rid is None):
                    raise ProtocolError("answer for request %s, expected %d" % (rid, want_id))
                self._inflight.popleft()
                if kind == "error":
                    for fut, _ in waiters:
                        if not fut.done():
                            fut.set_exception(ServerError(value.code, value.message))
                    continue
                if kind != want_kind or (kind == "results" and
                                         len(value) != sum(n for _, n in waiters)):
                    raise ProtocolError("answer does not match the request")
                off = 0
                for fut, n in waiters:
                    if not fut.done():
                        fut.set_result(value[off:off + n] if kind == "results" else value)
                    off += n
        except HmacdError as e:
            err = e
        except asyncio.CancelledError:
            err = Unavailable("connection closed")
            raise
        finally:
            if self._reader is reader:
                # everything in flight may have been judged: fail it, never resend it
                inflight, self._inflight = self._inflight, collections.deque()
                for _, _, waiters in inflight:
                    for fut, _ in waiters:
                        if not fut.done():
                            fut.set_exception(err or Unavailable("connection lost"))
                if self._writer is not None:
                    self._writer.close()
                self._reader = self._writer = None

    async def _drop(self) -> None:
        task, writer = self._read_task, self._writer
        self._read_task = None
        if writer is not None:
            writer.close()
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except BaseException:
                pass

    def _fail_queued(self, err: BaseException) -> None:
        queue, self._queue = self._queue, []
        for fut, _ in queue:
            if not fut.done():
                fut.set_exception(err)

    def _fail_all(self, err: BaseException) -> None:
        self._fail_queued(err)
        inflight, self._inflight = self._inflight, collections.deque()
        for _, _, waiters in inflight:
            for fut, _ in waiters:
                if not fut.done():
                    fut.set_exception(err)
