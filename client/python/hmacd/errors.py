"""hmacd.errors - what a call to hmacd can raise, and the verdict codes.

A verdict is an answer, not an error: a verify call that got an answer returns verdicts, one per
item, whatever they are. An exception means there is no verdict at all, and every middleware
turns any HmacdError into 503 (fail closed): the request is never passed on. The verdict
UNAVAILABLE gets the same 503: the daemon answered, but could not judge the item in time.
"""

from __future__ import annotations

import enum
from typing import Union


class Verdict(enum.IntEnum):
    """Verdict codes of PROTOCOL.md section 9. Any code other than OK means reject; a code this
    enum does not know (from a later daemon) is returned as a plain int and means reject too.
    The precedence is MALFORMED, INSUFFICIENT_COVERAGE, UNKNOWN_KEY, KEY_REVOKED, KEY_EXPIRED,
    BAD_SIGNATURE, STALE_TIMESTAMP, REPLAY, UNAVAILABLE, OK."""

    OK = 0
    BAD_SIGNATURE = 1
    UNKNOWN_KEY = 2
    KEY_REVOKED = 3
    KEY_EXPIRED = 4
    STALE_TIMESTAMP = 5
    REPLAY = 6
    MALFORMED = 7
    # the signature does not cover what the scope's policy wants: for rfc9421 a component,
    # created, nonce, content-digest with a body or @query with a query; for hmacd-v1 a nonce
    # or a signed header (hmacctl policy set --v1-nonce --v1-require ...)
    INSUFFICIENT_COVERAGE = 8
    # fleet mode only: the item (with a nonce) passed every other check, but the fleet-wide
    # claim of its nonce could not be made in time (Redis unreachable or slow, too few replicas).
    # Fail closed like a daemon that does not answer: the middleware answers 503, not 401. The
    # nonce may be claimed all the same, so a retry is signed again with a new nonce.
    UNAVAILABLE = 9


def verdict_name(code: int) -> str:
    """'OK', 'BAD_SIGNATURE', ... or 'VERDICT_<n>' for a code this version does not know."""
    try:
        return Verdict(code).name
    except ValueError:
        return "VERDICT_%d" % code


def as_verdict(code: int) -> Union[Verdict, int]:
    """The Verdict of code, or code itself (a plain int) for a code this version does not
    know."""
    try:
        return Verdict(code)
    except ValueError:
        return code


class HmacdError(Exception):
    """Base class: no verdict could be had."""


class Unavailable(HmacdError):
    """The daemon could not be reached, or the connection broke before the answer came.

    A request that may have reached the daemon is never sent again (its nonce may have been
    recorded: a copy would come back REPLAY), so the caller sees this error instead."""


class Timeout(Unavailable):
    """No answer within the call's timeout."""


class PeerCredentialsError(HmacdError):
    """The process answering on the socket is not the expected server (hmacd.peer): its uid,
    read with SO_PEERCRED before any byte was written, is neither server_user's nor (by
    default) root's or the owner's of the socket's directory, or could not be read. That
    connection is closed and the call fails; nothing was sent to that process."""


class ProtocolError(HmacdError):
    """The daemon's answer did not follow PROTOCOL.md (the connection is dropped)."""


class ServerError(HmacdError):
    """The daemon refused the request as a whole (an error response, PROTOCOL.md section 6).

    `code` is the short code: 'malformed', 'unknown_op', 'too_many_items', 'internal', or one
    a later daemon adds."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__("hmacd refused the request: %s (%s)" % (code, message))
        self.code = code
        self.message = message


class ClosedError(HmacdError):
    """The client was closed."""
