"""test_peer.py - the clients check who answers on the socket (issue 10, finding 3): a local user
who squats the socket path and answers OK to everything is refused before a byte is sent.

The impostor is tests/impostor.py, a subprocess that answers OK to every verify request and
reports the bytes it received on each connection. The rule (hmacd.peer): with server_user, the
server's uid must be that one; by default, root or the owner of the socket's directory. A
refusal is PeerCredentialsError, for the thread-safe and the asyncio client alike, the
impostor received zero bytes, and the middleware answers 503 without running the handler.

Unprivileged: server_user naming another uid refuses a server of our own uid; names and uids
resolve. As root (else skipped): an impostor running as nobody in a root-owned directory of
mode 1777 (like /tmp) is refused by default, and accepted when the directory is nobody's or
server_user names nobody. As another user than root (else skipped): our own listener directly
in /tmp (root's) is refused by default.
"""

import asyncio
import os
import pwd
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

from hmacd import AsyncClient, Client, Item, PeerCredentialsError, Verdict
from hmacd.peer import check, resolve_user

IMPOSTOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "impostor.py")
NOBODY = 65534
OTHER_UID = 4242

root_only = pytest.mark.skipif(os.geteuid() != 0,
                               reason="needs root: the impostor runs as user nobody")


def _item():
    return Item(tenant="t", container="c", epoch=1, method="POST", path="/", ts=1,
                sig=bytes(32), body=b'{"dry_run":true}')


class Impostor:
    """tests/impostor.py listening on path, as uid (None: as we are)."""

    def __init__(self, path, uid=None):
        self.path = path
        args = [sys.executable, IMPOSTOR, self.path] + ([str(uid)] if uid is not None else [])
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.line() == "listening"

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode().strip())

    def line(self):
        try:
            return self.lines.get(timeout=10)
        except queue.Empty:
            pytest.fail("the impostor said nothing in 10 s")

    def bytes_of_next_connection(self):
        """The bytes the impostor received on the next connection that ended."""
        kind, n = self.line().split()
        assert kind == "bytes"
        return int(n)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="hmacd-peer-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def impostor_factory(workdir):
    made = []

    def make(mode=None, owner=None, uid=None):
        if mode is not None:
            os.chmod(workdir, mode)
        if owner is not None:
            os.chown(workdir, owner, -1)
        made.append(Impostor(os.path.join(workdir, "s"), uid))
        return made[-1]
    yield make
    for imp in made:
        imp.close()


def verify_sync(path, **kw):
    with Client(path, timeout=5, **kw) as c:
        return c.verify(_item())


def verify_async(path, **kw):
    async def main():
        async with AsyncClient(path, timeout=5, **kw) as c:
            return await c.verify(_item())
    return asyncio.run(main())


VERIFY = [verify_sync, verify_async]
VERIFY_IDS = ["sync", "async"]


# ---- unprivileged ----

@pytest.mark.parametrize("verify", VERIFY, ids=VERIFY_IDS)
def test_server_user_refuses_another_uid(verify, impostor_factory):
    imp = impostor_factory()
    for user in (OTHER_UID, str(OTHER_UID)):
        with pytest.raises(PeerCredentialsError) as e:
            verify(imp.path, server_user=user)
        assert str(e.value) == ("hmacd peer check: server uid %d is not the expected uid %d "
                                "(server_user)" % (os.geteuid(), OTHER_UID))
        assert imp.bytes_of_next_connection() == 0
    # the listener counts what it gets: the same client trusting our uid sends a frame
    assert verify(imp.path, server_user=os.geteuid()) == Verdict.OK
    assert imp.bytes_of_next_connection() > 0


@pytest.mark.parametrize("verify", VERIFY, ids=VERIFY_IDS)
def test_default_accepts_the_owner_of_the_directory(verify, impostor_factory):
    imp = impostor_factory()  # our uid, in a directory we own
    assert verify(imp.path) == Verdict.OK
    assert imp.bytes_of_next_connection() > 0


def test_server_user_names_resolve():
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert Client("/nowhere", server_user=me).server_uid == os.geteuid()
    assert AsyncClient("/nowhere", server_user="root").server_uid == 0
    assert resolve_user(None) is None
    assert resolve_user(0) == 0 and resolve_user("65534") == 65534
    with pytest.raises(ValueError, match="no user named"):
        Client("/nowhere", server_user="no-such-user-hmacd-test")
    with pytest.raises(ValueError, match="no user named"):
        AsyncClient("/nowhere", server_user="no-such-user-hmacd-test")
    with pytest.raises(ValueError):
        Client("/nowhere", server_user=-1)
    for bad in (True, 1.0, b"root"):
        with pytest.raises(TypeError):
            Client("/nowhere", server_user=bad)


def test_server_user_by_name_accepts_that_user(impostor_factory):
    imp = impostor_factory()
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert verify_sync(imp.path, server_user=me) == Verdict.OK
    assert imp.bytes_of_next_connection() > 0


