"""conftest.py - fixtures: the shared vectors, and the real hmacd on a temporary socket and store.

Tests run without installing the package (this file puts client/python on sys.path). The daemon
is $HMACD and the admin CLI $HMACCTL (absolute paths; `make check` sets both); when they are not
set, every test that needs the daemon is skipped with a message, and the others still run.
HMACD_VECTORS overrides where proto/vectors/hmacd-v1.json is read from.

A daemon is started with --threads 2 on a socket in a fresh temporary directory; start() waits
until the socket accepts a connection while checking that the process is still alive, with a
bounded wait; stop() sends SIGTERM and waits for exit 0 (a stuck daemon is killed).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)
if PKG_ROOT not in sys.path:
    sys.path.insert(0, PKG_ROOT)

VECTORS = os.environ.get("HMACD_VECTORS") or os.path.join(
    PKG_ROOT, os.pardir, os.pardir, "proto", "vectors", "hmacd-v1.json")

START_TIMEOUT = 10.0

# Django (python3-django), when installed: settings are process-wide and made once, minimal;
# each test that uses Django sets what it needs (ROOT_URLCONF, MIDDLEWARE, HMACD) with
# django.test.override_settings. Django leaves logging alone, so caplog sees the hmacd logger.
try:
    import django
    from django.conf import settings as django_settings
except ImportError:
    django = None
else:
    if not django_settings.configured:
        django_settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], SECRET_KEY="hmacd-tests",
                                  ROOT_URLCONF=None, MIDDLEWARE=[], INSTALLED_APPS=[],
                                  LOGGING_CONFIG=None, USE_TZ=True)
        django.setup()


@pytest.fixture(scope="session")
def vectors():
    with open(VECTORS, encoding="utf-8") as f:
        v = json.load(f)
    assert v["version"] == 1, "unknown vectors version"
    return v


class Daemon:
    def __init__(self, hmacd, hmacctl, workdir, extra_args=()):
        self.hmacd = hmacd
        self.hmacctl_path = hmacctl
        self.dir = workdir
        self.socket = os.path.join(workdir, "s")
        self.db = os.path.join(workdir, "db")
        self.extra_args = list(extra_args)
        self.proc = None
        self.log = None

    def start(self):
        assert self.proc is None
        self.log = open(os.path.join(self.dir, "hmacd.log"), "ab")
        self.proc = subprocess.Popen(
            [self.hmacd, "--socket", self.socket, "--db", self.db, "--threads", "2",
             "--log-level", "warn"] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("hmacd exited with %d at start; log in %s"
                                   % (self.proc.returncode, self.dir))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.socket)
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError("hmacd did not accept connections in time")
                # polling a socket that does not exist yet: there is nothing to wait on
                time.sleep(0.01)
            finally:
                s.close()

    def stop(self):
        """SIGTERM, then wait: the daemon must exit 0 and remove its socket."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("hmacd did not exit after SIGTERM")
        self.proc = None
        self.log.close()
        assert rc == 0, "hmacd exited with %d" % rc
        assert not os.path.exists(self.socket), "hmacd left its socket behind"

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self.log is not None:
            self.log.close()

    def restart(self):
        self.stop()
        self.start()

    def ctl(self, *args, stdin=None):
        """Runs hmacctl on the store (stdin: bytes for its standard input); returns its --json
        output parsed, or None."""
        r = subprocess.run([self.hmacctl_path, "--db", self.db] + list(args),
                           capture_output=True, timeout=30,
                           input=stdin if stdin is not None else b"")
        if r.returncode != 0:
            raise RuntimeError("hmacctl %s: exit %d: %s"
                               % (" ".join(args), r.returncode, r.stderr.decode().strip()))
        out = r.stdout.decode().strip()
        return json.loads(out) if "--json" in args and out else None

    def create(self, tenant, container):
        return self.ctl("key", "create", "--tenant", tenant, "--container", container, "--json")

    def rotate(self, tenant, container, grace=86400):
        return self.ctl("key", "rotate", "--tenant", tenant, "--container", container,
                        "--grace", str(grace), "--json")

    def import_key(self, tenant, container, secret, keyid):
        """hmacctl key import with the raw secret on stdin; returns its JSON object."""
        return self.ctl("key", "import", "--tenant", tenant, "--container", container,
                        "--secret-file", "-", "--keyid", keyid, "--json", stdin=secret)

    def policy_set(self, tenant, require, container=None, flags=()):
        """hmacctl policy set: require is a list of components, flags e.g. ["--no-nonce"]."""
        args = ["policy", "set", "--tenant", tenant]
        if container is not None:
            args += ["--container", container]
        self.ctl(*(args + ["--require"] + list(require) + list(flags)))

    def revoke(self, tenant, container, epoch):
        self.ctl("key", "revoke", "--tenant", tenant, "--container", container,
                 "--epoch", str(epoch))


def _binaries():
    hmacd, hmacctl = os.environ.get("HMACD"), os.environ.get("HMACCTL")
    if not hmacd or not hmacctl:
        pytest.skip("HMACD and HMACCTL are not set (paths of the hmacd and hmacctl binaries): "
                    "the tests against the real daemon are skipped")
    return hmacd, hmacctl


def _workdir():
    # Unix socket paths are limited to 108 bytes: keep the directory short.
    base = "/tmp" if os.path.isdir("/tmp") else None
    return tempfile.mkdtemp(prefix="hmacd-py-", dir=base)


def _running_daemon():
    """A started daemon in a fresh directory; stopped and removed after the yield."""
    hmacd, hmacctl = _binaries()
    d = Daemon(hmacd, hmacctl, _workdir())
    d.start()
    yield d
    try:
        d.stop()
    finally:
        d.kill()
        shutil.rmtree(d.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def daemon():
    """One daemon shared by the tests that do not stop it."""
    yield from _running_daemon()


@pytest.fixture
def own_daemon():
    """A daemon for one test, which may stop and restart it."""
    yield from _running_daemon()


@pytest.fixture
def fake():
    """make(script, verdict=0) -> a started fakedaemon.FakeDaemon; all are closed after the
    test."""
    from fakedaemon import FakeDaemon
    made = []

    def make(script, verdict=0):
        f = FakeDaemon(script, verdict)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()



@pytest.fixture(scope="session")
def rfc_example(daemon):
    """RFC 9421 B.2.5's shared secret imported under keyid "test-shared-secret" (a key id is
    unique in a store: once per session) for a fresh (tenant, "rfc-example") scope, whose policy
    asks for what B.2.5 covers (date, @authority, content-type), no nonce, no age check (its
    created is in 2021), no Content-Digest (B.2's body is not covered) and no @query (its target
    /foo?param=Value&Pet=dog has a query that B.2.5 leaves open): hmacctl policy set --require
    date @authority content-type --no-nonce --no-age-check --no-body-digest --no-query.
    Returns the scope."""
    import base64
    from helpers import RFC_B25_COMPONENTS, RFC_B25_POLICY_FLAGS, RFC_SHARED_SECRET_B64, unique
    tenant, container = unique("rfc9421"), "rfc-example"
    out = daemon.import_key(tenant, container, base64.b64decode(RFC_SHARED_SECRET_B64),
                            "test-shared-secret")
    assert out["keyid"] == "test-shared-secret" and out["epoch"] == 1
    daemon.policy_set(tenant, RFC_B25_COMPONENTS, container, RFC_B25_POLICY_FLAGS)
    return tenant, container
