"""exec_request.py - the body of POST /containers/{id}/exec, bound strictly, and the answers, as
every example app of every language gives them (the Go, Node and Python examples answer
alike). The Flask, FastAPI and Django apps beside this file import it.

The only body accepted is a JSON object {"cmd": [string, ...], "tty": boolean (optional,
default false)}: cmd holds 1 to 64 strings of at most 4096 characters, the first not empty.
Anything else is refused rather than ignored: an unknown field (say "container" or
"privileged", which the handler would never look at), a repeated field (which copy would
count?), a wrong type, trailing data, bytes that are not UTF-8. The body parsed is exactly the
body hmacd verified: each middleware hands the handler the bytes it checked.

Answers: 200 {"tenant": ..., "container": ..., "cmd": [...], "tty": ...}, 400
{"error":"bad_request"} (the reason goes to the log), and the middleware's own 401, 413, 503.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple, TypedDict

MAX_ARGS = 64
MAX_ARG_LEN = 4096
BAD_REQUEST = {"error": "bad_request"}


class ExecRequest(TypedDict):
    cmd: List[str]
    tty: bool


class BadBody(ValueError):
    """The body is not an exec request; the message says why, for the log."""


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise BadBody("a field is repeated")
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise BadBody("%s is not JSON" % name)


def bind_exec_request(raw: bytes) -> ExecRequest:
    """The exec request in raw, or BadBody."""
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates,
                         parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BadBody("not UTF-8") from None
    except ValueError as e:  # BadBody, or json's own error
        raise BadBody(str(e) if isinstance(e, BadBody) else "not JSON") from None
    if not isinstance(doc, dict):
        raise BadBody("not a JSON object")
    unknown = sorted(set(doc) - {"cmd", "tty"})
    if unknown:
        raise BadBody("unknown field %r" % unknown[0])
    cmd = doc.get("cmd")
    if (not isinstance(cmd, list) or not 1 <= len(cmd) <= MAX_ARGS or
            not all(isinstance(a, str) and len(a) <= MAX_ARG_LEN for a in cmd) or not cmd[0]):
        raise BadBody("cmd must hold 1 to %d strings of at most %d characters, the first "
                      "not empty" % (MAX_ARGS, MAX_ARG_LEN))
    tty = doc.get("tty", False)
    if not isinstance(tty, bool):
        raise BadBody("tty must be a boolean")
    return {"cmd": cmd, "tty": tty}


def exec_answer(tenant: str, container: str, req: ExecRequest) -> Dict[str, Any]:
    """The 200 answer. A real server would start req["cmd"] in the container here."""
    return {"tenant": tenant, "container": container, "cmd": req["cmd"], "tty": req["tty"]}


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The examples' log lines (on stderr), the middleware's 401 reasons among them."""


def log_to_stderr() -> None:
    """The hmacd logger (the middleware's refusals, with their reasons: warnings) and the
    example's own (bad bodies: info) on stderr, whatever the server does with its own logs."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    for name in ("hmacd", "example"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


class Config(NamedTuple):
    """What every example app takes from its environment (README.md, "Example apps")."""
    socket: str                 # HMACD_SOCKET (default /run/hmacd/hmacd.sock)
    port: int                   # PORT (default 8080); the app listens on 127.0.0.1
    server_user: Optional[str]  # HMACD_SERVER_USER: the user hmacd runs as, when neither root
    #                             nor the socket directory's owner (None: those two)
    trust_proxy: bool           # HMACD_TRUST_PROXY=1: RFC 9421's @scheme from X-Forwarded-Proto


def config_from_env(environ: Mapping[str, str] = os.environ) -> Config:
    """The configuration; SystemExit with the reason for a PORT that is not a port number or
    an HMACD_TRUST_PROXY other than "", "0" and "1".

    HMACD_TRUST_PROXY=1 is for an app reached only through a proxy that sets X-Forwarded-Proto
    on every request (one that terminates TLS, say): an RFC 9421 signature's @scheme is then
    checked against that header. Otherwise (the default) it is checked against the app's own
    connection, plain HTTP, and the header is ignored, since any client could send one."""
    port = environ.get("PORT") or "8080"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SystemExit("PORT %r is not a port number" % port)
    trust = environ.get("HMACD_TRUST_PROXY", "")
    if trust not in ("", "0", "1"):
        raise SystemExit("HMACD_TRUST_PROXY %r is not 0 or 1" % trust)
    return Config(socket=environ.get("HMACD_SOCKET") or "/run/hmacd/hmacd.sock",
                  port=int(port), server_user=environ.get("HMACD_SERVER_USER") or None,
                  trust_proxy=trust == "1")