def test_unreadable_credentials_are_refused():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.close()
    with pytest.raises(PeerCredentialsError, match="cannot read the server's credentials"):
        check(s, "/tmp/s", None)
    # never connected: the kernel has no peer (uid (uid_t) -1), which matches nobody
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with pytest.raises(PeerCredentialsError, match="server uid 4294967295 "):
            check(s, "/tmp/s", None)
        with pytest.raises(PeerCredentialsError, match="server uid 4294967295 "):
            check(s, "/tmp/s", 0)
        # the socket's directory cannot be read: no owner to compare with
        with pytest.raises(PeerCredentialsError, match="cannot stat /nonexistent-hmacd"):
            check(s, "/nonexistent-hmacd/s", None)
    finally:
        s.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="as root every listener we start is root's")
@pytest.mark.parametrize("verify", VERIFY, ids=VERIFY_IDS)
def test_default_refuses_our_own_listener_in_tmp(verify):
    """/tmp is root's and anyone may bind there: a server of our (non-root) uid is refused."""
    path = "/tmp/hmacd-peer-%d-%s.s" % (os.getpid(), os.urandom(4).hex())
    imp = Impostor(path)
    try:
        want = r"server uid %d is not the expected uid %d \(owner of /tmp or root\)" % (
            os.geteuid(), os.stat("/tmp").st_uid)
        with pytest.raises(PeerCredentialsError, match=want):
            verify(path)
        assert imp.bytes_of_next_connection() == 0
    finally:
        imp.close()
        os.unlink(path)


# ---- as root: an impostor running as nobody ----

@root_only
@pytest.mark.parametrize("verify", VERIFY, ids=VERIFY_IDS)
def test_nobody_in_a_sticky_world_writable_directory_is_refused(verify, impostor_factory,
                                                                 workdir):
    imp = impostor_factory(mode=0o1777, uid=NOBODY)
    assert os.stat(workdir).st_uid == 0
    with pytest.raises(PeerCredentialsError) as e:
        verify(imp.path)
    assert str(e.value) == ("hmacd peer check: server uid %d is not the expected uid 0 (owner "
                            "of %s or root); set server_user to trust another user"
                            % (NOBODY, workdir))
    assert imp.bytes_of_next_connection() == 0
    # trusted by name, the same impostor gets the frame (so zero bytes above meant something)
    assert verify(imp.path, server_user="nobody") == Verdict.OK
    assert imp.bytes_of_next_connection() > 0


@root_only
@pytest.mark.parametrize("verify", VERIFY, ids=VERIFY_IDS)
def test_nobody_owning_the_directory_is_accepted(verify, impostor_factory):
    imp = impostor_factory(owner=NOBODY, uid=NOBODY)
    assert verify(imp.path) == Verdict.OK
    assert imp.bytes_of_next_connection() > 0


@root_only
def test_wsgi_middleware_answers_503_to_an_impostor(impostor_factory, caplog):
    from flask import Flask
    from hmacd import Signer
    from hmacd.wsgi import HmacdWSGIMiddleware, flask_route_param

    imp = impostor_factory(mode=0o1777, uid=NOBODY)
    ran = []
    app = Flask(__name__)

    @app.post("/containers/<id>/exec")
    def exec_in_container(id):
        ran.append(id)
        return "ran"

    client = Client(imp.path, timeout=5)
    app.wsgi_app = HmacdWSGIMiddleware(app.wsgi_app, client,
                                       container_from=flask_route_param(app, "id"))
    body = b'{"dry_run":true}'
    headers = {"Host": "localhost", "Content-Type": "application/json"}
    headers["Authorization"] = Signer("acme", 1, os.urandom(32)).sign_request(
        "POST", "/containers/web-01/exec", container="web-01", headers=headers, body=body)
    try:
        r = app.test_client().post("/containers/web-01/exec", data=body, headers=headers)
        assert (r.status_code, r.get_data()) == (503, b'{"error":"unavailable"}')
    finally:
        client.close()
    assert ran == []
    assert imp.bytes_of_next_connection() == 0
    assert "server uid %d is not the expected uid 0" % NOBODY in caplog.text
    assert "503 PeerCredentialsError" in caplog.text


@root_only
def test_asgi_middleware_answers_503_to_an_impostor(impostor_factory):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient
    from hmacd import Signer
    from hmacd.asgi import HmacdASGIMiddleware, starlette_route_param

    imp = impostor_factory(mode=0o1777, uid=NOBODY)
    ran = []

    async def exec_in_container(request):
        ran.append(request.path_params["id"])
        return PlainTextResponse("ran")

    app = Starlette(routes=[Route("/containers/{id}/exec", exec_in_container,
                                  methods=["POST"])])
    app.add_middleware(HmacdASGIMiddleware, client=AsyncClient(imp.path, timeout=5),
                       container_from=starlette_route_param(app, "id"))
    body = b'{"dry_run":true}'
    headers = {"Host": "testserver", "Content-Type": "application/json"}
    headers["Authorization"] = Signer("acme", 1, os.urandom(32)).sign_request(
        "POST", "/containers/web-01/exec", container="web-01", headers=headers, body=body)
    with TestClient(app) as tc:
        r = tc.post("/containers/web-01/exec", content=body, headers=headers)
    assert (r.status_code, r.content) == (503, b'{"error":"unavailable"}')
    assert ran == []
    assert imp.bytes_of_next_connection() == 0
