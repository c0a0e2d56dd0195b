"""hmacd.client - the thread-safe client: a connection pool with batching of concurrent callers.

    client = Client("/run/hmacd/hmacd.sock")
    verdict = client.verify(item)            # one item
    verdicts = client.verify_many(items)     # one batch
    client.ping(); client.stats(); client.close()

Batching (group commit). A caller queues its items, then waits for a free connection slot (at
most `pool_size` frames are in flight). The caller that gets a slot sends ONE frame holding its
own items first and, behind them, whatever other callers have queued meanwhile (up to
`max_batch` items and `max_frame` bytes), then hands every caller its verdicts. So a lone caller
pays one round trip, and under load many callers share each frame, without a background thread
and without any caller doing more than one round trip of I/O for others. Each caller sleeps on
its own Event: a finished frame wakes the callers it served, a freed slot the oldest waiting.
verify() of one item has a fast path for a caller that finds a free slot and nobody queued:
it takes the slot and does the round trip on its own thread, with no Pending and no Event
(the lock is taken twice, both times from C); callers that come meanwhile queue as above and
are carried, together, by the first of them to get a slot.

Every new connection is checked before a byte is written on it: the process answering must
run as server_user, or by default as root or the owner of the socket's directory (hmacd.peer);
any other gets PeerCredentialsError, never a verdict.

Reconnection follows the C client (client/c/include/hmacd/client.h): a pooled connection is
checked before use (a closed or unexpectedly readable one is replaced: nothing was sent on it),
and a request is sent again on a new connection only if no byte of it was written. Once a byte
went out, the daemon may have judged it and recorded its nonce, so a copy would come back
REPLAY: the callers get Unavailable instead, and the next call connects afresh.

Timeouts: each call has a deadline (`timeout`, default 5 s). A call whose items were not sent by
then is taken out of the queue; one whose answer is late raises Timeout, and the connection
that carried it is closed by its sender when that one's own deadline passes (answers after it
could no longer be matched).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from types import TracebackType
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type, Union

from . import peer, wire
from .errors import (ClosedError, HmacdError, PeerCredentialsError, ProtocolError, Timeout,
                     Unavailable)
from .wire import AnyItem

_NO_DEADLINE = float("inf")


class _Pending:
    """One caller's chunk of items, queued until a frame carries it."""

    __slots__ = ("packed", "size", "results", "error", "done", "taken", "wake")

    def __init__(self, packed: List[bytes], wake: threading.Event) -> None:
        self.packed = packed
        self.size = sum(len(p) for p in packed)
        self.results: Optional[List[int]] = None
        self.error: Optional[BaseException] = None
        self.done = False       # results or error set (under the client's lock)
        self.taken = False      # in a frame being sent (under the client's lock)
        self.wake = wake        # the caller's Event: set when there is news for it

    def finish(self, results: Optional[List[int]] = None,
               error: Optional[BaseException] = None) -> None:
        if not self.done:
            self.results, self.error, self.done = results, error, True
            self.wake.set()


class _SendFailed(Exception):
    def __init__(self, sent: int, err: OSError) -> None:
        super().__init__(str(err))
        self.sent = sent


