"""bench_app.py - the Python example apps as bench/http/run.sh runs them (issue 16).

The apps are the examples' own create_app() (client/python/examples/flask_app.py and
fastapi_app.py), handed a verifier chosen by HMACD_BENCH_MODE: "hmacd" (or unset) the
examples' client of the daemon at HMACD_SOCKET, exactly as the examples build it; "inproc"
and "noauth" the verifiers of inproc.py. PYTHONPATH: client/python, client/python/examples
and bench/http.

    gunicorn -c client/python/examples/gunicorn.conf.py 'bench_app:flask_from_env()'
    python3 -m uvicorn --factory bench_app:fastapi_from_env --host 127.0.0.1 --port PORT
"""

import os

from exec_request import config_from_env
from hmacd import AsyncClient, Client

import fastapi_app
import flask_app
from inproc import AsyncInprocVerifier, AsyncNoauthVerifier, InprocVerifier, NoauthVerifier


def _mode() -> str:
    mode = os.environ.get("HMACD_BENCH_MODE") or "hmacd"
    if mode not in ("hmacd", "inproc", "noauth"):
        raise SystemExit("HMACD_BENCH_MODE=%r: not hmacd, inproc or noauth" % mode)
    return mode


def _skew() -> int:
    return int(os.environ.get("HMACD_BENCH_SKEW") or "300")


def flask_from_env():  # type: ignore[no-untyped-def]
    mode = _mode()
    if mode == "hmacd":
        return flask_app.app_from_env()
    client = (InprocVerifier(os.environ["HMACD_BENCH_KEYS"], _skew()) if mode == "inproc"
              else NoauthVerifier())
    return flask_app.create_app(client)  # type: ignore[arg-type]


def fastapi_from_env():  # type: ignore[no-untyped-def]
    mode = _mode()
    conf = config_from_env()
    if mode == "hmacd":
        client = AsyncClient(conf.socket, server_user=conf.server_user)
    elif mode == "inproc":
        client = AsyncInprocVerifier(os.environ["HMACD_BENCH_KEYS"], _skew())
    else:
        client = AsyncNoauthVerifier()
    return fastapi_app.create_app(client)  # type: ignore[arg-type]
