"""test_examples.py - the example apps as their README commands run them: a process each
(`/usr/bin/python3 examples/<app>.py` with HMACD_SOCKET, PORT and PYTHONPATH, nothing else),
served on 127.0.0.1, driven over HTTP by examples/send.py and http.client, against a real hmacd
of their own.

For the Flask, FastAPI (uvicorn in the process) and Django (runserver) apps alike: /healthz
answers {"ok": true} unsigned; a request signed with HMACD-V1 or RFC 9421 (@scheme covered as
http) gets the answer every example gives, {"tenant", "container", "cmd", "tty"}; a signature
for another container, no signature, a replay and an RFC 9421 signature for https with a forged
X-Forwarded-Proto: https (uvicorn would believe it from 127.0.0.1 if the example let it) are
401 with the fixed body, each reason in the app's log (stderr) and never in the response; a
bad body is 400 {"error":"bad_request"}; a body over 64 KiB is 413; with hmacd stopped 503
{"error":"unavailable"}, and 200 again once it is back.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from helpers import unique
from hmacd import Signer, sign_rfc9421

PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(PKG, "examples")
PY = "/usr/bin/python3"
START_TIMEOUT = 30.0
EXEC = b'{"cmd":["ls","-l"]}'


def _have(*mods):
    try:
        for m in mods:
            __import__(m)
    except ImportError:
        return False
    return True


EXAMPLE_APPS = [
    pytest.param("flask_app", marks=pytest.mark.skipif(not _have("flask"),
                                                       reason="python3-flask is not installed")),
    pytest.param("fastapi_app", marks=pytest.mark.skipif(
        not _have("fastapi", "uvicorn"), reason="python3-fastapi or python3-uvicorn missing")),
    pytest.param("django_app", marks=pytest.mark.skipif(not _have("django"),
                                                        reason="python3-django is not installed")),
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Example:
    """The example app `name` as a process on a free port, its stderr in a log file."""

    def __init__(self, name, hmacd_socket, workdir):
        self.port = free_port()
        self.log_path = os.path.join(workdir, name + ".log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(HMACD_SOCKET=hmacd_socket, PORT=str(self.port), PYTHONPATH=PKG,
                   PYTHONDONTWRITEBYTECODE="1")
        self.env = env
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([PY, os.path.join(EXAMPLES, name + ".py")], env=env,
                                         cwd=workdir, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d:\n%s" % (name, self.proc.returncode,
                                                               self.log()))
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("%s did not answer in time:\n%s" % (name, self.log()))
            time.sleep(0.1)  # the server is starting: nothing to wait on but its port

    def request(self, method, target, body=b"", headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read(), r
        finally:
            conn.close()

    def send(self, key_file, target, *args):
        """examples/send.py, as the README runs it: (status, body)."""
        r = subprocess.run([PY, os.path.join(EXAMPLES, "send.py"), key_file,
                            "http://127.0.0.1:%d%s" % (self.port, target)] + list(args),
                           env=self.env, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        status, _, body = r.stdout.decode().strip().partition(" ")
        return int(status), body.encode()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C, as a person stops it
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.mark.parametrize("name", EXAMPLE_APPS)
def test_example_app(name, own_daemon):
    d = own_daemon
    t = unique("demo")
    keys = {}
    for c in ("web-01", "web-02"):
        keys[c] = d.create(t, c)
        with open(os.path.join(d.dir, c + ".json"), "w", encoding="utf-8") as f:
            json.dump(keys[c], f)
    key01 = os.path.join(d.dir, "web-01.json")
    signer = Signer(t, 1, keys["web-01"]["secret"])
    target = "/containers/web-01/exec"
    app = Example(name, d.socket, d.dir)
    host = "127.0.0.1:%d" % app.port
    seen = 0  # how much of the log the previous check read

    def logged(reason):
        nonlocal seen
        text = app.log()
        new, seen = text[seen:], len(text)
        return reason in new

    def v1(body=EXEC, **kw):
        h = {"Host": host, "Content-Type": "application/json"}
        h["Authorization"] = signer.sign_request("POST", target, container="web-01", headers=h,
                                                 body=body, **kw)
        return h

    def refused(resp, status=401):
        code, body, r = resp
        want = {401: b'{"error":"unauthorized"}', 413: b'{"error":"too_large"}',
                503: b'{"error":"unavailable"}'}[status]
        assert (code, body) == (status, want), (code, body, app.log())
        assert r.getheader("Content-Type") == "application/json"
        assert (r.getheader("WWW-Authenticate") == "HMACD-V1") == (status == 401)
        return True

    try:
        status, body, _ = app.request("GET", "/healthz")
        assert (status, json.loads(body)) == (200, {"ok": True})

        want = {"tenant": t, "container": "web-01", "cmd": ["ls", "-l"], "tty": False}
        status, body = app.send(key01, target)
        assert (status, json.loads(body)) == (200, want), (body, app.log())
        status, body = app.send(key01, target, "--rfc9421")  # covers @scheme: http
        assert (status, json.loads(body)) == (200, want), (body, app.log())

        # web-01's key on web-02's URL: refused, the reason in the log only
        status, body = app.send(key01, "/containers/web-02/exec")
        assert (status, body) == (401, b'{"error":"unauthorized"}')
        assert logged("401 BAD_SIGNATURE tenant=%s container=web-02" % t), app.log()
        assert refused(app.request("POST", target, EXEC, {"Content-Type": "application/json"}))
        assert logged("401 NO_AUTHORIZATION"), app.log()
        h = v1()
        assert app.request("POST", target, EXEC, h)[0] == 200
        assert refused(app.request("POST", target, EXEC, h))
        assert logged("401 REPLAY"), app.log()

        # RFC 9421 signed for https, sent over plain HTTP with a forged X-Forwarded-Proto
        h = {"Host": host, "Content-Type": "application/json", "X-Tenant": t,
             "X-Forwarded-Proto": "https"}
        h.update(sign_rfc9421("POST", "https://%s%s" % (host, target),
                              key=keys["web-01"]["secret"], keyid=keys["web-01"]["keyid"],
                              headers=h, body=EXEC,
                              components=["@method", "@authority", "@path", "@scheme",
                                          "content-digest"]))
        assert refused(app.request("POST", target, EXEC, h))
        assert logged("401 BAD_SIGNATURE"), app.log()

        bad = b'{"cmd":["ls"],"privileged":true}'
        status, body, _ = app.request("POST", target, bad, v1(bad))
        assert (status, json.loads(body)) == (400, {"error": "bad_request"})
        big = b'{"cmd":["' + b"a" * (70 * 1024) + b'"]}'
        assert refused(app.request("POST", target, big, v1(big)), 413)

        d.stop()
        assert refused(app.request("POST", target, EXEC, v1()), 503)
        d.start()
        assert app.request("POST", target, EXEC, v1())[0] == 200
        # no secret, signature or nonce reached the log
        text = app.log()
        assert keys["web-01"]["secret"] not in text
        assert h["Signature"].split(":")[1] not in text
    finally:
        app.stop()


def test_config_from_env():
    """The settings every example app reads (exec_request.config_from_env): the defaults, each
    one set, and a PORT or HMACD_TRUST_PROXY it must not guess at."""
    sys.path.insert(0, EXAMPLES)
    try:
        from exec_request import config_from_env
    finally:
        sys.path.remove(EXAMPLES)
    c = config_from_env({})
    assert (c.socket, c.port, c.server_user, c.trust_proxy) == (
        "/run/hmacd/hmacd.sock", 8080, None, False)
    c = config_from_env({"HMACD_SOCKET": "/tmp/x/s", "PORT": "9000",
                         "HMACD_SERVER_USER": "hmacd", "HMACD_TRUST_PROXY": "1"})
    assert (c.socket, c.port, c.server_user, c.trust_proxy) == ("/tmp/x/s", 9000, "hmacd", True)
    assert config_from_env({"HMACD_TRUST_PROXY": "0"}).trust_proxy is False
    for bad in ({"PORT": "x"}, {"PORT": "-1"}, {"PORT": "65536"}, {"PORT": "80a"},
                {"HMACD_TRUST_PROXY": "yes"}, {"HMACD_TRUST_PROXY": "true"},
                {"HMACD_TRUST_PROXY": " 1"}, {"HMACD_TRUST_PROXY": "2"}):
        with pytest.raises(SystemExit):
            config_from_env(bad)