class _Conn:
    """One Unix stream connection, used by one thread at a time (the slot holder). Its server
    passed the peer check (hmacd.peer) before anything is written.

    The socket stays in blocking mode and the call's deadline is the kernel's send and receive
    timeouts (SO_SNDTIMEO, SO_RCVTIMEO), set again only when the time left changes by more than
    1%: a round trip is then one send() and, usually, one recv() that holds the whole answer,
    where Python's own timeouts cost a poll() and an ioctl() around every send() and recv()."""

    def __init__(self, path: str, server_uid: Optional[int], deadline: float) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.next_id = 1
        self.kernel_timeout = -1.0  # what SO_RCVTIMEO/SO_SNDTIMEO hold (0: none), -1 unknown
        self.rest = b""             # bytes read after the last answer: none, or it is stale
        try:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            self.sock.connect(path)
            peer.check(self.sock, path, server_uid)
            self.sock.settimeout(None)
        except socket.timeout:
            self.sock.close()
            raise Timeout("connecting to hmacd timed out") from None
        except PeerCredentialsError:
            self.sock.close()
            raise
        except OSError as e:
            self.sock.close()
            raise Unavailable("cannot connect to hmacd at %s: %s" % (path, e.strerror)) from None
        self.poller = select.poll()
        self.poller.register(self.sock.fileno(), select.POLLIN)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def stale(self) -> bool:
        """An idle connection must have nothing to read: EOF (the daemon went away) or stray
        bytes both mean it cannot be used."""
        # readable (EOF or a byte nobody asked for), hung up, error
        return bool(self.rest) or bool(self.poller.poll(0))

    def take_id(self) -> int:
        rid = self.next_id
        self.next_id = rid + 1 if rid < (1 << 64) - 1 else 1
        return rid

    def _time_left(self, deadline: float, what: str) -> None:
        """Sets the kernel's timeouts to the time left before deadline; Timeout if none."""
        if deadline == float("inf"):
            left = 0.0
        else:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("timed out %s" % what)
        cur = self.kernel_timeout
        if cur >= 0 and (left == cur or (left > 0 and 0 <= cur - left <= left * 0.01)):
            return
        usec = int(left * 1e6)
        if left > 0 and usec == 0:
            usec = 1  # a zero timeval would mean no timeout at all
        tv = struct.pack("@ll", usec // 1000000, usec % 1000000)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        self.kernel_timeout = left

    def send(self, data: bytes, deadline: float) -> int:
        """Writes all of data; _SendFailed(bytes written) if the connection breaks, Timeout."""
        view = memoryview(data)
        sent = 0
        while sent < len(view):
            self._time_left(deadline, "sending to hmacd")
            try:
                n = self.sock.send(view[sent:])
            except (BlockingIOError, socket.timeout):
                continue  # the kernel's timeout: _time_left decides
            except OSError as e:
                raise _SendFailed(sent, e) from None
            sent += n
        return sent

    def _recv(self, deadline: float) -> bytes:
        while True:
            self._time_left(deadline, "waiting for hmacd")
            try:
                chunk = self.sock.recv(1 << 16)
            except (BlockingIOError, socket.timeout):
                continue  # the kernel's timeout: _time_left decides
            except OSError as e:
                raise Unavailable("connection to hmacd broke: %s" % e.strerror) from None
            if not chunk:
                raise Unavailable("hmacd closed the connection before answering")
            return chunk

    def recv_answer(self, rid: int, deadline: float) -> Tuple[str, Any]:
        """(kind, value) of the answer to request rid (see wire.decode_response)."""
        buf = self._recv(deadline)
        while len(buf) < wire.FRAME_HEADER:
            buf += self._recv(deadline)
        end = wire.FRAME_HEADER + wire.frame_length(buf[:wire.FRAME_HEADER])
        if len(buf) < end:
            parts = [buf]
            have = len(buf)
            while have < end:
                chunk = self._recv(deadline)
                parts.append(chunk)
                have += len(chunk)
            buf = b"".join(parts)
        # more than one answer: a byte nobody asked for, so this connection is not used again
        self.rest = buf[end:]
        got_id, kind, value = wire.decode_response(buf[wire.FRAME_HEADER:end])
        # an error answer may carry no id (the daemon could not read it)
        if got_id != rid and not (kind == "error" and got_id is None):
            raise ProtocolError("answer for request %s, expected %d" % (got_id, rid))
        return kind, value


class Client:
    """Thread-safe hmacd client. Share one per process (or per socket).

    socket_path: the daemon's socket. pool_size: connections, and so frames in flight, at
    most (the GIL serialises the client's own work, so a small pool, with bigger batches, is
    faster). timeout: seconds per call (None: no limit). max_batch / max_frame: keep frames
    within the daemon's --max-batch / --max-frame (the defaults are the daemon's).
    server_user: the user hmacd runs as (a name, looked up now, or a uid); None: root or the
    owner of the socket's directory. Any other server is refused (hmacd.peer)."""

    def __init__(self, socket_path: str, *, pool_size: int = 2, timeout: Optional[float] = 5.0,
                 max_batch: int = wire.DEFAULT_MAX_BATCH, max_frame: int = wire.DEFAULT_MAX_FRAME,
                 server_user: Union[str, int, None] = None) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        wire.check_limits(max_frame, max_batch)
        self.server_uid = peer.resolve_user(server_user)
        self.socket_path = socket_path
        self.timeout = timeout
        self.max_batch = max_batch
        self.max_frame = max_frame
        self._lock = threading.Lock()  # guards everything below; entered in C, no Python frame
        self._cv = threading.Condition(self._lock)  # ping/stats callers wait for a slot on it
        self._cv_waiters = 0              # how many (verify callers wait on their own Events)
        self._queue: List[_Pending] = []  # not yet taken, in arrival order
        self._idle: List[_Conn] = []      # connections not in use
        self._slots = pool_size
        self._closed = False
        self._local = threading.local()  # each thread's Event, reused by its calls

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.close()

    def close(self) -> None:
        """Closes idle connections; calls in progress finish, later calls raise ClosedError."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            for p in self._queue:
                p.finish(error=ClosedError("client closed"))
            self._queue = []
            if self._cv_waiters:
                self._cv.notify_all()
        for c in idle:
            c.close()

    # ---- public calls ----

    def verify(self, item: AnyItem, *, timeout: Optional[float] = None) -> int:
        """Verifies one Item; returns its Verdict (or an int a later daemon adds)."""
        packed = wire.pack_item(item)
        wire.check_fits(len(packed), self.max_frame)
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t if t is not None else _NO_DEADLINE
        with self._lock:
            if self._closed:
                raise ClosedError("client closed")
            alone = self._slots > 0 and not self._queue
            if alone:
                self._slots -= 1
                conn = self._idle.pop() if self._idle else None
        if alone:
            return self._verify_alone(conn, packed, deadline)
        return self._verify_packed([packed], deadline)[0]

    def verify_many(self, items: Iterable[AnyItem], *,
                    timeout: Optional[float] = None) -> List[int]:
        """Verifies items; returns their verdicts in order. The items travel in one frame when
        they fit (max_batch, max_frame), possibly with other callers' items; else in several.
        Raises Unavailable/Timeout (no verdict: fail closed), ServerError, ProtocolError,
        ValueError/TypeError for an item the wire cannot carry."""
        items = list(items)
        if not items:
            return []
        return self._verify_packed([wire.pack_item(it) for it in items], self._deadline(timeout))

    # ---- internals ----

    def _verify_packed(self, packed: List[bytes], deadline: float) -> List[int]:
        """verify_many() of packed items, through the queue (module doc, "Batching")."""
        # The thread's Event, taken while in use (a call nested in a signal handler makes its
        # own). An earlier call's late news may set it: _drive clears it before every wait and
        # checks its pendings after, so a stray wake-up costs one more look.
        wake: threading.Event = self._local.__dict__.pop("wake", None) or threading.Event()
        pendings = [_Pending(c, wake)
                    for c in wire.chunks(packed, self.max_frame, self.max_batch)]
        with self._lock:
            if self._closed:
                raise ClosedError("client closed")
            self._queue.extend(pendings)
        self._drive(pendings, deadline)
        self._local.wake = wake
        out: List[int] = []
        for p in pendings:
            if p.error is not None:
                raise p.error
            assert p.results is not None
            out.extend(p.results)
        return out

    def ping(self, *, timeout: Optional[float] = None) -> None:
        """Round trip to the daemon. Unavailable/Timeout, ServerError, ProtocolError."""
        self._simple("ping", self._deadline(timeout))

    def stats(self, *, timeout: Optional[float] = None) -> Dict[str, int]:
        """The daemon's counters, a dict of name -> int (names vary between versions)."""
        stats: Dict[str, int] = self._simple("stats", self._deadline(timeout))
        return stats

    def _deadline(self, timeout: Optional[float]) -> float:
        t = self.timeout if timeout is None else timeout
        return time.monotonic() + t if t is not None else float("inf")

    def _drive(self, pendings: List[_Pending], deadline: float) -> None:
        """Until every pending is done (p.results or p.error): when a connection slot is free,
        send a frame led by one of ours; else sleep on our own Event. A finished frame wakes
        exactly the callers it served, and a freed slot wakes the caller of the oldest queued
        pending, which then sends everything that fits (no thundering herd)."""
        wake = pendings[0].wake
        while True:
            with self._lock:
                if all(p.done for p in pendings):
                    return
                mine = next((p for p in pendings if not p.taken and not p.done), None)
                batch = None
                if mine is not None and self._slots > 0 and not self._closed:
                    self._slots -= 1
                    batch = self._take_batch(mine)
                    conn = self._idle.pop() if self._idle else None
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        for p in pendings:
                            if not p.taken and not p.done:
                                self._queue.remove(p)
                            p.finish(error=Timeout("no answer from hmacd in time"))
                        self._hand_over()
                        return
                    wake.clear()
            if batch is None:
                wake.wait(None if left == float("inf") else left)
                continue
            self._release(self._run(conn, batch, deadline))

    def _verify_alone(self, conn: Optional[_Conn], packed: bytes, deadline: float) -> int:
        """The fast path of verify(): a slot was free and nobody was queued, so the caller
        sends its item alone on its own thread (no Pending, no Event, no other caller's item
        to hand out), as _run would for a batch of one. Gives the slot back."""
        keep: Optional[_Conn] = None
        try:
            try:
                conn, kind, value = self._exchange(
                    conn, lambda rid: wire.verify_frame(rid, (packed,)), deadline)
            except HmacdError:
                conn = None  # _exchange closed it
                raise
            if kind == "error":
                keep = conn  # an error answer leaves the connection usable
                raise value
            if kind != "results" or len(value) != 1:
                raise ProtocolError("answer does not match the request")
            keep = conn
            verdict: int = value[0]
            return verdict
        finally:
            if keep is None and conn is not None:
                conn.close()  # a broken answer, or interrupted with an answer maybe on its way
            self._release(keep)

    def _release(self, conn: Optional[_Conn]) -> None:
        """Gives a slot back, and conn (None: lost) to the idle pool or, once closed, away."""
        with self._lock:
            self._slots += 1
            if conn is not None and not self._closed:
                self._idle.append(conn)
                conn = None
            self._hand_over()
        if conn is not None:
            conn.close()

    def _hand_over(self) -> None:
        """A slot may be free: wake whoever waits for one (lock held)."""
        if self._queue:
            for p in self._queue[:self._slots]:
                p.wake.set()  # the oldest queued callers, one per free slot
        if self._cv_waiters and self._slots > 0:
            self._cv.notify()  # ping/stats callers

    def _take_batch(self, mine: _Pending) -> List[_Pending]:
        """Our pending first, then the oldest queued ones that fit one frame (lock held)."""
        batch, n, size = [mine], len(mine.packed), mine.size
        mine.taken = True
        rest: List[_Pending] = []
        for p in self._queue:
            if p is mine:
                continue
            if (n + len(p.packed) <= self.max_batch and
                    wire.verify_overhead(n + len(p.packed)) + size + p.size <= self.max_frame):
                p.taken = True
                batch.append(p)
                n += len(p.packed)
                size += p.size
            else:
                rest.append(p)
        self._queue = rest
        return batch

    def _exchange(self, conn: Optional[_Conn], build: Callable[[int], bytes],
                  deadline: float) -> Tuple[_Conn, str, Any]:
        """Sends the frame build(conn) makes and reads its answer, replacing a dead connection
        as the module docstring says. Returns (conn or None if it must be dropped, kind, value);
        raises HmacdError (conn already closed)."""
        retried = False
        while True:
            if conn is not None and conn.stale():
                conn.close()
                conn = None
            if conn is None:
                conn = _Conn(self.socket_path, self.server_uid, deadline)
            rid = conn.take_id()
            try:
                conn.send(build(rid), deadline)
                break
            except _SendFailed as e:
                conn.close()
                conn = None
                if e.sent == 0 and not retried:
                    retried = True  # nothing reached the daemon: one fresh connection
                    continue
                raise Unavailable("connection to hmacd broke while sending; not resent") from None
            except HmacdError:
                conn.close()
                raise
        try:
            kind, value = conn.recv_answer(rid, deadline)
        except HmacdError:
            conn.close()
            raise
        return conn, kind, value  # an error answer leaves the connection usable

    def _run(self, conn: Optional[_Conn], batch: List[_Pending],
             deadline: float) -> Optional[_Conn]:
        """Sends one frame for the batch and hands out verdicts. Returns the connection to keep
        (None if it was dropped)."""
        packed = [p for pend in batch for p in pend.packed]
        err: Optional[BaseException] = None
        results: Optional[List[int]] = None
        try:
            conn, kind, value = self._exchange(
                conn, lambda rid: wire.verify_frame(rid, packed), deadline)
            if kind == "error":
                err = value
            elif kind != "results" or len(value) != len(packed):
                err = ProtocolError("answer does not match the request")
                conn.close()
                conn = None
            else:
                results = value
        except HmacdError as e:
            err = e
            conn = None
        except BaseException:
            # never leave callers waiting forever
            with self._lock:
                for pend in batch:
                    pend.finish(error=Unavailable("verify interrupted"))
            if conn is not None:
                conn.close()
            raise
        with self._lock:
            off = 0
            for pend in batch:
                if results is not None:  # else err is set
                    pend.finish(results=results[off:off + len(pend.packed)])
                    off += len(pend.packed)
                else:
                    pend.finish(error=err)
        return conn

    def _simple(self, op: str, deadline: float) -> Any:
        with self._lock:
            while self._slots == 0 and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("no free connection in time")
                self._cv_waiters += 1
                try:
                    self._cv.wait(None if left == float("inf") else left)
                finally:
                    self._cv_waiters -= 1
            if self._closed:
                raise ClosedError("client closed")
            self._slots -= 1
            conn = self._idle.pop() if self._idle else None
        try:
            try:
                conn, kind, value = self._exchange(conn, lambda rid: wire.simple_frame(rid, op),
                                                   deadline)
            except HmacdError:
                conn = None
                raise
            if kind == "error":
                raise value
            want = "pong" if op == "ping" else "stats"
            if kind != want:
                conn.close()
                conn = None
                raise ProtocolError("answer does not match the request")
            return value
        finally:
            self._release(conn)
